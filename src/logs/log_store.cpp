#include "lamina/logs/log_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "lamina/common/thread_name.hpp"
#include "lamina/logs/logs_error.hpp"
#include "sqlite_stmt.hpp"

namespace lamina::logs {

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kDayMs = 86'400'000;
constexpr auto kGatherFor = std::chrono::milliseconds(50);   // the writer's wait for more to store
constexpr std::size_t kGatherMost = 512;                     // ... unless this many are queued
constexpr auto kExpectedWithin = std::chrono::seconds(2);    // flush()'s wait for expect()'s texts
constexpr auto kIndexWhenIdleFor = std::chrono::seconds(1);  // no new text for this long: index
constexpr std::int64_t kIndexAtMost = 50'000;  // rows searched unindexed before the writer indexes
constexpr int kIndexChunk = 5'000;             // rows indexed per transaction

// The trigram index keeps no positions (detail=none): it says which rows
// hold every trigram of a term, not where, which is all a search needs to
// narrow its candidates (each is matched against the pattern afterwards).
// Positions made indexing 40% dearer and the index twice the size.
constexpr const char* kCreateFts =
    "CREATE VIRTUAL TABLE IF NOT EXISTS log_events_fts USING fts5(message, content='log_events',"
    " content_rowid='id', tokenize='trigram case_sensitive 1', detail=none)";
constexpr const char* kFtsForm = "trigram case_sensitive detail=none";  // meta's fts_index
constexpr const char* kCountUnindexed =
    "SELECT count(*) FROM log_events WHERE id > (SELECT indexed_upto FROM fts_progress)";

constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log_groups (id INTEGER PRIMARY KEY, account TEXT NOT NULL,"
    " region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL, retention INTEGER,"
    " tags TEXT NOT NULL DEFAULT '{}', UNIQUE(account, region, name))",
    "CREATE TABLE IF NOT EXISTS log_streams (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,"
    " name TEXT NOT NULL, created INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER,"
    " last_ingest INTEGER, bytes INTEGER NOT NULL DEFAULT 0, UNIQUE(group_id, name))",
    "CREATE TABLE IF NOT EXISTS log_events (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,"
    " stream_id INTEGER NOT NULL, ts INTEGER NOT NULL, ingest INTEGER NOT NULL,"
    " message TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS log_events_stream ON log_events(stream_id, ts, id)",
    "CREATE INDEX IF NOT EXISTS log_events_group ON log_events(group_id, ts, id)",
    kCreateFts,
    // Rows not in the trigram index yet are those above fts_progress's
    // indexed_upto: indexing costs several times what storing a row does
    // (about 80 µs of CPU for an invocation's five lines), so the writer
    // indexes when it is idle or many rows wait, and searches read these rows
    // directly (see filter_events()). A mark, not a list: an insert costs no
    // second row (stores of 2026-12 and before listed every row in
    // log_events_unindexed through an insert trigger; migrate() converts them).
    "CREATE TABLE IF NOT EXISTS fts_progress (one INTEGER PRIMARY KEY CHECK (one = 1),"
    " indexed_upto INTEGER NOT NULL)",
    "DROP TRIGGER IF EXISTS log_events_ai",  // stores of lamina 0.x indexed every row at once
    "DROP TRIGGER IF EXISTS log_events_ad",
    "DROP TRIGGER IF EXISTS log_events_queue_index",
    "DROP TRIGGER IF EXISTS log_events_unindex",
};

// Made once the mark is set (migrate()). A deleted row leaves the index when
// it is in it; and the mark comes down to the highest id left, since SQLite
// gives a new row the highest id plus one (ids of deleted rows at the top are
// used again, and such a row is not indexed).
constexpr const char* kDeleteTrigger =
    "CREATE TRIGGER IF NOT EXISTS log_events_unfts AFTER DELETE ON log_events BEGIN"
    " INSERT INTO log_events_fts(log_events_fts, rowid, message) SELECT 'delete', old.id,"
    " old.message WHERE old.id <= (SELECT indexed_upto FROM fts_progress);"
    " UPDATE fts_progress SET indexed_upto = (SELECT coalesce(max(id), 0) FROM log_events)"
    " WHERE indexed_upto > (SELECT coalesce(max(id), 0) FROM log_events); END";

Tags parse_tags(const std::string& doc) {
    Tags out;
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (j.is_object())
        for (const auto& [k, v] : j.items())
            if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

}  // namespace

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
        out.emplace_back(text.substr(start, end - start));
        start = end;
    }
    return out;
}

LogStore::LogStore(sqlite3* db, Clock& clock)
    : db_(db), clock_(clock), cached_(std::make_unique<StmtCache>(db)) {}

Result<std::unique_ptr<LogStore>> LogStore::open(const std::filesystem::path& file,
                                                 const std::filesystem::path& import_dir,
                                                 Clock& clock, store::Durability durability) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(file.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<LogStore> store(new LogStore(raw, clock));
    if (rc != SQLITE_OK)
        return fail(ErrorCode::Service, "cannot open " + file.string() + ": " +
                                            (raw ? sqlite3_errmsg(raw) : "no memory"));
    sqlite3_busy_timeout(raw, 5000);
    // logs are never fsynced per commit (see the header)
    LAMINA_CHECK(store->migrate(
        durability == store::Durability::PowerLoss ? store::Durability::Crash : durability));
    LAMINA_CHECK(store->import_text_logs(import_dir));
    store->writer_ = std::thread([s = store.get()] {
        name_this_thread("lamina-logs");
        s->writer_loop();
    });
    return store;
}

LogStore::~LogStore() {
    {
        std::lock_guard lk(queue_mu_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    cached_.reset();  // finalized before the connection closes
    sqlite3_close(db_);
}

Status LogStore::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string what = err ? err : "?";
        sqlite3_free(err);
        return fail(ErrorCode::Service, std::string("logs store: ") + what + " in " + sql);
    }
    return {};
}

Status LogStore::migrate(store::Durability durability) {
    LAMINA_CHECK(exec(store::create_synchronous_pragma(durability)));
    LAMINA_CHECK(exec("PRAGMA journal_mode=WAL"));
    LAMINA_CHECK(exec("PRAGMA cache_size=-65536"));  // 64 MiB: the FTS index pages stay cached
    // one transaction: one commit for the whole schema, not one per statement
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    Status st = [&]() -> Status {
        for (const char* sql : kSchema) LAMINA_CHECK(exec(sql));
        // A store made with another form of the trigram index (positions
        // kept, before 2026-12) gets the current one, empty: every event
        // waits to be indexed again, and searches read them meanwhile.
        std::string form;
        {
            Stmt q(db_, "SELECT value FROM meta WHERE key='fts_index'");
            LAMINA_CHECK(q.ok());
            if (q.step() == SQLITE_ROW) form = q.text(0);
        }
        const bool new_form = form != kFtsForm;
        if (new_form) {
            LAMINA_CHECK(exec("DROP TABLE IF EXISTS log_events_fts"));
            LAMINA_CHECK(exec(kCreateFts));
            Stmt mark(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('fts_index', ?1)");
            LAMINA_CHECK(mark.ok());
            mark.bind(1, std::string_view(kFtsForm));
            LAMINA_CHECK(mark.run());
        }
        bool listed = false;  // a store that listed its unindexed rows
        {
            Stmt q(db_,
                   "SELECT 1 FROM sqlite_master WHERE type='table' AND"
                   " name='log_events_unindexed'");
            LAMINA_CHECK(q.ok());
            listed = q.step() == SQLITE_ROW;
        }
        bool marked = false;
        {
            Stmt q(db_, "SELECT 1 FROM fts_progress");
            LAMINA_CHECK(q.ok());
            marked = q.step() == SQLITE_ROW;
        }
        if (!marked) {
            // every row is in the index but those still listed: they go in now
            if (listed && !new_form)
                LAMINA_CHECK(
                    exec("INSERT INTO log_events_fts(rowid, message) SELECT e.id, e.message"
                         " FROM log_events_unindexed u CROSS JOIN log_events e ON e.id = u.id"));
            LAMINA_CHECK(exec(new_form ? "INSERT INTO fts_progress VALUES(1, 0)"
                                       : "INSERT INTO fts_progress VALUES(1,"
                                         " (SELECT coalesce(max(id), 0) FROM log_events))"));
        } else if (new_form) {
            LAMINA_CHECK(exec("UPDATE fts_progress SET indexed_upto = 0"));
        }
        if (listed) LAMINA_CHECK(exec("DROP TABLE log_events_unindexed"));
        return exec(kDeleteTrigger);
    }();
    if (!st) {
        (void)exec("ROLLBACK");
        return st;
    }
    LAMINA_CHECK(exec("COMMIT"));
    LAMINA_CHECK(exec(store::synchronous_pragma(durability)));
    Stmt left(db_, kCountUnindexed);
    LAMINA_CHECK(left.ok());
    unindexed_ = left.step() == SQLITE_ROW ? left.i64(0) : 0;
    return {};
}

bool LogStore::queue_locked(const Where& w, const std::string& group, const std::string& stream,
                            std::string text) {
    // The writer waits for a first text, then gathers more until its time
    // is up or the batch is full: waking it for every text in between only
    // made it check and sleep again (two context switches per invocation).
    bool wake = queue_.empty() || queue_.size() + 1 >= kGatherMost;
    queue_.push_back(Pending{w, group, stream, std::move(text), clock_.now_ms()});
    ++queued_;
    return wake;
}

void LogStore::append(const Where& w, const std::string& group, const std::string& stream,
                      std::string text) {
    if (text.empty()) return;
    bool wake = false;
    {
        std::lock_guard lk(queue_mu_);
        wake = queue_locked(w, group, stream, std::move(text));
    }
    if (wake) queue_cv_.notify_one();
}

std::uint64_t LogStore::expect() {
    std::lock_guard lk(queue_mu_);
    expected_.push_back(next_ticket_);
    return next_ticket_++;
}

void LogStore::append_expected(std::uint64_t ticket, const Where& w, const std::string& group,
                               const std::string& stream, std::string text) {
    bool wake = false, waited = false;
    {
        std::lock_guard lk(queue_mu_);
        std::erase(expected_, ticket);
        if (!text.empty()) wake = queue_locked(w, group, stream, std::move(text));
        waited = awaiting_expected_ > 0;
    }
    if (wake) queue_cv_.notify_one();
    if (waited) stored_cv_.notify_all();
}

void LogStore::flush() {
    std::unique_lock lk(queue_mu_);
    // Texts expected before this call come first: a reader that got an
    // invocation's answer reads its lines (they follow it by microseconds).
    // The bound only guards against a ticket never ended.
    const std::uint64_t before = next_ticket_;
    auto arrived = [&] { return stopping_ || expected_.empty() || expected_.front() >= before; };
    if (!arrived()) {
        ++awaiting_expected_;
        stored_cv_.wait_for(lk, kExpectedWithin, arrived);
        --awaiting_expected_;
    }
    std::uint64_t target = queued_;
    if (stored_ >= target) return;
    ++flushing_;
    queue_cv_.notify_one();  // a writer gathering a batch stores it now
    stored_cv_.wait(lk, [&] { return stored_ >= target || stopping_; });
    --flushing_;
}

void LogStore::writer_loop() {
    auto last_retention = clock_.now_ms();
    while (true) {
        std::vector<Pending> batch;
        bool stop = false, idle = false;
        {
            std::unique_lock lk(queue_mu_);
            // awake at least once a second: an idle second is when to index
            idle = !queue_cv_.wait_for(lk, kIndexWhenIdleFor, [&] {
                return stopping_ || !queue_.empty() || unindexed_ >= kIndexAtMost;
            });
            // Lingers up to kGatherFor so that one transaction stores what
            // several invocations printed: a commit per invocation cost more
            // CPU than the invocation itself on a busy 2-core machine. A
            // reader (flush) or a full batch ends the wait at once.
            if (!queue_.empty())
                queue_cv_.wait_for(lk, kGatherFor, [&] {
                    return stopping_ || flushing_ > 0 || queue_.size() >= kGatherMost;
                });
            batch.swap(queue_);
            stop = stopping_;
        }
        if (!batch.empty()) {
            std::size_t n = batch.size();
            auto told = store_batch(batch);
            if (!told.empty()) tell(told);
            {
                std::lock_guard lk(queue_mu_);
                stored_ += n;
            }
            stored_cv_.notify_all();
        }
        if (stop) break;
        // the trigram index catches up while nothing else is to be stored,
        // or a chunk at a time once searches would read too many rows unindexed
        if (idle && unindexed_ > 0) {
            while (index_chunk()) {
                std::lock_guard lk(queue_mu_);
                if (stopping_ || !queue_.empty()) break;
            }
        } else if (unindexed_ >= kIndexAtMost) {
            (void)index_chunk();
        }
        if (clock_.now_ms() - last_retention >= 60'000) {
            last_retention = clock_.now_ms();
            std::lock_guard lk(db_mu_);
            (void)drop_expired();
        }
    }
}

void LogStore::index_all() {
    while (index_chunk()) {
    }
}

bool LogStore::index_chunk() {
    std::lock_guard lk(db_mu_);
    // the chunk ends at the kIndexChunk-th unindexed row, or the last row
    Stmt bound(db_,
               "SELECT coalesce((SELECT id FROM log_events WHERE id > (SELECT indexed_upto FROM"
               " fts_progress) ORDER BY id LIMIT 1 OFFSET ?1), (SELECT max(id) FROM log_events),"
               " 0)");
    if (!bound.ok()) return false;
    bound.bind(1, kIndexChunk - 1);
    std::int64_t upto = bound.step() == SQLITE_ROW ? bound.i64(0) : 0;
    if (!exec("BEGIN IMMEDIATE")) return false;
    Stmt add(db_,
             "INSERT INTO log_events_fts(rowid, message) SELECT id, message FROM log_events"
             " WHERE id > (SELECT indexed_upto FROM fts_progress) AND id <= ?1");
    Stmt done(db_, "UPDATE fts_progress SET indexed_upto = ?1 WHERE indexed_upto < ?1");
    bool ok = add.ok() && done.ok() && add.bind(1, upto).run() && done.bind(1, upto).run();
    if (!ok || !exec("COMMIT")) {
        (void)exec("ROLLBACK");
        // the count is only a hint (searches read the unindexed rows anyway):
        // zero keeps a failing index from making the writer loop without rest
        unindexed_ = 0;
        return false;
    }
    Stmt left(db_, kCountUnindexed);
    unindexed_ = left.ok() && left.step() == SQLITE_ROW ? left.i64(0) : 0;
    return unindexed_ > 0;
}

std::vector<StoredEvent> LogStore::store_batch(std::vector<Pending>& batch) {
    const bool told = listened();
    std::vector<StoredEvent> out;
    std::lock_guard lk(db_mu_);
    std::int64_t now = clock_.now_ms();
    if (!exec("BEGIN IMMEDIATE")) return out;
    // One lookup and one stats update per stream, however many pieces of
    // text it sent in this batch (an invocation sends one).
    struct Target {
        std::int64_t group = 0, stream = 0;
        StreamStats stats;
    };
    std::vector<Target> targets;
    std::unordered_map<std::string, std::size_t> seen;
    for (auto& p : batch) {
        std::string key =
            p.where.account + '\0' + p.where.region + '\0' + p.group + '\0' + p.stream;
        auto [it, fresh] = seen.try_emplace(std::move(key), targets.size());
        if (fresh) {
            auto g = group_id(p.where, p.group, true, p.received);
            auto s = g ? stream_id(*g, p.stream, true, p.received) : Result<std::int64_t>(0);
            if (!g || !s) {
                seen.erase(it);
                continue;
            }
            targets.push_back({*g, *s, {}});
        }
        Target& t = targets[it->second];
        std::vector<InputEvent> events;
        for (auto& line : split_lines(p.text)) events.push_back({p.received, std::move(line)});
        if (!insert_rows(t.group, t.stream, events, now, t.stats) || !told) continue;
        for (auto& e : events)
            out.push_back({p.where, p.group, p.stream, std::move(e.message), e.timestamp, now});
    }
    for (const auto& t : targets) (void)add_stats(t.stream, t.stats, now);
    if (!exec("COMMIT")) {
        (void)exec("ROLLBACK");
        out.clear();
    }
    return out;
}

void LogStore::set_listener(StoreListener listener) {
    std::lock_guard lk(listen_mu_);
    listener_ = std::move(listener);
}

bool LogStore::listened() {
    std::lock_guard lk(listen_mu_);
    return listener_.wanted && listener_.stored && listener_.wanted();
}

void LogStore::tell(const std::vector<StoredEvent>& events) {
    std::lock_guard lk(listen_mu_);
    if (listener_.stored) listener_.stored(events);
}

Result<std::int64_t> LogStore::group_id(const Where& w, const std::string& name, bool make,
                                        std::int64_t now) {
    Stmt q(db_, *cached_, "SELECT id FROM log_groups WHERE account=?1 AND region=?2 AND name=?3");
    LAMINA_CHECK(q.ok());
    q.bind(1, w.account).bind(2, w.region).bind(3, name);
    if (q.step() == SQLITE_ROW) return q.i64(0);
    if (!make) return std::unexpected(no_such_group());
    Stmt ins(db_, "INSERT INTO log_groups(account, region, name, created) VALUES(?1,?2,?3,?4)");
    LAMINA_CHECK(ins.ok());
    ins.bind(1, w.account).bind(2, w.region).bind(3, name).bind(4, now);
    LAMINA_CHECK(ins.run());
    return sqlite3_last_insert_rowid(db_);
}

Result<std::int64_t> LogStore::stream_id(std::int64_t group, const std::string& name, bool make,
                                         std::int64_t now) {
    Stmt q(db_, *cached_, "SELECT id FROM log_streams WHERE group_id=?1 AND name=?2");
    LAMINA_CHECK(q.ok());
    q.bind(1, group).bind(2, name);
    if (q.step() == SQLITE_ROW) return q.i64(0);
    if (!make) return std::unexpected(no_such_stream());
    Stmt ins(db_, "INSERT INTO log_streams(group_id, name, created) VALUES(?1,?2,?3)");
    LAMINA_CHECK(ins.ok());
    ins.bind(1, group).bind(2, name).bind(3, now);
    LAMINA_CHECK(ins.run());
    return sqlite3_last_insert_rowid(db_);
}

Status LogStore::insert_events(std::int64_t group, std::int64_t stream,
                               const std::vector<InputEvent>& events, std::int64_t ingested) {
    StreamStats stats;
    LAMINA_CHECK(insert_rows(group, stream, events, ingested, stats));
    return add_stats(stream, stats, ingested);
}

Status LogStore::insert_rows(std::int64_t group, std::int64_t stream,
                             const std::vector<InputEvent>& events, std::int64_t ingested,
                             StreamStats& stats) {
    if (events.empty()) return {};
    Stmt ins(
        db_, *cached_,
        "INSERT INTO log_events(group_id, stream_id, ts, ingest, message) VALUES(?1,?2,?3,?4,?5)");
    LAMINA_CHECK(ins.ok());
    for (const auto& e : events) {
        ins.reset();
        ins.bind(1, group)
            .bind(2, stream)
            .bind(3, e.timestamp)
            .bind(4, ingested)
            .bind(5, e.message);
        LAMINA_CHECK(ins.run());
        stats.first = stats.any ? std::min(stats.first, e.timestamp) : e.timestamp;
        stats.last = stats.any ? std::max(stats.last, e.timestamp) : e.timestamp;
        stats.bytes += static_cast<std::int64_t>(e.message.size());
        stats.any = true;
    }
    auto before = unindexed_.fetch_add(static_cast<std::int64_t>(events.size()));
    if (before < kIndexAtMost && before + static_cast<std::int64_t>(events.size()) >= kIndexAtMost)
        queue_cv_.notify_one();  // the writer indexes a chunk
    return {};
}

Status LogStore::add_stats(std::int64_t stream, const StreamStats& stats, std::int64_t ingested) {
    if (!stats.any) return {};
    Stmt up(db_, *cached_,
            "UPDATE log_streams SET first_ts=min(coalesce(first_ts, ?1), ?1),"
            " last_ts=max(coalesce(last_ts, ?2), ?2), last_ingest=?3, bytes=bytes+?4 WHERE id=?5");
    LAMINA_CHECK(up.ok());
    up.bind(1, stats.first).bind(2, stats.last).bind(3, ingested).bind(4, stats.bytes);
    up.bind(5, stream);
    return up.run();
}

Status LogStore::create_group(const Where& w, const std::string& name, const Tags& tags) {
    std::lock_guard lk(db_mu_);
    Stmt ins(db_,
             "INSERT OR IGNORE INTO log_groups(account, region, name, created, tags)"
             " VALUES(?1,?2,?3,?4,?5)");
    LAMINA_CHECK(ins.ok());
    nlohmann::json t = tags;
    ins.bind(1, w.account)
        .bind(2, w.region)
        .bind(3, name)
        .bind(4, clock_.now_ms())
        .bind(5, t.dump());
    LAMINA_CHECK(ins.run());
    if (sqlite3_changes(db_) == 0)
        return logs_fail(LogsErrorCode::ResourceAlreadyExists,
                         "The specified log group already exists");
    return {};
}

Status LogStore::delete_group(const Where& w, const std::string& name) {
    flush();
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(id, group_id(w, name, false, 0));
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    Status st = [&]() -> Status {
        for (const char* sql :
             {"DELETE FROM log_events WHERE group_id=?1",
              "DELETE FROM log_streams WHERE group_id=?1", "DELETE FROM log_groups WHERE id=?1"}) {
            Stmt d(db_, sql);
            LAMINA_CHECK(d.ok());
            d.bind(1, id);
            LAMINA_CHECK(d.run());
        }
        return {};
    }();
    if (!st) {
        (void)exec("ROLLBACK");
        return st;
    }
    return exec("COMMIT");
}

Result<GroupInfo> LogStore::group(const Where& w, const std::string& name) {
    LAMINA_TRY(list, groups(w, name, "", 0, 50));
    for (auto& g : list)
        if (g.name == name) return std::move(g);
    return std::unexpected(no_such_group());
}

Result<std::vector<GroupInfo>> LogStore::groups(const Where& w, const std::string& prefix,
                                                const std::string& contains, std::int64_t offset,
                                                int limit) {
    flush();
    std::lock_guard lk(db_mu_);
    Stmt q(db_,
           "SELECT name, created, retention,"
           " (SELECT coalesce(sum(bytes), 0) FROM log_streams WHERE group_id=g.id)"
           " FROM log_groups g WHERE account=?1 AND region=?2 AND substr(name, 1, length(?3))=?3"
           " AND instr(lower(name), lower(?4)) > 0 ORDER BY name LIMIT ?5 OFFSET ?6");
    LAMINA_CHECK(q.ok());
    q.bind(1, w.account).bind(2, w.region).bind(3, prefix).bind(4, contains).bind(5, limit);
    q.bind(6, offset);
    std::vector<GroupInfo> out;
    while (q.step() == SQLITE_ROW) {
        GroupInfo g;
        g.name = q.text(0);
        g.creation_time = q.i64(1);
        if (!q.null(2)) g.retention_days = static_cast<int>(q.i64(2));
        g.stored_bytes = q.i64(3);
        out.push_back(std::move(g));
    }
    return out;
}

Status LogStore::set_retention(const Where& w, const std::string& name, std::optional<int> days) {
    {
        std::lock_guard lk(db_mu_);
        LAMINA_TRY(id, group_id(w, name, false, 0));
        Stmt up(db_, "UPDATE log_groups SET retention=?1 WHERE id=?2");
        LAMINA_CHECK(up.ok());
        if (days)
            up.bind(1, std::int64_t{*days});
        else
            up.bind_null(1);
        up.bind(2, id);
        LAMINA_CHECK(up.run());
    }
    return enforce_retention();
}

Status LogStore::enforce_retention() {
    flush();
    std::lock_guard lk(db_mu_);
    return drop_expired();
}

Status LogStore::clear() {
    flush();
    std::lock_guard lk(db_mu_);
    // the delete trigger keeps the full-text index in step
    Status st = exec(
        "BEGIN; DELETE FROM log_events; DELETE FROM log_streams; "
        "DELETE FROM log_groups; COMMIT");
    if (!st) (void)exec("ROLLBACK");
    return st;
}

Status LogStore::drop_expired() {
    std::vector<std::pair<std::int64_t, std::int64_t>> cut;  // group, oldest kept
    {
        Stmt q(db_, "SELECT id, retention FROM log_groups WHERE retention IS NOT NULL");
        LAMINA_CHECK(q.ok());
        while (q.step() == SQLITE_ROW)
            cut.emplace_back(q.i64(0), clock_.now_ms() - q.i64(1) * kDayMs);
    }
    for (auto [group, oldest] : cut) {
        Stmt d(db_, "DELETE FROM log_events WHERE group_id=?1 AND ts < ?2");
        LAMINA_CHECK(d.ok());
        d.bind(1, group).bind(2, oldest);
        LAMINA_CHECK(d.run());
        if (sqlite3_changes(db_) == 0) continue;
        Stmt up(db_,
                "UPDATE log_streams SET first_ts=(SELECT min(ts) FROM log_events WHERE stream_id="
                "log_streams.id), bytes=(SELECT coalesce(sum(length(CAST(message AS BLOB))), 0)"
                " FROM log_events WHERE stream_id=log_streams.id) WHERE group_id=?1");
        LAMINA_CHECK(up.ok());
        up.bind(1, group);
        LAMINA_CHECK(up.run());
    }
    return {};
}

Result<Tags> LogStore::tags(const Where& w, const std::string& name) {
    std::lock_guard lk(db_mu_);
    Stmt q(db_, "SELECT tags FROM log_groups WHERE account=?1 AND region=?2 AND name=?3");
    LAMINA_CHECK(q.ok());
    q.bind(1, w.account).bind(2, w.region).bind(3, name);
    if (q.step() != SQLITE_ROW) return std::unexpected(no_such_group());
    return parse_tags(q.text(0));
}

Status LogStore::set_tags(const Where& w, const std::string& name, const Tags& add,
                          const std::vector<std::string>& remove) {
    LAMINA_TRY(current, tags(w, name));
    for (const auto& [k, v] : add) current[k] = v;
    for (const auto& k : remove) current.erase(k);
    std::lock_guard lk(db_mu_);
    Stmt up(db_, "UPDATE log_groups SET tags=?1 WHERE account=?2 AND region=?3 AND name=?4");
    LAMINA_CHECK(up.ok());
    nlohmann::json t = current;
    up.bind(1, t.dump()).bind(2, w.account).bind(3, w.region).bind(4, name);
    return up.run();
}

Status LogStore::create_stream(const Where& w, const std::string& group, const std::string& name) {
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    Stmt ins(db_, "INSERT OR IGNORE INTO log_streams(group_id, name, created) VALUES(?1,?2,?3)");
    LAMINA_CHECK(ins.ok());
    ins.bind(1, gid).bind(2, name).bind(3, clock_.now_ms());
    LAMINA_CHECK(ins.run());
    if (sqlite3_changes(db_) == 0)
        return logs_fail(LogsErrorCode::ResourceAlreadyExists,
                         "The specified log stream already exists");
    return {};
}

Status LogStore::delete_stream(const Where& w, const std::string& group, const std::string& name) {
    flush();
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    LAMINA_TRY(sid, stream_id(gid, name, false, 0));
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    Stmt d1(db_, "DELETE FROM log_events WHERE stream_id=?1");
    Stmt d2(db_, "DELETE FROM log_streams WHERE id=?1");
    Status st = d1.ok() && d2.ok() ? Status{} : fail(ErrorCode::Service, "logs store: delete");
    if (st) st = d1.bind(1, sid).run();
    if (st) st = d2.bind(1, sid).run();
    if (!st) {
        (void)exec("ROLLBACK");
        return st;
    }
    return exec("COMMIT");
}

Result<std::vector<StreamInfo>> LogStore::streams(const Where& w, const std::string& group,
                                                  const std::string& prefix, bool by_time,
                                                  bool descending, std::int64_t offset, int limit) {
    flush();
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    std::string dir = descending ? " DESC" : " ASC";
    std::string order =
        by_time ? "coalesce(last_ts, created)" + dir + ", name" + dir : "name" + dir;
    Stmt q(db_,
           "SELECT name, created, first_ts, last_ts, last_ingest, bytes FROM log_streams"
           " WHERE group_id=?1 AND substr(name, 1, length(?2))=?2 ORDER BY " +
               order + " LIMIT ?3 OFFSET ?4");
    LAMINA_CHECK(q.ok());
    q.bind(1, gid).bind(2, prefix).bind(3, limit).bind(4, offset);
    std::vector<StreamInfo> out;
    while (q.step() == SQLITE_ROW) {
        StreamInfo s;
        s.name = q.text(0);
        s.creation_time = q.i64(1);
        if (!q.null(2)) s.first_event = q.i64(2);
        if (!q.null(3)) s.last_event = q.i64(3);
        if (!q.null(4)) s.last_ingestion = q.i64(4);
        s.stored_bytes = q.i64(5);
        out.push_back(std::move(s));
    }
    return out;
}

Status LogStore::put_events(const Where& w, const std::string& group, const std::string& stream,
                            const std::vector<InputEvent>& events) {
    std::unique_lock lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    LAMINA_TRY(sid, stream_id(gid, stream, false, 0));
    std::int64_t now = clock_.now_ms();
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    if (auto st = insert_events(gid, sid, events, now); !st) {
        (void)exec("ROLLBACK");
        return st;
    }
    LAMINA_CHECK(exec("COMMIT"));
    lk.unlock();
    if (listened()) {
        std::vector<StoredEvent> told;
        told.reserve(events.size());
        for (const auto& e : events)
            told.push_back({w, group, stream, e.message, e.timestamp, now});
        tell(told);
    }
    return {};
}

Result<std::vector<Event>> LogStore::get_events(const Where& w, const std::string& group,
                                                const std::string& stream, const GetQuery& q) {
    flush();
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    LAMINA_TRY(sid, stream_id(gid, stream, false, 0));
    Cursor after = q.after.value_or(Cursor{kMin, kMin});
    Cursor before = q.before.value_or(Cursor{kMax, kMax});
    std::string order = q.newest ? "ts DESC, id DESC" : "ts, id";
    Stmt s(db_,
           "SELECT id, ts, ingest, message FROM log_events WHERE stream_id=?1 AND ts >= ?2"
           " AND ts < ?3 AND (ts, id) > (?4, ?5) AND (ts, id) < (?6, ?7) ORDER BY " +
               order + " LIMIT ?8");
    LAMINA_CHECK(s.ok());
    s.bind(1, sid).bind(2, q.start_time.value_or(kMin)).bind(3, q.end_time.value_or(kMax));
    s.bind(4, after.timestamp).bind(5, after.id).bind(6, before.timestamp).bind(7, before.id);
    s.bind(8, q.limit);
    std::vector<Event> out;
    while (s.step() == SQLITE_ROW)
        out.push_back(Event{s.i64(0), s.i64(1), s.i64(2), s.text(3), {}});
    if (q.newest) std::reverse(out.begin(), out.end());
    return out;
}

}  // namespace lamina::logs
