#include "lamina/runtime/runtime_api.hpp"

#include <nlohmann/json.hpp>

#include <mutex>

#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"

namespace lamina::runtime {

namespace {

enum Route { Next = 1, Response, Error, InitError };

http::Response api_error(unsigned status, const std::string& type, const std::string& message) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = nlohmann::json{{"errorMessage", message}, {"errorType", type}}.dump();
    return r;
}

http::Response accepted() {
    http::Response r;
    r.status = 202;
    r.headers.set("Content-Type", "application/json");
    r.body = R"({"status":"OK"})";
    return r;
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
    if (inv.cognito_identity) r.headers.set("Lambda-Runtime-Cognito-Identity", *inv.cognito_identity);
    r.body = inv.payload;
    return r;
}

}  // namespace

struct RuntimeApi::State {
    std::mutex mu;
    bool initialised = false;  // the runtime has called /next once
    bool stopped = false;
    std::optional<Invocation> queued;                 // waiting for /next
    std::optional<std::string> in_flight;             // request id handed out
    std::function<void(Outcome)> done;                // completion of queued / in flight
    std::optional<http::Responder> waiting_next;      // a parked long poll
    std::function<void(Outcome)> init_error_fn;
    std::function<void()> ready_fn;
    http::Router router;
    std::unique_ptr<http::Server> server;

    void handle(http::Request req, http::Responder respond) {
        auto match = router.match(req.method, req.path, req.query);
        if (!match) {
            respond(api_error(404, "InvalidRequest", "Unknown Runtime API route " + req.method + " " + req.path));
            return;
        }
        std::unique_lock lk(mu);
        switch (match->operation) {
            case Next: {
                if (in_flight) {
                    lk.unlock();
                    respond(api_error(403, "InvalidStateTransition",
                                      "State transition from Invoking to Next is not allowed: post a response or an "
                                      "error for request " + *in_flight + " first"));
                    return;
                }
                std::function<void()> ready;
                if (!initialised) {
                    initialised = true;
                    ready = std::move(ready_fn);
                }
                if (queued) {
                    Invocation inv = std::move(*queued);
                    queued.reset();
                    in_flight = inv.request_id;
                    lk.unlock();
                    if (ready) ready();
                    respond(next_response(inv));
                    return;
                }
                if (waiting_next) {
                    auto previous = std::move(*waiting_next);
                    waiting_next = std::move(respond);
                    lk.unlock();
                    previous(api_error(403, "InvalidStateTransition", "A newer /next call replaced this one"));
                } else {
                    waiting_next = std::move(respond);
                    lk.unlock();
                }
                if (ready) ready();
                return;
            }
            case Response:
            case Error: {
                const std::string& id = match->params.at("RequestId");
                if (!in_flight || *in_flight != id) {
                    lk.unlock();
                    respond(api_error(400, "InvalidRequestID", "Invalid request ID: " + id));
                    return;
                }
                if (match->operation == Response && req.body.size() > kMaxResponseBytes) {
                    // the invoke fails with AWS's Function.ResponseSizeTooLarge; the runtime hears 413
                    Outcome o;
                    o.kind = Outcome::Kind::FunctionError;
                    o.error_type = "Function.ResponseSizeTooLarge";
                    o.body = R"({"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"})";
                    in_flight.reset();
                    auto fn = std::move(done);
                    done = nullptr;
                    lk.unlock();
                    respond(api_error(413, "RequestEntityTooLarge",
                                      "Response payload size exceeded maximum allowed payload size (6291556 bytes)."));
                    if (fn) fn(std::move(o));
                    return;
                }
                Outcome o;
                o.kind = match->operation == Response ? Outcome::Kind::Response : Outcome::Kind::FunctionError;
                o.body = std::move(req.body);
                o.content_type = req.headers.get("Content-Type");
                o.error_type = req.headers.get("Lambda-Runtime-Function-Error-Type");
                in_flight.reset();
                auto fn = std::move(done);
                done = nullptr;
                lk.unlock();
                respond(accepted());
                if (fn) fn(std::move(o));
                return;
            }
            case InitError: {
                if (initialised) {
                    lk.unlock();
                    respond(api_error(403, "InvalidStateTransition",
                                      "State transition from Ready to InitError is not allowed"));
                    return;
                }
                Outcome o;
                o.kind = Outcome::Kind::InitError;
                o.body = std::move(req.body);
                o.content_type = req.headers.get("Content-Type");
                o.error_type = req.headers.get("Lambda-Runtime-Function-Error-Type");
                auto fn = std::move(init_error_fn);
                lk.unlock();
                respond(accepted());
                if (fn) fn(std::move(o));
                return;
            }
        }
    }
};

RuntimeApi::RuntimeApi(boost::asio::io_context& ioc) : state_(std::make_shared<State>()) {
    state_->router.add("GET", "/2018-06-01/runtime/invocation/next", Next);
    state_->router.add("POST", "/2018-06-01/runtime/invocation/{RequestId}/response", Response);
    state_->router.add("POST", "/2018-06-01/runtime/invocation/{RequestId}/error", Error);
    state_->router.add("POST", "/2018-06-01/runtime/init/error", InitError);
    http::ServerOptions opt;
    opt.host = "127.0.0.1";
    opt.port = 0;
    opt.idle_timeout = std::chrono::hours(24);  // /next is a long poll with no client timeout
    opt.body_policy = [](const http::RequestHead&) {
        http::BodyPolicy p;
        p.limit = kMaxResponseBytes + 1024 * 1024;
        return p;
    };
    std::weak_ptr<State> weak = state_;
    state_->server = std::make_unique<http::Server>(ioc, opt, [weak](http::Request req, http::Responder respond) {
        if (auto s = weak.lock()) s->handle(std::move(req), std::move(respond));
    });
    state_->server->start();
}

RuntimeApi::~RuntimeApi() { stop(); }

std::string RuntimeApi::address() const { return "127.0.0.1:" + std::to_string(state_->server->port()); }

void RuntimeApi::on_init_error(std::function<void(Outcome)> fn) {
    std::lock_guard lk(state_->mu);
    state_->init_error_fn = std::move(fn);
}

void RuntimeApi::on_ready(std::function<void()> fn) {
    std::lock_guard lk(state_->mu);
    state_->ready_fn = std::move(fn);
}

Status RuntimeApi::invoke(Invocation inv, std::function<void(Outcome)> done) {
    std::unique_lock lk(state_->mu);
    if (state_->stopped) return fail(ErrorCode::Service, "the execution environment is shut down");
    if (state_->queued || state_->in_flight)
        return fail(ErrorCode::Service, "the execution environment is busy with another invocation");
    state_->done = std::move(done);
    if (state_->waiting_next) {
        auto respond = std::move(*state_->waiting_next);
        state_->waiting_next.reset();
        state_->in_flight = inv.request_id;
        lk.unlock();
        respond(next_response(inv));
        return {};
    }
    state_->queued = std::move(inv);
    return {};
}

std::function<void(Outcome)> RuntimeApi::abandon() {
    std::lock_guard lk(state_->mu);
    state_->queued.reset();
    state_->in_flight.reset();
    auto fn = std::move(state_->done);
    state_->done = nullptr;
    return fn;
}

void RuntimeApi::stop() {
    std::optional<http::Responder> parked;
    {
        std::lock_guard lk(state_->mu);
        if (state_->stopped) return;
        state_->stopped = true;
        parked = std::move(state_->waiting_next);
        state_->waiting_next.reset();
    }
    if (parked) (*parked)(api_error(500, "InternalServerError", "The execution environment is shutting down"));
    state_->server->stop();
}

}  // namespace lamina::runtime
