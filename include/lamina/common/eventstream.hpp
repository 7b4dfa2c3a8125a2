#pragma once
// AWS's event-stream framing (application/vnd.amazon.eventstream), the body
// of streaming operations such as InvokeWithResponseStream: messages of
//   u32 total length | u32 headers length | u32 prelude CRC | headers | payload | u32 message CRC
// (big-endian; CRC-32 as zlib's), each header `u8 name length | name | u8
// type | value`. lamina writes string headers (type 7) only.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lamina {

// CRC-32 (IEEE 802.3, zlib's crc32) of `bytes`, continuing from `crc`.
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0);

// One message with string headers, in the order given.
std::string eventstream_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                std::string_view payload);

}  // namespace lamina
