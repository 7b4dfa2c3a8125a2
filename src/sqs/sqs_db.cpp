// The engine's SQLite file: queues as JSON documents, messages as rows
// (body as a blob, the rest as a small JSON document).
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::sqs {

namespace {

Error db_error(sqlite3* db, const std::string& what) {
    return Error{ErrorCode::Service, "sqs store: " + what + ": " + sqlite3_errmsg(db)};
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column(sqlite3_stmt* s, int col) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
             : std::string();
}

void put_opt(nlohmann::json& j, const char* key, const std::optional<std::string>& v) {
    if (v) j[key] = *v;
}

std::optional<std::string> get_opt(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) return std::nullopt;
    return it->get<std::string>();
}

std::string meta_doc(const Message& m) {
    nlohmann::json j = {{"id", m.id},
                        {"sent", m.sent_ms},
                        {"sender", m.sender_id},
                        {"visible", m.visible_at},
                        {"md5", m.md5_body}};
    put_opt(j, "md5a", m.md5_attrs);
    put_opt(j, "md5s", m.md5_system);
    put_opt(j, "trace", m.trace);
    put_opt(j, "group", m.group);
    put_opt(j, "dedup", m.dedup);
    put_opt(j, "seqnum", m.sequence_number);
    put_opt(j, "dlq", m.dlq_source);
    if (m.receive_count) j["count"] = m.receive_count;
    if (m.first_receive_ms) j["first"] = m.first_receive_ms;
    if (!m.attrs.empty()) {
        auto& a = j["attrs"];
        for (const auto& [name, v] : m.attrs) {
            nlohmann::json e = {{"t", v.data_type}};
            if (v.string_value) e["s"] = *v.string_value;
            if (v.binary_value) e["b"] = base64_encode(*v.binary_value);
            a[name] = std::move(e);
        }
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Message message_from(const std::string& meta, std::string body) {
    auto j = nlohmann::json::parse(meta);
    Message m;
    m.body = std::move(body);
    m.id = j.at("id").get<std::string>();
    m.sent_ms = j.at("sent").get<std::int64_t>();
    m.sender_id = j.at("sender").get<std::string>();
    m.visible_at = j.at("visible").get<std::int64_t>();
    m.md5_body = j.at("md5").get<std::string>();
    m.md5_attrs = get_opt(j, "md5a");
    m.md5_system = get_opt(j, "md5s");
    m.trace = get_opt(j, "trace");
    m.group = get_opt(j, "group");
    m.dedup = get_opt(j, "dedup");
    m.sequence_number = get_opt(j, "seqnum");
    m.dlq_source = get_opt(j, "dlq");
    m.receive_count = j.value("count", 0);
    m.first_receive_ms = j.value("first", std::int64_t{0});
    if (auto a = j.find("attrs"); a != j.end())
        for (const auto& [name, e] : a->items()) {
            MessageAttributeValue v;
            v.data_type = e.at("t").get<std::string>();
            v.string_value = get_opt(e, "s");
            if (auto b = get_opt(e, "b")) v.binary_value = base64_decode(*b).value_or("");
            m.attrs.emplace(name, std::move(v));
        }
    return m;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& file,
                                     store::Durability durability) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(file.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<Db> db(new Db(raw));
    if (rc != SQLITE_OK)
        return fail(ErrorCode::Service, "cannot open " + file.string() + ": " +
                                            (raw ? sqlite3_errmsg(raw) : "no memory"));
    sqlite3_busy_timeout(raw, 5000);
    LAMINA_CHECK(db->exec(store::create_synchronous_pragma(durability)));
    LAMINA_CHECK(db->exec("PRAGMA journal_mode=WAL"));
    LAMINA_CHECK(
        db->exec("CREATE TABLE IF NOT EXISTS queues (arn TEXT PRIMARY KEY, doc TEXT NOT NULL)"));
    LAMINA_CHECK(
        db->exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                 " queue TEXT NOT NULL, body BLOB NOT NULL, meta TEXT NOT NULL)"));
    LAMINA_CHECK(db->exec("CREATE INDEX IF NOT EXISTS messages_queue ON messages(queue)"));
    LAMINA_CHECK(db->exec(store::synchronous_pragma(durability)));
    auto prepare = [&](const char* sql, sqlite3_stmt** s) -> Status {
        if (sqlite3_prepare_v2(raw, sql, -1, s, nullptr) != SQLITE_OK)
            return std::unexpected(db_error(raw, sql));
        return {};
    };
    LAMINA_CHECK(prepare("INSERT INTO messages(queue, body, meta) VALUES(?,?,?)", &db->insert_));
    LAMINA_CHECK(prepare("DELETE FROM messages WHERE seq=?", &db->delete_));
    LAMINA_CHECK(prepare("UPDATE messages SET queue=?, meta=? WHERE seq=?", &db->move_));
    LAMINA_CHECK(prepare("BEGIN IMMEDIATE", &db->begin_));
    LAMINA_CHECK(prepare("COMMIT", &db->commit_));
    return db;
}

Db::~Db() {
    for (auto* s : {insert_, delete_, move_, begin_, commit_}) sqlite3_finalize(s);
    sqlite3_close(db_);
}

Status Db::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return fail(ErrorCode::Service, std::string("sqs store: ") + msg + " in " + sql);
    }
    return {};
}

Status Db::step(sqlite3_stmt* s, const char* what) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, what));
    return {};
}

Status Db::begin() { return step(begin_, "begin"); }
Status Db::commit() { return step(commit_, "commit"); }
void Db::rollback() { (void)exec("ROLLBACK"); }

Status Db::put_queue(const Queue& q) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO queues(arn, doc) VALUES(?,?)", -1, &s,
                           nullptr) != SQLITE_OK)
        return std::unexpected(db_error(db_, "put queue"));
    bind_text(s, 1, q.info.arn);
    bind_text(s, 2, queue_doc(q));
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "put queue"));
    return {};
}

Status Db::delete_queue(const std::string& arn) {
    LAMINA_CHECK(purge(arn));
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM queues WHERE arn=?", -1, &s, nullptr) != SQLITE_OK)
        return std::unexpected(db_error(db_, "delete queue"));
    bind_text(s, 1, arn);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "delete queue"));
    return {};
}

Status Db::purge(const std::string& arn) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM messages WHERE queue=?", -1, &s, nullptr) != SQLITE_OK)
        return std::unexpected(db_error(db_, "purge"));
    bind_text(s, 1, arn);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "purge"));
    return {};
}

Status Db::insert_message(const std::string& arn, Message& m) {
    bind_text(insert_, 1, arn);
    sqlite3_bind_blob(insert_, 2, m.body.data(), static_cast<int>(m.body.size()), SQLITE_STATIC);
    bind_text(insert_, 3, meta_doc(m));
    LAMINA_CHECK(step(insert_, "insert message"));
    m.seq = sqlite3_last_insert_rowid(db_);
    return {};
}

Status Db::delete_message(std::int64_t seq) {
    sqlite3_bind_int64(delete_, 1, seq);
    return step(delete_, "delete message");
}

Status Db::move_message(std::int64_t seq, const std::string& arn, const Message& m) {
    bind_text(move_, 1, arn);
    bind_text(move_, 2, meta_doc(m));
    sqlite3_bind_int64(move_, 3, seq);
    return step(move_, "move message");
}

Status Db::load(const std::function<void(const std::string&, const std::string&)>& queue,
                const std::function<void(const std::string&, Message)>& message) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT arn, doc FROM queues", -1, &s, nullptr) != SQLITE_OK)
        return std::unexpected(db_error(db_, "load queues"));
    while (sqlite3_step(s) == SQLITE_ROW) queue(column(s, 0), column(s, 1));
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(db_, "SELECT seq, queue, body, meta FROM messages ORDER BY seq", -1, &s,
                           nullptr) != SQLITE_OK)
        return std::unexpected(db_error(db_, "load messages"));
    while (sqlite3_step(s) == SQLITE_ROW) {
        try {
            Message m = message_from(column(s, 3), column(s, 2));
            m.seq = sqlite3_column_int64(s, 0);
            message(column(s, 1), std::move(m));
        } catch (const std::exception&) {
            // a row this version cannot read is skipped
        }
    }
    sqlite3_finalize(s);
    return {};
}

}  // namespace lamina::sqs
