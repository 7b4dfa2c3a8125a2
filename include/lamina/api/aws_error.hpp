#pragma once
// The one place where lamina's ErrorCode becomes AWS's wire error: HTTP
// status, error code name, and the body in the protocol of the request.

#include <string>

#include "lamina/common/error.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

struct ErrorShape {
    unsigned status;
    const char* code;        // x-amzn-ErrorType / <Code>
    bool lowercase_message;  // botocore's model uses "message" for this shape
    bool sender = true;      // client fault ("User"/"Sender") or service fault
};

const ErrorShape& error_shape(ErrorCode code);

// rest-json (Lambda): x-amzn-ErrorType header, {"Type","message"/"Message"} body.
http::Response rest_json_error(const Error& e, const std::string& request_id);
// query protocol (STS, IAM): <ErrorResponse> XML.
http::Response query_xml_error(const Error& e, const std::string& request_id,
                               const std::string& xmlns);

}  // namespace lamina::api
