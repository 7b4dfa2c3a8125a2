#pragma once
// Debugger attach: which invocations run under a debugger (`serve --debug
// FUNCTION[:QUALIFIER]=PORT`, or LAMINA_DEBUG_PORT in the function's
// Environment), whether a port is free on the host's 127.0.0.1, and whether a
// debugger client is connected to it (the sandbox shares the host's network,
// so the port the runtime listens on is the host's).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/control/model.hpp"

namespace lamina::exec {

// One --debug entry: FUNCTION (a name) and, optionally, the QUALIFIER the
// invocation must name (an alias, a version, $LATEST); empty: any invocation.
struct DebugTarget {
    std::string function;
    std::string qualifier;
    int port = 0;
};

// The function's Environment variables that turn debugging on and make it wait.
inline constexpr const char* kDebugPortVariable = "LAMINA_DEBUG_PORT";
inline constexpr const char* kDebugWaitVariable = "LAMINA_DEBUG_WAIT";

// Parses FUNCTION[:QUALIFIER]=PORT (PORT 1-65535).
Result<DebugTarget> parse_debug_target(std::string_view spec);

// How one environment is to be debugged.
struct DebugLaunch {
    int port = 0;
    bool wait = false;   // the runtime waits for the client before its init
    std::string source;  // "--debug" or "LAMINA_DEBUG_PORT", for messages
};

// Whether an invocation of `function` naming `qualifier` ("" unqualified) runs
// under a debugger: a --debug entry for that qualifier, else one for the
// function (waiting when `wait`: --debug-wait), else the version's
// LAMINA_DEBUG_PORT (waiting when LAMINA_DEBUG_WAIT is 1 or true). A
// malformed variable is an error.
Result<std::optional<DebugLaunch>> debug_launch_for(const std::vector<DebugTarget>& targets,
                                                    bool wait, const std::string& function,
                                                    const std::string& qualifier,
                                                    const control::VersionConfig& config);

// Ok when a listener could bind 127.0.0.1:port now (SO_REUSEADDR, as
// debugpy and node bind); else why not.
Status check_port_free(int port);

// Whether `table` (the text of /proc/net/tcp) has an established connection
// whose local end is 127.0.0.1:port, i.e. a client connected to that listener.
bool client_connected_in(std::string_view table, int port);
// The same for the host now.
bool client_connected(int port);

// A folder holding only debugpy and the pydevd it needs (links into the
// host's Debian python3-debugpy install), made under `work_dir`, for a
// debugged Python runtime's sys.path; an error naming the package when it is
// not installed.
Result<std::filesystem::path> debugpy_path(const std::filesystem::path& work_dir);

}  // namespace lamina::exec
