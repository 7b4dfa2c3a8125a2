#pragma once
// Every failure the platform itself reports for an invocation or an init
// (as opposed to an error the function's code raised): `Runtime.*`,
// `Sandbox.*` and `Extension.*`, as typed values with one serialisation.
// The names and payload shape are AWS's: {"errorType": ..., "errorMessage": ...}.

#include <optional>
#include <string>
#include <string_view>

namespace lamina::runtime {

enum class ErrorType {
    RuntimeExitError,          // the runtime process exited (or was killed) mid-invocation
    RuntimeOutOfMemory,        // the environment hit its MemorySize
    RuntimeUnavailable,        // the runtime could not be started or reached
    RuntimeInvalidEntrypoint,  // no bootstrap for a provided runtime
    SandboxTimedout,           // the function ran past its Timeout
    ExtensionCrash,            // an extension exited during init
    ExtensionInitError,        // an extension posted /extension/init/error
};

// "Runtime.ExitError", "Sandbox.Timedout", ...
std::string_view to_string(ErrorType type);
// The inverse of to_string (nullopt for any other name, e.g. a function's own error type).
std::optional<ErrorType> parse_error_type(std::string_view name);
// Extension failures end the environment even when the runtime itself is fine.
bool is_extension_error(ErrorType type);

// One platform failure, as the caller of Invoke sees it.
struct PlatformError {
    ErrorType type;
    std::string message;

    // {"errorType":"<type>","errorMessage":"<message>"}, escaped as JSON.
    std::string payload() const;
    // What REPORT's status part says ("Status: error\tError Type: <type>", or
    // "Status: timeout" for a timeout).
    std::string report_status() const;
};

// AWS's wording of each failure, with the request id where AWS puts it.
// How the runtime's process ended: `signal` when a signal killed it, else its exit code.
PlatformError exit_error(const std::string& request_id, int exit_code, int signal);
PlatformError out_of_memory(const std::string& request_id);
PlatformError timed_out(const std::string& request_id, int timeout_seconds);
PlatformError invalid_entrypoint(const std::string& request_id);
PlatformError unavailable(std::string message);

}  // namespace lamina::runtime
