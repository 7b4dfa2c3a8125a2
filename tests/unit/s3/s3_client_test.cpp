#include "lamina/s3/s3_client.hpp"

#include <gtest/gtest.h>

#include "lamina/common/encoding.hpp"

using namespace lamina::s3;

// AWS's documented example "GET Object" (Signature Version 4, header auth).
TEST(S3Client, SignsTheDocumentedGetObjectExample) {
    SigV4Request r;
    r.canonical_uri = "/test.txt";
    r.headers = {{"range", "bytes=0-9"}};
    r.host = "examplebucket.s3.amazonaws.com";
    r.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    r.amz_date = "20130524T000000Z";
    r.region = "us-east-1";
    r.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    r.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    EXPECT_EQ(
        sigv4_authorization(r),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Client, EncodesKeysLikeS3) {
    EXPECT_EQ(lamina::url_encode("/b/dir/my file+1~.zip", true), "/b/dir/my%20file%2B1~.zip");
    EXPECT_EQ(lamina::url_encode("/b/\xC3\xA9", true), "/b/%C3%A9");
}

TEST(S3Client, ParsesEndpoints) {
    auto e = parse_endpoint("http://127.0.0.1:4566");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->host, "127.0.0.1");
    EXPECT_EQ(e->port, "4566");
    EXPECT_EQ(e->base_path, "");
    e = parse_endpoint("http://minio.local/s3/");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->port, "80");
    EXPECT_EQ(e->base_path, "/s3");
    EXPECT_FALSE(parse_endpoint("https://s3.amazonaws.com").has_value());
    EXPECT_FALSE(parse_endpoint("127.0.0.1:4566").has_value());
    EXPECT_FALSE(parse_endpoint("http://host:port").has_value());
}
