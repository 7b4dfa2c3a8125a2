#include "lamina/store/layer_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/zip_archive.hpp"

namespace lamina::store {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what) { return Error{ErrorCode::Service, what + ": " + std::strerror(errno)}; }

Error too_big() {
    return Error{ErrorCode::InvalidParameterValue, "Unzipped size must be smaller than 262144000 bytes"};
}

std::string temp_name(const std::string& base) {
    RandomIdSource ids;
    return ".tmp-" + base + "-" + ids.hex(8);
}

// Moves `tmp` into place as `final`; if another thread got there first, keeps theirs.
Status publish_dir(const fs::path& tmp, const fs::path& final) {
    if (::rename(tmp.c_str(), final.c_str()) == 0) return {};
    int err = errno;
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if ((err == EEXIST || err == ENOTEMPTY) && fs::is_directory(final, ec)) return {};
    errno = err;
    return std::unexpected(io_error("rename " + tmp.string()));
}

mode_t entry_mode(zip_t* za, zip_uint64_t i, bool dir, bool* is_link) {
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    *is_link = false;
    mode_t fallback = dir ? 0755 : 0644;
    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0 || opsys != ZIP_OPSYS_UNIX) return fallback;
    mode_t mode = static_cast<mode_t>(attr >> 16);
    if (S_ISLNK(mode)) *is_link = true;
    mode_t perms = mode & 0777;  // no setuid, setgid or sticky bits from an upload
    if (perms == 0) return fallback;
    return perms | (dir ? 0700 : 0600);  // lamina must be able to read (and walk) what it extracted
}

Status extract_into(zip_t* za, const fs::path& dest, std::int64_t limit) {
    zip_int64_t n = zip_get_num_entries(za, 0);
    std::int64_t written = 0;
    std::vector<char> buf(1 << 16);
    for (zip_int64_t i = 0; i < n; ++i) {
        auto idx = static_cast<zip_uint64_t>(i);
        const char* raw = zip_get_name(za, idx, 0);
        if (!raw) return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
        std::string name(raw);
        if (!entry_path_is_contained(name))
            return fail(ErrorCode::InvalidParameterValue, std::string(kUnzipErrorMessage) + " (entry '" + name +
                                                              "' would be extracted outside its folder)");
        bool dir = !name.empty() && name.back() == '/';
        bool link = false;
        mode_t mode = entry_mode(za, idx, dir, &link);
        fs::path target = dest / fs::path(name).relative_path();
        std::error_code ec;
        if (dir) {
            fs::create_directories(target, ec);
            if (ec) return fail(ErrorCode::Service, "mkdir " + target.string() + ": " + ec.message());
            ::chmod(target.c_str(), mode);
            continue;
        }
        fs::create_directories(target.parent_path(), ec);
        if (ec) return fail(ErrorCode::Service, "mkdir " + target.parent_path().string() + ": " + ec.message());
        std::unique_ptr<zip_file_t, decltype(&zip_fclose)> zf(zip_fopen_index(za, idx, 0), &zip_fclose);
        if (!zf) return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
        if (link) {
            std::string to;
            zip_int64_t got;
            while ((got = zip_fread(zf.get(), buf.data(), buf.size())) > 0) {
                to.append(buf.data(), static_cast<std::size_t>(got));
                if (to.size() > 4096) return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
            }
            if (got < 0 || !symlink_is_contained(name, to))
                return fail(ErrorCode::InvalidParameterValue, std::string(kUnzipErrorMessage) + " (symlink '" + name +
                                                                  "' points outside its folder)");
            fs::remove(target, ec);
            if (::symlink(to.c_str(), target.c_str()) != 0) return std::unexpected(io_error("symlink " + target.string()));
            continue;
        }
        fs::remove(target, ec);  // a later duplicate entry wins
        int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return std::unexpected(io_error("create " + target.string()));
        zip_int64_t got;
        while ((got = zip_fread(zf.get(), buf.data(), buf.size())) > 0) {
            written += got;
            if (written > limit) {  // the limit holds while writing, whatever the zip declares
                ::close(fd);
                return std::unexpected(too_big());
            }
            const char* p = buf.data();
            auto left = static_cast<std::size_t>(got);
            while (left > 0) {
                ssize_t w = ::write(fd, p, left);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    auto e = io_error("write " + target.string());
                    ::close(fd);
                    return std::unexpected(e);
                }
                p += w;
                left -= static_cast<std::size_t>(w);
            }
        }
        ::fchmod(fd, mode);
        ::close(fd);
        if (got < 0) return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
    }
    return {};
}

// Adds `src`'s tree onto `dst`: hard links for files, copies of symlinks,
// anything already at a path replaced (the later layer wins).
Status overlay(const fs::path& src, const fs::path& dst) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(src, fs::directory_options::none, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::path rel = fs::relative(it->path(), src, ec);
        const fs::path out = dst / rel;
        auto status = it->symlink_status(ec);
        auto existing = fs::symlink_status(out, ec);
        bool exists = fs::exists(existing);
        if (fs::is_directory(status)) {
            if (exists && !fs::is_directory(existing)) fs::remove(out, ec);
            if (!fs::is_directory(existing)) {
                fs::create_directory(out, ec);
                if (ec) return fail(ErrorCode::Service, "mkdir " + out.string() + ": " + ec.message());
                fs::permissions(out, fs::status(it->path()).permissions(), ec);
            }
            continue;
        }
        if (exists) fs::remove_all(out, ec);
        if (fs::is_symlink(status)) {
            fs::copy_symlink(it->path(), out, ec);
        } else {
            fs::create_hard_link(it->path(), out, ec);
            if (ec) fs::copy_file(it->path(), out, ec);  // another filesystem: copy
        }
        if (ec) return fail(ErrorCode::Service, "link " + out.string() + ": " + ec.message());
    }
    if (ec) return fail(ErrorCode::Service, "walk " + src.string() + ": " + ec.message());
    return {};
}

}  // namespace

LayerCache::LayerCache(fs::path data_dir, BlobStore& blobs, std::int64_t unzipped_limit)
    : root_(std::move(data_dir)), blobs_(blobs), limit_(unzipped_limit) {}

Status LayerCache::init() {
    std::error_code ec;
    for (const auto& dir : {extracted_dir(), opt_dir()}) {
        fs::create_directories(dir, ec);
        if (ec) return fail(ErrorCode::Service, "cannot create " + dir.string() + ": " + ec.message());
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (e.path().filename().string().rfind(".tmp-", 0) == 0) fs::remove_all(e.path(), ec);
    }
    return {};
}

Result<fs::path> LayerCache::extract(const std::string& hex, std::string_view zip) {
    fs::path final = extracted_dir() / hex;
    std::error_code ec;
    if (fs::is_directory(final, ec)) return final;
    LAMINA_CHECK(inspect_zip(zip));
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(zip.data(), zip.size(), 0, &err);
    zip_t* za = src ? zip_open_from_source(src, ZIP_RDONLY, &err) : nullptr;
    zip_error_fini(&err);
    if (!za) {
        if (src) zip_source_free(src);
        return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
    }
    std::unique_ptr<zip_t, decltype(&zip_discard)> archive(za, &zip_discard);
    fs::path tmp = extracted_dir() / temp_name(hex);
    fs::create_directory(tmp, ec);
    if (ec) return fail(ErrorCode::Service, "mkdir " + tmp.string() + ": " + ec.message());
    auto st = extract_into(za, tmp, limit_);
    if (!st) {
        fs::remove_all(tmp, ec);
        return std::unexpected(st.error());
    }
    LAMINA_CHECK(publish_dir(tmp, final));
    return final;
}

Result<fs::path> LayerCache::ensure_extracted(const std::string& hex) {
    fs::path final = extracted_dir() / hex;
    std::error_code ec;
    if (fs::is_directory(final, ec)) return final;
    LAMINA_TRY(bytes, blobs_.read(hex));
    return extract(hex, bytes);
}

Result<fs::path> LayerCache::assemble(const std::vector<std::string>& layer_hexes) {
    std::string joined;
    for (const auto& h : layer_hexes) joined += h + "\n";
    std::string key = layer_hexes.empty() ? "empty" : to_hex(sha256(joined));
    fs::path final = opt_dir() / key;
    std::error_code ec;
    if (fs::is_directory(final, ec)) return final;
    std::vector<fs::path> trees;
    for (const auto& h : layer_hexes) {
        LAMINA_TRY(tree, ensure_extracted(h));
        trees.push_back(tree);
    }
    fs::path tmp = opt_dir() / temp_name(key.substr(0, 16));
    fs::create_directory(tmp, ec);
    if (ec) return fail(ErrorCode::Service, "mkdir " + tmp.string() + ": " + ec.message());
    for (const auto& tree : trees) {
        auto st = overlay(tree, tmp);
        if (!st) {
            fs::remove_all(tmp, ec);
            return std::unexpected(st.error());
        }
    }
    fs::permissions(tmp, fs::perms(0755), ec);
    LAMINA_CHECK(publish_dir(tmp, final));
    return final;
}

void LayerCache::collect_garbage(const std::set<std::string>& keep) {
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (const auto& e : fs::directory_iterator(extracted_dir(), ec))
        if (!keep.contains(e.path().filename().string())) doomed.push_back(e.path());
    for (const auto& e : fs::directory_iterator(opt_dir(), ec)) doomed.push_back(e.path());
    for (const auto& p : doomed) fs::remove_all(p, ec);
}

}  // namespace lamina::store
