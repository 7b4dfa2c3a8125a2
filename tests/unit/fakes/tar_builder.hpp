#pragma once
// Builds ustar streams (and gzip of them) for the image unpacker's tests and
// fuzz target: entries by type, name, data or link target, and mode.

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace lamina::fakes {

struct TarEntry {
    char type =
        '0';  // '0' file, '1' hard link, '2' symlink, '3' char dev, '5' dir, '6' fifo, 'x' pax
    std::string name;
    std::string data;  // file content, or link target
    unsigned mode = 0644;
    std::int64_t declared_size = -1;  // a lying size when >= 0
};

inline TarEntry tar_file(std::string name, std::string data, unsigned mode = 0644) {
    return {'0', std::move(name), std::move(data), mode};
}
inline TarEntry tar_dir(std::string name, unsigned mode = 0755) {
    return {'5', std::move(name), "", mode};
}
inline TarEntry tar_symlink(std::string name, std::string target) {
    return {'2', std::move(name), std::move(target), 0777};
}
inline TarEntry tar_hardlink(std::string name, std::string target) {
    return {'1', std::move(name), std::move(target), 0644};
}

inline std::string tar_header(const TarEntry& e, std::int64_t size) {
    std::string h(512, '\0');
    std::string name = e.name;
    if (name.size() > 100) {  // ustar prefix
        auto cut = name.rfind('/', 155);
        std::string prefix = name.substr(0, cut);
        name = name.substr(cut + 1);
        std::memcpy(&h[345], prefix.data(), std::min<std::size_t>(prefix.size(), 155));
    }
    std::memcpy(&h[0], name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(&h[100], 8, "%07o", e.mode);
    std::snprintf(&h[108], 8, "%07o", 0);
    std::snprintf(&h[116], 8, "%07o", 0);
    std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(&h[136], 12, "%011o", 0);
    h[156] = e.type;
    if (e.type == '1' || e.type == '2')
        std::memcpy(&h[157], e.data.data(), std::min<std::size_t>(e.data.size(), 100));
    std::memcpy(&h[257],
                "ustar\0"
                "00",
                8);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(&h[148], 8, "%06o", sum);
    return h;
}

inline std::string make_tar(const std::vector<TarEntry>& entries, bool end_blocks = true) {
    std::string out;
    for (const auto& e : entries) {
        bool has_data = e.type == '0' || e.type == 'x';
        std::int64_t size = has_data ? static_cast<std::int64_t>(e.data.size()) : 0;
        out += tar_header(e, e.declared_size >= 0 ? e.declared_size : size);
        if (has_data) {
            out += e.data;
            out.append((512 - e.data.size() % 512) % 512, '\0');
        }
    }
    if (end_blocks) out.append(1024, '\0');
    return out;
}

inline std::string gzip(const std::string& bytes) {
    z_stream z{};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, bytes.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = static_cast<uInt>(bytes.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

}  // namespace lamina::fakes
