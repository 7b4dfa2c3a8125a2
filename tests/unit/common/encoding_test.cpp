#include "lamina/common/encoding.hpp"

#include <gtest/gtest.h>

using namespace lamina;

TEST(Encoding, Base64RoundTripsEveryPaddingCase) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        auto enc = base64_encode(s);
        auto dec = base64_decode(enc);
        ASSERT_TRUE(dec.has_value()) << enc;
        EXPECT_EQ(*dec, s);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
}

TEST(Encoding, Base64DecodesToExactlyTheEncodedLengthAtEverySize) {
    // A 22-byte client context once came back with 8 NULs appended (the
    // string's capacity leaked into its size): check lengths across growth steps.
    std::string s;
    for (int n = 0; n < 300; ++n, s.push_back(static_cast<char>('a' + n % 26))) {
        auto dec = base64_decode(base64_encode(s));
        ASSERT_TRUE(dec.has_value()) << n;
        EXPECT_EQ(*dec, s) << n;
    }
    EXPECT_EQ(base64_decode("eyJjdXN0b20iOiB7ImsiOiAidiJ9fQ=="),
              std::string(R"({"custom": {"k": "v"}})"));
}

TEST(Encoding, Base64RejectsMalformedInput) {
    EXPECT_FALSE(base64_decode("Zm9").has_value());
    EXPECT_FALSE(base64_decode("Zm9v!mFy").has_value());
    EXPECT_FALSE(base64_decode("Z===").has_value());
    EXPECT_FALSE(base64_decode("Zm=v").has_value());
}

TEST(Encoding, Sha256MatchesKnownDigest) {
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // AWS's CodeSha256 is the padded base64 of the raw digest: 44 characters.
    EXPECT_EQ(base64_encode(sha256("abc")).size(), 44u);
}

TEST(Encoding, UrlDecodeHandlesEscapesAndPlus) {
    EXPECT_EQ(url_decode("arn%3Aaws%3Alambda").value(), "arn:aws:lambda");
    EXPECT_EQ(url_decode("%24LATEST").value(), "$LATEST");
    EXPECT_EQ(url_decode("a+b").value(), "a+b");
    EXPECT_EQ(url_decode("a+b", true).value(), "a b");
    EXPECT_FALSE(url_decode("%4").has_value());
    EXPECT_FALSE(url_decode("%zz").has_value());
}

TEST(Encoding, Utf8Validation) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("\xc3\xa9"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));
    EXPECT_FALSE(is_valid_utf8("\xff"));
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
}
