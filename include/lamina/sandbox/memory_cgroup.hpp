#pragma once
// Memory limits for execution environments: one memory cgroup per
// environment, sized by MemorySize, under lamina's own cgroup. Works with
// the cgroup v1 memory controller and with cgroup v2 (this machine kind has
// a v1/v2 hybrid). Where no writable memory controller exists, detect()
// says why and environments run without a limit.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "lamina/common/error.hpp"

namespace lamina::sandbox {

class MemoryCgroups {
public:
    // Finds a writable memory controller and makes lamina's parent group;
    // the error says why there is none.
    static Result<MemoryCgroups> detect();

    bool v2() const { return v2_; }
    const std::filesystem::path& root() const { return root_; }

    // Makes the group of one environment; returns the file a process writes
    // "0" to in order to move itself in (cgroup.procs).
    Result<std::string> create(const std::string& name, std::int64_t limit_bytes) const;
    // Peak memory use of the group's processes, in bytes (0 when unknown).
    std::int64_t peak_bytes(const std::string& name) const;
    // Whether the kernel's OOM killer struck inside the group.
    bool oom_killed(const std::string& name) const;
    // Removes the group (once its processes are gone).
    void remove(const std::string& name) const;

private:
    MemoryCgroups(std::filesystem::path root, bool v2) : root_(std::move(root)), v2_(v2) {}
    std::filesystem::path root_;
    bool v2_ = false;
};

}  // namespace lamina::sandbox
