#include "lamina/exec/folder_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "lamina/common/log.hpp"

namespace lamina::exec {

namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kMask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_ONLYDIR;

// Whether `path` is `folder` or lies under it.
bool within(const std::string& folder, const std::string& path) {
    auto rel = fs::path(path).lexically_relative(folder);
    return !rel.empty() && *rel.begin() != "..";
}

// Python's bytecode cache: written by the interpreter itself when the
// folder is writable to it (the process backend), never a change of code.
constexpr std::string_view kBytecodeCache = "__pycache__";

}  // namespace

FolderWatcher::FolderWatcher(OnChange on_change) : FolderWatcher(std::move(on_change), Options{}) {}

FolderWatcher::FolderWatcher(OnChange on_change, Options options)
    : on_change_(std::move(on_change)), options_(options) {}

FolderWatcher::~FolderWatcher() { stop(); }

void FolderWatcher::set(const std::string& owner, std::set<std::string> folders) {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    auto it = owners_.find(owner);
    if (folders.empty()) {
        if (it == owners_.end()) return;
        owners_.erase(it);
    } else {
        if (it != owners_.end() && it->second == folders) return;
        owners_[owner] = std::move(folders);
    }
    ++version_;
    if (!thread_.joinable()) {
        if (owners_.empty()) return;
        inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (inotify_fd_ < 0 || wake_fd_ < 0) {
            logger("exec")->warn(
                "hot_reload.unavailable reason=\"inotify: {}\" note=\"changed folders are not "
                "noticed; update the code to restart its environments\"",
                std::strerror(errno));
            if (inotify_fd_ >= 0) ::close(inotify_fd_);
            if (wake_fd_ >= 0) ::close(wake_fd_);
            inotify_fd_ = wake_fd_ = -1;
            stopping_ = true;  // nothing more is tried
            return;
        }
        thread_ = std::thread([this] { run(); });
    }
    std::uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
        // the counter only saturates: the thread is awake anyway
    }
}

void FolderWatcher::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        if (wake_fd_ >= 0) {
            std::uint64_t one = 1;
            if (::write(wake_fd_, &one, sizeof one) < 0) {
                // saturated: it is awake
            }
        }
    }
    if (thread_.joinable()) thread_.join();
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    inotify_fd_ = wake_fd_ = -1;
    applied_cv_.notify_all();
}

std::set<std::string> FolderWatcher::watched(std::chrono::milliseconds timeout) const {
    std::unique_lock lk(mu_);
    applied_cv_.wait_for(lk, timeout, [this] { return applied_ == version_ || stopping_; });
    return active_;
}

bool FolderWatcher::add_watch(const std::string& folder, Root& root, const std::string& dir) {
    if (root.wds.size() >= options_.max_dirs_per_folder) {
        if (!root.warned)
            logger("exec")->warn(
                "hot_reload.too_many_folders folder={} watched={} note=\"changes deeper in it are "
                "not noticed\"",
                folder, root.wds.size());
        root.warned = true;
        return false;
    }
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kMask);
    if (wd < 0) {
        if (errno == ENOSPC && !root.warned) {
            logger("exec")->warn(
                "hot_reload.watch_limit folder={} note=\"the inotify watch limit "
                "(fs.inotify.max_user_watches) is reached: changes in {} are not noticed\"",
                folder, dir);
            root.warned = true;
        }
        return false;
    }
    wd_dir_[wd] = dir;
    if (root.wds.insert(wd).second) ++wd_refs_[wd];
    return true;
}

void FolderWatcher::add_tree(const std::string& folder, Root& root, const std::string& dir) {
    if (!add_watch(folder, root, dir)) return;
    std::error_code ec;
    // symlinked folders are not followed (no loops, nothing outside the folder)
    for (fs::recursive_directory_iterator
             it(dir, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
        if (it->path().filename() == kBytecodeCache) {
            it.disable_recursion_pending();
            continue;
        }
        if (!add_watch(folder, root, it->path().string())) break;
    }
}

void FolderWatcher::add_root(const std::string& folder) {
    Root& root = roots_[folder];
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return;  // looked for again every `retry`
    root.present = true;
    add_tree(folder, root, folder);
    for (const auto& [wd, dir] : wd_dir_)
        if (dir == folder && root.wds.contains(wd)) root.top_wd = wd;
}

void FolderWatcher::drop_watches(Root& root) {
    for (int wd : root.wds) {
        auto refs = wd_refs_.find(wd);
        if (refs == wd_refs_.end() || --refs->second > 0) continue;
        wd_refs_.erase(refs);
        wd_dir_.erase(wd);
        ::inotify_rm_watch(inotify_fd_, wd);
    }
    root.wds.clear();
    root.top_wd = -1;
    root.present = false;
}

void FolderWatcher::sync(const std::set<std::string>& wanted) {
    for (auto it = roots_.begin(); it != roots_.end();) {
        if (wanted.contains(it->first)) {
            ++it;
            continue;
        }
        drop_watches(it->second);
        it = roots_.erase(it);
    }
    for (const auto& folder : wanted)
        if (!roots_.contains(folder)) add_root(folder);
}

void FolderWatcher::read_events(std::set<std::string>& changed) {
    alignas(inotify_event) char buf[16384];
    ssize_t len;
    while ((len = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {  // events were lost: everything may have changed
                for (const auto& [folder, root] : roots_) changed.insert(folder);
                continue;
            }
            auto dir_it = wd_dir_.find(ev->wd);
            if (dir_it == wd_dir_.end()) continue;
            std::string dir = dir_it->second;
            std::string path = ev->len ? (fs::path(dir) / ev->name).string() : dir;
            if (ev->len && std::string_view(ev->name) == kBytecodeCache) continue;
            for (auto& [folder, root] : roots_) {
                if (!root.wds.contains(ev->wd)) continue;
                changed.insert(folder);
                if (ev->wd == root.top_wd && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
                    drop_watches(root);  // gone or moved away: watched again when it is back
                    continue;
                }
                if (ev->mask & IN_IGNORED) {  // a subfolder was removed: its watch went with it
                    root.wds.erase(ev->wd);
                    continue;
                }
                if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
                    within(folder, path))
                    add_tree(folder, root, path);
            }
            if (ev->mask & IN_IGNORED) {
                wd_refs_.erase(ev->wd);
                wd_dir_.erase(ev->wd);
            }
        }
    }
}

void FolderWatcher::run() {
    std::set<std::string> changed;
    Clk::time_point first{}, last{}, last_retry = Clk::now();
    std::uint64_t seen = 0;
    for (;;) {
        bool missing = std::any_of(roots_.begin(), roots_.end(),
                                   [](const auto& r) { return !r.second.present; });
        int timeout = -1;
        auto now = Clk::now();
        if (!changed.empty()) {
            auto due = std::min(last + options_.quiet, first + options_.max_delay);
            timeout = static_cast<int>(std::max<std::int64_t>(
                0, std::chrono::ceil<std::chrono::milliseconds>(due - now).count()));
        }
        if (missing) {
            int retry = static_cast<int>(options_.retry.count());
            timeout = timeout < 0 ? retry : std::min(timeout, retry);
        }
        pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        ::poll(fds, 2, timeout);
        if (fds[1].revents & POLLIN) {
            std::uint64_t n;
            if (::read(wake_fd_, &n, sizeof n) < 0) {
                // nothing to drain
            }
        }
        std::set<std::string> wanted;
        bool resync = false;
        {
            std::lock_guard lk(mu_);
            if (stopping_) return;
            if (seen != version_) {
                seen = version_;
                resync = true;
                for (const auto& [owner, folders] : owners_)
                    wanted.insert(folders.begin(), folders.end());
            }
        }
        if (resync) {
            sync(wanted);
            std::lock_guard lk(mu_);
            active_ = std::move(wanted);
            applied_ = seen;
            applied_cv_.notify_all();
        }
        std::size_t before = changed.size();
        if (fds[0].revents & POLLIN) read_events(changed);
        now = Clk::now();
        if (missing && now - last_retry >= options_.retry) {
            last_retry = now;
            for (auto& [folder, root] : roots_) {
                std::error_code ec;
                if (root.present || !fs::is_directory(folder, ec)) continue;
                add_root(folder);
                changed.insert(folder);  // back: whatever it holds now is new
            }
        }
        if (changed.size() != before || ((fds[0].revents & POLLIN) && !changed.empty())) {
            if (before == 0) first = now;
            last = now;
        }
        if (changed.empty() || (now < last + options_.quiet && now < first + options_.max_delay))
            continue;
        std::set<std::string> batch;
        batch.swap(changed);
        for (const auto& folder : batch) {
            {
                std::lock_guard lk(mu_);
                if (stopping_) return;
            }
            logger("exec")->debug("hot_reload.changed folder={}", folder);
            on_change_(folder);
        }
    }
}

}  // namespace lamina::exec
