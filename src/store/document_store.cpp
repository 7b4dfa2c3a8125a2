#include "lamina/store/document_store.hpp"

#include <sqlite3.h>

namespace lamina::store {

namespace {

struct Stmt {
    sqlite3_stmt* s = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
};

Error db_error(sqlite3* db, const std::string& what) {
    return Error{ErrorCode::Service, what + ": " + sqlite3_errmsg(db)};
}

// SQLITE_STATIC: the bytes are not copied; every caller keeps `v` alive and
// unchanged until the statement is reset and its bindings cleared.
void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

}  // namespace

Result<std::unique_ptr<DocumentStore>> DocumentStore::open(const std::filesystem::path& file,
                                                           Durability durability) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return fail(ErrorCode::Service, "cannot open " + file.string() + ": " + msg);
    }
    std::unique_ptr<DocumentStore> store(new DocumentStore(db));
    sqlite3_busy_timeout(db, 5000);
    // One connection per file (the data directory's lock keeps a second
    // server out), so it holds the file's lock for good: WAL's index then
    // lives in its memory, and a commit takes no file locks (fcntl) and maps
    // no shared memory, a fifth of a small commit. A commit still reaches the
    // WAL file before it returns: as crash-safe as before.
    LAMINA_CHECK(store->exec("PRAGMA locking_mode=EXCLUSIVE"));
    LAMINA_CHECK(store->exec(create_synchronous_pragma(durability)));
    LAMINA_CHECK(store->exec("PRAGMA journal_mode=WAL"));
    LAMINA_CHECK(
        store->exec("CREATE TABLE IF NOT EXISTS documents ("
                    " kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
                    " PRIMARY KEY (kind, key)) WITHOUT ROWID"));
    LAMINA_CHECK(store->exec(synchronous_pragma(durability)));
    return store;
}

DocumentStore::~DocumentStore() {
    stmts_.reset();  // finalized before the connection closes
    sqlite3_close(db_);
}

Status DocumentStore::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return fail(ErrorCode::Service, std::string("sqlite: ") + msg + " in " + sql);
    }
    return {};
}

DocumentStore::Statements::~Statements() {
    for (sqlite3_stmt* s : {begin, commit, rollback, put, del, del_prefix}) sqlite3_finalize(s);
}

// Prepared once, on the first batch, and kept: preparing them (and parsing
// BEGIN and COMMIT through sqlite3_exec) was a third of a small commit.
Status DocumentStore::prepare_statements() {
    if (stmts_) return {};
    auto st = std::make_unique<Statements>();
    const std::pair<const char*, sqlite3_stmt**> sql[] = {
        {"BEGIN IMMEDIATE", &st->begin},
        {"COMMIT", &st->commit},
        {"ROLLBACK", &st->rollback},
        {"INSERT OR REPLACE INTO documents(kind, key, doc) VALUES(?,?,?)", &st->put},
        {"DELETE FROM documents WHERE kind=? AND key=?", &st->del},
        {"DELETE FROM documents WHERE kind=?1 AND substr(key, 1, length(?2))=?2", &st->del_prefix},
    };
    for (const auto& [text, out] : sql)
        if (sqlite3_prepare_v3(db_, text, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) != SQLITE_OK)
            return std::unexpected(db_error(db_, "prepare"));
    stmts_ = std::move(st);
    return {};
}

Status DocumentStore::apply(const std::vector<Mutation>& batch) {
    if (batch.empty()) return {};
    std::lock_guard lk(mu_);
    LAMINA_CHECK(prepare_statements());
    Statements& st = *stmts_;
    if (sqlite3_step(st.begin) != SQLITE_DONE) {
        std::string msg = sqlite3_errmsg(db_);
        sqlite3_reset(st.begin);
        return fail(ErrorCode::Service, "sqlite: " + msg + " in BEGIN IMMEDIATE");
    }
    sqlite3_reset(st.begin);
    auto rollback = [&](Error e) -> Status {
        sqlite3_step(st.rollback);
        sqlite3_reset(st.rollback);
        return std::unexpected(std::move(e));
    };
    for (const auto& m : batch) {
        sqlite3_stmt* s = nullptr;
        switch (m.op) {
            case Mutation::Op::Put:
                s = st.put;
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                bind_text(s, 3, m.doc);
                break;
            case Mutation::Op::Delete:
                s = st.del;
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                break;
            case Mutation::Op::DeletePrefix:
                s = st.del_prefix;  // substr and length both count characters
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                break;
        }
        if (sqlite3_step(s) != SQLITE_DONE) {
            Error e = db_error(db_, "write");
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return rollback(std::move(e));
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (sqlite3_step(st.commit) != SQLITE_DONE) {
        Error e = db_error(db_, "commit");
        sqlite3_reset(st.commit);
        return rollback(std::move(e));
    }
    sqlite3_reset(st.commit);
    return {};
}

Status DocumentStore::for_each(
    const std::string& kind,
    const std::function<void(const std::string&, const std::string&)>& fn) {
    std::lock_guard lk(mu_);
    Stmt q;
    if (sqlite3_prepare_v2(db_, "SELECT key, doc FROM documents WHERE kind=? ORDER BY key", -1,
                           &q.s, nullptr))
        return std::unexpected(db_error(db_, "prepare"));
    bind_text(q.s, 1, kind);
    int rc;
    while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
        auto text = [&](int col) {
            auto p = reinterpret_cast<const char*>(sqlite3_column_text(q.s, col));
            return std::string(p ? p : "",
                               static_cast<std::size_t>(sqlite3_column_bytes(q.s, col)));
        };
        fn(text(0), text(1));
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read"));
    return {};
}

}  // namespace lamina::store
