#include "lamina/sandbox/launcher.hpp"

#include <unistd.h>

#include <fstream>

namespace lamina::sandbox {

namespace fs = std::filesystem;

namespace {

// The sandbox's /etc/passwd and /etc/group: the host's, plus AWS's sandbox
// user, so that `id` and getpwuid() name it inside.
void write_identity_files(const fs::path& dir, std::pair<unsigned, unsigned> user) {
    auto extend = [&](const char* host, const std::string& id_field, const std::string& line,
                      const char* name) {
        std::ifstream in(host);
        std::string out, l;
        bool present = false;
        while (std::getline(in, l)) {
            auto first = l.find(':'), second = l.find(':', first + 1),
                 third = l.find(':', second + 1);
            if (third != std::string::npos && l.substr(second + 1, third - second - 1) == id_field)
                present = true;
            out += l + "\n";
        }
        if (!present) out += line + "\n";
        std::ofstream(dir / name, std::ios::trunc) << out;
    };
    std::string uid = std::to_string(user.first), gid = std::to_string(user.second);
    extend("/etc/passwd", uid,
           "sbx_user1051:x:" + uid + ":" + gid + "::/home/sbx_user1051:/sbin/nologin", "passwd");
    extend("/etc/group", gid, "sbx_user1051:x:" + gid + ":", "group");
}

std::vector<std::string> environment_strings(const LaunchSpec& spec) {
    std::vector<std::string> out;
    out.reserve(spec.env.size());
    for (const auto& [k, v] : spec.env) out.push_back(k + "=" + v);
    return out;
}

// bubblewrap namespaces: the AWS paths, read-only code and layers, the
// sandbox user when lamina is root.
class BubblewrapLauncher final : public Launcher {
public:
    BubblewrapLauncher(boost::asio::io_context& ioc, LauncherOptions options)
        : ioc_(ioc), options_(std::move(options)) {
        if (options_.run_as && !options_.work_dir.empty()) {
            write_identity_files(options_.work_dir, *options_.run_as);
            for (const char* name : {"passwd", "group"})
                if (fs::exists(options_.work_dir / name))
                    etc_files_[std::string("/etc/") + name] = options_.work_dir / name;
        }
    }
    Backend backend() const override { return Backend::Bubblewrap; }
    EnvironmentPaths paths(const LaunchSpec& spec) const override {
        return paths_for(Backend::Bubblewrap, spec);
    }
    Result<std::unique_ptr<Process>> launch(LaunchSpec spec, std::vector<std::string> cgroup_procs,
                                            ExitHandler on_exit) override {
        if (options_.run_as) {
            spec.run_as = options_.run_as;
            for (const auto& [dest, host] : etc_files_) spec.etc_files[dest] = host;
        }
        SpawnSpec s;
        s.argv =
            launcher_argv(Backend::Bubblewrap, spec, options_.bwrap);  // bwrap sets the environment
        s.cgroup_procs = std::move(cgroup_procs);
        s.working_dir = "/";
        return spawn(ioc_, s, std::move(on_exit));
    }

private:
    boost::asio::io_context& ioc_;
    LauncherOptions options_;
    std::map<std::string, fs::path> etc_files_;
};

// A plain child process: no isolation, the real host paths.
class PlainLauncher final : public Launcher {
public:
    PlainLauncher(boost::asio::io_context& ioc, LauncherOptions options)
        : ioc_(ioc), options_(std::move(options)) {}
    Backend backend() const override { return Backend::Process; }
    EnvironmentPaths paths(const LaunchSpec& spec) const override {
        return paths_for(Backend::Process, spec);
    }
    Result<std::unique_ptr<Process>> launch(LaunchSpec spec, std::vector<std::string> cgroup_procs,
                                            ExitHandler on_exit) override {
        SpawnSpec s;
        s.argv = launcher_argv(Backend::Process, spec);
        s.env = environment_strings(spec);
        s.cgroup_procs = std::move(cgroup_procs);
        s.working_dir = spec.code_dir;
        return spawn(ioc_, s, std::move(on_exit));
    }

private:
    boost::asio::io_context& ioc_;
    LauncherOptions options_;
};

}  // namespace

std::unique_ptr<Launcher> make_launcher(boost::asio::io_context& ioc, LauncherOptions options) {
    if (options.backend == Backend::Bubblewrap)
        return std::make_unique<BubblewrapLauncher>(ioc, std::move(options));
    return std::make_unique<PlainLauncher>(ioc, std::move(options));
}

bool bubblewrap_works(const fs::path& bwrap,
                      const std::optional<std::pair<unsigned, unsigned>>& run_as) {
    if (::access(bwrap.c_str(), X_OK) != 0) return false;
    LaunchSpec spec;
    spec.code_dir = spec.opt_dir = spec.runtime_dir = "/usr/share";
    spec.tmp_size_mb = 1;
    spec.run_as = run_as;
    spec.command = {"/usr/bin/true"};
    SpawnSpec probe;
    probe.argv = launcher_argv(Backend::Bubblewrap, spec, bwrap);
    probe.capture_output = false;
    auto ended = run_to_end(probe);
    return ended && ended->signal == 0 && ended->code == 0;
}

}  // namespace lamina::sandbox
