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

}  // namespace lamina::sandbox
