#include "lamina/api/aws_error.hpp"

#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"

namespace lamina::api {

namespace {

struct Row {
    ErrorCode code;
    ErrorShape shape;
};

// One row per ErrorCode; a test checks every code has a row.
constexpr Row kTable[] = {
    {ErrorCode::ResourceNotFound, {404, "ResourceNotFoundException", false}},
    {ErrorCode::ResourceConflict, {409, "ResourceConflictException", true}},
    {ErrorCode::InvalidParameterValue, {400, "InvalidParameterValueException", true}},
    {ErrorCode::Validation, {400, "ValidationException", true}},
    {ErrorCode::PreconditionFailed, {412, "PreconditionFailedException", true}},
    {ErrorCode::AccessDenied, {403, "AccessDeniedException", false}},
    {ErrorCode::RequestEntityTooLarge, {413, "RequestEntityTooLargeException", true}},
    {ErrorCode::TooManyRequests, {429, "TooManyRequestsException", true}},
    {ErrorCode::ProvisionedConcurrencyConfigNotFound,
     {404, "ProvisionedConcurrencyConfigNotFoundException", true}},
    {ErrorCode::CodeStorageExceeded, {400, "CodeStorageExceededException", true}},
    {ErrorCode::PolicyLengthExceeded, {400, "PolicyLengthExceededException", true}},
    {ErrorCode::InvalidRequestContent, {400, "InvalidRequestContentException", true}},
    {ErrorCode::UnsupportedMediaType, {415, "UnsupportedMediaTypeException", true}},
    {ErrorCode::ResourceNotReady, {502, "ResourceNotReadyException", true, false}},
    {ErrorCode::RecursiveInvocation, {400, "RecursiveInvocationException", true}},
    {ErrorCode::SnapStartNotReady, {409, "SnapStartNotReadyException", true}},
    {ErrorCode::SnapStartTimeout, {408, "SnapStartTimeoutException", true}},
    {ErrorCode::SnapStart, {400, "SnapStartException", true}},
    {ErrorCode::Service, {500, "ServiceException", false, false}},
    {ErrorCode::MissingAuthenticationToken, {403, "MissingAuthenticationTokenException", true}},
    {ErrorCode::UnrecognizedClient, {403, "UnrecognizedClientException", true}},
    {ErrorCode::InvalidSignature, {403, "InvalidSignatureException", true}},
    {ErrorCode::IncompleteSignature, {403, "IncompleteSignatureException", true}},
    {ErrorCode::NotImplemented, {501, "NotImplementedException", false}},
    {ErrorCode::UnknownOperation, {404, "UnknownOperationException", false}},
    {ErrorCode::NoSuchEntity, {404, "NoSuchEntity", false}},
    {ErrorCode::EntityAlreadyExists, {409, "EntityAlreadyExists", false}},
    {ErrorCode::DeleteConflict, {409, "DeleteConflict", false}},
    {ErrorCode::MalformedPolicyDocument, {400, "MalformedPolicyDocument", false}},
    {ErrorCode::IamValidationError, {400, "ValidationError", false}},
    {ErrorCode::InvalidAction, {400, "InvalidAction", false}},
    {ErrorCode::MissingParameter, {400, "MissingParameter", false}},
};

}  // namespace

const ErrorShape& error_shape(ErrorCode code) {
    for (const auto& row : kTable)
        if (row.code == code) return row.shape;
    static const ErrorShape kFallback{500, "ServiceException", false, false};
    return kFallback;
}

http::Response rest_json_error(const Error& e, const std::string& request_id) {
    const auto& shape = error_shape(e.code);
    nlohmann::json body = nlohmann::json::object();
    // Smithy validation errors carry no Type; every Lambda-modeled one does.
    if (e.code != ErrorCode::Validation) body["Type"] = shape.sender ? "User" : "Service";
    body[shape.lowercase_message ? "message" : "Message"] = e.message;
    if (e.reason) body["Reason"] = *e.reason;
    http::Response r;
    r.status = shape.status;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-RequestId", request_id);
    r.headers.set("x-amzn-ErrorType", shape.code);
    if (e.retry_after) r.headers.set("Retry-After", std::to_string(*e.retry_after));
    // a message may quote what the client sent: never let its bytes break the answer
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

http::Response query_xml_error(const Error& e, const std::string& request_id,
                               const std::string& xmlns) {
    const auto& shape = error_shape(e.code);
    http::Response r;
    r.status = shape.status;
    r.headers.set("Content-Type", "text/xml");
    r.headers.set("x-amzn-RequestId", request_id);
    r.body = "<ErrorResponse xmlns=\"" + xmlns + "\"><Error><Type>" +
             (shape.sender ? "Sender" : "Receiver") + "</Type><Code>" + shape.code +
             "</Code><Message>" + xml_escape(e.message) + "</Message></Error><RequestId>" +
             request_id + "</RequestId></ErrorResponse>";
    return r;
}

}  // namespace lamina::api
