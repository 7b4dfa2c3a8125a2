#include "lamina/runtime/runtime_api.hpp"

#include <algorithm>
#include <any>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"
#include "runtime_api_state.hpp"

namespace lamina::runtime {

namespace runtime_api_detail {

std::string to_json_text(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::int64_t now_ms() { return SystemClock().now_ms(); }

http::Response api_error(unsigned status, const std::string& type, const std::string& message) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = to_json_text(nlohmann::json{{"errorMessage", message}, {"errorType", type}});
    return r;
}

bool is_streaming_mode(const http::Headers& headers) {
    const std::string mode = headers.get("Lambda-Runtime-Function-Response-Mode");
    return mode.size() == 9 &&
           std::equal(mode.begin(), mode.end(), "streaming", [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
           });
}

std::string trailer_error_body(const http::Headers& headers, const std::string& type) {
    const std::string encoded = headers.get("Lambda-Runtime-Function-Error-Body");
    if (auto decoded = base64_decode(encoded); decoded && !decoded->empty()) return *decoded;
    return to_json_text(nlohmann::json{{"errorMessage", encoded}, {"errorType", type}});
}

http::Response accepted() {
    http::Response r;
    r.status = 202;
    r.headers.set("Content-Type", "application/json");
    r.body = R"({"status":"OK"})";
    return r;
}

Outcome init_error_of(http::Request& req) {
    Outcome o;
    o.kind = Outcome::Kind::InitError;
    o.body = std::move(req.body);
    o.content_type = req.headers.get("Content-Type");
    o.error_type = req.headers.get("Lambda-Runtime-Function-Error-Type");
    return o;
}

http::Response next_response(const Invocation& inv) {
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("Lambda-Runtime-Aws-Request-Id", inv.request_id);
    r.headers.set("Lambda-Runtime-Deadline-Ms", std::to_string(inv.deadline_ms));
    r.headers.set("Lambda-Runtime-Invoked-Function-Arn", inv.invoked_function_arn);
    if (!inv.trace_id.empty()) r.headers.set("Lambda-Runtime-Trace-Id", inv.trace_id);
    if (inv.client_context) r.headers.set("Lambda-Runtime-Client-Context", *inv.client_context);
    if (inv.cognito_identity)
        r.headers.set("Lambda-Runtime-Cognito-Identity", *inv.cognito_identity);
    if (!inv.tenant_id.empty()) r.headers.set("Lambda-Runtime-Aws-Tenant-Id", inv.tenant_id);
    r.body = inv.payload;
    return r;
}
}  // namespace runtime_api_detail

using namespace runtime_api_detail;

void RuntimeApi::State::deliver(Extension& ext, std::string event, Deferred& later) {
    ext.busy = true;
    if (ext.waiting) {
        auto respond = std::move(*ext.waiting);
        ext.waiting.reset();
        http::Response r;
        r.headers.set("Content-Type", "application/json");
        r.headers.set("Lambda-Extension-Event-Identifier", ids.uuid());
        r.body = std::move(event);
        later.emplace_back(
            [respond = std::move(respond), r = std::move(r)]() mutable { respond(std::move(r)); });
    } else {
        ext.pending.push_back(std::move(event));
    }
}

void RuntimeApi::State::advance(Deferred& later) {
    if (stopped || init_failed) return;
    if (!ready && runtime_asked && extensions_ready()) {
        ready = true;
        telemetry.end_init();
        if (ready_fn) later.push_back(std::move(ready_fn));
        ready_fn = nullptr;
    }
    if (ready && queued && waiting_next && !in_flight) {
        Invocation inv = std::move(*queued);
        queued.reset();
        in_flight = inv.request_id;
        on_stream = std::move(inv.on_stream);
        stream.reset();
        answering = false;
        runtime_answered = false;
        delivered_at = std::chrono::steady_clock::now();
        auto respond = std::move(*waiting_next);
        waiting_next.reset();
        later.emplace_back([respond = std::move(respond), r = next_response(inv)]() mutable {
            respond(std::move(r));
        });
        std::string event =
            nlohmann::json{{"eventType", "INVOKE"},
                           {"deadlineMs", inv.deadline_ms},
                           {"requestId", inv.request_id},
                           {"invokedFunctionArn", inv.invoked_function_arn},
                           {"tracing", {{"type", "X-Amzn-Trace-Id"}, {"value", inv.trace_id}}}}
                .dump();
        for (auto& [id, ext] : extensions)
            if (ext.invoke_events && !ext.gone) deliver(ext, event, later);
    }
    if (!queued && runtime_answered && !in_flight && extensions_idle()) {
        if (settled) later.push_back(std::move(settled));
        settled = nullptr;
        if (shutdown_ack) later.push_back(std::move(shutdown_ack));
        shutdown_ack = nullptr;
    }
}

void RuntimeApi::State::fail_init(Outcome o, Deferred& later) {
    if (ready || init_failed) return;
    init_failed = true;
    if (init_error_fn)
        later.emplace_back(
            [fn = std::move(init_error_fn), o = std::move(o)]() mutable { fn(std::move(o)); });
    init_error_fn = nullptr;
}

void RuntimeApi::State::handle(http::Request req, http::Responder respond) {
    auto match = router.match(req.method, req.path, req.query);
    if (!match) {
        respond(api_error(404, "InvalidRequest",
                          "Unknown Runtime API route " + req.method + " " + req.path));
        return;
    }
    Deferred later;
    http::Response reply;
    bool park = false;
    {
        std::lock_guard lk(mu);
        reply = route(match->operation, match->params, req, respond, later, park);
        advance(later);
    }
    for (auto& fn : later) fn();
    if (!park) respond(std::move(reply));
}

http::Response RuntimeApi::State::route(int op, const std::map<std::string, std::string>& params,
                                        http::Request& req, http::Responder& respond,
                                        Deferred& later, bool& park) {
    switch (op) {
        case Next: {
            // A runtime may ask for the next event as soon as it has sent
            // its answer, before that answer's request has been read to its
            // end: AWS's Node.js RIC ends a streamed response (trailers and
            // all) and calls /next without waiting for the 202. That /next
            // waits; only a runtime that has not begun answering is refused.
            if (in_flight && !answering)
                return api_error(403, "InvalidStateTransition",
                                 "State transition from Invoking to Next is not allowed: post "
                                 "a response or an "
                                 "error for request " +
                                     *in_flight + " first");
            runtime_asked = true;
            if (waiting_next) {
                auto previous = std::move(*waiting_next);
                later.emplace_back([previous = std::move(previous)] {
                    previous(api_error(403, "InvalidStateTransition",
                                       "A newer /next call replaced this one"));
                });
            }
            waiting_next = std::move(respond);
            park = true;
            return {};
        }
        case Response:
        case Error: {
            const std::string& id = params.at("RequestId");
            if (!in_flight || *in_flight != id) {
                if (auto* pipe = std::any_cast<std::shared_ptr<http::BodyPipe>>(&req.tag))
                    (*pipe)->fail("the invocation was abandoned");
                return api_error(400, "InvalidRequestID", "Invalid request ID: " + id);
            }
            Outcome o;
            http::Response reply = accepted();
            if (req.streamed) {
                o = streamed_outcome(req, reply);
            } else if (op == Response && req.body.size() > kMaxResponseBytes) {
                // the invoke fails with AWS's Function.ResponseSizeTooLarge; the runtime hears 413
                o.kind = Outcome::Kind::FunctionError;
                o.error_type = "Function.ResponseSizeTooLarge";
                o.body =
                    R"({"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"})";
                reply = api_error(413, "RequestEntityTooLarge",
                                  "Response payload size exceeded maximum allowed payload size "
                                  "(6291556 bytes).");
            } else {
                o.kind = op == Response ? Outcome::Kind::Response : Outcome::Kind::FunctionError;
                o.body = std::move(req.body);
                o.content_type = req.headers.get("Content-Type");
                o.error_type = req.headers.get("Lambda-Runtime-Function-Error-Type");
                if (op == Response && is_streaming_mode(req.headers) && !o.error_type.empty()) {
                    // streamed, collected whole (Invoke), and failed midway: its trailers
                    o.kind = Outcome::Kind::FunctionError;
                    o.body = trailer_error_body(req.headers, o.error_type);
                }
            }
            o.delivered = delivered_at;
            o.answered = req.arrived;
            in_flight.reset();
            answering = false;
            runtime_answered = true;
            on_stream = nullptr;
            stream.reset();
            if (done)
                later.emplace_back(
                    [fn = std::move(done), o = std::move(o)]() mutable { fn(std::move(o)); });
            done = nullptr;
            // lamina's runtimes send their next /next with the answer: the 202
            // then goes with that /next's event, one write to the runtime per invoke
            reply.may_wait = reply.status == 202;
            return reply;
        }
        case InitError: {
            if (runtime_asked || ready)
                return api_error(403, "InvalidStateTransition",
                                 "State transition from Ready to InitError is not allowed");
            fail_init(init_error_of(req), later);
            return accepted();
        }
        case SpareHold:
            if (hold == Hold::None)  // not a spare: as any route lamina does not have
                return api_error(404, "InvalidRequest",
                                 "Unknown Runtime API route " + req.method + " " + req.path);
            if (hold == Hold::Released) return accepted();
            if (waiting_hold) return api_error(403, "InvalidStateTransition", "already held");
            waiting_hold = std::move(respond);
            park = true;
            return {};
        case ExtRegister:
            return register_extension(req);
        case ExtNext: {
            auto ext = find_extension(req);
            if (!ext) return extension_id_error(req);
            Extension& e = *ext;
            if (e.waiting)
                later.emplace_back([previous = std::move(*e.waiting)] {
                    previous(api_error(403, "InvalidStateTransition",
                                       "A newer /event/next call replaced this one"));
                });
            e.waiting.reset();
            if (!e.asked_next)
                telemetry.publish(RecordKind::Platform,
                                  records::extension(now_ms(), e.name, e.events));
            e.asked_next = true;
            e.busy = false;
            if (!e.pending.empty()) {
                std::string event = std::move(e.pending.front());
                e.pending.erase(e.pending.begin());
                e.busy = true;
                http::Response r;
                r.headers.set("Content-Type", "application/json");
                r.headers.set("Lambda-Extension-Event-Identifier", ids.uuid());
                r.body = std::move(event);
                return r;
            }
            e.waiting = std::move(respond);
            park = true;
            return {};
        }
        case ExtInitError:
        case ExtExitError: {
            auto ext = find_extension(req);
            if (!ext) return extension_id_error(req);
            std::string type = req.headers.get("Lambda-Extension-Function-Error-Type");
            if (op == ExtInitError) {
                if (ready)
                    return api_error(403, "InvalidStateTransition",
                                     "State transition from Ready to InitError is not allowed");
                Outcome o;
                o.kind = Outcome::Kind::InitError;
                PlatformError failure{ErrorType::ExtensionInitError,
                                      "Extension " + ext->name + " failed to initialize" +
                                          (type.empty() ? std::string() : ": " + type)};
                o.error_type = to_string(failure.type);
                o.platform_error = failure.type;
                o.body = failure.payload();
                fail_init(std::move(o), later);
            } else {
                broken = true;
            }
            return accepted();
        }
        case TelemetrySubscribe:
        case LogsSubscribe:
            return subscribe(op == LogsSubscribe ? TelemetryApi::Logs : TelemetryApi::Telemetry,
                             req);
        case RestoreNext:
            return restore_next(req, respond, later, park);
        case RestoreError: {
            // an after-restore hook failed: the restore (this environment's init) fails
            if (ready)
                return api_error(403, "InvalidStateTransition",
                                 "State transition from Ready to RestoreError is not allowed");
            fail_init(init_error_of(req), later);
            return accepted();
        }
        case ExtExited: {
            // lamina's extension launcher reports an external extension's exit
            std::string name = req.query_param("name").value_or("");
            std::string status = req.query_param("status").value_or("");
            extension_exited(name, status, later);
            http::Response r;
            r.status = 204;
            return r;
        }
    }
    return api_error(404, "InvalidRequest", "Unknown Runtime API route");
}

Outcome RuntimeApi::State::streamed_outcome(const http::Request& req, http::Response& reply) {
    Outcome o;
    o.streamed = true;
    o.content_type = req.headers.get("Content-Type");
    auto* pipe = std::any_cast<std::shared_ptr<http::BodyPipe>>(&req.tag);
    if (req.stream_error == "too_large") {
        o.kind = Outcome::Kind::FunctionError;
        o.error_type = "Function.ResponseSizeTooLarge";
        o.body = to_json_text(nlohmann::json{
            {"errorMessage", "Response payload size exceeded maximum allowed payload size (" +
                                 std::to_string(kMaxStreamedBytes) + " bytes)."},
            {"errorType", o.error_type}});
        reply = api_error(413, "RequestEntityTooLarge",
                          "Response payload size exceeded maximum allowed payload size (" +
                              std::to_string(kMaxStreamedBytes) + " bytes).");
    } else if (!req.stream_error.empty()) {
        // the runtime's connection broke off midway: a truncated answer is no answer
        o.kind = Outcome::Kind::FunctionError;
        o.error_type = "Runtime.TruncatedResponse";
        o.body = to_json_text(nlohmann::json{
            {"errorMessage", "The runtime's streamed response broke off before its end"},
            {"errorType", o.error_type}});
    } else if (std::string type = req.headers.get("Lambda-Runtime-Function-Error-Type");
               !type.empty()) {
        o.kind = Outcome::Kind::FunctionError;
        o.error_type = type;
        o.body = trailer_error_body(req.headers, type);
    }
    if (pipe) {
        if (o.kind == Outcome::Kind::Response)
            (*pipe)->finish();
        else
            (*pipe)->fail(o.error_type);
    }
    return o;
}

http::BodyPolicy RuntimeApi::State::body_policy(const http::RequestHead& head) {
    http::BodyPolicy p;
    // read what the runtime sends well past the limit, so that it hears
    // 413 and the invoke gets Function.ResponseSizeTooLarge (a closed
    // connection would look like a crash)
    p.limit = 64 * 1024 * 1024;
    if (head.method != "POST") return p;
    std::string path;
    std::multimap<std::string, std::string> query;
    if (!http::parse_target(head.target, path, query)) return p;
    auto match = router.match("POST", path, query);
    if (!match || (match->operation != Response && match->operation != Error)) return p;
    std::function<void(std::shared_ptr<http::BodySource>, std::string)> take;
    auto pipe = std::make_shared<http::BodyPipe>();
    {
        std::lock_guard lk(mu);
        if (!in_flight || *in_flight != match->params.at("RequestId")) return p;
        answering = true;
        if (match->operation != Response || !is_streaming_mode(head.headers) || !on_stream ||
            stream)
            return p;
        stream = pipe;
        take = on_stream;
    }
    p.limit = kMaxStreamedBytes;
    p.sink = pipe;
    p.tag = pipe;
    take(pipe, head.headers.get("Content-Type", "application/octet-stream"));
    return p;
}

RuntimeApi::RuntimeApi(boost::asio::io_context& ioc, IdSource& ids)
    : state_(std::make_shared<State>(ioc, ids)) {
    auto& r = state_->router;
    r.add("GET", "/2018-06-01/runtime/invocation/next", Next);
    r.add("POST", "/2018-06-01/runtime/invocation/{RequestId}/response", Response);
    r.add("POST", "/2018-06-01/runtime/invocation/{RequestId}/error", Error);
    r.add("POST", "/2018-06-01/runtime/init/error", InitError);
    r.add("POST", "/2020-01-01/extension/register", ExtRegister);
    r.add("GET", "/2020-01-01/extension/event/next", ExtNext);
    r.add("POST", "/2020-01-01/extension/init/error", ExtInitError);
    r.add("POST", "/2020-01-01/extension/exit/error", ExtExitError);
    r.add("PUT", "/2020-08-15/logs", LogsSubscribe);
    r.add("PUT", "/2022-07-01/telemetry", TelemetrySubscribe);
    r.add("POST", "/_lamina/extension/exited", ExtExited);
    r.add("GET", "/2018-06-01/runtime/_lamina/spare/hold", SpareHold);
    r.add("GET", "/2018-06-01/runtime/restore/next", RestoreNext);
    r.add("POST", "/2018-06-01/runtime/restore/error", RestoreError);
    http::ServerOptions opt;
    opt.host = "127.0.0.1";
    opt.port = 0;
    opt.idle_timeout = std::chrono::hours(24);  // /next is a long poll with no client timeout
    // a streamed response may take as long as the function runs (up to 15 minutes)
    opt.body_timeout = std::chrono::minutes(16);
    std::weak_ptr<State> weak = state_;
    opt.body_policy = [weak](const http::RequestHead& head) {
        if (auto s = weak.lock()) return s->body_policy(head);
        return http::BodyPolicy{};
    };
    state_->server = std::make_unique<http::Server>(
        ioc, opt, [weak](http::Request req, http::Responder respond) {
            if (auto s = weak.lock()) s->handle(std::move(req), std::move(respond));
        });
    state_->server->start();
}

RuntimeApi::~RuntimeApi() { stop(); }

Result<std::unique_ptr<RuntimeApi>> RuntimeApi::open(boost::asio::io_context& ioc, IdSource& ids) {
    try {
        return std::make_unique<RuntimeApi>(ioc, ids);
    } catch (const boost::system::system_error& e) {  // Asio's listen: EMFILE, ENFILE
        return fail(ErrorCode::Service, std::string("the Runtime API cannot listen: ") + e.what());
    }
}

void RuntimeApi::handle_for_test(http::Request req, http::Responder respond) {
    state_->handle(std::move(req), std::move(respond));
}

TelemetryHub& RuntimeApi::telemetry() { return state_->telemetry; }

std::string RuntimeApi::address() const {
    return "127.0.0.1:" + std::to_string(state_->server->port());
}

void RuntimeApi::expect_extensions(std::vector<std::string> names, ExtensionIdentity identity) {
    std::lock_guard lk(state_->mu);
    state_->expected.insert(names.begin(), names.end());
    state_->identity = std::move(identity);
}

void RuntimeApi::on_init_error(std::function<void(Outcome)> fn) {
    std::lock_guard lk(state_->mu);
    state_->init_error_fn = std::move(fn);
}

void RuntimeApi::on_ready(std::function<void()> fn) {
    std::lock_guard lk(state_->mu);
    state_->ready_fn = std::move(fn);
}

void RuntimeApi::snapshot_mode(std::function<void(int)> on_snapshot) {
    std::lock_guard lk(state_->mu);
    state_->snapshot = true;
    state_->snapshot_fn = std::move(on_snapshot);
}

void RuntimeApi::fork_restored(const std::string& address, const std::string& output,
                               std::vector<std::string> extensions, std::function<void(int)> done) {
    state_->order_restore({address, output, std::move(extensions), std::move(done)});
}

void RuntimeApi::order_checkpoint() {
    State::RestoreOrder order;
    order.checkpoint = true;
    state_->order_restore(std::move(order));
}

void RuntimeApi::hold_restore(bool held) {
    std::optional<http::Responder> parked;
    {
        std::lock_guard lk(state_->mu);
        state_->restore_held = held;
        if (!held && state_->restore_parked) parked = std::move(state_->restore_parked);
        state_->restore_parked.reset();
    }
    if (parked) (*parked)(State::restored_answer());
}

void RuntimeApi::reap_restored() { state_->order_restore({"", "", {}, nullptr}); }

Status RuntimeApi::invoke(Invocation inv, std::function<void(Outcome)> done,
                          std::function<void()> settled) {
    State::Deferred later;
    {
        std::lock_guard lk(state_->mu);
        if (state_->stopped)
            return fail(ErrorCode::Service, "the execution environment is shut down");
        if (state_->queued || state_->in_flight || !state_->runtime_answered ||
            !state_->extensions_idle())
            return fail(ErrorCode::Service,
                        "the execution environment is busy with another invocation");
        state_->done = std::move(done);
        state_->settled = std::move(settled);
        state_->queued = std::move(inv);
        state_->advance(later);
    }
    for (auto& fn : later) fn();
    return {};
}

std::function<void(Outcome)> RuntimeApi::abandon() {
    std::lock_guard lk(state_->mu);
    state_->queued.reset();
    state_->in_flight.reset();
    state_->answering = false;
    state_->runtime_answered = true;
    state_->settled = nullptr;
    state_->on_stream = nullptr;
    // a response streaming now breaks off for its reader
    if (state_->stream) state_->stream->fail("the invocation was abandoned");
    state_->stream.reset();
    auto fn = std::move(state_->done);
    state_->done = nullptr;
    return fn;
}

bool RuntimeApi::shutdown(const std::string& reason, std::int64_t deadline_ms,
                          std::function<void()> acknowledged) {
    bool any = false;
    {
        std::lock_guard lk(state_->mu);
        if (state_->stopped) return false;
        for (auto& [id, ext] : state_->extensions)
            if (ext.shutdown_events && !ext.gone) any = true;
        if (any) {
            state_->queued.reset();
            state_->in_flight.reset();
            state_->answering = false;
            state_->runtime_answered = true;
            state_->done = nullptr;
            state_->settled = nullptr;
        }
    }
    if (!any && !state_->telemetry.any()) return false;
    // Everything buffered for Telemetry/Logs subscribers goes out first (up
    // to 1 s), then SHUTDOWN: the last invocation's records arrive before it.
    std::weak_ptr<State> weak = state_;
    std::string event = nlohmann::json{
        {"eventType", "SHUTDOWN"},
        {"shutdownReason", reason},
        {"deadlineMs",
         deadline_ms}}.dump();
    state_->telemetry.flush(
        [weak, any, event, acknowledged = std::move(acknowledged)]() mutable {
            auto s = weak.lock();
            if (!any || !s) {
                if (acknowledged) acknowledged();
                return;
            }
            State::Deferred later;
            {
                std::lock_guard lk(s->mu);
                if (s->stopped) {  // its process is gone: nothing is left to acknowledge
                    if (acknowledged) later.push_back(std::move(acknowledged));
                } else if (s->shutdown_sent) {
                    // asked again (lamina stopping while the environment was being
                    // retired): no second SHUTDOWN; both hear of the acknowledgement
                    if (acknowledged) {
                        s->shutdown_ack = [first = std::move(s->shutdown_ack),
                                           second = std::move(acknowledged)] {
                            if (first) first();
                            second();
                        };
                    }
                    s->advance(later);
                } else {
                    s->shutdown_sent = true;
                    for (auto& [id, ext] : s->extensions) {
                        if (!ext.shutdown_events || ext.gone) continue;
                        ext.busy = false;  // whatever it held is moot now
                        ext.pending.clear();
                        s->deliver(ext, event, later);
                    }
                    s->shutdown_ack = std::move(acknowledged);
                    s->advance(later);
                }
            }
            for (auto& fn : later) fn();
        },
        std::chrono::seconds(1));
    return true;
}

bool RuntimeApi::invocation_taken() const {
    std::lock_guard lk(state_->mu);
    return state_->in_flight.has_value();
}

bool RuntimeApi::healthy() const {
    std::lock_guard lk(state_->mu);
    return !state_->broken;
}

std::size_t RuntimeApi::extension_count() const {
    std::lock_guard lk(state_->mu);
    return state_->extensions.size();
}

void RuntimeApi::hold() {
    std::lock_guard lk(state_->mu);
    state_->hold = State::Hold::Held;
}

void RuntimeApi::release() {
    std::optional<http::Responder> held;
    {
        std::lock_guard lk(state_->mu);
        if (state_->hold != State::Hold::Held) return;
        state_->hold = State::Hold::Released;
        held = std::move(state_->waiting_hold);
        state_->waiting_hold.reset();
    }
    if (held) (*held)(accepted());
}

void RuntimeApi::stop() {
    std::vector<http::Responder> parked;
    std::vector<State::RestoreOrder> orders;  // never carried out: the snapshot is gone
    {
        std::lock_guard lk(state_->mu);
        if (state_->stopped) return;
        state_->stopped = true;
        state_->telemetry.stop();
        if (state_->stream) state_->stream->fail("the execution environment is shutting down");
        state_->stream.reset();
        if (state_->waiting_next) parked.push_back(std::move(*state_->waiting_next));
        state_->waiting_next.reset();
        if (state_->waiting_hold) parked.push_back(std::move(*state_->waiting_hold));
        state_->waiting_hold.reset();
        if (state_->restore_waiting) parked.push_back(std::move(*state_->restore_waiting));
        state_->restore_waiting.reset();
        if (state_->restore_parked) parked.push_back(std::move(*state_->restore_parked));
        state_->restore_parked.reset();
        if (state_->restore_in_hand) orders.push_back(std::move(*state_->restore_in_hand));
        state_->restore_in_hand.reset();
        for (auto& o : state_->restore_orders) orders.push_back(std::move(o));
        state_->restore_orders.clear();
        for (auto& [id, ext] : state_->extensions) {
            if (ext.waiting) parked.push_back(std::move(*ext.waiting));
            ext.waiting.reset();
        }
    }
    for (auto& r : parked)
        r(api_error(500, "InternalServerError", "The execution environment is shutting down"));
    for (auto& o : orders)
        if (o.done) o.done(-1);
    state_->server->stop();
}

}  // namespace lamina::runtime
