#pragma once
// CloudWatch Logs' errors: lamina's Error with a near ErrorCode and the Logs
// exception name in Error::reason; one table gives the HTTP status (400 for
// every client error in Logs, ResourceNotFoundException included).

#include <string>

#include "lamina/common/error.hpp"

namespace lamina::logs {

enum class LogsErrorCode {
    ResourceNotFound,
    ResourceAlreadyExists,
    InvalidParameter,
    Validation,
    InvalidOperation,
    NotImplemented,
    ServiceUnavailable,
};

struct LogsErrorShape {
    LogsErrorCode code;
    unsigned status;
    const char* type;  // awsJson __type, e.g. "ResourceNotFoundException"
};

Error logs_error(LogsErrorCode code, std::string message);
inline std::unexpected<Error> logs_fail(LogsErrorCode code, std::string message) {
    return std::unexpected<Error>(logs_error(code, std::move(message)));
}
// The row for an Error (by Error::reason; else by its ErrorCode).
const LogsErrorShape& logs_error_shape(const Error& e);

Error no_such_group();   // "The specified log group does not exist."
Error no_such_stream();  // "The specified log stream does not exist."
Error invalid_parameter(std::string message);

}  // namespace lamina::logs
