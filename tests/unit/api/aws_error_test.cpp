#include "lamina/api/aws_error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

using namespace lamina;
using namespace lamina::api;
using nlohmann::json;

namespace {

struct Row {
    ErrorCode code;
    unsigned status;
    std::string name;
    bool lowercase_message;
    bool sender;
};

// AWS's status, error code and message key per shape (botocore's Lambda,
// IAM and STS models; docs/lambda-semantics.md §1).
const Row kExpected[] = {
    {ErrorCode::ResourceNotFound, 404, "ResourceNotFoundException", false, true},
    {ErrorCode::ResourceConflict, 409, "ResourceConflictException", true, true},
    {ErrorCode::InvalidParameterValue, 400, "InvalidParameterValueException", true, true},
    {ErrorCode::Validation, 400, "ValidationException", true, true},
    {ErrorCode::PreconditionFailed, 412, "PreconditionFailedException", true, true},
    {ErrorCode::AccessDenied, 403, "AccessDeniedException", false, true},
    {ErrorCode::RequestEntityTooLarge, 413, "RequestEntityTooLargeException", true, true},
    {ErrorCode::TooManyRequests, 429, "TooManyRequestsException", true, true},
    {ErrorCode::ProvisionedConcurrencyConfigNotFound, 404,
     "ProvisionedConcurrencyConfigNotFoundException", true, true},
    {ErrorCode::CodeStorageExceeded, 400, "CodeStorageExceededException", true, true},
    {ErrorCode::PolicyLengthExceeded, 400, "PolicyLengthExceededException", true, true},
    {ErrorCode::InvalidRequestContent, 400, "InvalidRequestContentException", true, true},
    {ErrorCode::UnsupportedMediaType, 415, "UnsupportedMediaTypeException", true, true},
    {ErrorCode::ResourceNotReady, 502, "ResourceNotReadyException", true, false},
    {ErrorCode::RecursiveInvocation, 400, "RecursiveInvocationException", true, true},
    {ErrorCode::SnapStartNotReady, 409, "SnapStartNotReadyException", true, true},
    {ErrorCode::SnapStartTimeout, 408, "SnapStartTimeoutException", true, true},
    {ErrorCode::SnapStart, 400, "SnapStartException", true, true},
    {ErrorCode::Service, 500, "ServiceException", false, false},
    // SigV4 failures (--auth sigv4): 403, with a lowercase "message" as AWS's edge answers them
    {ErrorCode::MissingAuthenticationToken, 403, "MissingAuthenticationTokenException", true, true},
    {ErrorCode::UnrecognizedClient, 403, "UnrecognizedClientException", true, true},
    {ErrorCode::InvalidSignature, 403, "InvalidSignatureException", true, true},
    {ErrorCode::IncompleteSignature, 403, "IncompleteSignatureException", true, true},
    {ErrorCode::NotImplemented, 501, "NotImplementedException", false, true},
    {ErrorCode::UnknownOperation, 404, "UnknownOperationException", false, true},
    {ErrorCode::NoSuchEntity, 404, "NoSuchEntity", false, true},
    {ErrorCode::EntityAlreadyExists, 409, "EntityAlreadyExists", false, true},
    {ErrorCode::DeleteConflict, 409, "DeleteConflict", false, true},
    {ErrorCode::MalformedPolicyDocument, 400, "MalformedPolicyDocument", false, true},
    {ErrorCode::IamValidationError, 400, "ValidationError", false, true},
    {ErrorCode::InvalidAction, 400, "InvalidAction", false, true},
    {ErrorCode::MissingParameter, 400, "MissingParameter", false, true},
};

}  // namespace

TEST(AwsError, EveryErrorCodeHasItsOwnRow) {
    // MissingParameter is the last enumerator; a new code added after it
    // must extend this loop and the table.
    std::set<std::string> names;
    for (int i = 0; i <= static_cast<int>(ErrorCode::MissingParameter); ++i) {
        const auto code = static_cast<ErrorCode>(i);
        const ErrorShape& shape = error_shape(code);
        ASSERT_NE(shape.code, nullptr) << i;
        EXPECT_GE(shape.status, 400u) << shape.code;
        EXPECT_LT(shape.status, 600u) << shape.code;
        // A code without a row falls back to ServiceException; only Service may map there.
        if (code != ErrorCode::Service) {
            EXPECT_STRNE(shape.code, "ServiceException") << i;
        }
        EXPECT_TRUE(names.insert(shape.code).second) << "two codes share " << shape.code;
    }
    EXPECT_EQ(names.size(), std::size(kExpected));
}

TEST(AwsError, EachRowMatchesAws) {
    for (const auto& row : kExpected) {
        const ErrorShape& shape = error_shape(row.code);
        EXPECT_EQ(shape.status, row.status) << row.name;
        EXPECT_EQ(shape.code, row.name);
        EXPECT_EQ(shape.lowercase_message, row.lowercase_message) << row.name;
        EXPECT_EQ(shape.sender, row.sender) << row.name;

        auto r = rest_json_error(Error{row.code, "msg"}, "req-1");
        EXPECT_EQ(r.status, row.status) << row.name;
        EXPECT_EQ(r.headers.get("x-amzn-ErrorType"), row.name);
        auto body = json::parse(r.body);
        EXPECT_EQ(body.value(row.lowercase_message ? "message" : "Message", ""), "msg") << row.name;
        EXPECT_FALSE(body.contains(row.lowercase_message ? "Message" : "message")) << row.name;
    }
}

TEST(AwsError, RestJsonNotFoundShape) {
    auto r = rest_json_error(
        Error{ErrorCode::ResourceNotFound,
              "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f1"},
        "11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
    EXPECT_EQ(r.headers.get("x-amzn-ErrorType"), "ResourceNotFoundException");
    EXPECT_EQ(r.headers.get("x-amzn-RequestId"), "11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(
        json::parse(r.body),
        json::parse(
            R"({"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:f1"})"));
    EXPECT_EQ(r.headers.find("Retry-After"), nullptr);
}

TEST(AwsError, RestJsonInvalidParameterUsesLowercaseMessage) {
    auto r = rest_json_error(Error{ErrorCode::InvalidParameterValue, "Bad \"value\" <x>"}, "rid");
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(json::parse(r.body), json::parse(R"({"Type":"User","message":"Bad \"value\" <x>"})"));
}

TEST(AwsError, RestJsonValidationHasNoType) {
    auto r = rest_json_error(Error{ErrorCode::Validation, "1 validation error detected: x"}, "rid");
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(r.headers.get("x-amzn-ErrorType"), "ValidationException");
    EXPECT_EQ(json::parse(r.body), json::parse(R"({"message":"1 validation error detected: x"})"));
}

TEST(AwsError, RestJsonServiceFaultIsTypedService) {
    auto r = rest_json_error(Error{ErrorCode::Service, "boom"}, "rid");
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(json::parse(r.body)["Type"], "Service");
}

TEST(AwsError, RestJsonThrottleCarriesReasonAndRetryAfter) {
    Error e{ErrorCode::TooManyRequests, "Rate Exceeded."};
    e.reason = "ReservedFunctionConcurrentInvocationLimitExceeded";
    e.retry_after = 2;
    auto r = rest_json_error(e, "rid");
    EXPECT_EQ(r.status, 429u);
    EXPECT_EQ(r.headers.get("Retry-After"), "2");
    EXPECT_EQ(
        json::parse(r.body),
        json::parse(
            R"({"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"})"));
}

TEST(AwsError, QueryXmlError) {
    auto r = query_xml_error(
        Error{ErrorCode::NoSuchEntity, "The role with name x<y> & \"z\" cannot be found."}, "req-9",
        "https://iam.amazonaws.com/doc/2010-05-08/");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.headers.get("Content-Type"), "text/xml");
    EXPECT_EQ(r.headers.get("x-amzn-RequestId"), "req-9");
    EXPECT_EQ(r.body,
              "<ErrorResponse "
              "xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>"
              "<Code>NoSuchEntity</Code><Message>The role with name x&lt;y&gt; &amp; &quot;z&quot; "
              "cannot be "
              "found.</Message></Error><RequestId>req-9</RequestId></ErrorResponse>");

    auto svc = query_xml_error(Error{ErrorCode::Service, "oops"}, "r", "ns");
    EXPECT_EQ(svc.status, 500u);
    EXPECT_NE(svc.body.find("<Type>Receiver</Type>"), std::string::npos);
    EXPECT_NE(svc.body.find("<Code>ServiceException</Code>"), std::string::npos);
}
