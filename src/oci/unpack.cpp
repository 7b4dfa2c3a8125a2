#include "lamina/oci/unpack.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "lamina/common/encoding.hpp"
#include "lamina/store/zip_archive.hpp"

namespace lamina::oci {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBlock = 512;

Error bad(const std::string& message) { return Error{ErrorCode::InvalidParameterValue, message}; }

// An open file descriptor, closed when it goes.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.fd_;
            o.fd_ = -1;
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    bool ok() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::vector<std::string> components(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view part = path.substr(i, j - i);
        if (!part.empty() && part != ".") out.emplace_back(part);
        i = j + 1;
    }
    return out;
}

std::string joined(const std::vector<std::string>& parts, std::size_t n) {
    std::string out;
    for (std::size_t k = 0; k < n && k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
    return out;
}

// The entry name as a list of components, or the rule it breaks.
Result<std::vector<std::string>> entry_parts(const std::string& name) {
    if (name.find('\0') != std::string::npos)
        return std::unexpected(bad("the layer entry " + store::shown_entry_name(name) +
                                   " has a NUL byte in its name"));
    if (!name.empty() && name.front() == '/')
        return std::unexpected(
            bad("the layer entry " + store::shown_entry_name(name) + " has an absolute name"));
    if (auto problem = store::entry_name_problem(name))
        return std::unexpected(
            bad("the layer entry " + store::shown_entry_name(name) + ": " + *problem));
    auto parts = components(name);
    for (const auto& p : parts)
        if (p == "..")
            return std::unexpected(bad("the layer entry " + store::shown_entry_name(name) +
                                       " climbs out of the image's root (..)"));
    return parts;
}

// Opens the directory `parts[0..n)` under `root_fd`, never following a
// symlink; missing directories are made (tar streams may leave them out).
Result<Fd> open_parent(int root_fd, const std::vector<std::string>& parts, std::size_t n,
                       const std::string& shown, UnpackState& state, bool create = true) {
    Fd cur(::dup(root_fd));
    if (!cur.ok()) return std::unexpected(Error{ErrorCode::Service, "dup failed"});
    for (std::size_t k = 0; k < n; ++k) {
        int fd =
            ::openat(cur.get(), parts[k].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(cur.get(), parts[k].c_str(), 0755) != 0 && errno != EEXIST)
                return std::unexpected(
                    bad("the layer entry " + shown + " cannot be made: " + std::strerror(errno)));
            state.dir_modes.emplace(joined(parts, k + 1), 0755);
            fd = ::openat(cur.get(), parts[k].c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            if (errno == ELOOP || errno == ENOTDIR)
                return std::unexpected(bad("the layer entry " + shown + " goes through " +
                                           joined(parts, k + 1) +
                                           ", which is a symlink or a file, not a directory"));
            return std::unexpected(
                bad("the layer entry " + shown + " cannot be reached: " + std::strerror(errno)));
        }
        cur = Fd(fd);
    }
    return cur;
}

// Removes `name` in `dir_fd` (a directory: all of it), never following links.
void remove_at(int dir_fd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            DIR* d = ::fdopendir(fd);
            if (d) {
                std::vector<std::string> children;
                while (auto* e = ::readdir(d)) {
                    std::string n = e->d_name;
                    if (n != "." && n != "..") children.push_back(n);
                }
                for (const auto& c : children) remove_at(::dirfd(d), c);
                ::closedir(d);
            } else {
                ::close(fd);
            }
        }
        ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR);
    } else {
        ::unlinkat(dir_fd, name.c_str(), 0);
    }
}

// Opaque directory: removes what lower layers put under `dir_fd` (`prefix`
// names it), keeping what this layer (`own`) already wrote.
void remove_lower(int dir_fd, const std::string& prefix, const std::set<std::string>& own) {
    DIR* d = ::fdopendir(::dup(dir_fd));
    if (!d) return;
    std::vector<std::string> children;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") children.push_back(n);
    }
    for (const auto& c : children) {
        std::string path = prefix.empty() ? c : prefix + "/" + c;
        if (!own.contains(path)) {
            remove_at(::dirfd(d), c);
            continue;
        }
        int sub = ::openat(::dirfd(d), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            remove_lower(sub, path, own);
            ::close(sub);
        }
    }
    ::closedir(d);
}

std::int64_t parse_number(const char* field, std::size_t len, bool& ok) {
    ok = true;
    if (len > 0 && (static_cast<unsigned char>(field[0]) & 0x80)) {  // base-256
        if (static_cast<unsigned char>(field[0]) != 0x80) {
            ok = false;  // negative or too large
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 1; i < len; ++i) {
            if (v >> 55) {
                ok = false;
                return 0;
            }
            v = (v << 8) | static_cast<unsigned char>(field[i]);
        }
        if (v > static_cast<std::uint64_t>(INT64_MAX)) ok = false;
        return static_cast<std::int64_t>(v);
    }
    std::int64_t v = 0;
    std::size_t i = 0;
    while (i < len && (field[i] == ' ' || field[i] == '\0')) ++i;
    bool any = false;
    for (; i < len && field[i] >= '0' && field[i] <= '7'; ++i) {
        if (v > (INT64_MAX >> 3)) {
            ok = false;
            return 0;
        }
        v = v * 8 + (field[i] - '0');
        any = true;
    }
    for (; i < len; ++i)
        if (field[i] != ' ' && field[i] != '\0') ok = false;
    (void)any;
    return v;
}

std::string field_string(const char* f, std::size_t len) {
    std::size_t n = 0;
    while (n < len && f[n] != '\0') ++n;
    return std::string(f, n);
}

// Reads exactly n bytes; false at a clean end before any byte.
Result<bool> read_exact(const Reader& in, char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        LAMINA_TRY(k, in(buf + got, n - got));
        if (k == 0) {
            if (got == 0) return false;
            return std::unexpected(bad("the layer's tar stream ends in the middle of a block"));
        }
        got += k;
    }
    return true;
}

// Reads `size` bytes of entry data (plus padding), handing them to `sink`.
Status read_data(const Reader& in, std::int64_t size,
                 const std::function<Status(const char*, std::size_t)>& sink) {
    std::array<char, 64 * 1024> buf{};
    std::int64_t padded = (size + static_cast<std::int64_t>(kBlock) - 1) /
                          static_cast<std::int64_t>(kBlock) * static_cast<std::int64_t>(kBlock);
    std::int64_t left = padded;
    while (left > 0) {
        std::size_t want = static_cast<std::size_t>(
            std::min<std::int64_t>(left, static_cast<std::int64_t>(buf.size())));
        LAMINA_TRY(more, read_exact(in, buf.data(), want));
        if (!more) return std::unexpected(bad("the layer's tar stream ends inside an entry"));
        std::int64_t consumed = padded - left;
        std::int64_t useful = std::max<std::int64_t>(
            0, std::min<std::int64_t>(static_cast<std::int64_t>(want), size - consumed));
        if (useful > 0 && sink) LAMINA_CHECK(sink(buf.data(), static_cast<std::size_t>(useful)));
        left -= static_cast<std::int64_t>(want);
    }
    return {};
}

// PAX extended header records: "<len> key=value\n".
std::map<std::string, std::string> parse_pax(const std::string& data) {
    std::map<std::string, std::string> out;
    std::size_t i = 0;
    while (i < data.size()) {
        std::size_t sp = data.find(' ', i);
        if (sp == std::string::npos) break;
        std::size_t len = 0;
        bool digits = sp > i;
        for (std::size_t k = i; k < sp; ++k) {
            if (data[k] < '0' || data[k] > '9' || len > data.size()) {
                digits = false;
                break;
            }
            len = len * 10 + static_cast<std::size_t>(data[k] - '0');
        }
        if (!digits || len <= sp - i + 1 || i + len > data.size()) break;
        std::string rec = data.substr(sp + 1, i + len - sp - 1);
        if (!rec.empty() && rec.back() == '\n') rec.pop_back();
        auto eq = rec.find('=');
        if (eq != std::string::npos) out[rec.substr(0, eq)] = rec.substr(eq + 1);
        i += len;
    }
    return out;
}

constexpr std::int64_t kMaxMetaEntry = 1024 * 1024;  // PAX / GNU long name data

Result<std::string> read_meta(const Reader& in, std::int64_t size) {
    if (size > kMaxMetaEntry)
        return std::unexpected(bad("the layer has an extended tar header over 1 MB"));
    std::string out;
    LAMINA_CHECK(read_data(in, size, [&](const char* p, std::size_t n) -> Status {
        out.append(p, n);
        return {};
    }));
    return out;
}

}  // namespace

Status apply_tar(const fs::path& root, const Reader& tar, UnpackState& state) {
    Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd.ok())
        return fail(ErrorCode::Service, "cannot open the image root " + root.string());
    std::set<std::string> own;  // paths this layer wrote
    std::optional<std::string> long_name, long_link;
    std::map<std::string, std::string> pax, global_pax;
    std::array<char, kBlock> h{};
    for (;;) {
        LAMINA_TRY(more, read_exact(tar, h.data(), kBlock));
        if (!more) break;
        if (std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; })) break;
        // checksum: the header's bytes with the checksum field as spaces
        bool ok = true;
        std::int64_t stored = parse_number(h.data() + 148, 8, ok);
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < kBlock; ++i)
            sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
        if (!ok || stored != sum)
            return fail(ErrorCode::InvalidParameterValue,
                        "the layer is not a valid tar stream (a header's checksum is wrong)");
        char type = h[156];
        std::int64_t size = parse_number(h.data() + 124, 12, ok);
        if (!ok || size < 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "the layer has a tar entry whose size "
                        "cannot be read");
        unsigned mode = static_cast<unsigned>(parse_number(h.data() + 100, 8, ok)) & 07777;
        std::string name = field_string(h.data(), 100);
        std::string link = field_string(h.data() + 157, 100);
        if (std::memcmp(h.data() + 257, "ustar", 5) == 0) {
            std::string prefix = field_string(h.data() + 345, 155);
            if (!prefix.empty()) name = prefix + "/" + name;
        }
        if (type == 'x' || type == 'g') {
            LAMINA_TRY(data, read_meta(tar, size));
            auto records = parse_pax(data);
            for (auto& [k, v] : records) (type == 'x' ? pax : global_pax)[k] = v;
            continue;
        }
        if (type == 'L' || type == 'K') {
            LAMINA_TRY(data, read_meta(tar, size));
            auto nul = data.find('\0');
            if (nul != std::string::npos) data.resize(nul);
            (type == 'L' ? long_name : long_link) = std::move(data);
            continue;
        }
        for (const auto* records : {&global_pax, &pax}) {
            if (auto it = records->find("path"); it != records->end()) name = it->second;
            if (auto it = records->find("linkpath"); it != records->end()) link = it->second;
            if (auto it = records->find("size"); it != records->end()) {
                bool pax_ok = true;  // PAX sizes are decimal
                std::int64_t v = 0;
                for (char c : it->second) {
                    if (c < '0' || c > '9' || v > INT64_MAX / 10 - 10) {
                        pax_ok = false;
                        break;
                    }
                    v = v * 10 + (c - '0');
                }
                if (!pax_ok || it->second.empty())
                    return fail(ErrorCode::InvalidParameterValue,
                                "the layer has a PAX size that cannot be read");
                size = v;
            }
        }
        if (long_name) name = *long_name;
        if (long_link) link = *long_link;
        long_name.reset();
        long_link.reset();
        pax.clear();

        std::string shown = store::shown_entry_name(name);
        LAMINA_TRY(parts, entry_parts(name));
        auto skip = [&]() { return read_data(tar, size, nullptr); };
        bool regular = type == '0' || type == '\0' || type == '7';
        bool is_dir = type == '5';
        if (parts.empty()) {  // the root itself
            if (is_dir) state.dir_modes[""] = mode & 01777;
            LAMINA_CHECK(skip());
            continue;
        }
        const std::string base = parts.back();
        const std::string path = joined(parts, parts.size());
        if (type == '3' || type == '4' || type == '6') {  // devices and fifos: dropped
            LAMINA_CHECK(skip());
            continue;
        }
        if (!regular && !is_dir && type != '1' && type != '2') {
            LAMINA_CHECK(skip());  // other vendor types carry nothing a root needs
            continue;
        }
        LAMINA_TRY(parent, open_parent(root_fd.get(), parts, parts.size() - 1, shown, state));
        const std::string parent_path = joined(parts, parts.size() - 1);
        if (base.rfind(".wh.", 0) == 0) {
            if (base == ".wh..wh..opq") {
                remove_lower(parent.get(), parent_path, own);
            } else {
                std::string hidden = base.substr(4);
                if (hidden.empty() || hidden == "." || hidden == "..")
                    return fail(ErrorCode::InvalidParameterValue,
                                "the layer has a whiteout that names nothing: " + shown);
                remove_at(parent.get(), hidden);
            }
            LAMINA_CHECK(skip());
            continue;
        }
        for (std::size_t k = 1; k <= parts.size(); ++k) own.insert(joined(parts, k));
        struct stat existing {};
        bool exists = ::fstatat(parent.get(), base.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
        if (is_dir) {
            if (exists && !S_ISDIR(existing.st_mode)) remove_at(parent.get(), base);
            if ((!exists || !S_ISDIR(existing.st_mode)) &&
                ::mkdirat(parent.get(), base.c_str(), 0755) != 0)
                return fail(
                    ErrorCode::InvalidParameterValue,
                    "the layer entry " + shown + " cannot be made: " + std::strerror(errno));
            state.dir_modes[path] = mode & 01777;  // setuid/setgid dropped, sticky kept
            LAMINA_CHECK(skip());
            continue;
        }
        if (exists) remove_at(parent.get(), base);
        if (type == '2') {
            if (link.empty() || link.find('\0') != std::string::npos)
                return fail(ErrorCode::InvalidParameterValue,
                            "the layer has a symlink with no target: " + shown);
            // absolute targets name the image's own root inside the sandbox;
            // relative ones must not climb above it
            if (link.front() != '/' && !store::symlink_is_contained(path, link))
                return fail(ErrorCode::InvalidParameterValue,
                            "the layer's symlink " + shown + " points outside the image (" +
                                store::shown_entry_name(link) + ")");
            if (::symlinkat(link.c_str(), parent.get(), base.c_str()) != 0)
                return fail(
                    ErrorCode::InvalidParameterValue,
                    "the layer's symlink " + shown + " cannot be made: " + std::strerror(errno));
            LAMINA_CHECK(skip());
            continue;
        }
        if (type == '1') {
            LAMINA_TRY(target, entry_parts(link));
            if (target.empty())
                return fail(ErrorCode::InvalidParameterValue,
                            "the layer's hard link " + shown + " names no target");
            LAMINA_TRY(tdir, open_parent(root_fd.get(), target, target.size() - 1, shown, state));
            struct stat ts {};
            if (::fstatat(tdir.get(), target.back().c_str(), &ts, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(ts.st_mode))
                return fail(ErrorCode::InvalidParameterValue, "the layer's hard link " + shown +
                                                                  " does not name a file of the "
                                                                  "image (" +
                                                                  store::shown_entry_name(link) +
                                                                  ")");
            if (::linkat(tdir.get(), target.back().c_str(), parent.get(), base.c_str(), 0) != 0)
                return fail(
                    ErrorCode::InvalidParameterValue,
                    "the layer's hard link " + shown + " cannot be made: " + std::strerror(errno));
            LAMINA_CHECK(skip());
            continue;
        }
        // a regular file
        if (size > state.limit - state.unpacked)
            return fail(ErrorCode::InvalidParameterValue,
                        "the image is larger than Lambda's limit of 10 GB unpacked (" +
                            std::to_string(state.limit) + " bytes)");
        Fd out(::openat(parent.get(), base.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out.ok())
            return fail(ErrorCode::InvalidParameterValue,
                        "the layer entry " + shown + " cannot be written: " + std::strerror(errno));
        LAMINA_CHECK(read_data(tar, size, [&](const char* p, std::size_t n) -> Status {
            while (n > 0) {
                ssize_t w = ::write(out.get(), p, n);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0)
                    return fail(ErrorCode::Service, "writing the image's file " + shown +
                                                        " failed: " + std::strerror(errno));
                p += w;
                n -= static_cast<std::size_t>(w);
            }
            return {};
        }));
        state.unpacked += size;
        ::fchmod(out.get(), mode & 0777);  // setuid, setgid and sticky bits dropped
    }
    return {};
}

namespace {

// The blob's bytes, counted and hashed as they are read.
class VerifiedBlob {
public:
    VerifiedBlob(const fs::path& file, const Descriptor& d)
        : in_(file, std::ios::binary), d_(d), md_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
        EVP_DigestInit_ex(md_.get(), EVP_sha256(), nullptr);
    }
    bool open() const { return static_cast<bool>(in_); }
    Result<std::size_t> read(char* buf, std::size_t n) {
        in_.read(buf, static_cast<std::streamsize>(n));
        auto got = static_cast<std::size_t>(in_.gcount());
        count_ += static_cast<std::int64_t>(got);
        if (count_ > d_.size)
            return std::unexpected(bad("the layer " + d_.digest + " is larger than the " +
                                       std::to_string(d_.size) +
                                       " bytes its manifest descriptor gives"));
        EVP_DigestUpdate(md_.get(), buf, got);
        if (got == 0) LAMINA_CHECK(finish());
        return got;
    }
    Status finish() {
        if (finished_) return {};
        finished_ = true;
        if (count_ != d_.size)
            return std::unexpected(bad("the layer " + d_.digest + " has " + std::to_string(count_) +
                                       " bytes, not the " + std::to_string(d_.size) +
                                       " its manifest descriptor gives"));
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned len = 0;
        EVP_DigestFinal_ex(md_.get(), md.data(), &len);
        std::string hex = "sha256:" + to_hex(std::string(reinterpret_cast<char*>(md.data()), len));
        if (hex != d_.digest)
            return std::unexpected(
                bad("the layer " + d_.digest + "'s bytes do not match its digest (" + hex + ")"));
        return {};
    }
    // Reads what is left (the tar end may come before the blob's).
    Status drain() {
        std::array<char, 64 * 1024> buf{};
        for (;;) {
            LAMINA_TRY(n, read(buf.data(), buf.size()));
            if (n == 0) return {};
        }
    }

private:
    std::ifstream in_;
    Descriptor d_;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md_;
    std::int64_t count_ = 0;
    bool finished_ = false;
};

// gunzip over a Reader (concatenated members too).
class Gunzip {
public:
    explicit Gunzip(Reader in) : in_(std::move(in)) {
        z_.zalloc = Z_NULL;
        z_.zfree = Z_NULL;
        z_.opaque = Z_NULL;
        inflateInit2(&z_, 16 + MAX_WBITS);
    }
    Gunzip(const Gunzip&) = delete;
    Gunzip& operator=(const Gunzip&) = delete;
    ~Gunzip() { inflateEnd(&z_); }
    Result<std::size_t> read(char* buf, std::size_t n) {
        if (done_) return std::size_t{0};
        z_.next_out = reinterpret_cast<Bytef*>(buf);
        z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1 << 30));
        while (z_.avail_out == static_cast<uInt>(std::min<std::size_t>(n, 1 << 30))) {
            if (z_.avail_in == 0) {
                LAMINA_TRY(got, in_(inbuf_.data(), inbuf_.size()));
                if (got == 0) {
                    if (between_members_) {
                        done_ = true;
                        return std::size_t{0};
                    }
                    return std::unexpected(bad("the layer's gzip data ends too soon"));
                }
                z_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
                z_.avail_in = static_cast<uInt>(got);
            }
            between_members_ = false;
            int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                between_members_ = true;
                inflateReset(&z_);
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return std::unexpected(bad("the layer's gzip data is corrupt"));
            }
        }
        return static_cast<std::size_t>(std::min<std::size_t>(n, 1 << 30) - z_.avail_out);
    }

private:
    Reader in_;
    z_stream z_{};
    std::array<char, 64 * 1024> inbuf_{};
    bool between_members_ = false;
    bool done_ = false;
};

}  // namespace

bool is_layer_media_type(const std::string& t) {
    return t == "application/vnd.oci.image.layer.v1.tar" ||
           t == "application/vnd.oci.image.layer.v1.tar+gzip" ||
           t == "application/vnd.oci.image.layer.v1.tar+zstd" ||
           t == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
           t == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
           t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
           t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

bool is_manifest_media_type(const std::string& t) {
    return t == "application/vnd.oci.image.manifest.v1+json" ||
           t == "application/vnd.docker.distribution.manifest.v2+json";
}

Status apply_layer(const fs::path& root, const fs::path& blob, const Descriptor& layer,
                   UnpackState& state) {
    const std::string& t = layer.media_type;
    if (t.ends_with("+zstd"))
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina cannot unpack zstd-compressed layers (" + t + ", layer " +
                        layer.digest + ") yet: push the image with gzip layers");
    if (!is_layer_media_type(t))
        return fail(ErrorCode::InvalidParameterValue,
                    "the layer media type " + t + " is not supported");
    VerifiedBlob file(blob, layer);
    if (!file.open())
        return fail(ErrorCode::Service, "cannot read the layer blob " + blob.string());
    Reader raw = [&file](char* b, std::size_t n) { return file.read(b, n); };
    bool gz = t.ends_with("gzip");
    if (gz) {
        Gunzip unzip(raw);
        LAMINA_CHECK(apply_tar(
            root, [&unzip](char* b, std::size_t n) { return unzip.read(b, n); }, state));
    } else {
        LAMINA_CHECK(apply_tar(root, raw, state));
    }
    return file.drain();
}

Status finish_root(const fs::path& root, UnpackState& state) {
    Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd.ok()) return fail(ErrorCode::Service, "cannot open " + root.string());
    // the sandbox's mount points: real directories and files, never links
    for (const char* dir : {"proc", "dev", "tmp", "etc"}) {
        struct stat st {};
        if (::fstatat(root_fd.get(), dir, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            continue;
        remove_at(root_fd.get(), dir);
        if (::mkdirat(root_fd.get(), dir, 0755) != 0)
            return fail(ErrorCode::Service, std::string("cannot make /") + dir + " in the image");
        if (std::string(dir) == "tmp") state.dir_modes["tmp"] = 01777;
    }
    Fd etc(::openat(root_fd.get(), "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!etc.ok()) return fail(ErrorCode::Service, "cannot open the image's /etc");
    for (const char* file : {"hosts", "resolv.conf", "passwd", "group"}) {
        struct stat st {};
        if (::fstatat(etc.get(), file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            continue;
        remove_at(etc.get(), file);
        Fd f(::openat(etc.get(), file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!f.ok())
            return fail(ErrorCode::Service,
                        std::string("cannot make /etc/") + file + " in the image");
    }
    // deepest first, so that a read-only parent is set after its children
    for (auto it = state.dir_modes.rbegin(); it != state.dir_modes.rend(); ++it) {
        auto parts = components(it->first);
        if (parts.empty()) {
            ::fchmod(root_fd.get(), it->second | 0755);
            continue;
        }
        auto parent = open_parent(root_fd.get(), parts, parts.size() - 1, it->first, state, false);
        if (!parent) continue;  // removed by a later layer
        ::fchmodat(parent->get(), parts.back().c_str(), it->second, 0);
    }
    return {};
}

std::optional<ImageRunConfig> parse_image_config(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    ImageRunConfig c;
    auto str = [](const nlohmann::json& o, const char* k) {
        auto it = o.find(k);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto list = [](const nlohmann::json& o, const char* k) {
        std::vector<std::string> out;
        auto it = o.find(k);
        if (it == o.end() || !it->is_array()) return out;
        for (const auto& v : *it)
            if (v.is_string()) out.push_back(v.get<std::string>());
        return out;
    };
    c.architecture = str(j, "architecture");
    c.os = str(j, "os");
    if (auto cfg = j.find("config"); cfg != j.end() && cfg->is_object()) {
        c.env = list(*cfg, "Env");
        c.entrypoint = list(*cfg, "Entrypoint");
        c.cmd = list(*cfg, "Cmd");
        c.working_dir = str(*cfg, "WorkingDir");
    }
    return c;
}

std::string lambda_architecture(const std::string& a) {
    if (a == "amd64" || a == "x86_64") return "x86_64";
    if (a == "arm64" || a == "aarch64") return "arm64";
    return a;
}

ImageRoots::ImageRoots(fs::path dir, std::int64_t limit) : dir_(std::move(dir)), limit_(limit) {}

namespace {
std::string digest_hex(const std::string& digest) {
    return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
}
bool valid_hex(const std::string& hex) {
    return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}
}  // namespace

std::optional<ImageRoots::Root> ImageRoots::find(const std::string& manifest_digest) const {
    std::string hex = digest_hex(manifest_digest);
    if (!valid_hex(hex)) return std::nullopt;
    fs::path base = dir_ / hex;
    std::error_code ec;
    if (!fs::is_directory(base / "rootfs", ec)) return std::nullopt;
    std::ifstream in(base / "config.json", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto config = parse_image_config(text);
    if (!config) return std::nullopt;
    return Root{base / "rootfs", std::move(*config)};
}

void ImageRoots::clean_temporaries() const {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
        if (e.path().filename().string().rfind(".tmp-", 0) == 0) {
            // unpacked trees may hold read-only directories
            for (auto it = fs::recursive_directory_iterator(e.path(), ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
                if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
            fs::remove_all(e.path(), ec);
        }
}

Result<ImageRoots::Root> ImageRoots::ensure(const ResolvedImage& image, const ImageSource& source) {
    std::lock_guard lk(mu_);
    if (auto found = find(image.manifest_digest)) return *found;
    std::string hex = digest_hex(image.manifest_digest);
    if (!valid_hex(hex))
        return fail(ErrorCode::InvalidParameterValue,
                    "the image digest " + image.manifest_digest + " is not a sha256 digest");
    auto config = parse_image_config(image.config_json);
    if (!config)
        return fail(ErrorCode::InvalidParameterValue,
                    "the image config " + image.config.digest + " is not a JSON object");
    std::error_code ec;
    fs::create_directories(dir_, ec);
    fs::path tmp = dir_ / (".tmp-" + hex + "-" + std::to_string(::getpid()));
    auto discard = [&] {
        for (auto it = fs::recursive_directory_iterator(tmp, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
        fs::remove_all(tmp, ec);
    };
    discard();
    fs::create_directories(tmp / "rootfs", ec);
    if (ec) return fail(ErrorCode::Service, "cannot make " + tmp.string() + ": " + ec.message());
    UnpackState state;
    state.limit = limit_;
    for (const auto& layer : image.layers) {
        auto blob = source.blob_path(layer.digest);
        if (!blob) {
            discard();
            return fail(ErrorCode::InvalidParameterValue,
                        "the image's layer " + layer.digest + " is not in lamina's registry");
        }
        if (auto st = apply_layer(tmp / "rootfs", *blob, layer, state); !st) {
            discard();
            return std::unexpected(st.error());
        }
    }
    if (auto st = finish_root(tmp / "rootfs", state); !st) {
        discard();
        return std::unexpected(st.error());
    }
    {
        std::ofstream out(tmp / "config.json", std::ios::binary | std::ios::trunc);
        out << image.config_json;
        if (!out) {
            discard();
            return fail(ErrorCode::Service, "cannot write the image's config.json");
        }
    }
    fs::rename(tmp, dir_ / hex, ec);
    if (ec) {
        discard();
        return fail(ErrorCode::Service,
                    "cannot move the unpacked image into place: " + ec.message());
    }
    return Root{dir_ / hex / "rootfs", std::move(*config)};
}

}  // namespace lamina::oci
