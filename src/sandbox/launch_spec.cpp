#include "lamina/sandbox/launch_spec.hpp"

#include <algorithm>
#include <set>

namespace lamina::sandbox {

namespace fs = std::filesystem;

const char* to_string(Backend b) { return b == Backend::Bubblewrap ? "bubblewrap" : "process"; }

EnvironmentPaths paths_for(Backend backend, const LaunchSpec& spec) {
    if (backend == Backend::Bubblewrap) return {"/var/task", "/opt", "/var/runtime", "/tmp"};
    return {spec.code_dir.string(), spec.opt_dir.string(), spec.runtime_dir.string(),
            spec.tmp_dir.string()};
}

std::vector<fs::path> find_setpriv_runtime(const fs::path& setpriv) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::exists(setpriv, ec)) return out;
    for (const char* loader : {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"})
        if (fs::exists(loader, ec)) {
            out.emplace_back(fs::canonical(loader, ec));
            break;
        }
    if (out.empty()) return out;
    for (const char* dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                            "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"})
        for (const char* lib : {"libc.so.6", "libcap-ng.so.0"})
            if (fs::exists(fs::path(dir) / lib, ec) &&
                std::none_of(out.begin(), out.end(),
                             [&](const fs::path& p) { return p.filename() == lib; }))
                out.push_back(fs::path(dir) / lib);
    if (out.size() < 3) out.clear();
    return out;
}

namespace {

// An image function's sandbox: the image's root as /, the rest over it.
std::vector<std::string> image_argv(const LaunchSpec& spec, const fs::path& bwrap) {
    std::vector<std::string> a = {bwrap.string(),
                                  "--die-with-parent",
                                  "--new-session",
                                  "--unshare-pid",
                                  "--unshare-ipc",
                                  "--unshare-uts",
                                  "--unshare-cgroup-try",
                                  "--hostname",
                                  "169.254.100.1",
                                  "--ro-bind",
                                  spec.image_root.string(),
                                  "/",
                                  "--proc",
                                  "/proc",
                                  "--dev",
                                  "/dev",
                                  "--perms",
                                  "1777",
                                  "--size",
                                  std::to_string(spec.tmp_size_mb * 1024 * 1024),
                                  "--tmpfs",
                                  "/tmp"};
    // the unpacker made these plain files of the image (never links)
    for (const auto& [dest, host] : spec.etc_files) a.insert(a.end(), {"--ro-bind", host, dest});
    if (!spec.etc_files.contains("/etc/resolv.conf"))
        a.insert(a.end(), {"--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"});
    std::vector<std::string> prefix;
    bool setpriv_bound = spec.run_as && !spec.setpriv_runtime.empty();
    if (setpriv_bound || !spec.extensions_launcher.empty())
        a.insert(a.end(), {"--perms", "0755", "--dir", "/dev/.lamina"});
    if (!spec.extensions_launcher.empty())
        a.insert(a.end(),
                 {"--ro-bind", spec.extensions_launcher.string(), kImageExtensionsLauncher});
    if (setpriv_bound) {
        a.insert(a.end(), {"--perms", "0755", "--dir", "/dev/.lamina/lib"});
        a.insert(a.end(), {"--ro-bind", spec.setpriv_runtime.front().string(), "/dev/.lamina/ld.so",
                           "--ro-bind", spec.setpriv.string(), "/dev/.lamina/setpriv"});
        for (std::size_t i = 1; i < spec.setpriv_runtime.size(); ++i)
            a.insert(a.end(), {"--ro-bind", spec.setpriv_runtime[i].string(),
                               "/dev/.lamina/lib/" + spec.setpriv_runtime[i].filename().string()});
        prefix = {"/dev/.lamina/ld.so", "--library-path", "/dev/.lamina/lib",
                  "/dev/.lamina/setpriv"};
    }
    if (!spec.run_as) a.insert(a.end(), {"--cap-drop", "ALL"});
    a.insert(a.end(), {"--chdir", spec.working_dir.empty() ? "/" : spec.working_dir, "--clearenv"});
    for (const auto& [k, v] : spec.env) a.insert(a.end(), {"--setenv", k, v});
    a.emplace_back("--");
    if (spec.run_as) {
        a.insert(a.end(), prefix.begin(), prefix.end());
        if (prefix.empty()) a.push_back(spec.setpriv.string());
        a.insert(a.end(), {"--reuid=" + std::to_string(spec.run_as->first),
                           "--regid=" + std::to_string(spec.run_as->second), "--clear-groups",
                           "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"});
    }
    a.insert(a.end(), spec.command.begin(), spec.command.end());
    return a;
}

}  // namespace

std::vector<std::string> launcher_argv(Backend backend, const LaunchSpec& spec,
                                       const fs::path& bwrap) {
    if (backend == Backend::Process) return spec.command;
    if (!spec.image_root.empty()) return image_argv(spec, bwrap);
    std::vector<std::string> a = {
        bwrap.string(),
        "--die-with-parent",  // the environment dies with lamina
        "--new-session",      // no TIOCSTI into lamina's terminal
        "--unshare-pid",      // all its processes die with it
        "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "169.254.100.1",
        // a read-only system: the host's /usr (interpreters, libraries) and /etc
        "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64",
        "/lib64", "--ro-bind-try", "/bin", "/bin", "--ro-bind-try", "/sbin", "/sbin", "--proc",
        "/proc", "--dev", "/dev", "--perms", "1777",  // any user may write /tmp, as on AWS
        "--size", std::to_string(spec.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"};
    if (spec.as_pid_1) a.emplace_back("--as-pid-1");
    // Directories bubblewrap makes on the way to a mount point are 0700 when
    // it runs as root: make them walkable by the sandbox user first.
    std::set<std::string> made = {"/",     "/usr",  "/lib", "/lib64", "/bin",
                                  "/sbin", "/proc", "/dev", "/tmp"};
    auto parents = [&](const fs::path& dest) {
        std::vector<std::string> chain;
        for (fs::path p = dest.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
            chain.push_back(p.string());
        for (auto it = chain.rbegin(); it != chain.rend(); ++it)
            if (made.insert(*it).second) a.insert(a.end(), {"--perms", "0755", "--dir", *it});
    };
    auto bind = [&](const std::string& how, const std::string& src, const std::string& dest) {
        parents(dest);
        a.insert(a.end(), {how, src, dest});
    };
    bind("--ro-bind", spec.code_dir.string(), "/var/task");
    bind("--ro-bind", spec.opt_dir.string(), "/opt");
    bind("--ro-bind", spec.runtime_dir.string(), "/var/runtime");
    // Only the parts of /etc that programs need (name resolution, TLS roots,
    // users, time zone, linker cache): never /etc/shadow or other secrets.
    for (const char* etc :
         {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/passwd",
          "/etc/group", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/pki",
          "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
          "/etc/mime.types", "/etc/os-release", "/etc/python3", "/etc/python3.11"}) {
        auto own = spec.etc_files.find(etc);
        if (own != spec.etc_files.end())
            bind("--ro-bind", own->second.string(), etc);
        else
            bind("--ro-bind-try", etc, etc);
    }
    for (const auto& p : spec.extra_ro_binds) bind("--ro-bind-try", p.string(), p.string());
    // As root, bubblewrap keeps its capabilities for setpriv to use once;
    // otherwise none are kept.
    if (!spec.run_as) a.insert(a.end(), {"--cap-drop", "ALL"});
    a.insert(a.end(), {"--chdir", "/var/task", "--clearenv"});
    for (const auto& [k, v] : spec.env) a.insert(a.end(), {"--setenv", k, v});
    a.emplace_back("--");
    if (spec.run_as) {
        a.insert(a.end(), {spec.setpriv.string(), "--reuid=" + std::to_string(spec.run_as->first),
                           "--regid=" + std::to_string(spec.run_as->second), "--clear-groups",
                           "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"});
    }
    a.insert(a.end(), spec.command.begin(), spec.command.end());
    return a;
}

}  // namespace lamina::sandbox
