#pragma once
// The seam through which the data plane starts execution environments. A
// Launcher turns a LaunchSpec (code, /opt, runtime, /tmp, environment,
// command) into a running Process; which one serves is chosen once at
// start-up. Today: bubblewrap namespaces or a plain child process; a fake in
// tests/unit/fakes runs scripted runtimes without forking. Container images,
// snapshot/restore and a remote executor plug in here (docs/architecture.md).

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/sandbox/launch_spec.hpp"
#include "lamina/sandbox/process.hpp"

namespace lamina::sandbox {

class Launcher {
public:
    virtual ~Launcher() = default;
    virtual Backend backend() const = 0;
    // Where the environment sees its code, layers, runtime and /tmp.
    virtual EnvironmentPaths paths(const LaunchSpec& spec) const = 0;
    // Starts the environment; it joins `cgroup_procs` before anything runs.
    virtual Result<std::unique_ptr<Process>> launch(LaunchSpec spec,
                                                    std::vector<std::string> cgroup_procs,
                                                    ExitHandler on_exit) = 0;
};

struct LauncherOptions {
    Backend backend = Backend::Process;
    std::filesystem::path bwrap = "/usr/bin/bwrap";
    // uid, gid environments run as (bubblewrap, lamina running as root); the
    // launcher names that user in the sandbox's /etc/passwd and /etc/group,
    // written once under work_dir.
    std::optional<std::pair<unsigned, unsigned>> run_as;
    std::filesystem::path work_dir;
};

// The unprivileged user functions run as when lamina runs as root: AWS's
// sandbox user, sbx_user1051 (uid 993, gid 990).
inline constexpr std::pair<unsigned, unsigned> kSandboxUser{993u, 990u};

std::unique_ptr<Launcher> make_launcher(boost::asio::io_context& ioc, LauncherOptions options);

// Whether bubblewrap can create its namespaces on this machine, started as
// `run_as` when given (runs it once).
bool bubblewrap_works(const std::filesystem::path& bwrap,
                      const std::optional<std::pair<unsigned, unsigned>>& run_as = std::nullopt);

// bubblewrap_works(), remembered in `cache_file` (a JSON file; empty path: no
// cache). Trying costs 20-40 ms (bwrap, setpriv, true), more than the rest of
// a server's start-up, so an answer is reused while nothing it depends on has
// changed: the answer is kept under a key made of bwrap's and setpriv's
// identity (path, inode, size, mtime), the exact probe command, the caller's
// uid/gid and namespaces (a new container or user namespace is a new key),
// its seccomp mode, the kernel's release and boot id, and the sysctls that
// allow user namespaces. An entry older than a day is tried again. A cache
// that cannot be read or written only costs the probe.
bool bubblewrap_works_cached(const std::filesystem::path& bwrap,
                             const std::optional<std::pair<unsigned, unsigned>>& run_as,
                             const std::filesystem::path& cache_file);

// Where the start-up probe's answers are kept: $XDG_CACHE_HOME/lamina, else
// $HOME/.cache/lamina (sandbox-probe.json); empty when neither is set.
std::filesystem::path default_probe_cache_file();

}  // namespace lamina::sandbox
