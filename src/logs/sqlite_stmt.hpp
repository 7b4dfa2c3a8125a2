#pragma once
// A prepared SQLite statement, finalized with its scope (private to logs/).

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "lamina/common/error.hpp"

namespace lamina::logs {

class Stmt {
public:
    Stmt(sqlite3* db, const std::string& sql) : db_(db) {
        rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr);
    }
    ~Stmt() { sqlite3_finalize(s_); }
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
    sqlite3_stmt* s_ = nullptr;
    int rc_ = SQLITE_OK;
};

}  // namespace lamina::logs
