#include "lamina/api/service.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "lamina/common/log.hpp"

#include <mutex>

#include "lamina/api/aws_error.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/version.hpp"

namespace lamina::api {

Service::Service(const Config& config, const StartupFindings& findings, control::Registry& registry,
                 control::LayerRegistry& layers, store::LayerCache& layer_cache, control::IamRoles& roles,
                 store::BlobStore& blobs, IdSource& ids, boost::asio::thread_pool& workers, exec::Invoker* invoker,
                 exec::EventQueue* events, metrics::MetricsStore* metrics, s3::ObjectStore* objects,
                 s3::ObjectSource* code_source)
    : config_(config),
      findings_(findings),
      registry_(registry),
      ids_(ids),
      workers_(workers),
      lambda_(registry, layers, layer_cache, blobs, config, invoker, events),
      query_(roles) {
    lambda_.add_routes(router_);
    lambda_.set_code_source(code_source);
    if (objects) {
        // virtual-host addressing: "<bucket>.localhost:PORT", and "<bucket>.<--host>" when that is a name
        std::vector<std::string> bases = {"localhost"};
        bool ip = config.host.find_first_not_of("0123456789.") == std::string::npos ||
                  config.host.find(':') != std::string::npos;
        if (!ip && config.host != "localhost") bases.push_back(config.host);
        s3_ = std::make_unique<s3::S3Api>(*objects, std::move(bases));
    }
    metrics_ = metrics;
    if (metrics) cloudwatch_ = std::make_unique<CloudWatchApi>(*metrics);
    if (invoker)
        invoker->set_offload([&workers](std::function<void()> fn) { boost::asio::post(workers, std::move(fn)); });
}

namespace {
// Invocations up to this size are validated on the I/O thread (larger
// payloads are parsed on a worker).
constexpr std::size_t kInlineInvokeBytes = 64 * 1024;
}  // namespace

bool Service::try_invoke(const http::Request& req, const http::Responder& respond) {
    if (QueryApi::is_query_request(req)) return false;
    auto match = router_.match(req.method, req.path, req.query);
    if (!match || !lambda_.is_invoke(match->operation) || is_s3(req)) return false;
    // Invocations answer when the function does, without holding a thread.
    RequestContext ctx = make_context(req, config_, ids_.uuid());
    if (auto ok = authenticate(req, ctx); !ok) {
        respond(rest_json_error(ok.error(), ctx.request_id));
        return true;
    }
    try {
        lambda_.invoke(match->operation, ctx, req, *match,
                       [respond, request_id = ctx.request_id](Result<http::Response> r) {
                           respond(r ? std::move(*r) : rest_json_error(r.error(), request_id));
                       });
    } catch (const std::exception& e) {
        // never let one request take the server down
        lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id, e.what());
        respond(rest_json_error(Error{ErrorCode::Service, "Internal error"}, ctx.request_id));
    }
    return true;
}

void Service::handle(http::Request req, http::Responder respond) {
    // A small invocation is handled on the I/O thread that read it: a warm
    // one goes straight to its environment (each hop to another thread costs
    // a wake-up, ~35 µs here); the invoker moves cold starts to the workers.
    if (req.body.size() <= kInlineInvokeBytes && try_invoke(req, respond)) return;
    boost::asio::post(workers_, [this, req = std::move(req), respond = std::move(respond)]() mutable {
        if (try_invoke(req, respond)) return;  // a large payload is validated here, off the I/O thread
        respond(dispatch(req));
    });
}

http::BodyPolicy Service::body_policy(const http::RequestHead& head) const {
    if (s3_) {
        http::Request r;
        r.method = head.method;
        r.headers = head.headers;
        if (http::parse_target(head.target, r.path, r.query) && s3_->owns(r)) return s3_->body_policy(head);
    }
    return lambda_.body_policy(head);
}

http::Response Service::transport_error(unsigned status, const std::string& what) {
    ErrorCode code = status == 413 ? ErrorCode::RequestEntityTooLarge : ErrorCode::InvalidRequestContent;
    auto r = rest_json_error(Error{code, what}, ids_.uuid());
    r.status = status;
    return r;
}

Status Service::authenticate(const http::Request& req, RequestContext& ctx, bool s3,
                             std::optional<SigV4Seed>* seed) const {
    if (!credentials_) return {};
    // lamina's own pages and the code download links it hands out are not AWS calls
    if (!s3 && req.method == "GET" && (req.path == "/health" || req.path == "/metrics" || req.path.rfind("/_lamina/code/", 0) == 0 ||
                                       req.path.rfind("/_lamina/opt/", 0) == 0))
        return {};
    auto std_now = std::chrono::system_clock::now().time_since_epoch();
    SigV4Seed verified;  // derived only for S3, whose streamed bodies need it
    LAMINA_TRY(key, verify_sigv4(req, *credentials_,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(std_now).count(),
                                 seed ? &verified : nullptr));
    if (seed) *seed = std::move(verified);
    // the key, not its shape, decides the account
    ctx.access_key_id = key;
    ctx.scope.account = credentials_->at(key).account_id;
    return {};
}

http::Response Service::health(const RequestContext& ctx) const {
    auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    nlohmann::json body = {{"status", "ok"},
                           {"version", kVersion},
                           {"uptime_seconds", uptime},
                           {"functions", registry_.total_functions()},
                           {"region", config_.region},
                           {"sandbox", findings_.sandbox},
                           {"sandbox_user", findings_.sandbox_user},
                           {"memory_limits", findings_.memory_limits},
                           {"process_limits", findings_.process_limits},
                           {"account_id", config_.account_id}};
    http::Response r;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = body.dump();
    return r;
}

std::optional<http::Response> Service::stacks(const RequestContext& ctx, const http::Request& req) {
    if (!stacks_) return std::nullopt;
    auto json_response = [&](unsigned status, std::string body) {
        http::Response r;
        r.status = status;
        r.headers.set("Content-Type", "application/json");
        r.body = std::move(body);
        return r;
    };
    if (req.path == "/_lamina/stacks") {
        if (req.method != "GET") return std::nullopt;
        return json_response(200, nlohmann::json{{"Stacks", stacks_->names(ctx.scope)}}.dump());
    }
    std::string rest = req.path.substr(std::string("/_lamina/stacks/").size());
    if (rest.size() > 16 && rest.ends_with("/traffic-shifts")) {
        if (req.method != "POST" || !shift_handler_) return std::nullopt;
        std::string stack = url_decode(rest.substr(0, rest.size() - 15)).value_or("");
        if (!stacks_->get(ctx.scope, stack))
            return rest_json_error(Error{ErrorCode::ResourceNotFound, "Stack not found: " + stack}, ctx.request_id);
        if (auto st = shift_handler_(ctx.scope, req.body); !st) return rest_json_error(st.error(), ctx.request_id);
        return json_response(202, "{}");
    }
    std::string name = url_decode(rest).value_or("");
    if (req.method == "GET") {
        auto doc = stacks_->get(ctx.scope, name);
        if (!doc) return rest_json_error(Error{ErrorCode::ResourceNotFound, "Stack not found: " + name}, ctx.request_id);
        return json_response(200, *doc);
    }
    Status st;
    if (req.method == "PUT") st = stacks_->put(ctx.scope, name, req.body);
    else if (req.method == "DELETE") st = stacks_->erase(ctx.scope, name);
    else return std::nullopt;
    if (!st) return rest_json_error(st.error(), ctx.request_id);
    return json_response(req.method == "PUT" ? 200 : 204, "");
}

http::Response Service::dispatch(const http::Request& req) {
    auto started = std::chrono::steady_clock::now();
    RequestContext ctx = make_context(req, config_, ids_.uuid());
    auto log = lamina::logger("api");
    auto finish = [&](http::Response r, const std::string& op) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        // Standard Server-Timing header: lets benchmarks separate server time from client time.
        r.headers.set("Server-Timing", "app;dur=" + std::to_string(static_cast<double>(us.count()) / 1000.0));
        if (r.headers.find("x-amzn-RequestId") == nullptr || r.headers.get("x-amzn-RequestId").empty())
            r.headers.set("x-amzn-RequestId", ctx.request_id);
        log->debug("api.request request_id={} op={} method={} path={} status={}", ctx.request_id, op, req.method,
                   req.path, r.status);
        return r;
    };
    try {
        if (is_s3(req)) {
            bool head = req.method == "HEAD";
            std::optional<SigV4Seed> seed;
            if (auto ok = authenticate(req, ctx, true, &seed); !ok)
                return finish(s3::s3_error_response(s3::auth_error(ok.error()), ctx.request_id, head), "S3Auth");
            s3::S3Context s3ctx{ctx.request_id, ctx.scope.region, ctx.scope.account, std::move(seed)};
            return finish(s3_->handle(s3ctx, req), "S3");
        }
        if (auto ok = authenticate(req, ctx); !ok) {
            if (QueryApi::is_query_request(req)) return finish(query_xml_error(ok.error(), ctx.request_id, ""), "Auth");
            return finish(rest_json_error(ok.error(), ctx.request_id), "Auth");
        }
        if (req.method == "GET" && req.path == "/health") return finish(health(ctx), "Health");
        if (req.method == "GET" && req.path == "/metrics" && metrics_) {
            http::Response r;
            r.headers.set("Content-Type", "text/plain; version=0.0.4");
            r.body = metrics_->prometheus();
            return finish(std::move(r), "Metrics");
        }
        if (req.path == "/_lamina/stacks" || req.path.rfind("/_lamina/stacks/", 0) == 0)
            if (auto r = stacks(ctx, req)) return finish(std::move(*r), "Stacks");
        if (cloudwatch_ && CloudWatchApi::is_json_request(req)) return finish(cloudwatch_->handle_json(ctx, req), "CloudWatch");
        if (cloudwatch_ && CloudWatchApi::is_cbor_request(req)) return finish(cloudwatch_->handle_cbor(ctx, req), "CloudWatch");
        if (QueryApi::is_query_request(req)) {
            if (cloudwatch_) {
                auto form = parse_form(req);
                if (CloudWatchApi::is_query_request(ctx, form)) return finish(cloudwatch_->handle_query(ctx, form), "CloudWatch");
            }
            return finish(query_.handle(ctx, req), "Query");
        }
        bool path_matched = false;
        auto match = router_.match(req.method, req.path, req.query, &path_matched);
        if (match && lambda_.owns(match->operation)) {
            auto result = lambda_.handle(match->operation, ctx, req, *match);
            std::string op = lambda_.operation_name(match->operation);
            if (!result) {
                if (result.error().code == ErrorCode::Service)
                    log->error("api.error request_id={} op={} message={}", ctx.request_id, op, result.error().message);
                return finish(rest_json_error(result.error(), ctx.request_id), op);
            }
            return finish(std::move(*result), op);
        }
        if (auto target = req.headers.find("X-Amz-Target")) {
            return finish(rest_json_error(Error{ErrorCode::NotImplemented,
                                                "lamina does not emulate the operation " + *target +
                                                    " (it emulates AWS Lambda, STS GetCallerIdentity and IAM roles)."},
                                          ctx.request_id),
                          "NotImplemented");
        }
        std::string what = "lamina does not recognise " + req.method + " " + req.path +
                           (path_matched ? " (this path exists, with another HTTP method)" : "") +
                           (ctx.service.empty() || ctx.service == "lambda"
                                ? std::string(" as an AWS Lambda operation.")
                                : " (signed for the '" + ctx.service + "' service, which lamina does not emulate).");
        return finish(rest_json_error(Error{ErrorCode::UnknownOperation, what},
                                      ctx.request_id),
                      "Unknown");
    } catch (const std::exception& e) {
        log->error("api.exception request_id={} what={}", ctx.request_id, e.what());
        return finish(rest_json_error(Error{ErrorCode::Service, std::string("Internal error: ") + e.what()}, ctx.request_id),
                      "Exception");
    }
}

}  // namespace lamina::api
