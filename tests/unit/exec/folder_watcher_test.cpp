#include "lamina/exec/folder_watcher.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "fakes/temp_dir.hpp"

namespace exec = lamina::exec;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Records what the watcher reports; waits for it, bounded.
class Reports {
public:
    exec::FolderWatcher::OnChange sink() {
        return [this](const std::string& folder) {
            std::lock_guard lk(mu_);
            seen_.push_back(folder);
            cv_.notify_all();
        };
    }
    // Waits up to `timeout` for `n` reports in all; returns them.
    std::vector<std::string> wait(std::size_t n, std::chrono::milliseconds timeout = 3s) {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, timeout, [&] { return seen_.size() >= n; });
        return seen_;
    }
    std::size_t count() {
        std::lock_guard lk(mu_);
        return seen_.size();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> seen_;
};

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

exec::FolderWatcher::Options fast() {
    exec::FolderWatcher::Options o;
    o.quiet = 30ms;
    o.max_delay = 200ms;
    o.retry = 50ms;
    return o;
}

}  // namespace

TEST(FolderWatcher, ReportsOneChangePerBurstOfWrites) {
    lamina::fakes::TempDir dir;
    auto code = dir.path() / "code";
    fs::create_directories(code);
    Reports reports;
    exec::FolderWatcher watcher(reports.sink(), fast());
    watcher.set("acct/us-east-1/fn", {code.string()});
    ASSERT_EQ(watcher.watched(2s), std::set<std::string>{code.string()});
    for (int i = 0; i < 5; ++i) write(code / "handler.py", "v" + std::to_string(i));
    EXPECT_EQ(reports.wait(1), std::vector<std::string>{code.string()});
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(reports.count(), 1u);  // the burst is one report
}

TEST(FolderWatcher, WatchesSubfoldersMadeAfterItStarted) {
    lamina::fakes::TempDir dir;
    auto code = dir.path() / "code";
    fs::create_directories(code / "old");
    Reports reports;
    exec::FolderWatcher watcher(reports.sink(), fast());
    watcher.set("fn", {code.string()});
    ASSERT_EQ(watcher.watched(2s).size(), 1u);
    write(code / "old" / "a.py", "a");  // a subfolder there from the start
    ASSERT_EQ(reports.wait(1).size(), 1u);
    fs::create_directories(code / "new" / "deeper");
    ASSERT_EQ(reports.wait(2).size(), 2u);
    std::this_thread::sleep_for(100ms);  // the new folders' watches are in place
    write(code / "new" / "deeper" / "b.py", "b");
    EXPECT_EQ(reports.wait(3).size(), 3u);
}

TEST(FolderWatcher, AFolderNoOwnerUsesIsNotWatched) {
    lamina::fakes::TempDir dir;
    auto a = dir.path() / "a", b = dir.path() / "b";
    fs::create_directories(a);
    fs::create_directories(b);
    Reports reports;
    exec::FolderWatcher watcher(reports.sink(), fast());
    watcher.set("one", {a.string(), b.string()});
    watcher.set("two", {a.string()});
    ASSERT_EQ(watcher.watched(2s).size(), 2u);
    watcher.set("one", {});  // b: no owner left; a: still two's
    EXPECT_EQ(watcher.watched(2s), std::set<std::string>{a.string()});
    write(b / "x", "x");
    write(a / "y", "y");
    EXPECT_EQ(reports.wait(1), std::vector<std::string>{a.string()});
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(reports.count(), 1u);
    watcher.set("two", {});
    EXPECT_TRUE(watcher.watched(2s).empty());
}

TEST(FolderWatcher, AFolderRemovedAndMadeAgainIsWatchedAgain) {
    lamina::fakes::TempDir dir;
    auto code = dir.path() / "dist";
    write(code / "index.js", "1");
    Reports reports;
    exec::FolderWatcher watcher(reports.sink(), fast());
    watcher.set("fn", {code.string()});
    ASSERT_EQ(watcher.watched(2s).size(), 1u);
    fs::remove_all(code);  // a build that starts from nothing
    ASSERT_GE(reports.wait(1).size(), 1u);
    write(code / "index.js", "2");
    ASSERT_GE(reports.wait(2).size(), 2u);  // back: reported as a change
    std::this_thread::sleep_for(150ms);
    std::size_t before = reports.count();
    write(code / "index.js", "3");
    EXPECT_GT(reports.wait(before + 1).size(), before);
}

TEST(FolderWatcher, NothingIsReportedAfterStop) {
    lamina::fakes::TempDir dir;
    Reports reports;
    exec::FolderWatcher watcher(reports.sink(), fast());
    watcher.set("fn", {dir.path().string()});
    ASSERT_EQ(watcher.watched(2s).size(), 1u);
    watcher.stop();
    write(dir.path() / "late", "x");
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(reports.count(), 0u);
}
