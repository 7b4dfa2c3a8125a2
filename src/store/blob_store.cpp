#include "lamina/store/blob_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lamina/common/clock.hpp"

namespace lamina::store {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what) {
    return Error{ErrorCode::Service, what + ": " + std::strerror(errno)};
}

Status write_all(int fd, std::string_view bytes) {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::unexpected(io_error("write"));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return {};
}

Status fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return std::unexpected(io_error("open " + dir.string()));
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return std::unexpected(io_error("fsync " + dir.string()));
    return {};
}

bool is_blob_name(const std::string& name) {
    if (name.size() != 64) return false;
    for (char c : name)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

BlobStore::BlobStore(fs::path dir, Durability durability)
    : dir_(std::move(dir)), durability_(durability) {}

Status BlobStore::init() {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return fail(ErrorCode::Service, "cannot create " + dir_.string() + ": " + ec.message());
    return {};
}

fs::path BlobStore::path(const std::string& hex) const { return dir_ / hex; }

bool BlobStore::exists(const std::string& hex) const {
    std::error_code ec;
    return fs::exists(path(hex), ec);
}

Status BlobStore::put(const std::string& hex, std::string_view bytes) {
    if (!is_blob_name(hex)) return fail(ErrorCode::Service, "bad blob name " + hex);
    if (exists(hex)) return {};
    RandomIdSource ids;
    fs::path tmp = dir_ / (".tmp-" + hex + "-" + ids.hex(8));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return std::unexpected(io_error("create " + tmp.string()));
    const bool sync = durability_ != Durability::Temporary;
    auto written = write_all(fd, bytes);
    if (written && sync && ::fsync(fd) != 0)
        written = std::unexpected(io_error("fsync " + tmp.string()));
    ::close(fd);
    if (!written) {
        ::unlink(tmp.c_str());
        return written;
    }
    if (::rename(tmp.c_str(), path(hex).c_str()) != 0) {
        auto e = io_error("rename " + tmp.string());
        ::unlink(tmp.c_str());
        return std::unexpected(e);
    }
    return sync ? fsync_dir(dir_) : Status{};
}

Status BlobStore::put_file(const std::string& hex, const fs::path& file, bool sync) {
    auto drop = [&] {
        std::error_code ec;
        fs::remove(file, ec);
    };
    if (!is_blob_name(hex)) {
        drop();
        return fail(ErrorCode::Service, "bad blob name " + hex);
    }
    if (exists(hex)) {
        drop();
        return {};
    }
    if (sync) {
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
            auto e = io_error("fsync " + file.string());
            if (fd >= 0) ::close(fd);
            drop();
            return std::unexpected(e);
        }
        ::close(fd);
    }
    if (::rename(file.c_str(), path(hex).c_str()) != 0) {
        auto e = io_error("rename " + file.string());
        drop();
        return std::unexpected(e);
    }
    return sync ? fsync_dir(dir_) : Status{};
}

Result<std::string> BlobStore::read(const std::string& hex) const {
    if (!is_blob_name(hex)) return fail(ErrorCode::ResourceNotFound, "no such blob");
    std::ifstream in(path(hex), std::ios::binary);
    if (!in) return fail(ErrorCode::ResourceNotFound, "no such blob");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t BlobStore::collect_garbage(const std::set<std::string>& keep) {
    std::size_t removed = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        std::string name = entry.path().filename().string();
        bool temp = name.rfind(".tmp-", 0) == 0;
        if (temp || (is_blob_name(name) && !keep.contains(name))) {
            std::error_code rec;
            if (fs::remove(entry.path(), rec)) ++removed;
        }
    }
    return removed;
}

}  // namespace lamina::store
