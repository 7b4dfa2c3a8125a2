#pragma once
// Zip archives built in memory with libzip, for tests of code that reads
// uploads (function code, layers).

#include <sys/stat.h>
#include <zip.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace lamina::fakes {

// One archive entry. A name ending in '/' is a directory. `mode` is the full
// unix mode (type and permission bits) stored as external attributes with
// ZIP_OPSYS_UNIX; for a symlink, `data` is its target.
struct Entry {
    std::string name;
    std::string data;
    mode_t mode = S_IFREG | 0644;
    bool deflate = false;
};

inline Entry file(std::string name, std::string data, mode_t perms = 0644) {
    return Entry{std::move(name), std::move(data), static_cast<mode_t>(S_IFREG | perms)};
}
inline Entry dir(std::string name, mode_t perms = 0755) {
    return Entry{std::move(name), "", static_cast<mode_t>(S_IFDIR | perms)};
}
inline Entry sym(std::string name, std::string target) {
    return Entry{std::move(name), std::move(target), static_cast<mode_t>(S_IFLNK | 0777)};
}

inline constexpr time_t kFixedZipTime = 1704067200;  // 2024-01-01T00:00:00Z

// Builds a zip archive in memory with libzip; byte for byte the same for the same entries.
inline std::string make_zip(const std::vector<Entry>& entries) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
    if (!src) throw std::runtime_error("zip_source_buffer_create");
    zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
    if (!za) throw std::runtime_error("zip_open_from_source");
    zip_source_keep(src);
    for (const auto& e : entries) {
        zip_int64_t idx;
        if (!e.name.empty() && e.name.back() == '/') {
            idx = zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8);
            if (idx < 0) throw std::runtime_error(std::string("zip_dir_add: ") + zip_strerror(za));
        } else {
            zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
            idx = zip_file_add(za, e.name.c_str(), data, ZIP_FL_ENC_UTF_8);
            if (idx < 0) {
                zip_source_free(data);
                throw std::runtime_error("zip_file_add " + e.name + ": " + zip_strerror(za));
            }
            if (zip_set_file_compression(za, static_cast<zip_uint64_t>(idx),
                                         e.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) < 0)
                throw std::runtime_error("zip_set_file_compression");
        }
        if (zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                             static_cast<zip_uint32_t>(e.mode) << 16) < 0)
            throw std::runtime_error("zip_file_set_external_attributes");
        // a fixed time, not "now": the same entries always make the same bytes
        // (and CodeSha256), even across the 2-second steps of a zip's clock
        if (zip_file_set_mtime(za, static_cast<zip_uint64_t>(idx), kFixedZipTime, 0) < 0)
            throw std::runtime_error("zip_file_set_mtime");
    }
    if (zip_close(za) < 0) throw std::runtime_error("zip_close");
    if (zip_source_open(src) < 0) throw std::runtime_error("zip_source_open");
    zip_source_seek(src, 0, SEEK_END);
    zip_int64_t size = zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    std::string out(static_cast<std::size_t>(size), '\0');
    zip_int64_t got = zip_source_read(src, out.data(), out.size());
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&err);
    if (got != size) throw std::runtime_error("zip_source_read");
    return out;
}

}  // namespace lamina::fakes
