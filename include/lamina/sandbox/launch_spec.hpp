#pragma once
// What an execution environment needs from the operating system, and the
// launcher command line that provides it. Turning a spec into an argv is a
// pure function (unit-tested without running anything); exec/ starts the
// process, never builds a namespace itself.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lamina::sandbox {

enum class Backend {
    Bubblewrap,  // own mount, pid, ipc and uts namespaces; code and layers read-only
    Process,     // a plain child process: no isolation, real host paths
};

const char* to_string(Backend b);

// Where the environment sees its code, layers and runtime: the AWS paths
// inside a namespace sandbox, the host paths for the process backend.
struct EnvironmentPaths {
    std::string task_root;    // /var/task
    std::string opt;          // /opt
    std::string runtime_dir;  // /var/runtime
    std::string tmp;          // /tmp
};

struct LaunchSpec {
    std::filesystem::path code_dir;     // host: the extracted function code
    std::filesystem::path opt_dir;      // host: the assembled /opt view
    std::filesystem::path runtime_dir;  // host: lamina's runtime bootstraps
    std::filesystem::path tmp_dir;      // host: the process backend's /tmp stand-in
    std::int64_t tmp_size_mb = 512;     // EphemeralStorage
    // Host directories the runtime's interpreter needs, bound read-only
    // (e.g. a pyenv install outside /usr).
    std::vector<std::filesystem::path> extra_ro_binds;
    std::vector<std::string> command;        // argv inside the environment
    std::map<std::string, std::string> env;  // the whole environment: nothing is inherited
    // uid, gid the command runs as (when lamina runs as root). Bubblewrap
    // builds the sandbox as root, so it can reach lamina's data dir wherever
    // it is, then `setpriv` becomes this user, clears the groups, drops every
    // capability and sets no_new_privs before exec'ing the command: a real
    // unprivileged host user, never a user namespace that maps to root.
    std::optional<std::pair<unsigned, unsigned>> run_as;
    std::filesystem::path setpriv = "/usr/bin/setpriv";
    // Host files bound read-only over the system's (destination -> host
    // file), e.g. an /etc/passwd that names the sandbox user.
    std::map<std::string, std::filesystem::path> etc_files;
    // A container image's function: its unpacked root file system is `/`
    // (read-only; /proc, /dev and a sized /tmp over it, the etc_files bound
    // over the image's) and the command starts in `working_dir`. code_dir,
    // opt_dir and runtime_dir are then not bound. Bubblewrap only.
    std::filesystem::path image_root;
    std::string working_dir = "/";
    // Host files setpriv needs (its loader first, then its libraries), bound
    // under /dev/.lamina when the image's command must run as `run_as`: the
    // image has no setpriv of its own, so it runs from there on the host's
    // loader and then exec's the image's command.
    std::vector<std::filesystem::path> setpriv_runtime;
    // lamina's static extensions launcher (runtimes/extensions/launch), bound
    // read-only at kImageExtensionsLauncher when the image's /opt/extensions
    // holds executables: the command then starts with it, and it needs
    // nothing from the image. Empty: not bound.
    std::filesystem::path extensions_launcher;
    // SnapStart on a JVM (see exec/snapstart.cpp): the command is its sandbox's
    // pid 1 (bubblewrap's --as-pid-1, no reaper of bubblewrap's: criu checkpoints
    // the whole pid namespace, and only the command's files are inside it), and
    // its stdin is this host descriptor (-1: /dev/null).
    bool as_pid_1 = false;
    int stdin_fd = -1;
};

// Where an image function's sandbox sees lamina's extensions launcher.
inline constexpr const char* kImageExtensionsLauncher = "/dev/.lamina/extensions";

// Host files `setpriv` needs to run from a directory of its own (its ELF
// interpreter, then the libraries it links); empty when they are not found.
std::vector<std::filesystem::path> find_setpriv_runtime(const std::filesystem::path& setpriv);

EnvironmentPaths paths_for(Backend backend, const LaunchSpec& spec);

// The full argv to exec: bwrap's options then the command, or the command
// itself for the process backend (whose environment the caller sets from spec.env).
std::vector<std::string> launcher_argv(Backend backend, const LaunchSpec& spec,
                                       const std::filesystem::path& bwrap = "/usr/bin/bwrap");

}  // namespace lamina::sandbox
