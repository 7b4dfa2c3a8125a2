#pragma once
// A minimal S3 client for --s3-endpoint: a SigV4-signed, path-style GET of
// one object from another S3-compatible server over plain http.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/s3/object_source.hpp"

namespace lamina::s3 {

struct SigV4Request {
    std::string method = "GET";
    std::string canonical_uri;    // already URI-encoded, e.g. "/bucket/my%20key"
    std::string canonical_query;  // sorted, encoded; empty for none
    // headers to sign besides host, x-amz-date and x-amz-content-sha256 (lower-case names)
    std::vector<std::pair<std::string, std::string>> headers;
    std::string host;          // as sent in Host
    std::string payload_hash;  // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
    std::string amz_date;      // 20130524T000000Z
    std::string region;
    std::string service = "s3";
    std::string access_key_id;
    std::string secret_access_key;
};

// The Authorization header value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...").
std::string sigv4_authorization(const SigV4Request& r);

struct S3Endpoint {
    std::string host;
    std::string port = "80";
    std::string base_path;  // "" or "/prefix"
};
// "http://host[:port][/prefix]"; https is refused (lamina speaks plain http to it).
Result<S3Endpoint> parse_endpoint(const std::string& url);

struct RemoteCredentials {
    std::string access_key_id, secret_access_key, session_token;
};

class RemoteObjectSource final : public ObjectSource {
public:
    RemoteObjectSource(S3Endpoint endpoint, RemoteCredentials credentials, std::string region,
                       std::chrono::seconds timeout = std::chrono::seconds(120));
    // Signed with lamina's own credentials, whoever the caller is: the
    // server decides what they may read (its 403 is quoted as AccessDenied).
    std::expected<std::string, GetObjectFailure> get_object(
        const std::string& account, const std::string& region, const std::string& bucket,
        const std::string& key, const std::optional<std::string>& version) override;

private:
    S3Endpoint endpoint_;
    RemoteCredentials credentials_;
    std::string region_;
    std::chrono::seconds timeout_;
};

}  // namespace lamina::s3
