#pragma once
// Durable metadata: an SQLite (WAL) table of JSON documents keyed by
// (kind, key). A batch of puts and deletes commits as one transaction, so a
// reader after a crash sees all of a mutation or none of it.

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/store/durability.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lamina::store {

struct Mutation {
    enum class Op { Put, Delete, DeletePrefix };
    Op op;
    std::string kind;
    std::string key;  // for DeletePrefix: every key starting with it
    std::string doc;  // for Put

    static Mutation put(std::string kind, std::string key, std::string doc) {
        return {Op::Put, std::move(kind), std::move(key), std::move(doc)};
    }
    static Mutation erase(std::string kind, std::string key) {
        return {Op::Delete, std::move(kind), std::move(key), {}};
    }
    static Mutation erase_prefix(std::string kind, std::string prefix) {
        return {Op::DeletePrefix, std::move(kind), std::move(prefix), {}};
    }
};

class DocumentStore {
public:
    // Opens (creating if needed) the database file, with the commits'
    // durability (durability.hpp).
    static Result<std::unique_ptr<DocumentStore>> open(const std::filesystem::path& file,
                                                       Durability durability);
    ~DocumentStore();
    DocumentStore(const DocumentStore&) = delete;
    DocumentStore& operator=(const DocumentStore&) = delete;

    // Applies the batch in one transaction. Thread-safe: the registries, the
    // layer registry, IAM and the event queue share one connection, and a
    // transaction must not interleave with another's statements.
    Status apply(const std::vector<Mutation>& batch);
    // Visits every document of a kind in key order (fn must not call back into the store).
    Status for_each(const std::string& kind,
                    const std::function<void(const std::string& key, const std::string& doc)>& fn);

private:
    explicit DocumentStore(sqlite3* db) : db_(db) {}
    Status exec(const char* sql);
    // The statements of a batch, prepared once (under mu_).
    struct Statements {
        sqlite3_stmt *begin = nullptr, *commit = nullptr, *rollback = nullptr;
        sqlite3_stmt *put = nullptr, *del = nullptr, *del_prefix = nullptr;
        Statements() = default;
        Statements(const Statements&) = delete;
        Statements& operator=(const Statements&) = delete;
        ~Statements();
    };
    Status prepare_statements();
    sqlite3* db_;
    std::unique_ptr<Statements> stmts_;
    std::mutex mu_;  // one transaction or scan at a time on the connection
};

}  // namespace lamina::store
