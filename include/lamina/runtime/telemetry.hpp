#pragma once
// The Telemetry API (2022-07-01) and the Logs API (2020-08-15) that
// extensions subscribe to: what a subscription says (parsed and validated as
// AWS does), the records lamina publishes (`{"time","type","record"}`, AWS's
// schemas, built once here and shared with LoggingConfig's JSON log lines),
// and the per-subscription buffer that batches them into HTTP POSTs.
// TelemetryHub delivers from its own strand: publishing never blocks.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::runtime {

enum class TelemetryApi { Logs, Telemetry };
// A subscription's "types"; a record belongs to one of them.
enum class RecordKind { Platform = 1, Function = 2, Extension = 4 };

struct Buffering {
    std::size_t max_items = 10000;
    std::size_t max_bytes = 262144;
    int timeout_ms = 1000;
};

struct Subscription {
    TelemetryApi api = TelemetryApi::Telemetry;
    std::string schema_version;
    std::uint16_t port = 0;    // of sandbox.localdomain
    std::string target = "/";  // the URI's path and query
    unsigned kinds = 0;        // RecordKind bits
    std::vector<std::string> types;
    Buffering buffering;
};

// A refused subscription: the status, errorType and errorMessage to answer.
struct SubscribeError {
    unsigned status = 400;
    std::string type;
    std::string message;
};

// Parses and validates a PUT /2022-07-01/telemetry or /2020-08-15/logs body.
std::expected<Subscription, SubscribeError> parse_subscription(TelemetryApi api,
                                                               std::string_view body);

// The records (Telemetry API shapes). Each returns a whole event.
namespace records {
using Json = nlohmann::ordered_json;

Json event(std::int64_t epoch_ms, std::string_view type, Json record);
Json init_start(std::int64_t ms, const std::string& init_type);
Json init_runtime_done(std::int64_t ms, const std::string& init_type, const std::string& status,
                       const std::string& error_type);
Json init_report(std::int64_t ms, const std::string& init_type, const std::string& status,
                 const std::string& error_type, double duration_ms);
Json start(std::int64_t ms, const std::string& request_id, const std::string& version,
           const std::string& trace_id);

// SnapStart: a restored environment's restore phase takes the place of its
// init (platform.restoreStart, platform.restoreRuntimeDone,
// platform.restoreReport, AWS's Telemetry API schema reference).
struct RestoreStart {
    std::string function_name;
    std::string function_version;
    std::string instance_id;
    int instance_max_memory = 0;  // MB
    std::string runtime_version;  // as RESTORE_START names it: python:3.12
    std::string runtime_version_arn;
};
Json restore_start(std::int64_t ms, const RestoreStart& r);
Json restore_runtime_done(std::int64_t ms, const std::string& status,
                          const std::string& error_type);
Json restore_report(std::int64_t ms, const std::string& status, const std::string& error_type,
                    double duration_ms);

struct Invoke {
    std::string request_id;
    std::string status = "success";  // success | failure | error | timeout
    std::string error_type;
    std::string trace_id;
    double duration_ms = 0;
    long billed_ms = 0;
    int memory_mb = 0;
    long max_memory_mb = 0;
    std::optional<double> init_ms;
    std::optional<double> restore_ms;  // SnapStart: a restored environment's first report
    std::size_t produced_bytes = 0;
};
Json runtime_done(std::int64_t ms, const Invoke& inv);
Json report(std::int64_t ms, const Invoke& inv);
Json extension(std::int64_t ms, const std::string& name, const std::vector<std::string>& events);
Json telemetry_subscription(std::int64_t ms, const std::string& name,
                            const std::vector<std::string>& types);
Json logs_dropped(std::int64_t ms, std::size_t records, std::size_t bytes);
// A line the function or an extension printed (without its newline): the
// parsed object when `json` and the line is a JSON object, else the string.
Json line(std::int64_t ms, RecordKind kind, std::string_view text, bool json);

// The same event as the Logs API carries it (its older record set): none,
// one or two events (platform.runtimeDone is followed by platform.end).
std::vector<Json> to_logs_api(const Json& event);
}  // namespace records

// One subscription's buffer: records in order, handed out as JSON-array
// batches of at most maxItems records and maxBytes bytes. Pure.
class TelemetryBuffer {
public:
    explicit TelemetryBuffer(Buffering b) : b_(b) {}
    // Queues one serialised event; false (and counted as dropped) when the
    // buffer already holds far more than a batch (the subscriber fell behind).
    bool push(std::string event);
    // Whether a batch is due without waiting for timeoutMs.
    bool full() const { return items_.size() >= b_.max_items || bytes_ >= b_.max_bytes; }
    bool empty() const { return items_.empty(); }
    std::size_t size() const { return items_.size(); }
    // The next batch as a JSON array ("" when empty); records dropped since
    // the last batch lead it as a platform.logsDropped event.
    std::string take_batch(std::int64_t now_ms, std::size_t* count = nullptr);
    // A batch that could not be delivered: counted as dropped.
    void dropped(std::size_t records, std::size_t bytes);

private:
    Buffering b_;
    std::deque<std::string> items_;
    std::size_t bytes_ = 0;
    std::size_t dropped_records_ = 0, dropped_bytes_ = 0;
};

// The subscriptions of one execution environment and their delivery.
class TelemetryHub {
public:
    explicit TelemetryHub(boost::asio::io_context& ioc);
    ~TelemetryHub();
    TelemetryHub(const TelemetryHub&) = delete;
    TelemetryHub& operator=(const TelemetryHub&) = delete;

    // The IP address sandbox.localdomain stands for in the environment.
    void set_host(std::string ip);
    // Adds (or replaces) an extension's subscription. During init it first
    // gets the records of its types published since init began.
    void subscribe(const std::string& extension_id, const std::string& name, Subscription s);
    // Init is over: records published before it are no longer kept for
    // later subscribers.
    void end_init();
    // Whether any subscription takes records of `kind` (cheap; any thread).
    bool wants(RecordKind kind) const;
    bool any() const;
    void publish(RecordKind kind, records::Json event);
    // Sends everything buffered; `done` runs once all of it was answered or
    // given up, or after `limit`, whichever first.
    void flush(std::function<void()> done, std::chrono::milliseconds limit);
    void stop();

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace lamina::runtime
