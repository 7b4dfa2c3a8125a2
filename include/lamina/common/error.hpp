#pragma once
// lamina's error type. Every fallible function returns Result<T>; the api
// layer turns an Error into the AWS wire shape through one table
// (src/api/aws_error.cpp). Codes mirror AWS's exception names.

#include <expected>
#include <optional>
#include <string>
#include <utility>

namespace lamina {

enum class ErrorCode {
    // Lambda (rest-json)
    ResourceNotFound,
    ResourceConflict,
    InvalidParameterValue,
    Validation,
    PreconditionFailed,
    AccessDenied,
    RequestEntityTooLarge,
    TooManyRequests,
    ProvisionedConcurrencyConfigNotFound,
    CodeStorageExceeded,
    PolicyLengthExceeded,
    InvalidRequestContent,
    UnsupportedMediaType,
    ResourceNotReady,
    RecursiveInvocation,
    SnapStartNotReady,  // 409: the version's snapshot is being taken
    SnapStartTimeout,   // 408: a restore took too long
    SnapStart,          // 400: an after-restore hook failed
    Service,
    // SigV4 (--auth sigv4)
    MissingAuthenticationToken,
    UnrecognizedClient,
    InvalidSignature,
    IncompleteSignature,
    // lamina: an AWS operation or service lamina does not emulate
    NotImplemented,
    // lamina: a route that names no AWS operation at all
    UnknownOperation,
    // IAM / STS (query protocol)
    NoSuchEntity,
    EntityAlreadyExists,
    DeleteConflict,
    MalformedPolicyDocument,
    IamValidationError,
    InvalidAction,
    MissingParameter,
};

struct Error {
    ErrorCode code;
    std::string message;
    std::optional<std::string> reason;  // TooManyRequestsException.Reason
    std::optional<int> retry_after;     // seconds, Retry-After header

    Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
    return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace lamina

// The NOLINT must stay on the line that declares `var`: not reformatted.
// clang-format off
#define LAMINA_TRY(var, expr)                                                     \
    auto var##_result_ = (expr);                                                  \
    if (!var##_result_) return std::unexpected(std::move(var##_result_.error())); \
    auto var = std::move(*var##_result_)  /* NOLINT(bugprone-macro-parentheses): var names a declaration */
// clang-format on

#define LAMINA_CHECK(expr)                                                            \
    do {                                                                              \
        auto lamina_check_ = (expr);                                                  \
        if (!lamina_check_) return std::unexpected(std::move(lamina_check_.error())); \
    } while (0)
