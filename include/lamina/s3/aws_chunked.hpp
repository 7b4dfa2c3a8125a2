#pragma once
// The aws-chunked body encoding SDKs use for S3 uploads
// (Content-Encoding: aws-chunked, x-amz-content-sha256: STREAMING-*):
//
//   <hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=<sig>]\r\n
//   [<trailer-name>:<value>\r\n ...][x-amz-trailer-signature:<sig>\r\n]\r\n
//
// Decoding returns the payload, the trailers and the chunk signatures;
// verify_chunk_signatures checks those against the request's own SigV4
// signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/encoding.hpp"

namespace lamina::s3 {

struct ChunkedPayload {
    std::string data;
    std::map<std::string, std::string> trailers;  // lower-case names
    struct Chunk {
        std::size_t offset = 0, size = 0;  // in data; the final chunk has size 0
        std::string signature;             // ";chunk-signature=", "" when absent
    };
    std::vector<Chunk> chunks;
    std::string trailer_lines;      // the trailers as signed: "name:value\n" each, as sent
    std::string trailer_signature;  // x-amz-trailer-signature, "" when absent
};

// nullopt when the framing is broken (a size that is not hex, a chunk that
// runs past the body, a missing CRLF, no final zero-size chunk).
std::optional<ChunkedPayload> decode_aws_chunked(std::string_view body);

// Whether every chunk's signature (and, with `trailer`, the trailer's)
// is the one SigV4 chains from the request's seed signature.
bool verify_chunk_signatures(const ChunkedPayload& payload, const SigV4Seed& seed, bool trailer);

// Whether an x-amz-content-sha256 value names an aws-chunked body.
bool is_streaming_payload(std::string_view content_sha256);

// CRC-32 (IEEE, as x-amz-checksum-crc32) and its base64 form of the
// big-endian 4 bytes, which is what the header and trailer carry.
std::uint32_t crc32(std::string_view bytes);
std::string crc32_base64(std::string_view bytes);

}  // namespace lamina::s3
