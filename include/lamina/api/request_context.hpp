#pragma once
// What the http edge learns about a request once: its id, the account and
// region it acts in (from the SigV4 credential scope and access key id), the
// signing service, and the host the client used (for URLs we hand back).

#include <optional>
#include <string>

#include "lamina/common/config.hpp"
#include "lamina/control/names.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

struct RequestContext {
    std::string request_id;
    control::Scope scope;
    std::string access_key_id;
    std::string service;  // from the credential scope: "lambda", "sts", "iam", ...
    std::string host;     // Host header, for links back to lamina
};

struct SigV4Scope {
    std::string access_key_id, date, region, service;
};
// Parses "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, ...".
std::optional<SigV4Scope> parse_sigv4_scope(const std::string& authorization);

RequestContext make_context(const http::Request& req, const Config& config, std::string request_id);

}  // namespace lamina::api
