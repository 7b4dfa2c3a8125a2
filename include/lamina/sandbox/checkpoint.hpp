#pragma once
// SnapStart on a JVM: a sandbox's process tree checkpointed to disk with criu
// and restored from there into new sandboxes, as many times as asked. The
// sandbox's command is its pid namespace's pid 1 (LaunchSpec::as_pid_1); criu
// dumps that namespace, its mounts (the host's bind mounts as external ones,
// /tmp's contents), ipc and uts, and each restore makes them anew, so a
// restored environment has a /tmp of its own. Its stdin and its output are
// the restoring criu's (criu's --inherit-fd), so lamina starts `criu restore`
// as any other process. See docs/architecture.md "SnapStart".

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::sandbox {

struct Checkpoint {
    std::filesystem::path dir;   // criu's images
    std::filesystem::path root;  // the sandbox's mount points, made empty, for criu restore --root
    std::string stdin_pipe;      // "pipe:[inode]" of the checkpointed process's stdin
    std::string output_pipe;     // ... and of its stdout (and stderr, the same pipe)
};

// criu's path (PATH, then /usr/sbin and /sbin), or nullopt when it is not installed.
std::optional<std::filesystem::path> find_criu();

// The environment criu runs with: LD_PRELOAD of lamina's maps shim (see
// runtimes/criu/maps-shim.c) when `shim` exists, and a PATH.
std::vector<std::string> criu_environment(const std::filesystem::path& shim);

// Waits up to `wait` for `pid` (a host pid, its sandbox's pid 1) to hold no
// socket (a network connection cannot be restored many times), then
// checkpoints its process tree into `dir` (made anew: images/ and root/
// below it) with `criu dump`, which kills it. The error names what criu
// reported.
Result<Checkpoint> checkpoint(const std::filesystem::path& criu, const std::filesystem::path& shim,
                              int pid, const std::filesystem::path& dir,
                              std::chrono::milliseconds wait);

// What criu's log at `log` says went wrong: its last Error lines (empty when
// there are none).
std::string criu_errors(const std::filesystem::path& log);

// Where criu may keep what it learns of the kernel between runs (a folder of
// lamina's own on the /dev/shm tmpfs); empty when there is none. A restoring
// criu runs with it bound on its /run (SpawnSpec::private_run), so that it
// probes the kernel once, not at each restore.
std::filesystem::path kernel_facts_dir();

// `criu restore`'s command line for one environment restored from `c`: the
// restored process's stdin is the command's fd 0, its output the command's
// fd 1; criu's own log goes to `log`. criu stays the restored process's
// parent until it exits, and exits with its status.
std::vector<std::string> restore_argv(const std::filesystem::path& criu, const Checkpoint& c,
                                      const std::filesystem::path& log);

}  // namespace lamina::sandbox
