#include "lamina/common/eventstream.hpp"

#include <array>

namespace lamina {

namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}

constexpr auto kTable = make_table();

void put_u32(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

}  // namespace

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
    crc = ~crc;
    for (unsigned char b : bytes) crc = kTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

std::string eventstream_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                std::string_view payload) {
    std::string h;
    for (const auto& [name, value] : headers) {
        h.push_back(static_cast<char>(name.size()));
        h += name;
        h.push_back(7);  // string
        h.push_back(static_cast<char>(value.size() >> 8));
        h.push_back(static_cast<char>(value.size()));
        h += value;
    }
    const auto total = static_cast<std::uint32_t>(12 + h.size() + payload.size() + 4);
    std::string out;
    out.reserve(total);
    put_u32(out, total);
    put_u32(out, static_cast<std::uint32_t>(h.size()));
    put_u32(out, crc32(out));
    out += h;
    out += payload;
    put_u32(out, crc32(out));
    return out;
}

}  // namespace lamina
