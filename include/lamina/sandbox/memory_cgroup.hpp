#pragma once
// Memory and process limits for execution environments: one memory cgroup
// per environment, sized by MemorySize, under lamina's own cgroup, and where
// the pids controller is writable too, at most 1024 processes and threads
// (AWS's limit), so that a fork bomb stays inside its sandbox. Works with
// cgroup v1 controllers and with cgroup v2 (this machine kind has a v1/v2
// hybrid). Where no writable memory controller exists, detect() says why and
// environments run without a limit.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::sandbox {

class MemoryCgroups {
public:
    // Finds a writable memory controller and makes lamina's parent group;
    // the error says why there is none.
    static Result<MemoryCgroups> detect();

    bool v2() const { return v2_; }
    const std::filesystem::path& root() const { return root_; }
    // Whether environments also get a process limit (pids controller).
    bool limits_processes() const { return pids_v2_ || pids_root_.has_value(); }

    // Makes the group(s) of one environment; returns the files a process
    // writes "0" to in order to move itself in (cgroup.procs of each).
    Result<std::vector<std::string>> create(const std::string& name, std::int64_t limit_bytes,
                                            int max_processes = 1024) const;
    // Peak memory use of the group's processes, in bytes (0 when unknown).
    std::int64_t peak_bytes(const std::string& name) const;
    // The group's peak-use file, opened (close-on-exec) for peak_bytes_at; -1 when it cannot be.
    int open_peak(const std::string& name) const;
    // peak_bytes from a file open_peak opened: read afresh each call (0 when unknown,
    // as once the group is removed).
    static std::int64_t peak_bytes_at(int fd);
    // Whether the kernel's OOM killer struck inside the group.
    bool oom_killed(const std::string& name) const;
    // Removes the group (once its processes are gone).
    void remove(const std::string& name) const;
    // Removes every group and lamina's own (at shutdown, processes gone).
    void remove_all() const;

private:
    MemoryCgroups(std::filesystem::path root, bool v2) : root_(std::move(root)), v2_(v2) {}
    std::filesystem::path root_;
    bool v2_ = false;
    bool pids_v2_ = false;                            // v2: pids enabled next to memory
    std::optional<std::filesystem::path> pids_root_;  // v1: lamina's group in the pids hierarchy
};

}  // namespace lamina::sandbox
