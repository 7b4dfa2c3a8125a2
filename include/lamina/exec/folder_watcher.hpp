#pragma once
// Hot reload's eyes: one inotify instance and one thread for every folder a
// function or layer runs live (Code.S3Bucket hot-reload). Each folder is
// watched recursively, subfolders made later included; a burst of changes
// (an editor's save, a build) is reported once, after `quiet` without
// another event or `max_delay` after the first, as one call of `on_change`
// per folder. A folder that disappears (rm -rf, a build that replaces it) is
// watched again when it is back, which is reported as a change too.
//
// Who uses which folders is told through set(owner, folders); a folder is
// watched while some owner has it. The thread starts with the first folder.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace lamina::exec {

class FolderWatcher {
public:
    using OnChange = std::function<void(const std::string& folder)>;
    struct Options {
        std::chrono::milliseconds quiet{100};      // no event for this long: report
        std::chrono::milliseconds max_delay{400};  // report at the latest this long after the first
        std::chrono::milliseconds retry{250};      // how often a missing folder is looked for
        std::size_t max_dirs_per_folder = 20000;   // inotify watches are a per-user resource
    };

    explicit FolderWatcher(OnChange on_change);
    FolderWatcher(OnChange on_change, Options options);
    ~FolderWatcher();
    FolderWatcher(const FolderWatcher&) = delete;
    FolderWatcher& operator=(const FolderWatcher&) = delete;

    // What `owner` uses now, replacing what it had (empty: nothing). Cheap:
    // the watcher's thread adds and removes the watches.
    void set(const std::string& owner, std::set<std::string> folders);
    // Ends the thread; no on_change call is made after it returns.
    void stop();

    // The folders being watched (present or waited for), once the thread
    // has applied the last set(); waits up to `timeout` for it.
    std::set<std::string> watched(std::chrono::milliseconds timeout) const;

private:
    struct Root {
        bool present = false;  // the folder exists and its watches are in place
        int top_wd = -1;
        std::set<int> wds;
        bool warned = false;
    };
    void run();
    void sync(const std::set<std::string>& wanted);
    void add_root(const std::string& folder);
    void drop_watches(Root& root);
    void add_tree(const std::string& folder, Root& root, const std::string& dir);
    bool add_watch(const std::string& folder, Root& root, const std::string& dir);
    void read_events(std::set<std::string>& changed);

    OnChange on_change_;
    Options options_;
    // shared with the thread, under mu_
    mutable std::mutex mu_;
    mutable std::condition_variable applied_cv_;
    std::map<std::string, std::set<std::string>> owners_;
    std::uint64_t version_ = 0, applied_ = 0;  // of owners_, and the one the thread applied
    std::set<std::string> active_;             // the folders the thread watches
    bool stopping_ = false;
    std::thread thread_;
    int inotify_fd_ = -1, wake_fd_ = -1;
    // the thread's own
    std::map<std::string, Root> roots_;
    std::map<int, std::string> wd_dir_;
    std::map<int, int> wd_refs_;  // how many roots hold each watch (nested folders share)
};

}  // namespace lamina::exec
