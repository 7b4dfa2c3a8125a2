#include "lamina/sandbox/launcher.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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
        s.stdin_fd = spec.stdin_fd;
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
        s.stdin_fd = spec.stdin_fd;
        return spawn(ioc_, s, std::move(on_exit));
    }

private:
    boost::asio::io_context& ioc_;
    LauncherOptions options_;
};

LaunchSpec probe_spec(const std::optional<std::pair<unsigned, unsigned>>& run_as) {
    LaunchSpec spec;
    spec.code_dir = spec.opt_dir = spec.runtime_dir = "/usr/share";
    spec.tmp_size_mb = 1;
    spec.run_as = run_as;
    spec.command = {"/usr/bin/true"};
    return spec;
}

std::string first_line(const char* file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return line;
}

// "path:inode:size:mtime" of a file (or "path:-" when it is missing)
std::string identity(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return p.string() + ":-";
    std::ostringstream out;
    out << p.string() << ':' << st.st_dev << ':' << st.st_ino << ':' << st.st_size << ':'
        << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
    return out.str();
}

std::string namespace_id(const char* which) {
    struct stat st {};
    std::string p = std::string("/proc/self/ns/") + which;
    if (::stat(p.c_str(), &st) != 0) return "-";
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::string seccomp_mode() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Seccomp:", 0) == 0) return line.substr(8);
    return "-";
}

// Everything bubblewrap_works()'s answer depends on that can be read in
// microseconds (see the header).
std::string probe_key(const fs::path& bwrap,
                      const std::optional<std::pair<unsigned, unsigned>>& run_as) {
    std::ostringstream key;
    for (const auto& a : launcher_argv(Backend::Bubblewrap, probe_spec(run_as), bwrap))
        key << a << ' ';
    key << "| " << identity(bwrap) << " | " << identity("/usr/bin/setpriv") << " | uid "
        << ::geteuid() << ':' << ::getegid();
    for (const char* ns : {"user", "mnt", "pid", "net", "cgroup"})
        key << " | " << ns << ' ' << namespace_id(ns);
    key << " | seccomp" << seccomp_mode();
    struct utsname u {};
    if (::uname(&u) == 0) key << " | " << u.release << ' ' << u.version;
    key << " | boot " << first_line("/proc/sys/kernel/random/boot_id");
    for (const char* sysctl :
         {"/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces",
          "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"})
        key << " | " << first_line(sysctl);
    return key.str();
}

constexpr std::int64_t kProbeTrustedFor = 24 * 3600;  // seconds
constexpr std::size_t kProbeEntriesKept = 16;

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::unique_ptr<Launcher> make_launcher(boost::asio::io_context& ioc, LauncherOptions options) {
    if (options.backend == Backend::Bubblewrap)
        return std::make_unique<BubblewrapLauncher>(ioc, std::move(options));
    return std::make_unique<PlainLauncher>(ioc, std::move(options));
}

bool bubblewrap_works(const fs::path& bwrap,
                      const std::optional<std::pair<unsigned, unsigned>>& run_as) {
    if (::access(bwrap.c_str(), X_OK) != 0) return false;
    SpawnSpec probe;
    probe.argv = launcher_argv(Backend::Bubblewrap, probe_spec(run_as), bwrap);
    probe.capture_output = false;
    auto ended = run_to_end(probe);
    return ended && ended->signal == 0 && ended->code == 0;
}

bool bubblewrap_works_cached(const fs::path& bwrap,
                             const std::optional<std::pair<unsigned, unsigned>>& run_as,
                             const fs::path& cache_file) {
    if (cache_file.empty() || ::access(bwrap.c_str(), X_OK) != 0)
        return bubblewrap_works(bwrap, run_as);
    const std::string key = probe_key(bwrap, run_as);
    nlohmann::json entries = nlohmann::json::object();
    {
        std::ifstream in(cache_file);
        if (in) {
            auto j = nlohmann::json::parse(in, nullptr, false);
            if (j.is_object()) entries = std::move(j);
        }
    }
    const std::int64_t now = now_s();
    if (auto it = entries.find(key); it != entries.end() && it->is_object()) {
        auto at = it->value("at", std::int64_t{0});
        auto works = it->find("works");
        if (works != it->end() && works->is_boolean() && at <= now && now - at < kProbeTrustedFor)
            return works->get<bool>();
    }
    const bool works = bubblewrap_works(bwrap, run_as);
    entries[key] = {{"works", works}, {"at", now}};
    // the oldest entries go first once more than kProbeEntriesKept are kept
    while (entries.size() > kProbeEntriesKept) {
        auto oldest = entries.begin();
        for (auto it = entries.begin(); it != entries.end(); ++it)
            if (it->is_object() && oldest->is_object() &&
                it->value("at", std::int64_t{0}) < oldest->value("at", std::int64_t{0}))
                oldest = it;
        entries.erase(oldest);
    }
    std::error_code ec;
    fs::create_directories(cache_file.parent_path(), ec);
    // a whole file or none: written aside, then renamed over the old one
    fs::path tmp = cache_file;
    tmp += "." + std::to_string(::getpid()) + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << entries.dump(1) << '\n';
        if (!out) {
            fs::remove(tmp, ec);
            return works;
        }
    }
    fs::rename(tmp, cache_file, ec);
    if (ec) fs::remove(tmp, ec);
    return works;
}

fs::path default_probe_cache_file() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && *xdg == '/') return fs::path(xdg) / "lamina" / "sandbox-probe.json";
    const char* home = std::getenv("HOME");
    if (home && *home == '/') return fs::path(home) / ".cache" / "lamina" / "sandbox-probe.json";
    return {};
}

}  // namespace lamina::sandbox
