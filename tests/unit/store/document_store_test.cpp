#include "lamina/store/document_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "fakes/temp_dir.hpp"

using namespace lamina;
using namespace lamina::store;

namespace {

std::map<std::string, std::string> all(DocumentStore& db, const std::string& kind) {
    std::map<std::string, std::string> out;
    auto st = db.for_each(kind, [&](const std::string& k, const std::string& d) { out[k] = d; });
    EXPECT_TRUE(st.has_value()) << st.error().message;
    return out;
}

std::unique_ptr<DocumentStore> open_store(const std::filesystem::path& file) {
    auto r = DocumentStore::open(file, store::Durability::Crash);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? std::move(*r) : nullptr;
}

// Installs a trigger (through a second connection, while no store has the
// file open) that makes any write of key "boom" fail, so a batch can be made
// to break half-way.
void install_failing_trigger(const std::filesystem::path& file) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    int rc =
        sqlite3_exec(db,
                     "CREATE TRIGGER fail_boom BEFORE INSERT ON documents WHEN NEW.key = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'boom'); END;",
                     nullptr, nullptr, &msg);
    std::string err = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << err;
}

}  // namespace

TEST(DocumentStore, PutsAndVisitsInKeyOrderPerKind) {
    fakes::TempDir dir;
    auto db = open_store(dir.path() / "meta.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        db->apply({Mutation::put("fn", "b", "{\"n\":2}"), Mutation::put("fn", "a", "{\"n\":1}"),
                   Mutation::put("alias", "a", "other kind")})
            .has_value());
    std::vector<std::string> keys;
    ASSERT_TRUE(db->for_each("fn", [&](const std::string& k, const std::string&) {
                      keys.push_back(k);
                  }).has_value());
    EXPECT_EQ(keys, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(all(*db, "fn").at("a"), "{\"n\":1}");
    EXPECT_EQ(all(*db, "alias"), (std::map<std::string, std::string>{{"a", "other kind"}}));
    EXPECT_TRUE(all(*db, "nothing").empty());

    // Put replaces; Delete removes one key; an empty batch is fine.
    ASSERT_TRUE(
        db->apply({Mutation::put("fn", "a", "new"), Mutation::erase("fn", "b")}).has_value());
    EXPECT_EQ(all(*db, "fn"), (std::map<std::string, std::string>{{"a", "new"}}));
    EXPECT_TRUE(db->apply({}).has_value());
    EXPECT_TRUE(db->apply({Mutation::erase("fn", "never-existed")}).has_value());
}

TEST(DocumentStore, KeepsUnicodeAndQuotesIntact) {
    fakes::TempDir dir;
    auto db = open_store(dir.path() / "meta.db");
    ASSERT_TRUE(db);
    const std::string doc =
        "{\"d\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 with quotes ' and \\\" and a newline\n\"}";
    ASSERT_TRUE(db->apply({Mutation::put("k", "x", doc)}).has_value());
    EXPECT_EQ(all(*db, "k").at("x"), doc);
}

TEST(DocumentStore, BatchIsAllOrNothing) {
    fakes::TempDir dir;
    const auto file = dir.path() / "meta.db";
    auto db = open_store(file);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->apply({Mutation::put("fn", "keep", "old")}).has_value());
    db.reset();  // the store holds its file's lock while it is open
    install_failing_trigger(file);
    db = open_store(file);
    ASSERT_TRUE(db);

    auto st = db->apply({Mutation::put("fn", "keep", "changed"), Mutation::put("fn", "first", "1"),
                         Mutation::erase("fn", "keep"), Mutation::put("fn", "boom", "x"),
                         Mutation::put("fn", "after", "2")});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::Service);
    EXPECT_EQ(all(*db, "fn"), (std::map<std::string, std::string>{{"keep", "old"}}));

    // The store is usable after a failed batch (no transaction left open).
    ASSERT_TRUE(db->apply({Mutation::put("fn", "later", "ok")}).has_value());
    db.reset();
    auto again = open_store(file);
    ASSERT_TRUE(again);
    EXPECT_EQ(all(*again, "fn"),
              (std::map<std::string, std::string>{{"keep", "old"}, {"later", "ok"}}));
}

TEST(DocumentStore, HoldsItsFileWhileOpen) {
    fakes::TempDir dir;
    const auto file = dir.path() / "meta.db";
    auto db = open_store(file);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->apply({Mutation::put("fn", "a", "1")}).has_value());
    // exclusive locking: a second connection can neither write nor read
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 0);
    EXPECT_EQ(sqlite3_exec(other, "SELECT count(*) FROM documents", nullptr, nullptr, nullptr),
              SQLITE_BUSY);
    sqlite3_close(other);
    // and the store's own writes and reads go on
    ASSERT_TRUE(db->apply({Mutation::put("fn", "b", "2")}).has_value());
    db.reset();
    auto again = open_store(file);
    ASSERT_TRUE(again);
    EXPECT_EQ(all(*again, "fn"), (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

TEST(DocumentStore, PrefixDeleteOnlyHitsThePrefix) {
    fakes::TempDir dir;
    auto db = open_store(dir.path() / "meta.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->apply({
                              Mutation::put("version", "acct/us-east-1/a/0000000001", "1"),
                              Mutation::put("version", "acct/us-east-1/a/0000000002", "2"),
                              Mutation::put("version", "acct/us-east-1/a-b/0000000001", "3"),
                              Mutation::put("version", "acct/us-east-1/ab/0000000001", "4"),
                              Mutation::put("version", "acct/us-east-1/a", "5"),
                              Mutation::put("version", "acct/eu-west-1/a/0000000001", "6"),
                              Mutation::put("alias", "acct/us-east-1/a/live", "7"),
                              // LIKE/GLOB wildcards in a prefix must be taken literally.
                              Mutation::put("version", "acct/us-east-1/a%/x", "8"),
                              Mutation::put("version", "acct/us-east-1/a_/x", "9"),
                          })
                    .has_value());
    ASSERT_TRUE(db->apply({Mutation::erase_prefix("version", "acct/us-east-1/a/")}).has_value());
    EXPECT_EQ(all(*db, "version"), (std::map<std::string, std::string>{
                                       {"acct/us-east-1/a-b/0000000001", "3"},
                                       {"acct/us-east-1/ab/0000000001", "4"},
                                       {"acct/us-east-1/a", "5"},
                                       {"acct/eu-west-1/a/0000000001", "6"},
                                       {"acct/us-east-1/a%/x", "8"},
                                       {"acct/us-east-1/a_/x", "9"},
                                   }));
    EXPECT_EQ(all(*db, "alias").size(), 1u);

    ASSERT_TRUE(db->apply({Mutation::erase_prefix("version", "acct/us-east-1/a_/")}).has_value());
    EXPECT_EQ(all(*db, "version").count("acct/us-east-1/a_/x"), 0u);
    EXPECT_EQ(all(*db, "version").count("acct/us-east-1/a%/x"), 1u);
}

// DeletePrefix must count the prefix the way SQLite's substr does (characters,
// not bytes), so a prefix with a multi-byte UTF-8 character still matches.
TEST(DocumentStore, PrefixDeleteCountsBytesNotCharacters) {
    // Keys are byte strings: a multi-byte prefix must match byte for byte.
    fakes::TempDir dir;
    auto db = open_store(dir.path() / "meta.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        db->apply({Mutation::put("k", "caf\xc3\xa9/1", "a"),
                   Mutation::put("k", "caf\xc3\xa9/2", "b"), Mutation::put("k", "cafe/1", "c")})
            .has_value());
    ASSERT_TRUE(db->apply({Mutation::erase_prefix("k", "caf\xc3\xa9/")}).has_value());
    EXPECT_EQ(all(*db, "k"), (std::map<std::string, std::string>{{"cafe/1", "c"}}));
}

TEST(DocumentStore, ReopenKeepsData) {
    fakes::TempDir dir;
    const auto file = dir.path() / "meta.db";
    {
        auto db = open_store(file);
        ASSERT_TRUE(db);
        ASSERT_TRUE(
            db->apply({Mutation::put("fn", "a", "1"), Mutation::put("fn", "b", "2")}).has_value());
        ASSERT_TRUE(db->apply({Mutation::erase("fn", "b")}).has_value());
    }
    {
        auto durable = DocumentStore::open(file, store::Durability::PowerLoss);
        ASSERT_TRUE(durable.has_value()) << durable.error().message;
        EXPECT_EQ(all(**durable, "fn"), (std::map<std::string, std::string>{{"a", "1"}}));
        ASSERT_TRUE((*durable)->apply({Mutation::put("fn", "c", "3")}).has_value());
    }
    auto db = open_store(file);
    ASSERT_TRUE(db);
    EXPECT_EQ(all(*db, "fn"), (std::map<std::string, std::string>{{"a", "1"}, {"c", "3"}}));
}

TEST(DocumentStore, OpenFailsCleanlyOnABadPath) {
    fakes::TempDir dir;
    auto r = DocumentStore::open(dir.path() / "no-such-dir" / "meta.db", store::Durability::Crash);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Service);
    EXPECT_NE(r.error().message.find("no-such-dir"), std::string::npos);
}
