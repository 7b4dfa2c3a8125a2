#include "lamina/common/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LAMINA_BASE64_AVX2 1
#endif

namespace lamina {

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHex[] = "0123456789abcdef";

constexpr std::array<signed char, 256> make_b64_table() {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(kB64[i])] = static_cast<signed char>(i);
    return t;
}
constexpr auto kB64Table = make_b64_table();

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
        out.push_back(kB64[(v >> 18) & 63]);
        out.push_back(kB64[(v >> 12) & 63]);
        out.push_back(kB64[(v >> 6) & 63]);
        out.push_back(kB64[v & 63]);
    }
    if (i + 1 == in.size()) {
        unsigned v = p[i] << 16;
        out.push_back(kB64[(v >> 18) & 63]);
        out.push_back(kB64[(v >> 12) & 63]);
        out.append("==");
    } else if (i + 2 == in.size()) {
        unsigned v = (p[i] << 16) | (p[i + 1] << 8);
        out.push_back(kB64[(v >> 18) & 63]);
        out.push_back(kB64[(v >> 12) & 63]);
        out.push_back(kB64[(v >> 6) & 63]);
        out.push_back('=');
    }
    return out;
}

namespace {

#ifdef LAMINA_BASE64_AVX2
// Decodes `blocks` runs of 32 base64 characters (8 quanta, no padding) from
// `p` to `o`, 24 bytes each, with AVX2 (Wojciech Muła and Daniel Lemire's
// method: nibble lookups validate and translate, multiply-adds pack). Each
// store writes 32 bytes: the 8 past a block's 24 must be writable and either
// unread input or later output. Returns how many blocks it decoded: fewer when
// a block holds a byte outside the alphabet, left for the scalar loop, which
// rejects it.
__attribute__((target("avx2"))) std::size_t decode_blocks_avx2(const unsigned char* p,
                                                               unsigned char* o,
                                                               std::size_t blocks) {
    const __m256i lut_lo =
        _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
                         0x1B, 0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                         0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i lut_hi =
        _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    const __m256i lut_roll =
        _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
                         -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i mask_2f = _mm256_set1_epi8(0x2f);
    const __m256i pack_bytes =
        _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6, 5, 4,
                         10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i pack_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, -1, -1);
    for (std::size_t i = 0; i < blocks; ++i, p += 32, o += 24) {
        __m256i in = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        __m256i hi_nibbles = _mm256_and_si256(_mm256_srli_epi32(in, 4), mask_2f);
        __m256i lo_nibbles = _mm256_and_si256(in, mask_2f);
        __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nibbles);
        __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nibbles);
        if (!_mm256_testz_si256(lo, hi)) return i;
        __m256i eq_2f = _mm256_cmpeq_epi8(in, mask_2f);
        __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(eq_2f, hi_nibbles));
        __m256i values = _mm256_add_epi8(in, roll);
        __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
        __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
        __m256i out =
            _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, pack_bytes), pack_lanes);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), out);
    }
    return blocks;
}

bool have_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}
#endif

// Decodes `in_size` base64 characters (a non-zero multiple of 4, the last
// `pad` of them '=') from `p` to `o`, which has `room` writable bytes (at
// least the decoded size). `o` may be `p` itself: each quantum's three bytes
// land before its four characters' end, and the vector loop's wider stores
// stay below input it has not read. False on a byte outside the alphabet or
// padding out of place.
bool decode_quanta(const unsigned char* p, std::size_t in_size, std::size_t pad, unsigned char* o,
                   std::size_t room) {
    std::size_t full = in_size / 4 - 1;  // every quantum but the last has no padding
    std::size_t q = 0;
    int bad = 0;
#ifdef LAMINA_BASE64_AVX2
    if (have_avx2() && room >= 32) {
        std::size_t blocks = std::min(full / 8, (room - 8) / 24);
        std::size_t done = decode_blocks_avx2(p, o, blocks);
        q = done * 8;
        p += done * 32;
        o += done * 24;
    }
#else
    (void)room;
#endif
    for (; q < full; ++q, p += 4, o += 3) {
        // NOLINTNEXTLINE(bugprone-signed-char-misuse): -1 marks a bad byte; its sign is wanted
        int a = kB64Table[p[0]], b = kB64Table[p[1]], c = kB64Table[p[2]], d = kB64Table[p[3]];
        bad |= a | b | c | d;  // -1 sets the sign bit
        unsigned n = (static_cast<unsigned>(a) << 18) | (static_cast<unsigned>(b) << 12) |
                     (static_cast<unsigned>(c) << 6) | static_cast<unsigned>(d);
        o[0] = static_cast<unsigned char>(n >> 16);
        o[1] = static_cast<unsigned char>(n >> 8);
        o[2] = static_cast<unsigned char>(n);
    }
    // the last quantum, with its padding
    int v[4];
    for (int k = 0; k < 4; ++k) {
        bool is_pad = p[k] == '=';
        bool pad_slot = k >= 4 - static_cast<int>(pad);
        if (is_pad != pad_slot) bad = -1;
        v[k] = is_pad ? 0 : kB64Table[p[k]];
        bad |= v[k];
    }
    if (bad < 0) return false;
    unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    o[0] = static_cast<unsigned char>(n >> 16);
    if (pad < 2) o[1] = static_cast<unsigned char>(n >> 8);
    if (pad < 1) o[2] = static_cast<unsigned char>(n);
    return true;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    if (in.empty()) return std::string();
    std::size_t pad = 0;
    if (in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
    bool ok = true;
    std::string out;
    // No zero-fill of what is about to be overwritten (megabytes for a code zip).
    // GCC 12's libstdc++ passes the capacity, not the size asked for, as the
    // second argument: the size is ours, never that argument.
    const std::size_t size = (in.size() / 4) * 3 - pad;
    out.resize_and_overwrite(size, [&](char* buf, std::size_t) -> std::size_t {
        ok = decode_quanta(reinterpret_cast<const unsigned char*>(in.data()), in.size(), pad,
                           reinterpret_cast<unsigned char*>(buf), size);
        return ok ? size : 0;
    });
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::size_t> base64_decode_in_place(std::span<char> text) {
    if (text.size() % 4 != 0) return std::nullopt;
    if (text.empty()) return 0;
    std::size_t pad = 0;
    if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
    auto* p = reinterpret_cast<unsigned char*>(text.data());
    if (!decode_quanta(p, text.size(), pad, p, text.size())) return std::nullopt;
    return (text.size() / 4) * 3 - pad;
}

std::string sha256(std::string_view bytes) {
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
               EVP_sha256(), nullptr);
    return out;
}

std::string to_hex(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0x0f]);
    }
    return out;
}

std::optional<std::string> url_decode(std::string_view in, bool form) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return std::nullopt;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && form) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string url_encode(std::string_view in, bool keep_slash) {
    std::string out;
    for (unsigned char c : in) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back("0123456789ABCDEF"[c >> 4]);
            out.push_back("0123456789ABCDEF"[c & 15]);
        }
    }
    return out;
}

std::string xml_escape(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (char c : in) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

bool is_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        int n;
        std::uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (i + n >= s.size()) return false;
        for (int k = 1; k <= n; ++k) {
            auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string sigv4_signature(std::string_view secret_access_key, const std::string& amz_date,
                            const std::string& region, const std::string& service,
                            std::string_view canonical_request) {
    std::string date = amz_date.substr(0, 8);
    std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + date + "/" + region + "/" +
                          service + "/aws4_request\n" + to_hex(sha256(canonical_request));
    return to_hex(
        hmac_sha256(sigv4_signing_key(secret_access_key, date, region, service), to_sign));
}

std::string sigv4_signing_key(std::string_view secret_access_key, const std::string& date,
                              const std::string& region, const std::string& service) {
    std::string key = hmac_sha256("AWS4" + std::string(secret_access_key), date);
    key = hmac_sha256(key, region);
    key = hmac_sha256(key, service);
    return hmac_sha256(key, "aws4_request");
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace lamina
