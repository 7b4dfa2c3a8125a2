#include "lamina/logs/log_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <utime.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/logs/logs_error.hpp"

using namespace lamina;
using namespace lamina::logs;
using lamina::fakes::FakeClock;
using lamina::fakes::TempDir;

namespace {

const Where kWhere{"123456789012", "us-east-1"};
constexpr std::int64_t kNow = 1'800'000'000'000;

class LogStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        clock_.set(kNow);
        reopen();
    }
    void reopen() {
        store_.reset();
        auto s = LogStore::open(dir_.path() / "logs.sqlite", dir_.path() / "logs", clock_);
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
    }
    std::vector<std::string> messages(const std::vector<Event>& events) {
        std::vector<std::string> out;
        for (const auto& e : events) out.push_back(e.message);
        return out;
    }
    // SQL run on the store's file through a connection of its own (the store closed).
    std::string run_sql(const std::vector<std::string>& statements) {
        sqlite3* db = nullptr;
        if (sqlite3_open((dir_.path() / "logs.sqlite").c_str(), &db) != SQLITE_OK) return "open";
        std::string failed;
        for (const auto& sql : statements) {
            char* err = nullptr;
            if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
                failed = sql + ": " + (err ? err : "?");
                sqlite3_free(err);
                break;
            }
        }
        sqlite3_close(db);
        return failed;
    }
    // FTS5's own check that the trigram index holds exactly the stored rows
    std::string index_check() {
        store_->index_all();
        store_.reset();
        auto failed =
            run_sql({"INSERT INTO log_events_fts(log_events_fts) VALUES('integrity-check')"});
        reopen();
        return failed;
    }
    std::vector<std::string> search(const std::string& text) {
        auto pattern = FilterPattern::parse(text);
        EXPECT_TRUE(pattern) << text;
        FilterQuery q;
        q.pattern = &*pattern;
        auto found = store_->filter_events(kWhere, "/g", q);
        EXPECT_TRUE(found) << text;
        return found ? messages(found->events) : std::vector<std::string>{};
    }
    TempDir dir_;
    FakeClock clock_;
    std::unique_ptr<LogStore> store_;
};

}  // namespace

TEST(LogStoreLines, SplitsAsAwsDoes) {
    std::vector<std::string> want = {"a\n", "\n", "b"};
    EXPECT_EQ(split_lines("a\n\nb"), want);
    EXPECT_TRUE(split_lines("").empty());
}

TEST_F(LogStoreTest, AppendedOutputBecomesEventsInItsStream) {
    store_->append(kWhere, "/aws/lambda/f", "2026/01/01/[$LATEST]ab", "START x\nhello\n");
    clock_.advance(5);
    store_->append(kWhere, "/aws/lambda/f", "2026/01/01/[$LATEST]ab", "END x\n");
    store_->flush();
    auto events = store_->get_events(kWhere, "/aws/lambda/f", "2026/01/01/[$LATEST]ab", {});
    ASSERT_TRUE(events) << events.error().message;
    std::vector<std::string> want = {"START x\n", "hello\n", "END x\n"};
    EXPECT_EQ(messages(*events), want);
    EXPECT_EQ((*events)[0].timestamp, kNow);
    EXPECT_EQ((*events)[2].timestamp, kNow + 5);
    auto groups = store_->groups(kWhere, "/aws/lambda/", "", 0, 50);
    ASSERT_TRUE(groups);
    ASSERT_EQ(groups->size(), 1u);
    EXPECT_EQ((*groups)[0].name, "/aws/lambda/f");
    auto streams = store_->streams(kWhere, "/aws/lambda/f", "", false, false, 0, 50);
    ASSERT_TRUE(streams);
    ASSERT_EQ(streams->size(), 1u);
    EXPECT_EQ((*streams)[0].first_event, kNow);
    EXPECT_EQ((*streams)[0].last_event, kNow + 5);
}

TEST_F(LogStoreTest, ReadsWaitForTextsExpectedBeforeThem) {
    const std::string group = "/aws/lambda/f", stream = "2026/01/01/[$LATEST]ab";
    // an invocation's lines held while its answer is written; one with nothing to store
    auto held = store_->expect();
    auto empty = store_->expect();
    std::atomic<bool> read = false;
    std::vector<std::string> seen;
    std::thread reader([&] {
        auto events = store_->get_events(kWhere, group, stream, {});
        if (events) seen = messages(*events);
        read = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(read) << "a read returned before the lines it was to wait for";
    store_->append_expected(empty, kWhere, group, stream, "");
    store_->append_expected(held, kWhere, group, stream, "START x\nEND x\n");
    reader.join();
    std::vector<std::string> want = {"START x\n", "END x\n"};
    EXPECT_EQ(seen, want);
    // with no ticket open a read does not wait
    auto events = store_->get_events(kWhere, group, stream, {});
    ASSERT_TRUE(events);
    EXPECT_EQ(messages(*events), want);
}

TEST_F(LogStoreTest, GroupsAndStreamsAreScopedAndUnique) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {{"k", "v"}}));
    auto again = store_->create_group(kWhere, "/g", {});
    ASSERT_FALSE(again);
    EXPECT_EQ(logs_error_shape(again.error()).type, std::string("ResourceAlreadyExistsException"));
    EXPECT_TRUE(store_->create_group(Where{"111111111111", "us-east-1"}, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    EXPECT_FALSE(store_->create_stream(kWhere, "/g", "s"));
    auto missing = store_->create_stream(kWhere, "/nope", "s");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "The specified log group does not exist.");
    EXPECT_EQ(logs_error_shape(missing.error()).status, 400u);
    auto tags = store_->tags(kWhere, "/g");
    ASSERT_TRUE(tags);
    EXPECT_EQ(tags->at("k"), "v");
    ASSERT_TRUE(store_->delete_group(kWhere, "/g"));
    EXPECT_FALSE(store_->group(kWhere, "/g"));
    EXPECT_TRUE(store_->group(Where{"111111111111", "us-east-1"}, "/g"));
}

TEST_F(LogStoreTest, NewestAndPagedReads) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    std::vector<InputEvent> in;
    for (int i = 0; i < 50; ++i) in.push_back({kNow + i, "m" + std::to_string(i)});
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", in));
    GetQuery newest;
    newest.newest = true;
    newest.limit = 3;
    auto last = store_->get_events(kWhere, "/g", "s", newest);
    ASSERT_TRUE(last);
    std::vector<std::string> want = {"m47", "m48", "m49"};
    EXPECT_EQ(messages(*last), want);
    GetQuery after;
    after.after = Cursor{(*last)[0].timestamp, (*last)[0].id};
    auto rest = store_->get_events(kWhere, "/g", "s", after);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->size(), 2u);
    GetQuery window;
    window.start_time = kNow + 10;
    window.end_time = kNow + 12;
    auto w = store_->get_events(kWhere, "/g", "s", window);
    ASSERT_TRUE(w);
    want = {"m10", "m11"};
    EXPECT_EQ(messages(*w), want);
}

TEST_F(LogStoreTest, FilterUsesPatternsAcrossStreamsInTimeOrder) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    for (const char* s : {"a", "b"}) ASSERT_TRUE(store_->create_stream(kWhere, "/g", s));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "a", {{kNow, "ERROR one"}, {kNow + 2, "ok"}}));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "b", {{kNow + 1, "ERROR two"}, {kNow + 3, "ER"}}));
    auto pattern = FilterPattern::parse("ERROR");
    ASSERT_TRUE(pattern);
    FilterQuery q;
    q.pattern = &*pattern;
    auto found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    std::vector<std::string> want = {"ERROR one", "ERROR two"};
    EXPECT_EQ(messages(found->events), want);
    EXPECT_EQ(found->events[1].stream, "b");
    EXPECT_FALSE(found->next);
    q.limit = 1;
    auto first = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(first && first->next);
    q.after = first->next;
    auto second = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(second);
    want = {"ERROR two"};
    EXPECT_EQ(messages(second->events), want);
    FilterQuery only;
    only.streams = {"a"};
    auto in_a = store_->filter_events(kWhere, "/g", only);
    ASSERT_TRUE(in_a);
    EXPECT_EQ(in_a->events.size(), 2u);
    auto short_term = FilterPattern::parse("ER");  // shorter than a trigram: scanned
    ASSERT_TRUE(short_term);
    FilterQuery s;
    s.pattern = &*short_term;
    auto scanned = store_->filter_events(kWhere, "/g", s);
    ASSERT_TRUE(scanned);
    EXPECT_EQ(scanned->events.size(), 3u);
}

TEST_F(LogStoreTest, RetentionDropsOlderEvents) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow - 3 * 86'400'000, "old"}}));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow, "new"}}));
    ASSERT_TRUE(store_->set_retention(kWhere, "/g", 1));
    auto left = store_->get_events(kWhere, "/g", "s", {});
    ASSERT_TRUE(left);
    EXPECT_EQ(messages(*left), std::vector<std::string>{"new"});
    auto pattern = FilterPattern::parse("old");
    FilterQuery q;
    q.pattern = &*pattern;
    auto found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    EXPECT_TRUE(found->events.empty());  // gone from the text index too
    EXPECT_EQ(store_->group(kWhere, "/g")->retention_days, 1);
}

TEST_F(LogStoreTest, SurvivesReopenAndImportsTextLogsOnce) {
    store_.reset();
    auto dir = dir_.path() / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / "old";
    std::filesystem::create_directories(dir);
    auto file = dir / "2026-01-02-[$LATEST]abc.log";
    std::ofstream(file) << "one\ntwo\n";
    struct utimbuf times {
        1'767'312'000, 1'767'312'000
    };
    ASSERT_EQ(::utime(file.c_str(), &times), 0);
    std::filesystem::remove(dir_.path() / "logs.sqlite");
    reopen();
    auto events = store_->get_events(kWhere, "/aws/lambda/old", "2026/01/02/[$LATEST]abc", {});
    ASSERT_TRUE(events) << events.error().message;
    std::vector<std::string> want = {"one\n", "two\n"};
    EXPECT_EQ(messages(*events), want);
    EXPECT_EQ((*events)[0].timestamp, 1'767'312'000'000);
    store_->append(kWhere, "/aws/lambda/new", "s", "kept\n");
    reopen();  // the destructor stores what was queued
    auto again = store_->get_events(kWhere, "/aws/lambda/old", "2026/01/02/[$LATEST]abc", {});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->size(), 2u);
    auto kept = store_->get_events(kWhere, "/aws/lambda/new", "s", {});
    ASSERT_TRUE(kept);
    EXPECT_EQ(messages(*kept), std::vector<std::string>{"kept\n"});
}

TEST_F(LogStoreTest, SearchesSeeIndexedAndNotYetIndexedEventsAlike) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    for (const char* s : {"a", "b"}) ASSERT_TRUE(store_->create_stream(kWhere, "/g", s));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "a", {{kNow, "ERROR one"}, {kNow + 1, "fine"}}));
    store_->index_all();
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "b", {{kNow + 2, "ERROR two"}}));
    auto pattern = FilterPattern::parse("ERROR");
    ASSERT_TRUE(pattern);
    FilterQuery q;
    q.pattern = &*pattern;
    auto found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    EXPECT_EQ(messages(found->events), (std::vector<std::string>{"ERROR one", "ERROR two"}));
    // deleting indexed and unindexed events alike keeps the index whole
    ASSERT_TRUE(store_->delete_stream(kWhere, "/g", "a"));
    ASSERT_TRUE(store_->delete_stream(kWhere, "/g", "b"));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "c"));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "c", {{kNow + 3, "ERROR three"}}));
    found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    EXPECT_EQ(messages(found->events), std::vector<std::string>{"ERROR three"});
    reopen();  // what waits for the index is still found, then indexed
    found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    EXPECT_EQ(messages(found->events), std::vector<std::string>{"ERROR three"});
    store_->index_all();
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "c", {{kNow + 4, "ERROR four"}}));
    found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found);
    EXPECT_EQ(messages(found->events), (std::vector<std::string>{"ERROR three", "ERROR four"}));
    EXPECT_EQ(index_check(), "");
    // the newest rows deleted once indexed: the ids SQLite gives again are not in the index
    ASSERT_TRUE(store_->delete_stream(kWhere, "/g", "c"));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "d"));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "d", {{kNow + 5, "ERROR five"}}));
    EXPECT_EQ(search("ERROR"), std::vector<std::string>{"ERROR five"});
    EXPECT_EQ(index_check(), "");
    EXPECT_EQ(search("ERROR"), std::vector<std::string>{"ERROR five"});
    ASSERT_TRUE(store_->clear());
    EXPECT_EQ(index_check(), "");
}

TEST_F(LogStoreTest, AStoreThatListedItsUnindexedRowsKeepsThemFindable) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow, "ERROR old"}, {kNow + 1, "fine"}}));
    store_->index_all();
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow + 2, "ERROR new"}}));
    store_.reset();
    // as lamina left a store until 2026-12: the rows waiting for the index listed in a table
    // an insert trigger filled, and a delete trigger that read it
    EXPECT_EQ(run_sql({"DROP TRIGGER log_events_unfts", "DROP TABLE fts_progress",
                       "CREATE TABLE log_events_unindexed (id INTEGER PRIMARY KEY)",
                       "INSERT INTO log_events_unindexed SELECT id FROM log_events WHERE message"
                       " = 'ERROR new'",
                       "CREATE TRIGGER log_events_queue_index AFTER INSERT ON log_events BEGIN"
                       " INSERT INTO log_events_unindexed(id) VALUES (new.id); END"}),
              "");
    reopen();
    EXPECT_EQ(search("ERROR"), (std::vector<std::string>{"ERROR old", "ERROR new"}));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow + 3, "ERROR newer"}}));
    EXPECT_EQ(search("ERROR"), (std::vector<std::string>{"ERROR old", "ERROR new", "ERROR newer"}));
    EXPECT_EQ(index_check(), "");
    store_.reset();
    EXPECT_NE(run_sql({"SELECT * FROM log_events_unindexed"}), "");  // gone
    reopen();
    ASSERT_TRUE(store_->delete_stream(kWhere, "/g", "s"));
    EXPECT_EQ(index_check(), "");
}

TEST_F(LogStoreTest, IndexedSearchesMatchWholeTermsNotOnlyTheirTrigrams) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    // the first holds every trigram of "abcd" (abc, bcd) but not "abcd"
    ASSERT_TRUE(store_->put_events(
        kWhere, "/g", "s",
        {{kNow, "abcXbcd"}, {kNow + 1, "xabcdx"}, {kNow + 2, "h\xC3\xA9llo w\xC3\xB6rld"}}));
    store_->index_all();
    EXPECT_EQ(search("abcd"), std::vector<std::string>{"xabcdx"});
    EXPECT_EQ(search("w\xC3\xB6rld"), std::vector<std::string>{"h\xC3\xA9llo w\xC3\xB6rld"});
    EXPECT_EQ(search("\xC3\xB6rl"), std::vector<std::string>{"h\xC3\xA9llo w\xC3\xB6rld"});
    EXPECT_EQ(search("?abcd ?w\xC3\xB6rld"),
              (std::vector<std::string>{"xabcdx", "h\xC3\xA9llo w\xC3\xB6rld"}));
    EXPECT_TRUE(search("bcdX").empty());
    EXPECT_EQ(search("cX"), std::vector<std::string>{"abcXbcd"});  // too short for the index
}

TEST_F(LogStoreTest, AStoreWhoseIndexKeptPositionsIsReindexedAndStillFound) {
    ASSERT_TRUE(store_->create_group(kWhere, "/g", {}));
    ASSERT_TRUE(store_->create_stream(kWhere, "/g", "s"));
    ASSERT_TRUE(store_->put_events(kWhere, "/g", "s", {{kNow, "ERROR old"}, {kNow + 1, "fine"}}));
    store_->index_all();
    store_.reset();
    {  // as an older lamina left it: an index with positions, every row in it
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir_.path() / "logs.sqlite").c_str(), &db), SQLITE_OK);
        for (const char* sql :
             {"DROP TABLE log_events_fts",
              "CREATE VIRTUAL TABLE log_events_fts USING fts5(message, content='log_events',"
              " content_rowid='id', tokenize='trigram case_sensitive 1')",
              "INSERT INTO log_events_fts(log_events_fts) VALUES('rebuild')",
              "DROP TRIGGER log_events_unfts", "DROP TABLE fts_progress",
              "DELETE FROM meta WHERE key='fts_index'"})
            ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
        sqlite3_close(db);
    }
    reopen();
    auto pattern = FilterPattern::parse("ERROR");
    ASSERT_TRUE(pattern);
    FilterQuery q;
    q.pattern = &*pattern;
    auto found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(messages(found->events), std::vector<std::string>{"ERROR old"});
    store_->index_all();
    found = store_->filter_events(kWhere, "/g", q);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(messages(found->events), std::vector<std::string>{"ERROR old"});
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "logs.sqlite").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='log_events_fts'",
                                 -1, &s, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    std::string sql = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    EXPECT_NE(sql.find("detail=none"), std::string::npos) << sql;
}
