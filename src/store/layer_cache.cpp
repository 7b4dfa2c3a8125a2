#include "lamina/store/layer_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/zip_archive.hpp"

namespace lamina::store {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what) {
    return Error{ErrorCode::Service, what + ": " + std::strerror(errno)};
}

Error too_big() {
    return Error{ErrorCode::InvalidParameterValue,
                 "Unzipped size must be smaller than 262144000 bytes"};
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
    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0 || opsys != ZIP_OPSYS_UNIX)
        return fallback;
    auto mode = static_cast<mode_t>(attr >> 16);
    if (S_ISLNK(mode)) *is_link = true;
    mode_t perms = mode & 0777;  // no setuid, setgid or sticky bits from an upload
    if (perms == 0) return fallback;
    return perms | (dir ? 0700 : 0600);  // lamina must be able to read (and walk) what it extracted
}

// AWS's unzip message with lamina's reason: "... (<kind> '<name>'<rest>)".
std::unexpected<Error> refuse(const char* kind, const std::string& name, const std::string& rest) {
    return fail(ErrorCode::InvalidParameterValue, std::string(kUnzipErrorMessage) + " (" + kind +
                                                      " '" + shown_entry_name(name) + "'" + rest +
                                                      ")");
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
            return refuse("entry", name, " would be extracted outside its folder");
        if (auto problem = entry_name_problem(name)) return refuse("entry", name, ": " + *problem);
        bool dir = !name.empty() && name.back() == '/';
        bool link = false;
        mode_t mode = entry_mode(za, idx, dir, &link);
        fs::path target = dest / fs::path(name).relative_path();
        std::error_code ec;
        // A path used both as a file and as a directory is the upload's fault, not the disk's.
        // (ELOOP: a folder entry where a link pointing at itself was made)
        auto conflict = [&](const std::error_code& e) {
            return e == std::errc::file_exists || e == std::errc::not_a_directory ||
                   e == std::errc::is_a_directory || e == std::errc::too_many_symbolic_link_levels;
        };
        if (dir) {
            fs::create_directories(target, ec);
            if (ec && conflict(ec)) return refuse("entry", name, " is both a file and a directory");
            if (ec)
                return fail(ErrorCode::Service, "mkdir " + target.string() + ": " + ec.message());
            ::chmod(target.c_str(), mode);
            continue;
        }
        fs::create_directories(target.parent_path(), ec);
        if (ec && conflict(ec)) return refuse("entry", name, " is inside a path that is a file");
        if (ec)
            return fail(ErrorCode::Service,
                        "mkdir " + target.parent_path().string() + ": " + ec.message());
        std::unique_ptr<zip_file_t, decltype(&zip_fclose)> zf(zip_fopen_index(za, idx, 0),
                                                              &zip_fclose);
        if (!zf) return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
        if (link) {
            std::string to;
            zip_int64_t got;
            while ((got = zip_fread(zf.get(), buf.data(), buf.size())) > 0) {
                to.append(buf.data(), static_cast<std::size_t>(got));
                if (to.size() > 4096)
                    return fail(ErrorCode::InvalidParameterValue, kUnzipErrorMessage);
            }
            if (got < 0 || !symlink_is_contained(name, to))
                return refuse("symlink", name, " points outside its folder");
            fs::remove(target, ec);
            if (::symlink(to.c_str(), target.c_str()) != 0) {
                // a link named "a/.." or "." lands on a directory that exists
                if (errno == EEXIST || errno == ENOTDIR || errno == EISDIR)
                    return refuse("entry", name, " is both a link and a directory");
                return std::unexpected(io_error("symlink " + target.string()));
            }
            continue;
        }
        int fd =
            ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == EISDIR || errno == ELOOP || errno == ENOTDIR))
            return refuse("entry", name, " is both a file and a directory");
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

// One path of an assembled view and where it comes from.
struct ViewEntry {
    enum class Kind { Dir, File, Link } kind;
    std::string source;
};

// Adds one extracted tree to a view: a later layer replaces whatever an
// earlier one had at the same path (a whole directory when a file takes its
// place). readdir's d_type gives each entry's kind without a stat.
Status merge_tree(const std::string& dir, const std::string& rel_dir,
                  std::map<std::string, ViewEntry>& view) {
    struct CloseDir {
        void operator()(DIR* p) const { ::closedir(p); }
    };
    std::unique_ptr<DIR, CloseDir> d(::opendir(dir.c_str()));
    if (!d) return std::unexpected(io_error("opendir " + dir));
    while (dirent* e = ::readdir(d.get())) {
        std::string_view name(e->d_name);
        if (name == "." || name == "..") continue;
        std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
        std::string path = dir + "/" + std::string(name);
        unsigned char type = e->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0) return std::unexpected(io_error("lstat " + path));
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        ViewEntry entry{type == DT_DIR   ? ViewEntry::Kind::Dir
                        : type == DT_LNK ? ViewEntry::Kind::Link
                                         : ViewEntry::Kind::File,
                        path};
        auto existing = view.find(rel);
        if (existing != view.end() && existing->second.kind == ViewEntry::Kind::Dir &&
            entry.kind != ViewEntry::Kind::Dir) {
            std::string prefix = rel + "/";
            auto child = view.lower_bound(prefix);
            while (child != view.end() && child->first.compare(0, prefix.size(), prefix) == 0)
                child = view.erase(child);
        }
        bool is_dir = entry.kind == ViewEntry::Kind::Dir;
        view[rel] = std::move(entry);
        if (is_dir) LAMINA_CHECK(merge_tree(path, rel, view));
    }
    return {};
}

// Merges the trees in order into one map of relative path -> entry, sorted
// so that parents come before their children.
Result<std::map<std::string, ViewEntry>> merge_trees(const std::vector<fs::path>& trees) {
    std::map<std::string, ViewEntry> view;
    for (const auto& tree : trees) LAMINA_CHECK(merge_tree(tree.string(), "", view));
    return view;
}

// Materialises a merged view under dst: directories, hard links to the
// extracted files (never a copy, unless dst is on another filesystem), and
// symlinks with the same targets.
Status materialise(const std::map<std::string, ViewEntry>& view, const fs::path& dst) {
    const std::string root = dst.string() + "/";
    std::string out;
    char target[4097];
    for (const auto& [rel, entry] : view) {
        out = root + rel;
        switch (entry.kind) {
            case ViewEntry::Kind::Dir:
                if (::mkdir(out.c_str(), 0755) != 0 && errno != EEXIST)
                    return std::unexpected(io_error("mkdir " + out));
                break;
            case ViewEntry::Kind::File:
                if (::link(entry.source.c_str(), out.c_str()) != 0) {
                    std::error_code ec;
                    if (errno != EXDEV || !fs::copy_file(entry.source, out, ec))
                        return std::unexpected(io_error("link " + out));
                }
                break;
            case ViewEntry::Kind::Link: {
                ssize_t n = ::readlink(entry.source.c_str(), target, sizeof target - 1);
                if (n < 0) return std::unexpected(io_error("readlink " + entry.source));
                target[n] = '\0';
                if (::symlink(target, out.c_str()) != 0)
                    return std::unexpected(io_error("symlink " + out));
                break;
            }
        }
    }
    return {};
}

}  // namespace

LayerCache::LayerCache(fs::path data_dir, BlobStore& blobs, std::int64_t unzipped_limit)
    : root_(std::move(data_dir)), blobs_(blobs), limit_(unzipped_limit) {}

Status LayerCache::init() {
    std::error_code ec;
    for (const auto& dir : {extracted_dir(), opt_dir()}) {
        fs::create_directories(dir, ec);
        if (ec)
            return fail(ErrorCode::Service, "cannot create " + dir.string() + ": " + ec.message());
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
    auto view = merge_trees(trees);
    auto st = view ? materialise(*view, tmp) : Status(std::unexpected(view.error()));
    if (!st) {
        fs::remove_all(tmp, ec);
        return std::unexpected(st.error());
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
