// FilterLogEvents over the store: the trigram index narrows a pattern's
// candidates, the rows not indexed yet are read directly, and every
// candidate is matched against the pattern (log_store.cpp has the rest).
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>

#include "lamina/logs/log_store.hpp"
#include "lamina/logs/logs_error.hpp"
#include "sqlite_stmt.hpp"

namespace lamina::logs {

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr int kFilterChunk = 2000;
constexpr std::int64_t kFilterScanBudget = 200'000;  // rows read per FilterLogEvents page
constexpr std::size_t kFilterBytes = 1'048'576;      // response size, as AWS

std::string fts_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

// The trigrams of `t`, three UTF-8 characters each as the tokenizer cuts
// them, each once; none when `t` has fewer than three characters.
std::vector<std::string> trigrams(const std::string& t) {
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < t.size(); ++i)
        if ((static_cast<unsigned char>(t[i]) & 0xC0) != 0x80) starts.push_back(i);
    starts.push_back(t.size());
    std::vector<std::string> out;
    for (std::size_t i = 0; i + 3 < starts.size(); ++i) {
        std::string g = t.substr(starts[i], starts[i + 3] - starts[i]);
        if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(std::move(g));
    }
    return out;
}

// The FTS5 query narrowing a pattern's candidates; empty when it has none
// (the trigram index cannot look up strings shorter than 3 characters). A
// term is the AND of its trigrams: the index holds no positions.
std::string fts_query(const FilterPattern& p) {
    std::string out;
    for (const auto& any : p.required()) {
        std::string group;
        for (const auto& t : any) {
            auto grams = trigrams(t);
            if (grams.empty()) {
                group.clear();  // this alternative cannot be looked up: nor can the group
                break;
            }
            std::string all;
            for (const auto& g : grams) all += (all.empty() ? "" : " AND ") + fts_quote(g);
            group += (group.empty() ? "(" : " OR (") + all + ")";
        }
        if (any.empty() || group.empty()) continue;
        out += (out.empty() ? "(" : " AND (") + group + ")";
    }
    return out;
}

}  // namespace

Result<FilterResult> LogStore::filter_events(const Where& w, const std::string& group,
                                             const FilterQuery& q) {
    flush();
    std::lock_guard lk(db_mu_);
    LAMINA_TRY(gid, group_id(w, group, false, 0));
    std::map<std::int64_t, std::string> names;
    {
        Stmt s(db_, "SELECT id, name FROM log_streams WHERE group_id=?1");
        LAMINA_CHECK(s.ok());
        s.bind(1, gid);
        while (s.step() == SQLITE_ROW) names.emplace(s.i64(0), s.text(1));
    }
    std::string only;  // the streams asked for, as " AND e.stream_id IN (...)"
    if (!q.streams.empty() || q.stream_prefix) {
        for (const auto& [id, name] : names) {
            bool wanted = q.stream_prefix ? name.starts_with(*q.stream_prefix)
                                          : std::find(q.streams.begin(), q.streams.end(), name) !=
                                                q.streams.end();
            if (wanted) only += (only.empty() ? "" : ",") + std::to_string(id);
        }
        if (only.empty()) return FilterResult{};
        only = " AND e.stream_id IN (" + only + ")";
    }
    std::string match = q.pattern ? fts_query(*q.pattern) : std::string();
    std::string sql = match.empty()
                          ? "SELECT e.id, e.ts, e.ingest, e.message, e.stream_id FROM log_events e"
                            " WHERE e.group_id=?1"
                          // the index's candidates and every row it does not hold yet
                          : "SELECT e.id, e.ts, e.ingest, e.message, e.stream_id FROM"
                            " (SELECT rowid AS id FROM log_events_fts WHERE log_events_fts MATCH ?7"
                            " UNION ALL SELECT id FROM log_events WHERE id > (SELECT indexed_upto"
                            " FROM fts_progress)) c"
                            " CROSS JOIN log_events e ON e.id = c.id WHERE e.group_id=?1";
    sql += " AND e.ts >= ?2 AND e.ts <= ?3 AND (e.ts, e.id) > (?4, ?5)" + only +
           " ORDER BY e.ts, e.id LIMIT ?6";
    Stmt s(db_, sql);
    LAMINA_CHECK(s.ok());
    FilterResult out;
    Cursor at = q.after.value_or(Cursor{kMin, kMin});
    std::int64_t scanned = 0;
    std::size_t bytes = 0;
    while (true) {
        s.reset();
        s.bind(1, gid).bind(2, q.start_time.value_or(kMin)).bind(3, q.end_time.value_or(kMax));
        s.bind(4, at.timestamp).bind(5, at.id).bind(6, kFilterChunk);
        if (!match.empty()) s.bind(7, match);
        int rows = 0;
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) {
            ++rows;
            ++scanned;
            at = Cursor{s.i64(1), s.i64(0)};
            std::string message = s.text(3);
            if (q.pattern && !q.pattern->matches(message)) continue;
            bytes += message.size();
            out.events.push_back(
                Event{at.id, at.timestamp, s.i64(2), std::move(message), names[s.i64(4)]});
            if (static_cast<int>(out.events.size()) >= q.limit || bytes >= kFilterBytes) {
                out.next = at;
                return out;
            }
        }
        if (rc != SQLITE_DONE) return fail(ErrorCode::Service, "logs store: filter failed");
        if (rows < kFilterChunk) return out;
        if (scanned >= kFilterScanBudget) {
            out.next = at;
            return out;
        }
    }
}

}  // namespace lamina::logs
