#include "lamina/common/encoding.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>

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

namespace {

// Bytes from a fixed linear congruential sequence: every byte value, no seed to vary.
std::string pseudo_random_bytes(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (auto& c : s) {
        seed = seed * 1103515245u + 12345u;
        c = static_cast<char>(seed >> 16);
    }
    return s;
}

std::optional<std::string> decoded_in_place(std::string text) {
    auto n = base64_decode_in_place(text);
    if (!n) return std::nullopt;
    text.resize(*n);
    return text;
}

}  // namespace

// Long inputs go through the vector loop (32 characters at a time) where the
// CPU has it, then the scalar one: both must agree with the encoder at every
// length and alignment, in a fresh buffer and in place.
TEST(Encoding, Base64DecodesLongInputsExactlyInBothForms) {
    for (std::size_t n :
         {0u, 1u, 23u, 24u, 25u, 47u, 48u, 49u, 95u, 96u, 97u, 1000u, 4099u, 65536u, 1000003u}) {
        std::string raw = pseudo_random_bytes(n, static_cast<unsigned>(n));
        std::string text = base64_encode(raw);
        auto fresh = base64_decode(text);
        ASSERT_TRUE(fresh.has_value()) << n;
        EXPECT_EQ(*fresh, raw) << n;
        auto in_place = decoded_in_place(text);
        ASSERT_TRUE(in_place.has_value()) << n;
        EXPECT_EQ(*in_place, raw) << n;
    }
}

TEST(Encoding, Base64RejectsAStrayByteAnywhereInALongInput) {
    std::string text = base64_encode(pseudo_random_bytes(3000, 7));  // 4000 characters, no '='
    const char strays[] = {'=', '-', '_', ' ',    '\n',   '\0',   '.', ':', '@',
                           '[', '`', '{', '\x7f', '\x80', '\xff', '*', ',', '\\'};
    for (std::size_t pos = 0; pos < text.size(); pos += 37) {
        for (char stray : strays) {
            std::string bad = text;
            bad[pos] = stray;
            EXPECT_FALSE(base64_decode(bad).has_value()) << pos << " " << int(stray);
            EXPECT_FALSE(decoded_in_place(bad).has_value()) << pos << " " << int(stray);
        }
    }
    // every position of the first vector block and the block after it
    for (std::size_t pos = 0; pos < 64; ++pos) {
        std::string bad = text;
        bad[pos] = '%';
        EXPECT_FALSE(base64_decode(bad).has_value()) << pos;
    }
    // the alphabet's neighbours in ASCII are all refused, its 64 members all taken
    for (int c = 0; c < 256; ++c) {
        std::string probe = text;
        probe[100] = static_cast<char>(c);
        bool member = std::isalnum(c) || c == '+' || c == '/';
        EXPECT_EQ(base64_decode(probe).has_value(), member) << c;
    }
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
