// Start-up import of the text log files earlier lamina versions wrote
// (<dir>/<account>/<region>/<group path>/<stream with '/' as '-'>.log):
// each line an event, all stamped with the file's modification time, once.
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "lamina/logs/log_store.hpp"
#include "sqlite_stmt.hpp"

namespace lamina::logs {

namespace {

namespace fs = std::filesystem;

// "2026-12-06-[$LATEST]abc..." -> "2026/12/06/[$LATEST]abc..."
std::string stream_name(std::string stem) {
    auto digits = [&](std::size_t from, std::size_t n) {
        for (std::size_t i = from; i < from + n; ++i)
            if (i >= stem.size() || stem[i] < '0' || stem[i] > '9') return false;
        return true;
    };
    if (stem.size() > 11 && digits(0, 4) && stem[4] == '-' && digits(5, 2) && stem[7] == '-' &&
        digits(8, 2) && stem[10] == '-')
        stem[4] = stem[7] = stem[10] = '/';
    return stem;
}

std::int64_t mtime_ms(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

}  // namespace

Status LogStore::import_text_logs(const fs::path& dir) {
    std::lock_guard lk(db_mu_);
    {
        Stmt q(db_, "SELECT value FROM meta WHERE key='text_logs_imported'");
        LAMINA_CHECK(q.ok());
        if (q.step() == SQLITE_ROW) return {};
    }
    struct File {
        std::int64_t mtime;
        fs::path path;
        Where where;
        std::string group, stream;
    };
    std::vector<File> files;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
        for (auto it = fs::recursive_directory_iterator(dir, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_regular_file() || it->path().extension() != ".log") continue;
            auto rel = fs::relative(it->path(), dir, ec);
            std::vector<std::string> parts;
            for (const auto& p : rel) parts.push_back(p.string());
            if (parts.size() < 4) continue;  // account, region, group..., file
            std::string group;
            for (std::size_t i = 2; i + 1 < parts.size(); ++i) group += "/" + parts[i];
            files.push_back({mtime_ms(it->path()), it->path(), Where{parts[0], parts[1]}, group,
                             stream_name(it->path().stem().string())});
        }
    }
    std::sort(files.begin(), files.end(),
              [](const File& a, const File& b) { return a.mtime < b.mtime; });
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    Status st = [&]() -> Status {
        for (const auto& f : files) {
            std::ifstream in(f.path, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            std::vector<InputEvent> events;
            for (auto& line : split_lines(text.str())) events.push_back({f.mtime, std::move(line)});
            LAMINA_TRY(g, group_id(f.where, f.group, true, f.mtime));
            LAMINA_TRY(s, stream_id(g, f.stream, true, f.mtime));
            LAMINA_CHECK(insert_events(g, s, events, f.mtime));
        }
        return exec("INSERT INTO meta(key, value) VALUES('text_logs_imported', '1')");
    }();
    if (!st) {
        (void)exec("ROLLBACK");
        return st;
    }
    return exec("COMMIT");
}

}  // namespace lamina::logs
