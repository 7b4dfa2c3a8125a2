#pragma once
// How a template deployment talks to lamina: through the same Lambda API a
// user's client uses. `ServiceClient` calls the api front in-process (lamina
// serve --template); `HttpClient` sends HTTP to a running server (lamina
// deploy --endpoint). Both sign with SigV4 when given a key, so a server run
// with --auth sigv4 accepts them.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::api {
class Service;
}

namespace lamina::sam {

struct ApiReply {
    unsigned status = 0;
    std::string body;
    std::string error_type_header;  // x-amzn-ErrorType
    bool ok() const { return status >= 200 && status < 300; }
    nlohmann::json json() const;  // the body as JSON (null when empty or not JSON)
    // "ResourceNotFoundException: Function not found: ..." for an error reply
    // (JSON bodies, and S3's XML <Error><Code>/<Message>)
    std::string error_text() const;
    std::string error_type() const;
};

struct SigningKey {
    std::string access_key_id, secret_access_key;
};

// One request: target is path and query ("/2015-03-31/functions/f?Qualifier=live");
// `service` is what it is signed for (S3 and SQS calls are told apart by it).
struct ApiCall {
    std::string method, target, body, content_type = "application/json";
    std::string service = "lambda";
    std::vector<std::pair<std::string, std::string>> headers;
};

class ApiClient {
public:
    virtual ~ApiClient() = default;
    Result<ApiReply> call(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::string& content_type = "application/json") {
        return send(ApiCall{method, target, body, content_type});
    }
    virtual Result<ApiReply> send(const ApiCall& call) = 0;
    virtual const std::string& region() const = 0;
};

// In-process calls to the api front (Service::dispatch), with `host` as their
// Host header (answers that hold a function URL take its port from it).
std::unique_ptr<ApiClient> make_service_client(api::Service& service, std::string region,
                                               std::optional<SigningKey> key,
                                               std::string host = "lamina.internal");
// HTTP calls to http://host:port (no TLS: lamina listens on loopback).
Result<std::unique_ptr<ApiClient>> make_http_client(const std::string& endpoint, std::string region,
                                                    std::optional<SigningKey> key);

// Percent-encodes one path segment ("$LATEST" -> "%24LATEST").
std::string path_segment(const std::string& s);

}  // namespace lamina::sam
