#include "lamina/s3/aws_chunked.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace lamina::s3;

TEST(AwsChunked, DecodesSignedChunksAsInAwsDocs) {
    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD framing (signatures not checked)
    std::string a(65536, 'a'), b(1024, 'a');
    std::string body =
        "10000;chunk-signature="
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
        a +
        "\r\n400;chunk-signature="
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
        b +
        "\r\n0;chunk-signature="
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
    auto got = decode_aws_chunked(body);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, a + b);
    EXPECT_TRUE(got->trailers.empty());
}

TEST(AwsChunked, DecodesUnsignedChunksWithTrailer) {
    // STREAMING-UNSIGNED-PAYLOAD-TRAILER, as botocore sends it over https
    std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    auto got = decode_aws_chunked(body);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, "hello world");
    ASSERT_EQ(got->trailers.count("x-amz-checksum-crc32"), 1u);
    EXPECT_EQ(got->trailers.at("x-amz-checksum-crc32"), "DUoRhQ==");
    EXPECT_EQ(crc32_base64("hello world"), "DUoRhQ==");
}

TEST(AwsChunked, TrailerNamesAreLowerCasedAndSignatureKept) {
    auto got = decode_aws_chunked(
        "3\r\nabc\r\n0\r\nX-Amz-Checksum-CRC32: NSRBwg==\r\nx-amz-trailer-signature:abcd\r\n\r\n");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->trailers.at("x-amz-checksum-crc32"), "NSRBwg==");
    EXPECT_EQ(got->trailers.at("x-amz-trailer-signature"), "abcd");
    EXPECT_EQ(crc32_base64("abc"), "NSRBwg==");
}

TEST(AwsChunked, EmptyPayload) {
    auto got = decode_aws_chunked("0\r\n\r\n");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, "");
}

TEST(AwsChunked, RefusesBrokenFraming) {
    EXPECT_FALSE(decode_aws_chunked("").has_value());                         // no final chunk
    EXPECT_FALSE(decode_aws_chunked("5\r\nhello\r\n").has_value());           // no final chunk
    EXPECT_FALSE(decode_aws_chunked("z\r\nhello\r\n0\r\n\r\n").has_value());  // size not hex
    EXPECT_FALSE(decode_aws_chunked("9\r\nhello\r\n0\r\n\r\n").has_value());  // chunk runs past
    EXPECT_FALSE(decode_aws_chunked("5\r\nhelloXX0\r\n\r\n").has_value());    // no CRLF after data
    EXPECT_FALSE(decode_aws_chunked("0\r\nno-colon\r\n\r\n").has_value());    // bad trailer
    EXPECT_FALSE(decode_aws_chunked("ffffffffffffffff\r\nx\r\n0\r\n\r\n").has_value());
}

TEST(AwsChunked, StreamingPayloadValues) {
    EXPECT_TRUE(is_streaming_payload("STREAMING-UNSIGNED-PAYLOAD-TRAILER"));
    EXPECT_TRUE(is_streaming_payload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));
    EXPECT_FALSE(is_streaming_payload("UNSIGNED-PAYLOAD"));
    EXPECT_FALSE(
        is_streaming_payload("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST(AwsChunked, Crc32KnownValues) {
    EXPECT_EQ(crc32(""), 0u);
    EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
    EXPECT_EQ(crc32_base64("hello\n"), "NjowIA==");  // what the aws CLI sent for "hello\n"
}
