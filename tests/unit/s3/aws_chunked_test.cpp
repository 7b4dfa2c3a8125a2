#include "lamina/s3/aws_chunked.hpp"

#include <gtest/gtest.h>

#include <string>

#include "lamina/common/encoding.hpp"

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
    EXPECT_EQ(got->trailers.count("x-amz-trailer-signature"), 0u);  // kept apart, not a trailer
    EXPECT_EQ(got->trailer_signature, "abcd");
    EXPECT_EQ(got->trailer_lines, "x-amz-checksum-crc32:NSRBwg==\n");
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

namespace {

// AWS's documented chunked-upload examples: the example secret key, 20130524,
// us-east-1, s3; a 64 KiB chunk and a 1 KiB chunk of 'a', then the final one.
const std::string kExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

lamina::SigV4Seed example_seed(const std::string& seed_signature) {
    return {lamina::sigv4_signing_key(kExampleSecret, "20130524", "us-east-1", "s3"),
            "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", seed_signature};
}

std::string example_body(const std::string& sig1, const std::string& sig2, const std::string& sig3,
                         const std::string& trailer = "") {
    return "10000;chunk-signature=" + sig1 + "\r\n" + std::string(65536, 'a') +
           "\r\n400;chunk-signature=" + sig2 + "\r\n" + std::string(1024, 'a') +
           "\r\n0;chunk-signature=" + sig3 + "\r\n" + trailer + "\r\n";
}

}  // namespace

TEST(AwsChunked, ChunkSignaturesOfAwsDocsExampleVerify) {
    auto seed = example_seed("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    const std::string s1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    const std::string s2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    const std::string s3 = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
    auto good = decode_aws_chunked(example_body(s1, s2, s3));
    ASSERT_TRUE(good.has_value());
    ASSERT_EQ(good->chunks.size(), 3u);
    EXPECT_TRUE(verify_chunk_signatures(*good, seed, false));

    // one byte of data changed: that chunk's signature no longer holds
    auto body = example_body(s1, s2, s3);
    body[100] = 'b';
    auto tampered = decode_aws_chunked(body);
    ASSERT_TRUE(tampered.has_value());
    EXPECT_FALSE(verify_chunk_signatures(*tampered, seed, false));
    // chunks swapped signatures, another seed, a missing final signature, no signatures at all
    EXPECT_FALSE(
        verify_chunk_signatures(*decode_aws_chunked(example_body(s2, s1, s3)), seed, false));
    EXPECT_FALSE(verify_chunk_signatures(*good, example_seed(std::string(64, '0')), false));
    EXPECT_FALSE(
        verify_chunk_signatures(*decode_aws_chunked(example_body(s1, s2, "")), seed, false));
    auto unsigned_body = decode_aws_chunked("5\r\nhello\r\n0\r\n\r\n");
    ASSERT_TRUE(unsigned_body.has_value());
    EXPECT_FALSE(verify_chunk_signatures(*unsigned_body, seed, false));
    // a body cut after its data chunks (no final chunk) does not decode
    EXPECT_FALSE(decode_aws_chunked(example_body(s1, s2, s3).substr(0, 65536 + 90)).has_value());
}

TEST(AwsChunked, TrailerSignatureChainsFromTheFinalChunk) {
    // AWS's documented trailer example (seed and chunk signatures as published);
    // the trailer is signed over "name:value\n", as the AWS SDKs canonicalise it.
    auto seed = example_seed("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
    const std::string s1 = "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2";
    const std::string s2 = "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7";
    const std::string s3 = "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992";
    const std::string trailer_sig =
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";
    auto got = decode_aws_chunked(example_body(
        s1, s2, s3,
        "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" + trailer_sig + "\r\n"));
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(verify_chunk_signatures(*got, seed, false));  // the chunks alone
    EXPECT_TRUE(verify_chunk_signatures(*got, seed, true));
    // the checksum changed after signing
    auto changed = decode_aws_chunked(example_body(
        s1, s2, s3,
        "x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:" + trailer_sig + "\r\n"));
    ASSERT_TRUE(changed.has_value());
    EXPECT_FALSE(verify_chunk_signatures(*changed, seed, true));
    // the trailer's signature missing
    auto missing =
        decode_aws_chunked(example_body(s1, s2, s3, "x-amz-checksum-crc32c:sOO8/Q==\r\n"));
    ASSERT_TRUE(missing.has_value());
    EXPECT_FALSE(verify_chunk_signatures(*missing, seed, true));
}
