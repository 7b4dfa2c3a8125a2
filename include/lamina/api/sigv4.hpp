#pragma once
// Optional SigV4 verification (`lamina serve --auth sigv4`): every request
// must be signed, as AWS's endpoints require, with a key from the
// credentials file; the key decides the account the request acts in.
// Errors are AWS's: MissingAuthenticationTokenException for an unsigned
// request, UnrecognizedClientException for an unknown key,
// InvalidSignatureException for a wrong signature or an expired one.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "lamina/common/encoding.hpp"
#include "lamina/common/error.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

struct Credential {
    std::string secret_access_key;
    std::string account_id;
};

// access key id -> its secret and account
using CredentialStore = std::map<std::string, Credential>;

// Reads a credentials file: one "ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID"
// per line (blank lines and lines starting with # ignored).
Result<CredentialStore> load_credentials(const std::filesystem::path& file);

// The canonical request of SigV4 for this request and these signed headers
// (exposed for the unit tests). S3 (`s3`) signs the path as sent; its payload
// hash is x-amz-content-sha256 as sent (a hex digest, UNSIGNED-PAYLOAD or
// STREAMING-*), which is what every service's canonical request ends with.
std::string canonical_request(const http::Request& req, const std::string& signed_headers,
                              bool s3 = false);

// Signs a request as the AWS SDKs do (Authorization header, X-Amz-Date,
// x-amz-content-sha256; host and every x-amz-* header signed). `req.path`
// and `req.query` must be set; the Host header must be there.
void sign_sigv4(http::Request& req, const std::string& access_key_id,
                const std::string& secret_access_key, const std::string& region,
                const std::string& service, std::int64_t now_ms);

// Checks the request's Authorization header (or presigned query); returns
// the access key id that signed it, and, with `seed`, what checking a
// signed aws-chunked body needs.
Result<std::string> verify_sigv4(const http::Request& req, const CredentialStore& store,
                                 std::int64_t now_ms, SigV4Seed* seed = nullptr);

}  // namespace lamina::api
