#pragma once
// CBOR (RFC 8949), the subset that carries JSON-shaped data plus tag 1
// timestamps: what AWS's smithy-rpc-v2-cbor protocol puts on the wire.
//
// decode: maps with text (or byte) string keys, arrays, text strings, byte
// strings (as strings), integers, half/single/double floats, true, false,
// null and undefined (both null); definite and indefinite lengths. Tag 1
// (epoch time) becomes its number of seconds; other tags yield their content,
// except the bignums (2, 3), which are rejected. Malformed, truncated or
// too deeply nested input is an error, never a crash: every length is
// checked against the bytes left before anything is allocated.
//
// encode: definite lengths, shortest integers, every float as a double
// (0xfb); members named in EncodeOptions::timestamp_keys are written as
// tag 1 + double epoch seconds.

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "lamina/common/error.hpp"

namespace lamina::cbor {

// Arrays, maps and tags nested deeper than this are rejected.
inline constexpr std::size_t kMaxDepth = 64;

// One data item that must span all of `bytes`. Errors are
// ErrorCode::InvalidRequestContent, with the byte offset in the message.
// Duplicate map keys: the last one wins (as in botocore and nlohmann's JSON parser).
Result<nlohmann::json> decode(std::string_view bytes, std::size_t max_depth = kMaxDepth);

struct EncodeOptions {
    // An object member with one of these names whose value is a number (or an
    // array of numbers: each element) is written as a timestamp: tag 1 + double.
    std::set<std::string, std::less<>> timestamp_keys;
};

// Strings are written as text as they are (the caller keeps them UTF-8);
// binary values as byte strings; discarded values as null.
std::string encode(const nlohmann::json& value, const EncodeOptions& options = {});

}  // namespace lamina::cbor
