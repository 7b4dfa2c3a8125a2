#pragma once
// The asynchronous invocation queue: Event invocations are stored before
// they are acknowledged (202), survive a restart, and run as capacity allows.
// As on AWS: a throttled event waits and is tried again with backoff until it
// is older than MaximumEventAgeInSeconds; a function error is retried
// MaximumRetryAttempts times (default 2), about one and two minutes apart;
// then the invocation record goes to the OnSuccess / OnFailure destination
// (a Lambda function, invoked asynchronously, or an SQS queue), a failed
// event also to the function's dead-letter queue (SQS) with AWS's
// RequestID / ErrorCode / ErrorMessage attributes, or the event is logged as
// dropped. Nothing is lost silently.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/names.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::exec {

// One queued Event invocation, as stored.
struct QueuedEvent {
    std::string id;  // the request id the caller got
    control::Scope scope;
    std::string function;
    std::string qualifier;  // as invoked ("" unqualified)
    std::string payload;
    std::string trace_header;  // the caller's X-Amzn-Trace-Id ("" none): Lineage counts loops
    std::string tenant_id;     // the caller's X-Amz-Tenant-Id ("" none): tenant isolation
    std::int64_t received_ms = 0;
    std::int64_t next_ms = 0;  // when to try it
    int attempts = 0;          // times the function ran
    int throttles = 0;         // times it was throttled in a row

    nlohmann::json to_doc() const;
    static QueuedEvent from_doc(const nlohmann::json& doc);
};

// What the dashboard shows of a queued event (its payload's size, not the payload).
struct QueuedEventView {
    std::string id, function, qualifier;
    std::int64_t received_ms = 0;
    std::int64_t next_ms = 0;  // when it is tried next
    int attempts = 0;          // times the function ran (retries = attempts after the first)
    int throttles = 0;         // throttled in a row
    std::size_t payload_bytes = 0;
};

struct EventQueueSettings {
    std::chrono::milliseconds retry_delay{
        std::chrono::minutes(1)};  // first function-error retry; the second waits twice as long
};

// What the queue needs from the control plane, given by the api layer.
struct EventQueueHooks {
    // The invocation to run now (the qualifier resolved afresh, with the
    // function's current concurrency settings); an error drops the event
    // (e.g. the function was deleted).
    std::function<Result<InvokeRequest>(const QueuedEvent&)> resolve;
    // The EventInvokeConfig that applies to the invoked qualifier, if any.
    std::function<std::optional<control::EventInvokeConfig>(const QueuedEvent&)> config;
    // Whether the function stops recursive loops (RecursiveLoop Terminate, the default).
    std::function<bool(const QueuedEvent&)> stops_loops;
    // The function's DeadLetterConfig target (an SQS queue ARN), if any.
    std::function<std::optional<std::string>(const QueuedEvent&)> dead_letter_target;
    // Sends a message to an SQS queue (destinations and dead-letter queues):
    // the body and String/Number message attributes (name -> {DataType, value}).
    std::function<Status(
        const std::string& queue_arn, const std::string& body,
        const std::map<std::string, std::pair<std::string, std::string>>& attributes)>
        send_to_queue;
};

class EventQueue {
public:
    EventQueue(boost::asio::io_context& ioc, store::DocumentStore& docs, Invoker& invoker,
               Clock& clock, IdSource& ids, EventQueueSettings settings = {});
    ~EventQueue();
    void set_hooks(EventQueueHooks hooks);
    // Where AsyncEventsReceived, AsyncEventAge, AsyncEventsDropped and
    // DestinationDeliveryFailures are recorded (may be null).
    void set_metrics(metrics::MetricsStore* store) { metrics_ = store; }

    // Stores the event, then schedules it; an error means it was not queued.
    Status enqueue(QueuedEvent e);
    // Schedules every stored event (at start-up).
    Status load();
    std::size_t pending() const;
    // The events of one scope waiting or running, oldest first.
    std::vector<QueuedEventView> queued(const control::Scope& scope) const;
    void stop();
    // Drops every queued event, stored and scheduled; an attempt in flight
    // finishes without retry or destination.
    Status clear();

private:
    struct Entry;
    void schedule(const std::shared_ptr<Entry>& entry);
    void attempt(const std::shared_ptr<Entry>& entry);
    void finish(const std::shared_ptr<Entry>& entry, const std::string& condition,
                const std::optional<InvokeResult>& result, const std::string& executed_version);
    void save(const QueuedEvent& e);
    void forget(const QueuedEvent& e);

    boost::asio::io_context& ioc_;
    store::DocumentStore& docs_;
    Invoker& invoker_;
    Clock& clock_;
    IdSource& ids_;
    EventQueueSettings settings_;
    EventQueueHooks hooks_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<Entry>> entries_;
    bool stopped_ = false;
    std::atomic<int> in_flight_{0};  // invocations whose completion has not run yet
    metrics::MetricsStore* metrics_ = nullptr;
};

}  // namespace lamina::exec
