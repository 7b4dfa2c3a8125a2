#pragma once
// A published version's snapshot, as the Invoker keeps it (snapstart.cpp,
// snapstart_criu.cpp). Private to src/exec.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "environment.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/sandbox/checkpoint.hpp"
#include "lamina/sandbox/memory_cgroup.hpp"
#include "lamina/sandbox/process.hpp"

namespace lamina::exec {

namespace fs = std::filesystem;

// A JVM snapshot's next `criu restore`, made ready before an environment
// needs it: /bin/sh, started in a memory cgroup of its own (the
// environment's, MemorySize), stops itself, and execs criu once lamina
// continues it. A restore then pays neither lamina's fork nor the move into
// the cgroup, which waits for an RCU grace period (5-16 ms on a busy 2-core
// VM); criu's work is all done at the invoke. Its stdin is a pipe whose
// write end lamina keeps until the environment's order is known.
struct ReadyRestore {
    std::unique_ptr<sandbox::Process> process;  // killed and reaped with it
    const sandbox::MemoryCgroups* memory = nullptr;
    std::string cgroup;  // empty: no memory cgroups here
    int order_fd = -1,
        order_read_fd = -1;  // its stdin's write end, and lamina's copy of the read end
    fs::path log;
    // its exit's handler, given when an environment claims it (held by the
    // process's own handler, which outlives this)
    struct Exit {
        std::mutex mu;
        sandbox::ExitHandler handler;
        std::optional<sandbox::ExitStatus> ended;  // before it was claimed
    };
    std::shared_ptr<Exit> exit = std::make_shared<Exit>();
    bool claimed = false;  // its cgroup and log are the environment's now

    ReadyRestore() = default;
    ReadyRestore(const ReadyRestore&) = delete;
    ReadyRestore& operator=(const ReadyRestore&) = delete;
    ~ReadyRestore() {
        if (order_fd >= 0) ::close(order_fd);
        if (order_read_fd >= 0) ::close(order_read_fd);
        if (claimed) return;
        process.reset();
        std::error_code ec;
        fs::remove(log, ec);
        if (memory && !cgroup.empty()) memory->remove(cgroup);
    }
};

struct Invoker::Snapshot {
    std::string id;  // scope/function/version
    control::Scope scope;
    std::string function;
    control::VersionConfig config;
    // guarded by mu
    std::mutex mu;
    SnapshotStatus status{"Pending", "", "", 0};
    EnvPtr zygote;
    bool dropped = false;
    // A JVM's snapshot is a checkpoint on disk (criu), not a process: the
    // zygote is checkpointed (which ends it) and each restore is a `criu
    // restore` of those images.
    bool jvm = false;
    bool checkpointing = false;  // the zygote was told so: its end is expected
    std::optional<sandbox::Checkpoint> image;
    fs::path dir;  // the images' folder, removed with the snapshot
    std::string sandbox_ip;
    std::vector<std::string> restore_extensions, restore_launch;
    std::shared_ptr<ReadyRestore> ready;  // the next restore's process, made ready
    bool readying = false;                // ... being made ready
    // A Python snapshot's next restored environment, made ready (forked, in
    // its memory cgroup, held before its after-restore hooks), and whether
    // one is being made.
    EnvPtr ready_env;
    bool readying_env = false;
};

// A JVM's snapshot's images, once nothing restores from them any more.
inline void remove_images(const fs::path& dir) {
    if (dir.empty()) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
}

}  // namespace lamina::exec
