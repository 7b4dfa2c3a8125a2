#include "lamina/runtime/error_types.hpp"

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

namespace lamina::runtime {

namespace {

constexpr std::array<std::pair<ErrorType, std::string_view>, 7> kNames{{
    {ErrorType::RuntimeExitError, "Runtime.ExitError"},
    {ErrorType::RuntimeOutOfMemory, "Runtime.OutOfMemory"},
    {ErrorType::RuntimeUnavailable, "Runtime.Unavailable"},
    {ErrorType::RuntimeInvalidEntrypoint, "Runtime.InvalidEntrypoint"},
    {ErrorType::SandboxTimedout, "Sandbox.Timedout"},
    {ErrorType::ExtensionCrash, "Extension.Crash"},
    {ErrorType::ExtensionInitError, "Extension.InitError"},
}};

}  // namespace

std::string_view to_string(ErrorType type) {
    for (const auto& [t, name] : kNames)
        if (t == type) return name;
    return "Runtime.Unknown";
}

std::optional<ErrorType> parse_error_type(std::string_view name) {
    for (const auto& [t, n] : kNames)
        if (n == name) return t;
    return std::nullopt;
}

bool is_extension_error(ErrorType type) {
    return type == ErrorType::ExtensionCrash || type == ErrorType::ExtensionInitError;
}

std::string PlatformError::payload() const {
    // AWS's order: errorType first
    return nlohmann::ordered_json{{"errorType", std::string(to_string(type))},
                                  {"errorMessage", message}}
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PlatformError::report_status() const {
    if (type == ErrorType::SandboxTimedout) return "Status: timeout";
    return "Status: error\tError Type: " + std::string(to_string(type));
}

PlatformError exit_error(const std::string& request_id, int exit_code, int signal) {
    // AWS says "without providing a reason" for a clean exit (status 0).
    std::string why;
    if (signal != 0)
        why = "with error: signal: " +
              std::string(signal == SIGKILL ? "killed" : ::strsignal(signal));
    else if (exit_code == 0)
        why = "without providing a reason";
    else
        why = "with error: exit status " + std::to_string(exit_code);
    return {ErrorType::RuntimeExitError,
            "RequestId: " + request_id + " Error: Runtime exited " + why};
}

PlatformError out_of_memory(const std::string& request_id) {
    return {ErrorType::RuntimeOutOfMemory,
            "RequestId: " + request_id + " Error: Runtime exited with error: signal: killed"};
}

PlatformError timed_out(const std::string& request_id, int timeout_seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(timeout_seconds));
    return {ErrorType::SandboxTimedout,
            "RequestId: " + request_id + " Error: Task timed out after " + buf + " seconds"};
}

PlatformError invalid_entrypoint(const std::string& request_id) {
    return {ErrorType::RuntimeInvalidEntrypoint,
            "RequestId: " + request_id +
                " Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"};
}

PlatformError unavailable(std::string message) {
    return {ErrorType::RuntimeUnavailable, std::move(message)};
}

}  // namespace lamina::runtime
