#pragma once
// What runtime_api.cpp, runtime_api_extensions.cpp and runtime_api_restore.cpp
// share: one environment's Runtime API state (RuntimeApi::State), its routes,
// and the helpers that shape answers. Internal to src/runtime.

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"
#include "lamina/runtime/runtime_api.hpp"

namespace lamina::runtime {

namespace runtime_api_detail {

enum Route {
    Next = 1,
    Response,
    Error,
    InitError,
    ExtRegister,
    ExtNext,
    ExtInitError,
    ExtExitError,
    TelemetrySubscribe,
    LogsSubscribe,
    ExtExited,
    SpareHold,
    RestoreNext,
    RestoreError,
};

// Messages quote ids, names and error types from the runtime's requests:
// bytes that are not UTF-8 are replaced, not thrown on, so that every
// request still gets its answer.
std::string to_json_text(const nlohmann::json& j);
// the wall clock lamina's records carry (common/clock's SystemClock)
std::int64_t now_ms();
http::Response api_error(unsigned status, const std::string& type, const std::string& message);
bool is_streaming_mode(const http::Headers& headers);
// A streamed response's error trailers as the invocation's error payload:
// Lambda-Runtime-Function-Error-Body is the base64 of the JSON error object.
std::string trailer_error_body(const http::Headers& headers, const std::string& type);
http::Response accepted();
http::Response next_response(const Invocation& inv);
// A runtime's /init/error or /restore/error as the init's outcome (takes the body)
Outcome init_error_of(http::Request& req);

// One registered extension: its subscriptions and its side of the event
// long poll.
struct Extension {
    std::string name;
    bool external = false;       // started from /opt/extensions
    bool invoke_events = false;  // subscribed to INVOKE
    bool shutdown_events = false;
    bool asked_next = false;                 // has called /event/next at least once
    bool busy = false;                       // holds an event it has not acknowledged with /next
    bool gone = false;                       // exited
    std::vector<std::string> events;         // what it registered for
    std::optional<TelemetryApi> subscribed;  // the Logs or the Telemetry API, once it subscribed
    std::vector<std::string> pending;        // events not yet handed out
    std::optional<http::Responder> waiting;
};

}  // namespace runtime_api_detail

struct RuntimeApi::State {
    State(boost::asio::io_context& ioc, IdSource& id_source) : ids(id_source), telemetry(ioc) {}
    std::mutex mu;
    IdSource& ids;               // extension identifiers and event ids
    bool runtime_asked = false;  // the runtime has called /next once
    bool ready = false;          // init is over
    bool init_failed = false;
    bool stopped = false;
    bool broken = false;                   // an extension failed after init
    std::optional<Invocation> queued;      // waiting for init / the runtime's /next
    std::optional<std::string> in_flight;  // request id handed out
    bool runtime_answered = true;          // the invocation in hand has its outcome
    std::function<void(Outcome)> done;     // completion of queued / in flight
    // the invocation in flight takes a streamed response as it comes (Invocation::on_stream)
    std::function<void(std::shared_ptr<http::BodySource>, std::string)> on_stream;
    std::shared_ptr<http::BodyPipe> stream;  // its streamed response, once the runtime started it
    // The runtime has begun posting the answer (response or error) of the
    // invocation in flight: its head arrived, its body may still be coming.
    bool answering = false;
    std::chrono::steady_clock::time_point delivered_at{};  // the event went to /next's answer
    std::function<void()> settled;                         // the environment is free again
    std::optional<http::Responder> waiting_next;           // the runtime's parked long poll
    std::function<void(Outcome)> init_error_fn;
    std::function<void()> ready_fn;
    std::set<std::string> expected;  // external extensions yet to register
    ExtensionIdentity identity;
    std::map<std::string, runtime_api_detail::Extension> extensions;  // by identifier
    std::function<void()> shutdown_ack;  // SHUTDOWN sent, waiting for acknowledgements
    bool shutdown_sent = false;          // extensions get one SHUTDOWN, however often asked
    // A spare environment (hold()): lamina's bootstrap waits on
    // GET /_lamina/spare/hold before it imports any function code, until release().
    enum class Hold { None, Held, Released } hold = Hold::None;
    std::optional<http::Responder> waiting_hold;
    http::Router router;
    std::unique_ptr<http::Server> server;
    TelemetryHub telemetry;
    // SnapStart: this environment is a snapshot (its runtime forks restored ones)
    struct RestoreOrder {
        std::string address, output;  // empty address: reap exited children
        std::vector<std::string> extensions;
        std::function<void(int)> done;
        bool checkpoint = false;  // Lamina-Restore-Checkpoint: it is checkpointed (criu)
    };
    bool snapshot = false;
    bool snapshot_taken = false;
    std::function<void(int)> snapshot_fn;            // with the runtime's own pid
    std::optional<http::Responder> restore_waiting;  // the snapshot's parked restore/next
    std::vector<RestoreOrder> restore_orders;        // not yet handed to it
    std::optional<RestoreOrder> restore_in_hand;     // handed, its answer not yet back
    // a restored environment: its restore/next waits until lamina holds its process
    bool restore_held = false;
    std::optional<http::Responder> restore_parked;

    using Deferred = std::vector<std::function<void()>>;

    bool extensions_ready() const {
        if (!expected.empty()) return false;
        return std::all_of(extensions.begin(), extensions.end(),
                           [](const auto& e) { return e.second.gone || e.second.asked_next; });
    }

    bool extensions_idle() const {
        return std::all_of(extensions.begin(), extensions.end(),
                           [](const auto& e) { return e.second.gone || !e.second.busy; });
    }
    using Extension = runtime_api_detail::Extension;

    // Hands an event to an extension: answers its parked /next, or keeps it.
    void deliver(Extension& ext, std::string event, Deferred& later);
    // Moves the environment forward after any change: init over, an
    // invocation handed out, the environment settled, SHUTDOWN acknowledged.
    // Work that calls out (responders, callbacks) is deferred until `mu` is released.
    void advance(Deferred& later);
    void fail_init(Outcome o, Deferred& later);
    void handle(http::Request req, http::Responder respond);
    // Handles one request under `mu`; sets `park` when the responder was kept.
    http::Response route(int op, const std::map<std::string, std::string>& params,
                         http::Request& req, http::Responder& respond, Deferred& later, bool& park);
    // The outcome of a response streamed to on_stream, once its body ended
    // (or broke off): the pipe is ended, with the error trailers if any.
    Outcome streamed_outcome(const http::Request& req, http::Response& reply);
    // What to do with a request's body, from its head: a response in
    // streaming mode for the invocation in flight goes to its on_stream as it
    // arrives; everything else is read whole.
    http::BodyPolicy body_policy(const http::RequestHead& head);

    // SnapStart (runtime_api_restore.cpp)
    http::Response restore_next(const http::Request& req, http::Responder& respond, Deferred& later,
                                bool& park);
    static http::Response restored_answer();
    http::Response hand_restore_order();  // under mu
    void order_restore(RestoreOrder order);

    // Extensions and their Logs / Telemetry subscriptions (runtime_api_extensions.cpp)
    http::Response subscribe(TelemetryApi api, const http::Request& req);
    Extension* find_extension(const http::Request& req);
    static http::Response extension_id_error(const http::Request& req);
    http::Response register_extension(const http::Request& req);
    void extension_exited(const std::string& name, const std::string& status, Deferred& later);
};

}  // namespace lamina::runtime
