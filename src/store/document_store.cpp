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

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
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
    LAMINA_CHECK(store->exec(create_synchronous_pragma(durability)));
    LAMINA_CHECK(store->exec("PRAGMA journal_mode=WAL"));
    LAMINA_CHECK(
        store->exec("CREATE TABLE IF NOT EXISTS documents ("
                    " kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
                    " PRIMARY KEY (kind, key)) WITHOUT ROWID"));
    LAMINA_CHECK(store->exec(synchronous_pragma(durability)));
    return store;
}

DocumentStore::~DocumentStore() { sqlite3_close(db_); }

Status DocumentStore::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return fail(ErrorCode::Service, std::string("sqlite: ") + msg + " in " + sql);
    }
    return {};
}

Status DocumentStore::apply(const std::vector<Mutation>& batch) {
    if (batch.empty()) return {};
    std::lock_guard lk(mu_);
    LAMINA_CHECK(exec("BEGIN IMMEDIATE"));
    auto rollback = [&](Error e) -> Status {
        exec("ROLLBACK");
        return std::unexpected(std::move(e));
    };
    Stmt put, del, del_prefix;
    if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO documents(kind, key, doc) VALUES(?,?,?)",
                           -1, &put.s, nullptr) ||
        sqlite3_prepare_v2(db_, "DELETE FROM documents WHERE kind=? AND key=?", -1, &del.s,
                           nullptr) ||
        sqlite3_prepare_v2(db_,
                           "DELETE FROM documents WHERE kind=?1 AND substr(key, 1, length(?2))=?2",
                           -1, &del_prefix.s, nullptr))
        return rollback(db_error(db_, "prepare"));
    for (const auto& m : batch) {
        sqlite3_stmt* s = nullptr;
        switch (m.op) {
            case Mutation::Op::Put:
                s = put.s;
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                bind_text(s, 3, m.doc);
                break;
            case Mutation::Op::Delete:
                s = del.s;
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                break;
            case Mutation::Op::DeletePrefix:
                s = del_prefix.s;  // substr and length both count characters
                bind_text(s, 1, m.kind);
                bind_text(s, 2, m.key);
                break;
        }
        if (sqlite3_step(s) != SQLITE_DONE) return rollback(db_error(db_, "write"));
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
        return rollback(db_error(db_, "commit"));
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
