#pragma once
// One execution environment's process, as the data plane sees it: started
// by a Launcher, killed with everything it started, its stdout and stderr
// gathered, its exit reported once. A HostProcess owns its pid, its output
// pipe and its exit watch (a pidfd on the io_context): no thread of its own,
// nothing outlives it.

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::sandbox {

struct ExitStatus {
    int code = 0;    // its exit code, when no signal ended it
    int signal = 0;  // the signal that ended it, 0 when it exited
    bool operator==(const ExitStatus&) const = default;
};

class Process {
public:
    virtual ~Process() = default;
    // The host pid (the leader of its process group); -1 when the process is
    // not a host process.
    virtual int pid() const = 0;
    // Kills it and everything it started. Its exit is still reported.
    virtual void kill() = 0;
    // What it wrote to stdout and stderr since the last call, in the order
    // written, including everything written before this call (a runtime's
    // print just before its answer belongs to that invocation).
    virtual std::string take_output() = 0;
    // Its peak resident memory in MB (at least 1).
    virtual long peak_rss_mb() const = 0;
};

// Called once, on the io_context, after the process has exited and what it
// wrote before is available from take_output().
using ExitHandler = std::function<void(ExitStatus)>;

struct SpawnSpec {
    std::vector<std::string> argv;  // argv[0]: the executable's path
    std::vector<std::string> env;   // "NAME=value": the whole environment
    std::filesystem::path working_dir = "/";
    std::vector<std::string> cgroup_procs;  // cgroup.procs files it joins before exec
    int max_open_files = 1024;              // AWS's limit per environment
    bool capture_output = true;             // false: stdout and stderr go to /dev/null
    int stdin_fd = -1;                      // its stdin (lamina keeps its own copy); -1: /dev/null
    // Non-empty: it runs in a mount namespace of its own (private) with this
    // folder bound on its /run, when lamina may make one (else as it is).
    std::filesystem::path private_run;
};

// Forks and execs `spec` in a process group of its own, with no descriptor
// of lamina's but its output pipe, no_new_privs, and stdin from /dev/null
// (or spec.stdin_fd).
Result<std::unique_ptr<Process>> spawn(boost::asio::io_context& ioc, const SpawnSpec& spec,
                                       ExitHandler on_exit);

// Runs `spec` to its end (output discarded) and returns how it ended; for
// short probes at start-up, never on an I/O thread.
Result<ExitStatus> run_to_end(const SpawnSpec& spec);

}  // namespace lamina::sandbox
