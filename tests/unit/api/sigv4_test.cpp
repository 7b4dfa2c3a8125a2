#include "lamina/api/sigv4.hpp"

#include <gtest/gtest.h>

#include "lamina/common/encoding.hpp"
#include "lamina/s3/s3_client.hpp"

using namespace lamina;

namespace {

// A request as lamina's S3 client signs it, verified as the server verifies it.
http::Request signed_s3_get(const std::string& path, const std::string& payload_hash) {
    s3::SigV4Request s;
    s.canonical_uri = url_encode(path, true);
    s.host = "127.0.0.1:4566";
    s.payload_hash = payload_hash;
    s.amz_date = "20261128T100000Z";
    s.region = "us-east-1";
    s.access_key_id = "AKID";
    s.secret_access_key = "secret";
    http::Request r;
    r.method = "GET";
    r.target = s.canonical_uri;
    http::parse_target(r.target, r.path, r.query);
    r.headers.set("Host", s.host);
    r.headers.set("X-Amz-Date", s.amz_date);
    r.headers.set("x-amz-content-sha256", s.payload_hash);
    r.headers.set("Authorization", s3::sigv4_authorization(s));
    return r;
}

constexpr std::int64_t kNow = 1795860000000;  // 2026-11-28T10:00:00Z

}  // namespace

TEST(SigV4, S3SignsThePathAsSentNotEncodedTwice) {
    api::CredentialStore store{{"AKID", api::Credential{"secret", "111111111111"}}};
    auto r = signed_s3_get("/bucket/dir/my file+1.zip", to_hex(sha256("")));
    auto ok = api::verify_sigv4(r, store, kNow);
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_EQ(*ok, "AKID");
}

TEST(SigV4, S3PayloadHashMayBeUnsignedOrStreaming) {
    api::CredentialStore store{{"AKID", api::Credential{"secret", "111111111111"}}};
    for (const char* payload : {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}) {
        auto r = signed_s3_get("/bucket/key", payload);
        EXPECT_TRUE(api::verify_sigv4(r, store, kNow).has_value()) << payload;
    }
    auto r = signed_s3_get("/bucket/key", "UNSIGNED-PAYLOAD");
    r.headers.set("x-amz-content-sha256",
                  "STREAMING-UNSIGNED-PAYLOAD-TRAILER");  // changed after signing
    EXPECT_FALSE(api::verify_sigv4(r, store, kNow).has_value());
}

TEST(SigV4, WrongSecretIsRefused) {
    api::CredentialStore store{{"AKID", api::Credential{"other", "111111111111"}}};
    auto r = signed_s3_get("/bucket/key", "UNSIGNED-PAYLOAD");
    auto refused = api::verify_sigv4(r, store, kNow);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::InvalidSignature);
}
