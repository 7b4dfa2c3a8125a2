#pragma once
// The CloudWatch Logs store: log groups, streams and events per account and
// region, in SQLite (<data-dir>/logs.sqlite, WAL). Events are indexed by
// stream and by group in time order, and their messages by an FTS5 trigram
// index, so a filter with a selective term reads only the events holding it.
//
// Functions' output arrives through append(), which only queues the text:
// one background thread splits it into events (one per line) and stores
// them in batches. Reads first wait for what was queued before them, so a
// caller sees the lines of an invocation that has answered.
//
// Thread-safe: one mutex guards the connection; another the queue.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/logs/filter_pattern.hpp"
#include "lamina/store/durability.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lamina::logs {

class StmtCache;

struct Where {
    std::string account, region;
};

using Tags = std::map<std::string, std::string>;

struct GroupInfo {
    std::string name;
    std::int64_t creation_time = 0;
    std::optional<int> retention_days;
    std::int64_t stored_bytes = 0;
};

struct StreamInfo {
    std::string name;
    std::int64_t creation_time = 0;
    std::optional<std::int64_t> first_event, last_event, last_ingestion;
    std::int64_t stored_bytes = 0;
};

struct Event {
    std::int64_t id = 0;  // the store's position (events are ordered by timestamp, then id)
    std::int64_t timestamp = 0, ingestion_time = 0;
    std::string message;
    std::string stream;  // FilterLogEvents only
};

// A position between events: (timestamp, id).
struct Cursor {
    std::int64_t timestamp = 0, id = 0;
};

struct InputEvent {
    std::int64_t timestamp = 0;
    std::string message;
};

struct Page {
    std::vector<std::string> names;
    std::optional<std::int64_t> next_offset;
};

struct GetQuery {
    std::optional<std::int64_t> start_time, end_time;  // [start, end)
    std::optional<Cursor> after, before;               // exclusive
    bool newest = false;                               // the last `limit` events (else the first)
    int limit = 10000;
};

struct FilterQuery {
    std::vector<std::string> streams;  // empty: every stream
    std::optional<std::string> stream_prefix;
    std::optional<std::int64_t> start_time, end_time;  // [start, end]
    std::optional<Cursor> after;
    const FilterPattern* pattern = nullptr;
    int limit = 10000;
};

struct FilterResult {
    std::vector<Event> events;
    std::optional<Cursor> next;  // where to go on; none: all read
};

// An event just stored, with where it went (LogStore::set_listener).
struct StoredEvent {
    Where where;
    std::string group, stream, message;
    std::int64_t timestamp = 0, ingestion_time = 0;
};

// Told of what is stored: `stored` after each commit, from the storing
// thread, when `wanted` says so (checked first, cheaply).
struct StoreListener {
    std::function<bool()> wanted;
    std::function<void(const std::vector<StoredEvent>&)> stored;
};

class LogStore {
public:
    // Opens (creates) `file`; imports the text logs under `import_dir`
    // (<account>/<region>/<group path>/<stream with '/' as '-'>.log) once.
    // Logs are kept as store::Durability::Crash at most (never fsynced per
    // commit, even with --durable-commits); Temporary for an ephemeral server.
    static Result<std::unique_ptr<LogStore>> open(
        const std::filesystem::path& file, const std::filesystem::path& import_dir, Clock& clock,
        store::Durability durability = store::Durability::Crash);
    ~LogStore();
    LogStore(const LogStore&) = delete;
    LogStore& operator=(const LogStore&) = delete;

    // A function's output: queued, stored later as one event per line (the
    // group and stream are made when missing). Never blocks on SQLite.
    void append(const Where& w, const std::string& group, const std::string& stream,
                std::string text);
    // A text that will be appended soon (an invocation's lines, kept back
    // while its answer is written): flush() waits for it as for what was
    // appended before it. Every ticket ends in append_expected, with an
    // empty text when nothing is to be stored after all.
    std::uint64_t expect();
    void append_expected(std::uint64_t ticket, const Where& w, const std::string& group,
                         const std::string& stream, std::string text);
    // Waits until everything appended (or expected) before the call is stored.
    void flush();

    Status create_group(const Where& w, const std::string& name, const Tags& tags);
    Status delete_group(const Where& w, const std::string& name);
    Result<GroupInfo> group(const Where& w, const std::string& name);
    // Names in order, from `offset`; `prefix` or case-insensitive `contains`.
    Result<std::vector<GroupInfo>> groups(const Where& w, const std::string& prefix,
                                          const std::string& contains, std::int64_t offset,
                                          int limit);
    Status set_retention(const Where& w, const std::string& name, std::optional<int> days);
    Result<Tags> tags(const Where& w, const std::string& name);
    Status set_tags(const Where& w, const std::string& name, const Tags& add,
                    const std::vector<std::string>& remove);

    Status create_stream(const Where& w, const std::string& group, const std::string& name);
    Status delete_stream(const Where& w, const std::string& group, const std::string& name);
    // by_time: by last event time (then name), else by name.
    Result<std::vector<StreamInfo>> streams(const Where& w, const std::string& group,
                                            const std::string& prefix, bool by_time,
                                            bool descending, std::int64_t offset, int limit);

    // Stores events already checked (in order, within limits).
    Status put_events(const Where& w, const std::string& group, const std::string& stream,
                      const std::vector<InputEvent>& events);
    Result<std::vector<Event>> get_events(const Where& w, const std::string& group,
                                          const std::string& stream, const GetQuery& q);
    Result<FilterResult> filter_events(const Where& w, const std::string& group,
                                       const FilterQuery& q);

    // Deletes events older than their group's retention.
    Status enforce_retention();
    // Deletes every group, stream and event (what was appended before is stored first).
    Status clear();

    // Puts every stored event into the trigram index now (the writer does it
    // when idle for a second or when many wait; searches read the rest
    // directly, so this only changes speed).
    void index_all();

    // One listener at most (empty functions: none). Once this returns, the
    // previous one is no longer called.
    void set_listener(StoreListener listener);

private:
    struct Pending {
        Where where;
        std::string group, stream, text;
        std::int64_t received = 0;
    };
    LogStore(sqlite3* db, Clock& clock);
    Status exec(const char* sql);
    Status migrate(store::Durability durability);
    Status import_text_logs(const std::filesystem::path& dir);
    Status drop_expired();  // enforce_retention's work (under db_mu_)
    void writer_loop();
    // Queues `text` (under queue_mu_); whether the writer is to be woken.
    bool queue_locked(const Where& w, const std::string& group, const std::string& stream,
                      std::string text);
    // Stores `batch`; what it stored, when the listener wants it.
    std::vector<StoredEvent> store_batch(std::vector<Pending>& batch);
    bool listened();
    void tell(const std::vector<StoredEvent>& events);
    // Moves the oldest unindexed rows into the trigram index in one
    // transaction; whether rows are still unindexed.
    bool index_chunk();
    // The group's or stream's row id (under db_mu_); made when `make`.
    Result<std::int64_t> group_id(const Where& w, const std::string& name, bool make,
                                  std::int64_t now);
    Result<std::int64_t> stream_id(std::int64_t group, const std::string& name, bool make,
                                   std::int64_t now);
    // Where a stream's events went: added to its row by add_stats.
    struct StreamStats {
        std::int64_t first = 0, last = 0, bytes = 0;
        bool any = false;
    };
    Status insert_events(std::int64_t group, std::int64_t stream,
                         const std::vector<InputEvent>& events, std::int64_t ingested);
    Status insert_rows(std::int64_t group, std::int64_t stream,
                       const std::vector<InputEvent>& events, std::int64_t ingested,
                       StreamStats& stats);
    Status add_stats(std::int64_t stream, const StreamStats& stats, std::int64_t ingested);

    sqlite3* db_;
    Clock& clock_;
    std::mutex db_mu_;
    std::unique_ptr<StmtCache> cached_;  // the writer's statements (under db_mu_)

    std::mutex listen_mu_;  // held while the listener runs
    StoreListener listener_;

    std::mutex queue_mu_;
    std::condition_variable queue_cv_, stored_cv_;
    std::vector<Pending> queue_;
    std::uint64_t queued_ = 0, stored_ = 0;
    int flushing_ = 0;  // readers waiting in flush(): the writer does not linger
    // expect()'s tickets not appended yet, oldest first (a few at most: one per
    // answer being written), and readers waiting for them
    std::vector<std::uint64_t> expected_;
    std::uint64_t next_ticket_ = 1;
    int awaiting_expected_ = 0;
    // rows not in the trigram index yet (an upper bound: deletes are counted
    // again by the next index_chunk)
    std::atomic<std::int64_t> unindexed_ = 0;
    bool stopping_ = false;
    std::thread writer_;
};

// Splits a function's output into event messages as AWS does: one per line,
// each keeping its "\n" (a last line without one is an event too).
std::vector<std::string> split_lines(const std::string& text);

}  // namespace lamina::logs
