#pragma once
// The SQS queue engine: queues per account and region, their messages,
// visibility, delays, FIFO groups and deduplication, redrive to dead-letter
// queues. Memory is the working state; every acknowledged send, delete, DLQ
// move and queue change is written to SQLite first (<data-dir>/sqs.sqlite),
// so a restart finds them again. In-flight state is memory only: after a
// restart every message is visible (at-least-once, as on AWS).
//
// Thread-safe: one mutex guards the state; `Watch` callbacks run without it.
// Time comes from the injected Clock; one timer thread wakes watchers when a
// delay or visibility timeout ends (poll_timers() does the same by hand).

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/store/durability.hpp"

namespace lamina::sqs {

struct MessageAttributeValue {
    std::string data_type;
    std::optional<std::string> string_value;
    std::optional<std::string> binary_value;  // raw bytes
};
using MessageAttributes = std::map<std::string, MessageAttributeValue>;

struct ReceivedMessage {
    std::string message_id, receipt_handle, body, md5_of_body;
    std::optional<std::string> md5_of_message_attributes;
    // system attributes: ApproximateReceiveCount, SentTimestamp, SenderId,
    // ApproximateFirstReceiveTimestamp; FIFO: SequenceNumber, MessageGroupId,
    // MessageDeduplicationId; AWSTraceHeader, DeadLetterQueueSourceArn when they apply
    std::map<std::string, std::string> attributes;
    MessageAttributes message_attributes;
};

struct QueueInfo {
    std::string name, arn, account, region;
    bool fifo = false;
    int visibility_timeout = 30;
    int delay_seconds = 0;
    int receive_wait_seconds = 0;
    int maximum_message_size = 1048576;
    int retention_period = 345600;
    bool content_based_dedup = false;
    std::optional<std::string> dead_letter_target_arn;  // RedrivePolicy
    int max_receive_count = 0;
};

struct SendInput {
    std::string body;
    MessageAttributes message_attributes;
    std::optional<int> delay_seconds;
    std::optional<std::string> group_id, dedup_id, trace_header;
    std::string sender_id;
};

struct SendResult {
    std::string message_id, md5_of_body;
    std::optional<std::string> md5_of_message_attributes, sequence_number;
    std::optional<std::string> md5_of_message_system_attributes;
};

// Queue attributes as SQS names them ("VisibilityTimeout" -> "30").
using Attributes = std::map<std::string, std::string>;
using Tags = std::map<std::string, std::string>;

// Error codes of SQS beyond lamina's common ones (carried in Error::reason
// as the name, with ErrorCode::InvalidParameterValue etc. where it fits).
// See sqs_error.hpp for the wire mapping.
struct Engine;

class Queues {
public:
    // Opens (creating) the SQLite file and loads queues and messages.
    // `durable`: synchronous=FULL (every commit fsynced), else NORMAL.
    static Result<std::unique_ptr<Queues>> open(const std::filesystem::path& file,
                                                store::Durability durability, Clock& clock,
                                                IdSource& ids);
    ~Queues();
    Queues(const Queues&) = delete;
    Queues& operator=(const Queues&) = delete;

    // --- the data plane other lamina code uses ---
    std::optional<QueueInfo> find_by_arn(std::string_view arn) const;
    // Non-blocking: up to `max` (1-10) messages visible now, with all system
    // and message attributes, made invisible for `visibility_timeout` seconds
    // (the queue's when nullopt). FIFO group rules and redrive apply.
    Result<std::vector<ReceivedMessage>> receive(std::string_view arn, int max,
                                                 std::optional<int> visibility_timeout);
    Status delete_message(std::string_view arn, std::string_view receipt_handle);
    Status change_visibility(std::string_view arn, std::string_view receipt_handle, int seconds);

    // `on_ready` is called (any thread, no engine lock held) whenever messages
    // may have become receivable in that queue. Destroying the Watch
    // unsubscribes: no call starts or runs after its destructor returns
    // (unless the destructor runs inside that very call).
    class Watch;
    [[nodiscard]] std::unique_ptr<Watch> watch(std::string_view arn,
                                               std::function<void()> on_ready);

    Result<SendResult> send(std::string_view arn, SendInput in);
    // One transaction; one result per input, in order (a refused entry does not stop the others).
    Result<std::vector<Result<SendResult>>> send_batch(std::string_view arn,
                                                       std::vector<SendInput> in);
    Result<std::vector<Status>> delete_batch(std::string_view arn,
                                             const std::vector<std::string>& receipt_handles);

    // --- queue management (the API's) ---
    std::optional<QueueInfo> find(const std::string& account, const std::string& region,
                                  const std::string& name) const;
    // Creates the queue, or returns the existing one when every given attribute matches.
    Result<QueueInfo> create_queue(const std::string& account, const std::string& region,
                                   const std::string& name, const Attributes& attributes,
                                   const Tags& tags);
    Status delete_queue(std::string_view arn);
    // Deletes every queue of every account.
    Status clear();
    // Names in order; `prefix` filters.
    std::vector<QueueInfo> list_queues(const std::string& account, const std::string& region,
                                       const std::string& prefix) const;
    // `names` may hold "All"; unknown names are refused (InvalidAttributeName).
    Result<Attributes> get_attributes(std::string_view arn, const std::vector<std::string>& names);
    Status set_attributes(std::string_view arn, const Attributes& attributes);
    Status purge(std::string_view arn);
    Result<Tags> tags(std::string_view arn) const;
    Status tag(std::string_view arn, const Tags& tags);
    Status untag(std::string_view arn, const std::vector<std::string>& keys);
    // Queues whose RedrivePolicy names `arn`, by name.
    Result<std::vector<QueueInfo>> dead_letter_sources(std::string_view arn) const;

    // Makes due timers take effect and calls the watchers of queues that
    // gained visible messages (the timer thread calls it; tests may too).
    void poll_timers();

private:
    explicit Queues(std::unique_ptr<Engine> engine);
    void timer_loop();
    void notify(const std::vector<std::string>& arns);
    void wake_timer();

    std::unique_ptr<Engine> engine_;
    std::mutex timer_mutex_;
    std::condition_variable timer_cv_;
    bool stopping_ = false;
    std::uint64_t timer_generation_ = 0;
    std::thread timer_;
};

class Queues::Watch {
public:
    struct State;
    explicit Watch(Queues& owner, std::shared_ptr<State> state);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

private:
    Queues& owner_;
    std::shared_ptr<State> state_;
};

// "arn:aws:sqs:<region>:<account>:<name>"
std::string queue_arn(const std::string& region, const std::string& account,
                      const std::string& name);

// One message's size as SQS counts it: body and attributes (names, types, values).
std::size_t message_size(const SendInput& in);

// hex MD5 of the body's bytes (MD5OfMessageBody).
std::string md5_of_body(std::string_view body);
// SQS's MD5OfMessageAttributes: names sorted; per attribute u32BE-length-prefixed
// name and DataType, transport byte (1 string/number, 2 binary), prefixed value.
std::string md5_of_attributes(const MessageAttributes& attributes);

// The legacy (query) error code SQS reports for an engine error, e.g.
// "AWS.SimpleQueueService.NonExistentQueue" (see sqs_error.hpp).
std::string query_error_code(const Error& e);

}  // namespace lamina::sqs
