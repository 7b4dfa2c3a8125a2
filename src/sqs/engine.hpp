#pragma once
// Private to sqs: the engine's state (queues, messages, timers) and its
// SQLite file. Everything here is guarded by Engine::mu.

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lamina/sqs/queues.hpp"
#include "lamina/sqs/sqs_error.hpp"

namespace lamina::sqs {

struct Message {
    std::int64_t seq = 0;  // the SQLite rowid: send order across the engine
    std::string id, body, md5_body;
    std::optional<std::string> md5_attrs, md5_system;
    MessageAttributes attrs;
    std::int64_t sent_ms = 0;
    std::string sender_id;
    std::optional<std::string> trace, group, dedup, sequence_number, dlq_source;
    std::int64_t visible_at = 0;  // ms; later than now: delayed or in flight
    bool in_flight = false;
    int receive_count = 0;
    std::int64_t first_receive_ms = 0;
    std::string nonce;  // the current receipt handle's
};

struct DedupEntry {
    std::int64_t expires_ms = 0;
    SendResult result;
};

struct Queue {
    QueueInfo info;
    Attributes attributes;  // every settable attribute with its current value
    Tags tags;
    std::int64_t created_s = 0, modified_s = 0;
    std::string uid;  // in receipt handles
    std::map<std::int64_t, Message> messages;
    std::set<std::int64_t> ready;                            // visible now, in send order
    std::set<std::pair<std::int64_t, std::int64_t>> timers;  // (visible_at, seq), not yet visible
    std::unordered_map<std::string, int> groups_in_flight;   // FIFO
    std::unordered_map<std::string, DedupEntry> dedup;       // FIFO, 5 minutes
    std::int64_t last_purge_ms = -1;
    int in_flight = 0;
};

// SQLite: queues(arn, doc) and messages(seq, queue, body, meta); statements prepared once.
class Db {
public:
    static Result<std::unique_ptr<Db>> open(const std::filesystem::path& file,
                                            store::Durability durability);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    Status begin();
    Status commit();
    void rollback();
    Status put_queue(const Queue& q);
    Status delete_queue(const std::string& arn);
    // Sets m.seq.
    Status insert_message(const std::string& arn, Message& m);
    Status delete_message(std::int64_t seq);
    Status move_message(std::int64_t seq, const std::string& arn, const Message& m);
    Status purge(const std::string& arn);
    // Everything stored, queues first.
    Status load(const std::function<void(const std::string& arn, const std::string& doc)>& queue,
                const std::function<void(const std::string& arn, Message m)>& message);

private:
    explicit Db(sqlite3* db) : db_(db) {}
    Status exec(const char* sql);
    Status step(sqlite3_stmt* s, const char* what);
    sqlite3* db_;
    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* delete_ = nullptr;
    sqlite3_stmt* move_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
};

struct Engine {
    Clock& clock;
    IdSource& ids;
    std::unique_ptr<Db> db;
    mutable std::mutex mu;
    std::map<std::string, std::unique_ptr<Queue>> queues;  // by ARN
    std::map<std::string, std::vector<std::shared_ptr<Queues::Watch::State>>> watchers;
    std::int64_t sequence = 0;  // FIFO SequenceNumber counter

    Queue* get(std::string_view arn) const;
    // Due timers take effect; true when any message became visible.
    bool advance(Queue& q, std::int64_t now);
    // Earliest pending timer over all queues (INT64_MAX: none).
    std::int64_t next_due() const;
    void erase(Queue& q, std::map<std::int64_t, Message>::iterator it);
    void schedule(Queue& q, Message& m, std::int64_t visible_at);
};

struct Queues::Watch::State {
    std::recursive_mutex mu;
    bool alive = true;
    std::string arn;
    std::function<void()> fn;
};

// queue_attributes.cpp
// Validates a queue name and its attributes for CreateQueue; fills the defaults.
Result<Attributes> creation_attributes(const std::string& name, const Attributes& given);
// Validates SetQueueAttributes against the queue (FIFO-only names, ranges).
Status check_settable(const Queue& q, const Attributes& given);
// Applies `given` (validated) to q.attributes and refreshes q.info.
void apply_attributes(Queue& q, const Attributes& given);
// Parses RedrivePolicy into info (dead_letter_target_arn, max_receive_count).
void refresh_info(Queue& q);
// The stored document of a queue, and back.
std::string queue_doc(const Queue& q);
Result<std::unique_ptr<Queue>> queue_from_doc(const std::string& arn, const std::string& doc);
// Send checks of one message against its queue.
Status check_message(const Queue& q, const SendInput& in);

}  // namespace lamina::sqs
