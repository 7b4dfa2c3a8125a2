#pragma once
// A prepared SQLite statement, finalized with its scope, or borrowed from a
// StmtCache and reset with its scope (private to logs/).

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lamina/common/error.hpp"

namespace lamina::logs {

// Statements prepared once and kept for the connection's life, for the
// paths that run per stored batch (preparing cost more than the insert).
// Keyed by the SQL's address: give it string literals only. Not
// thread-safe: used under the owner's connection mutex.
class StmtCache {
public:
    explicit StmtCache(sqlite3* db) : db_(db) {}
    ~StmtCache() {
        for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
    }
    StmtCache(const StmtCache&) = delete;
    StmtCache& operator=(const StmtCache&) = delete;

    // The statement (nullptr when it does not prepare; `rc` says why).
    sqlite3_stmt* get(const char* sql, int& rc) {
        rc = SQLITE_OK;
        if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second;
        sqlite3_stmt* s = nullptr;
        rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(s);
            return nullptr;
        }
        stmts_.emplace(sql, s);
        return s;
    }

private:
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

class Stmt {
public:
    Stmt(sqlite3* db, const std::string& sql) : db_(db) {
        rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr);
    }
    // Borrowed from `cache`: left reset and unbound, not finalized.
    Stmt(sqlite3* db, StmtCache& cache, const char* sql)
        : db_(db), s_(cache.get(sql, rc_)), owned_(false) {}
    ~Stmt() {
        if (owned_) {
            sqlite3_finalize(s_);
        } else if (s_) {
            sqlite3_reset(s_);
            sqlite3_clear_bindings(s_);
        }
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Status ok() const {
        if (rc_ == SQLITE_OK) return {};
        return fail(ErrorCode::Service, std::string("logs store: ") + sqlite3_errmsg(db_));
    }
    Stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& bind(int i, std::string_view v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind_null(int i) {
        sqlite3_bind_null(s_, i);
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code
    int step() { return sqlite3_step(s_); }
    Status run() {
        int rc = step();
        if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
        return fail(ErrorCode::Service, std::string("logs store: ") + sqlite3_errmsg(db_));
    }
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    std::int64_t i64(int col) { return sqlite3_column_int64(s_, col); }
    bool null(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string text(int col) {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
                 : std::string();
    }

private:
    sqlite3* db_;
    int rc_ = SQLITE_OK;
    sqlite3_stmt* s_ = nullptr;
    bool owned_ = true;
};

}  // namespace lamina::logs
