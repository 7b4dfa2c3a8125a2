#pragma once
// SnapStart's restored environments: processes forked by a snapshot's
// runtime (the zygote), not by lamina. lamina finds one's host pid from the
// pid the zygote reports (as its sandbox's pid namespace numbers it), holds
// it by a pidfd, watches its exit on the io_context, reads its output from
// the FIFO it writes to, and kills it. Its parent, the zygote, reaps it.

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "lamina/common/error.hpp"
#include "lamina/sandbox/process.hpp"

namespace lamina::sandbox {

// The host pid of `ancestor` (a host pid) or of its descendant whose pid in its
// innermost pid namespace is `ns_pid` (NSpid's last field in
// /proc/<pid>/status); nullopt when there is none. Walks
// /proc/<pid>/task/<tid>/children from `ancestor` down.
std::optional<int> host_pid_of(int ancestor, int ns_pid);

// The exit of a process that is not lamina's child: its status read from
// /proc/<pid>/stat while it is a zombie (its parent has not reaped it yet),
// else nullopt.
std::optional<ExitStatus> zombie_status(int pid);

// Adopts the restored process `pid` (a host pid): its output is read from
// `output_fifo` (opened here, read end, before the process opens it for
// writing), `on_exit` runs once on the io_context when it has exited, with
// the status read from its zombie (or {0, SIGKILL} once killed, {0, 0} when
// unknown); `reap` is then called for its parent to collect it.
Result<std::unique_ptr<Process>> adopt_restored(boost::asio::io_context& ioc, int pid,
                                                int output_fd, ExitHandler on_exit,
                                                std::function<void()> reap);

// Opens a FIFO for a restored process's output (made here, mode 0666 so that a
// sandbox user can write it), for reading, non-blocking; -1 on failure.
int open_output_fifo(const std::filesystem::path& path);

}  // namespace lamina::sandbox
