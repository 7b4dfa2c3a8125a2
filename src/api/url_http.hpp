#pragma once
// Function URLs' HTTP translation, both ways: an HTTP request becomes the
// event of payload format 2.0, and what the function answered becomes the
// HTTP response (BUFFERED mode), as AWS's URL service does. Pure functions,
// no I/O. Private to the api module.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "lamina/http/message.hpp"

namespace lamina::api {

// What the event says about the request besides the request itself.
struct UrlEventContext {
    std::string url_id;
    std::string domain_name;  // the Host the client used, without its port
    std::string port;         // that Host's port ("" for none)
    std::string account_id;   // the function's owner
    std::string request_id;
    std::string source_ip;
    std::int64_t epoch_ms = 0;
    std::string trace_id;               // "Root=1-..." for x-amzn-trace-id
    std::optional<nlohmann::json> iam;  // requestContext.authorizer.iam (AWS_IAM URLs)
};

// The payload 2.0 event for `req`; `raw_path` is the path below the URL's root
// as sent ("/a/b%2F", never empty), `raw_query` the query string without '?'.
// Serialise it with json::error_handler_t::replace: a path or header may
// carry bytes that are not UTF-8 (a text body that is not is sent base64).
nlohmann::json url_event(const http::Request& req, const std::string& raw_path,
                         const std::string& raw_query, const UrlEventContext& ctx);

// Whether a body of this Content-Type reaches the function as text (else base64).
bool url_body_is_text(const std::string& content_type);

// The HTTP response for a function's result. An object with "statusCode" is a
// response description (status, headers, cookies, body, isBase64Encoded);
// any other JSON value is the body of a 200 application/json response (a
// string as it is, anything else as compact JSON). A result that is not JSON,
// or a description that does not hold, gives nullopt: the caller answers 502.
std::optional<http::Response> url_response(const std::string& payload);

// The Content-Type a streamed response carries when it starts with an HTTP
// prelude (awslambda.HttpResponseStream.from): the prelude's JSON, then
// kPreludeDelimiter, then the body.
inline constexpr const char* kHttpIntegrationType =
    "application/vnd.awslambda.http-integration-response";
inline constexpr std::string_view kPreludeDelimiter{"\0\0\0\0\0\0\0\0", 8};
// Longest prelude lamina reads before giving up on it.
inline constexpr std::size_t kMaxPreludeBytes = 64 * 1024;

// The status and headers of a RESPONSE_STREAM URL's answer from the prelude
// (JSON object: statusCode, default 200; headers; multiValueHeaders;
// cookies). nullopt for a prelude that is not such an object: 502.
std::optional<http::Response> url_stream_head(std::string_view prelude);

// AWS's answer when the function failed or its result could not be used.
http::Response url_internal_error();
// AWS's 403 when the auth type or the resource policy refuses the caller.
http::Response url_forbidden();
// AWS's 403 for a Host naming no function URL.
http::Response url_unknown();
// 413 for a request (or the event it makes) over the 6 MB invocation limit
// (the shape of AWS's answer is not confirmed by a recording).
http::Response url_too_large();
// Largest event a URL request may make (AWS: Invoke's 6 MB request limit).
inline constexpr std::size_t kMaxUrlEventBytes = 6 * 1024 * 1024;

}  // namespace lamina::api
