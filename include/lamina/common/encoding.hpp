#pragma once
// Byte encodings and digests used across modules.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lamina {

std::string base64_encode(std::string_view bytes);
// Strict RFC 4648 decoding (padding required, no whitespace); nullopt on bad input.
std::optional<std::string> base64_decode(std::string_view text);
// The same decoding over the text's own bytes (a megabytes-long ZipFile needs
// no second buffer): the decoded bytes are the text's first N, N returned; on
// bad input, nullopt, and the text's bytes are unspecified.
std::optional<std::size_t> base64_decode_in_place(std::span<char> text);

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view bytes);
// HMAC-SHA256 of data under key (raw bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);
// SigV4: the hex signature of a canonical request at amz_date
// ("20261128T101500Z") for this secret, region and service.
std::string sigv4_signature(std::string_view secret_access_key, const std::string& amz_date,
                            const std::string& region, const std::string& service,
                            std::string_view canonical_request);
// SigV4's derived signing key for a day ("20261128"), region and service.
std::string sigv4_signing_key(std::string_view secret_access_key, const std::string& date,
                              const std::string& region, const std::string& service);
// What a verified SigV4 request gives the checks of its streamed body
// (aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD: each chunk is signed,
// chained from the request's own signature).
struct SigV4Seed {
    std::string signing_key;  // raw bytes, sigv4_signing_key
    std::string amz_date;     // the request's X-Amz-Date
    std::string scope;        // "20261128/us-east-1/s3/aws4_request"
    std::string signature;    // the request's (hex), the first chunk's "previous signature"
};
std::string to_hex(std::string_view bytes);

// %XX decoding of a URL path segment or query value; '+' is kept as is
// unless form is true (application/x-www-form-urlencoded).
std::optional<std::string> url_decode(std::string_view text, bool form = false);
// Percent-encodes every byte but A-Za-z0-9-_.~ (and '/', with keep_slash:
// a path, SigV4's canonical URI, S3's encoding-type=url).
std::string url_encode(std::string_view text, bool keep_slash = false);

// Escape &, <, >, ", ' for XML text.
std::string xml_escape(std::string_view text);

// ASCII letters lower-cased, other bytes as they are (header names, ids).
std::string ascii_lower(std::string_view text);

// Whether text is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace lamina
