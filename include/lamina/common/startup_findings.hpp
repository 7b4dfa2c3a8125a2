#pragma once
// What `lamina serve` found on the host at start-up, as opposed to what it
// was asked (Config): made once in cli/, logged once, passed down by
// constructor. /health reports the sandbox and limits parts.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace lamina {

struct StartupFindings {
    // The execution environment backend (bubblewrap | process) and why it was chosen.
    std::string sandbox;
    std::string sandbox_reason;
    // Whether bubblewrap's trial run could create namespaces (empty: not tried).
    std::optional<bool> bubblewrap_works;
    // Who functions run as: "993:990", "root", or lamina's own uid. run_as is
    // the uid:gid bubblewrap drops to when lamina is root.
    std::string sandbox_user;
    std::optional<std::pair<unsigned, unsigned>> run_as;
    // The --run-as uid that could not be used (functions then run as root).
    std::optional<unsigned> run_as_refused;
    // MemorySize is enforced by a writable memory cgroup (v1 or v2 under
    // memory_cgroup_root); otherwise memory_limits_reason says why not.
    bool memory_limits = false;
    std::string memory_cgroup;
    std::filesystem::path memory_cgroup_root;
    std::string memory_limits_reason;
    // Each environment gets pids.max 1024 (a writable pids controller).
    bool process_limits = false;
    // lamina's runtime bootstraps, and which rule found them.
    std::filesystem::path runtimes_dir;
    std::string runtimes_dir_source;
    std::map<std::string, std::string> interpreters;  // runtime -> interpreter path
};

}  // namespace lamina
