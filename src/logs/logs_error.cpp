#include "lamina/logs/logs_error.hpp"

#include <iterator>

namespace lamina::logs {

namespace {

using C = LogsErrorCode;
constexpr LogsErrorShape kTable[] = {
    {C::ResourceNotFound, 400, "ResourceNotFoundException"},
    {C::ResourceAlreadyExists, 400, "ResourceAlreadyExistsException"},
    {C::InvalidParameter, 400, "InvalidParameterException"},
    {C::Validation, 400, "ValidationException"},
    {C::InvalidOperation, 400, "InvalidOperationException"},
    {C::NotImplemented, 501, "NotImplementedException"},
    {C::ServiceUnavailable, 500, "ServiceUnavailableException"},
};

ErrorCode common_code(LogsErrorCode c) {
    switch (c) {
        case C::ResourceNotFound:
            return ErrorCode::ResourceNotFound;
        case C::ResourceAlreadyExists:
            return ErrorCode::ResourceConflict;
        case C::Validation:
            return ErrorCode::Validation;
        case C::NotImplemented:
            return ErrorCode::NotImplemented;
        case C::ServiceUnavailable:
            return ErrorCode::Service;
        default:
            return ErrorCode::InvalidParameterValue;
    }
}

}  // namespace

Error logs_error(LogsErrorCode code, std::string message) {
    Error e{common_code(code), std::move(message)};
    for (const auto& row : kTable)
        if (row.code == code) e.reason = row.type;
    return e;
}

const LogsErrorShape& logs_error_shape(const Error& e) {
    if (e.reason)
        for (const auto& row : kTable)
            if (*e.reason == row.type) return row;
    switch (e.code) {
        case ErrorCode::ResourceNotFound:
            return kTable[0];
        case ErrorCode::ResourceConflict:
            return kTable[1];
        case ErrorCode::InvalidParameterValue:
            return kTable[2];
        case ErrorCode::Validation:
            return kTable[3];
        case ErrorCode::NotImplemented:
            return kTable[5];
        default:
            return kTable[std::size(kTable) - 1];
    }
}

Error no_such_group() {
    return logs_error(C::ResourceNotFound, "The specified log group does not exist.");
}
Error no_such_stream() {
    return logs_error(C::ResourceNotFound, "The specified log stream does not exist.");
}
Error invalid_parameter(std::string message) {
    return logs_error(C::InvalidParameter, std::move(message));
}

}  // namespace lamina::logs
