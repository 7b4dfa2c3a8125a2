#include "lamina/s3/aws_chunked.hpp"

#include <array>
#include <cctype>

#include "lamina/common/encoding.hpp"

namespace lamina::s3 {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool is_streaming_payload(std::string_view v) { return v.rfind("STREAMING-", 0) == 0; }

std::optional<ChunkedPayload> decode_aws_chunked(std::string_view body) {
    ChunkedPayload out;
    std::size_t i = 0;
    while (true) {
        auto eol = body.find("\r\n", i);
        if (eol == std::string_view::npos) return std::nullopt;
        std::string_view line = body.substr(i, eol - i);
        std::string_view size_text = trim(line.substr(0, line.find(';')));
        if (size_text.empty() || size_text.size() > 15) return std::nullopt;
        std::uint64_t size = 0;
        for (char c : size_text) {
            int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                : -1;
            if (d < 0) return std::nullopt;
            size = size * 16 + static_cast<std::uint64_t>(d);
        }
        i = eol + 2;
        ChunkedPayload::Chunk chunk{out.data.size(), static_cast<std::size_t>(size), {}};
        if (auto semi = line.find(';'); semi != std::string_view::npos) {
            std::string_view ext = trim(line.substr(semi + 1));
            constexpr std::string_view kSig = "chunk-signature=";
            if (ext.rfind(kSig, 0) == 0)
                chunk.signature = std::string(trim(ext.substr(kSig.size())));
        }
        if (size == 0) {
            out.chunks.push_back(std::move(chunk));
            break;
        }
        if (size > body.size() - i || body.size() - i - size < 2 ||
            body.substr(i + size, 2) != "\r\n")
            return std::nullopt;
        out.data.append(body.substr(i, size));
        out.chunks.push_back(std::move(chunk));
        i += size + 2;
    }
    // trailers until an empty line (or the end of the body: some clients stop there)
    while (i < body.size()) {
        auto eol = body.find("\r\n", i);
        std::string_view line =
            body.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
        i = eol == std::string_view::npos ? body.size() : eol + 2;
        if (line.empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        std::string name = ascii_lower(trim(line.substr(0, colon)));
        std::string value(trim(line.substr(colon + 1)));
        if (name == "x-amz-trailer-signature") {
            out.trailer_signature = value;
            continue;
        }
        out.trailer_lines += name + ":" + value + "\n";
        out.trailers[name] = std::move(value);
    }
    if (i != body.size()) return std::nullopt;
    return out;
}

bool verify_chunk_signatures(const ChunkedPayload& payload, const SigV4Seed& seed, bool trailer) {
    static const std::string kEmptyHash = to_hex(sha256(""));
    std::string previous = seed.signature;
    auto sign = [&](const std::string& to_sign) {
        return to_hex(hmac_sha256(seed.signing_key, to_sign));
    };
    for (const auto& chunk : payload.chunks) {
        std::string expected =
            sign("AWS4-HMAC-SHA256-PAYLOAD\n" + seed.amz_date + "\n" + seed.scope + "\n" +
                 previous + "\n" + kEmptyHash + "\n" +
                 to_hex(sha256(std::string_view(payload.data).substr(chunk.offset, chunk.size))));
        if (chunk.signature != expected) return false;
        previous = std::move(expected);
    }
    if (payload.chunks.empty() || payload.chunks.back().size != 0) return false;
    if (!trailer) return true;
    return payload.trailer_signature ==
           sign("AWS4-HMAC-SHA256-TRAILER\n" + seed.amz_date + "\n" + seed.scope + "\n" + previous +
                "\n" + to_hex(sha256(payload.trailer_lines)));
}

std::uint32_t crc32(std::string_view bytes) {
    static const std::array<std::uint32_t, 256> kTable = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::string crc32_base64(std::string_view bytes) {
    std::uint32_t c = crc32(bytes);
    char be[4] = {static_cast<char>(c >> 24), static_cast<char>(c >> 16), static_cast<char>(c >> 8),
                  static_cast<char>(c)};
    return base64_encode(std::string_view(be, 4));
}

}  // namespace lamina::s3
