#include "lamina/common/eventstream.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace lamina;

namespace {

std::string from_hex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

}  // namespace

TEST(Crc32, MatchesZlib) {
    EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the standard check value
    EXPECT_EQ(crc32(""), 0u);
    EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926u);  // continued
}

TEST(EventStream, PayloadChunkMatchesTheBytesBotocoreDecodes) {
    // A PayloadChunk with payload "hi" that botocore 1.43 decodes to
    // {'PayloadChunk': {'Payload': b'hi'}} (lambda-semantics-2.md, 2.2).
    const std::string expected = from_hex(
        "0000006c0000005ab25efdcf0b3a6576656e742d7479706507000c5061796c6f61644368756e6b0d3a636f6e"
        "74656e742d747970650700186170706c69636174696f6e2f6f637465742d73747265616d0d3a6d6573736167"
        "652d747970650700056576656e7468691162e469");
    std::string got = eventstream_message({{":event-type", "PayloadChunk"},
                                           {":content-type", "application/octet-stream"},
                                           {":message-type", "event"}},
                                          "hi");
    EXPECT_EQ(got.size(), 108u);
    EXPECT_EQ(got, expected);
}
