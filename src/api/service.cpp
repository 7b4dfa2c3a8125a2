#include "lamina/api/service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "lambda_routes.hpp"
#include "lamina/api/aws_error.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"
#include "lamina/common/version.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/oci/auth_token.hpp"
#include "url_http.hpp"

namespace lamina::api {

Service::Service(const Config& config, const StartupFindings& findings, control::Registry& registry,
                 control::LayerRegistry& layers, store::LayerCache& layer_cache,
                 control::IamRoles& roles, store::BlobStore& blobs, IdSource& ids,
                 boost::asio::thread_pool& workers, exec::Invoker* invoker,
                 exec::EventQueue* events, metrics::MetricsStore* metrics, s3::ObjectStore* objects,
                 s3::ObjectSource* code_source, sqs::Queues* queues)
    : config_(config),
      findings_(findings),
      registry_(registry),
      ids_(ids),
      workers_(workers),
      lambda_(registry, layers, layer_cache, blobs, config, ids, invoker, events),
      query_(roles) {
    lambda_.set_code_source(code_source);
    if (objects) {
        // virtual-host addressing: "<bucket>.localhost:PORT", and "<bucket>.<--host>" when that is a name
        std::vector<std::string> bases = {"localhost"};
        bool ip = config.host.find_first_not_of("0123456789.") == std::string::npos ||
                  config.host.find(':') != std::string::npos;
        if (!ip && config.host != "localhost") bases.push_back(config.host);
        classify_.s3 = true;
        classify_.s3_host_bases = bases;
        s3_ = std::make_unique<s3::S3Api>(*objects, std::move(bases));
    }
    classify_.cloudwatch = metrics != nullptr;
    if (queues) {
        classify_.sqs = true;
        sqs_ = std::make_unique<sqs::SqsApi>(*queues, workers.get_executor());
    }
    metrics_ = metrics;
    if (metrics) cloudwatch_ = std::make_unique<CloudWatchApi>(*metrics);
    if (invoker)
        invoker->set_offload(
            [&workers](std::function<void()> fn) { boost::asio::post(workers, std::move(fn)); });
}

namespace {
// Invocations up to this size are validated on the I/O thread (larger
// payloads are parsed on a worker).
constexpr std::size_t kInlineInvokeBytes = 64 * 1024;
}  // namespace

struct Service::Exchange {
    std::chrono::steady_clock::time_point started;
    std::string request_id;
    std::string method;
    std::string path;
};

http::Response Service::finish(http::Response r, const Exchange& x, const std::string& op) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - x.started);
    // Standard Server-Timing header: lets benchmarks separate server time from client time.
    std::string timing = "app;dur=" + std::to_string(static_cast<double>(us.count()) / 1000.0);
    if (auto parts = r.headers.find("Server-Timing"); parts && !parts->empty())
        timing += ", " + *parts;  // the handler's own entries (an invoke's deliver, answer)
    r.headers.set("Server-Timing", timing);
    if (auto id = r.headers.find("x-amzn-RequestId"); !id || id->empty())
        r.headers.set("x-amzn-RequestId", x.request_id);
    lamina::logger("api")->debug("api.request request_id={} op={} method={} path={} status={}",
                                 x.request_id, op, x.method, x.path, r.status);
    return r;
}

void Service::handle(http::Request req, http::Responder respond) {
    Exchange x{std::chrono::steady_clock::now(), {}, req.method, req.path};
    // classified once, from the head, by body_policy (the server hands it on); else here
    Classified c;
    if (auto* tagged = std::any_cast<Classified>(&req.tag))
        c = std::move(*tagged);
    else
        c = classify(req, classify_);
    RequestContext ctx = make_context(req, config_, ids_.uuid());
    x.request_id = ctx.request_id;
    auto reply = [respond = std::move(respond), x = std::move(x)](http::Response r,
                                                                  const std::string& op) {
        respond(finish(std::move(r), x, op));
    };
    // A small invocation is handled on the I/O thread that read it: a warm
    // one goes straight to its environment (each hop to another thread costs
    // a wake-up, ~35 µs here); the invoker moves cold starts to the workers.
    const bool answered_later = c.invoke || c.protocol == Protocol::FunctionUrl;
    if (answered_later && req.body.size() <= kInlineInvokeBytes) {
        invoke(ctx, req, c, std::move(reply));
        return;
    }
    // A read (a Lambda API GET, /health) answers from memory on the I/O thread
    // that read it too: the hop to a worker and back costs two wake-ups, more
    // than most reads take. So does a light mutation of an ephemeral server:
    // nothing it writes is fsynced (synchronous=OFF, blobs unsynced), so its
    // commit never waits on the disk. Other writes go to the workers.
    const bool lambda = c.protocol == Protocol::Lambda;
    if ((lambda && req.method == "GET") || c.protocol == Protocol::Health ||
        (lambda && config_.ephemeral && c.route && light_mutation(c.route->operation, req.body))) {
        std::string op;
        http::Response r = answer(ctx, req, c, op);
        reply(std::move(r), op);
        return;
    }
    boost::asio::post(workers_, [this, answered_later, req = std::move(req), c = std::move(c),
                                 ctx = std::move(ctx), reply = std::move(reply)]() mutable {
        if (answered_later) {
            invoke(ctx, req, c,
                   std::move(reply));  // a large payload is validated here, off the I/O thread
            return;
        }
        if (auto wire = sqs_wire(req, c)) {
            answer_sqs(ctx, req, *wire, reply);
            return;
        }
        if (c.protocol == Protocol::Registry && distribution_) {
            answer_registry(ctx, req, c, reply);
            return;
        }
        std::string op;
        http::Response r = answer(ctx, req, c, op);
        reply(std::move(r), op);
    });
}

Service::Reply Service::metered_url(const std::string& url_id, Reply reply) const {
    // a Host naming no URL has no function to count it under
    auto target = metrics_ ? registry_.find_function_url(url_id) : std::nullopt;
    if (!target) return reply;
    metrics::InvocationTarget t{target->scope, target->function_name,
                                target->qualifier.empty() ? "$LATEST" : target->qualifier, ""};
    return [reply = std::move(reply), store = metrics_, t = std::move(t),
            started = std::chrono::steady_clock::now()](http::Response r, const std::string& op) {
        std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
        metrics::record_url(store, t, r.status, took.count());
        reply(std::move(r), op);
    };
}

void Service::invoke(RequestContext& ctx, const http::Request& req, const Classified& c,
                     std::function<void(http::Response, const std::string& op)> reply) {
    if (c.protocol == Protocol::FunctionUrl) reply = metered_url(c.url_id, std::move(reply));
    // called once: from the function's answer, or here on a refusal
    auto shared = std::make_shared<decltype(reply)>(std::move(reply));
    if (c.protocol == Protocol::FunctionUrl) {
        // anyone may call a URL; a signed call must carry a valid signature
        if (!ctx.access_key_id.empty()) {
            if (auto ok = authenticate(req, ctx); !ok) {
                (*shared)(url_forbidden(), "InvokeFunctionUrl");
                return;
            }
        }
        try {
            lambda_.invoke_url(ctx, req, c.url_id, c.url_path, [shared](http::Response r) {
                (*shared)(std::move(r), "InvokeFunctionUrl");
            });
        } catch (const std::exception& e) {
            lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id,
                                         e.what());
            (*shared)(url_internal_error(), "Exception");
        }
        return;
    }
    if (auto ok = authenticate(req, ctx); !ok) {
        (*shared)(rest_json_error(ok.error(), ctx.request_id), "Auth");
        return;
    }
    try {
        // Invocations answer when the function does, without holding a thread.
        lambda_.invoke(
            c.route->operation, ctx, req, *c.route,
            [shared, op = c.operation, request_id = ctx.request_id](Result<http::Response> r) {
                (*shared)(r ? std::move(*r) : rest_json_error(r.error(), request_id), op);
            });
    } catch (const std::exception& e) {
        // never let one request take the server down
        lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id,
                                     e.what());
        (*shared)(rest_json_error(Error{ErrorCode::Service, "Internal error"}, ctx.request_id),
                  "Exception");
    }
}

http::BodyPolicy Service::body_policy(const http::RequestHead& head) const {
    auto c = classify(head, classify_);
    if (!c) return lambda_.body_policy(head, {});  // a malformed query: the server answers 400
    http::BodyPolicy p =
        c->protocol == Protocol::S3
            ? s3_->body_policy(head)
            : lambda_.body_policy(head,
                                  c->protocol == Protocol::Lambda ? c->operation : std::string());
    if (c->protocol == Protocol::FunctionUrl)
        p.too_large = [](std::uint64_t) { return url_too_large(); };
    if (c->protocol == Protocol::Registry && distribution_) {
        p = distribution_->body_policy(head, {config_.account_id, config_.region},
                                       registry_authorized(head.headers));
        c->prepared = std::move(p.tag);
    }
    p.tag = std::move(*c);
    return p;
}

http::Response Service::transport_error(unsigned status, const std::string& what) {
    ErrorCode code =
        status == 413 ? ErrorCode::RequestEntityTooLarge : ErrorCode::InvalidRequestContent;
    auto r = rest_json_error(Error{code, what}, ids_.uuid());
    r.status = status;
    return r;
}

Status Service::authenticate(const http::Request& req, RequestContext& ctx, bool s3,
                             std::optional<SigV4Seed>* seed) const {
    if (!credentials_) return {};
    // lamina's own pages and the code download links it hands out are not AWS calls
    if (!s3 && req.method == "GET" &&
        (req.path == "/health" || req.path == "/metrics" ||
         req.path.rfind("/_lamina/code/", 0) == 0 || req.path.rfind("/_lamina/opt/", 0) == 0 ||
         UiApi::is_public(req.method, req.path)))
        return {};
    if (!s3 && DevApi::is_public(req.method, req.path)) return {};
    auto std_now = std::chrono::system_clock::now().time_since_epoch();
    SigV4Seed verified;  // derived only for S3, whose streamed bodies need it
    LAMINA_TRY(key,
               verify_sigv4(req, *credentials_,
                            std::chrono::duration_cast<std::chrono::milliseconds>(std_now).count(),
                            seed ? &verified : nullptr));
    if (seed) *seed = std::move(verified);
    // the key, not its shape, decides the account
    ctx.access_key_id = key;
    ctx.scope.account = credentials_->at(key).account_id;
    return {};
}

bool Service::registry_authorized(const http::Headers& headers) const {
    if (!credentials_) return true;
    auto password = oci::basic_password(headers.get("Authorization"));
    if (!password) return false;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return oci::verify_registry_password(
        *password,
        [this](const std::string& key) -> std::optional<std::string> {
            auto it = credentials_->find(key);
            if (it == credentials_->end()) return std::nullopt;
            return it->second.secret_access_key;
        },
        now);
}

void Service::answer_registry(const RequestContext& ctx, const http::Request& req,
                              const Classified& c, const Reply& reply) {
    if (!registry_authorized(req.headers)) {
        http::Response denied = oci::DistributionApi::unauthorized(ctx.host);
        if (req.streamed) {
            // its body was refused already (body_policy): handle() only lets go of it
            distribution_->handle(
                req, c.prepared, {config_.account_id, config_.region},
                [reply, denied](const http::Response&) { reply(denied, "Registry.Auth"); });
            return;
        }
        reply(denied, "Registry.Auth");
        return;
    }
    try {
        // every /v2 request acts in the server's account and region (the URL names neither)
        distribution_->handle(req, c.prepared, {config_.account_id, config_.region},
                              [reply](http::Response r) { reply(std::move(r), "Registry"); });
    } catch (const std::exception& e) {
        lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id,
                                     e.what());
        reply(oci::DistributionApi::error({oci::Fault::Internal, "internal error", e.what()}),
              "Exception");
    }
}

http::Response Service::answer_ecr(const RequestContext& ctx, const http::Request& req,
                                   const Classified& c) {
    oci::EcrContext ectx{ctx.request_id, ctx.scope.account, ctx.scope.region,
                         ctx.host,       "lamina",          "lamina"};
    if (credentials_) {
        ectx.token_key_id = ctx.access_key_id;
        ectx.token_secret = credentials_->at(ctx.access_key_id).secret_access_key;
    }
    return ecr_->handle(ectx, c.operation, req);
}

http::Response Service::health(const RequestContext& ctx) const {
    auto uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
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
            return rest_json_error(Error{ErrorCode::ResourceNotFound, "Stack not found: " + stack},
                                   ctx.request_id);
        if (auto st = shift_handler_(ctx.scope, req.body); !st)
            return rest_json_error(st.error(), ctx.request_id);
        return json_response(202, "{}");
    }
    std::string name = url_decode(rest).value_or("");
    if (req.method == "GET") {
        auto doc = stacks_->get(ctx.scope, name);
        if (!doc)
            return rest_json_error(Error{ErrorCode::ResourceNotFound, "Stack not found: " + name},
                                   ctx.request_id);
        return json_response(200, *doc);
    }
    Status st;
    if (req.method == "PUT")
        st = stacks_->put(ctx.scope, name, req.body);
    else if (req.method == "DELETE")
        st = stacks_->erase(ctx.scope, name);
    else
        return std::nullopt;
    if (!st) return rest_json_error(st.error(), ctx.request_id);
    return json_response(req.method == "PUT" ? 200 : 204, "");
}

std::optional<sqs::Wire> Service::sqs_wire(const http::Request& req, const Classified& c) const {
    if (!sqs_) return std::nullopt;
    if (c.protocol == Protocol::SqsJson) return sqs::Wire::Json;
    if (c.protocol == Protocol::SqsQuery) return sqs::Wire::Query;
    if (c.protocol != Protocol::Query) return std::nullopt;
    // an unsigned (or SQS-signed) form to "/": the Action decides
    std::string service = s3::signing_service(req);
    if (!service.empty() && service != "sqs") return std::nullopt;
    auto form = parse_form(req);
    auto action = form.find("Action");
    if (action == form.end() || !sqs::SqsApi::is_action(action->second)) return std::nullopt;
    return sqs::Wire::Query;
}

void Service::answer_sqs(RequestContext& ctx, const http::Request& req, sqs::Wire wire,
                         const Reply& reply) {
    if (auto ok = authenticate(req, ctx); !ok) {
        reply(wire == sqs::Wire::Json ? rest_json_error(ok.error(), ctx.request_id)
                                      : query_xml_error(ok.error(), ctx.request_id, sqs::kXmlns),
              "Auth");
        return;
    }
    sqs::SqsContext sctx{ctx.request_id, ctx.scope.account, ctx.scope.region, ctx.host,
                         ctx.access_key_id.empty() ? ctx.scope.account : ctx.access_key_id};
    try {
        sqs_->handle(sctx, req, wire, [reply](http::Response r) { reply(std::move(r), "SQS"); });
    } catch (const std::exception& e) {
        lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id,
                                     e.what());
        reply(rest_json_error(Error{ErrorCode::Service, "Internal error"}, ctx.request_id),
              "Exception");
    }
}

http::Response Service::dispatch(http::Request req) {
    Exchange x{std::chrono::steady_clock::now(), {}, req.method, req.path};
    Classified c = classify(req, classify_);
    RequestContext ctx = make_context(req, config_, ids_.uuid());
    x.request_id = ctx.request_id;
    if (auto wire = sqs_wire(req, c)) {
        std::promise<std::pair<http::Response, std::string>> answered;
        auto later = answered.get_future();
        answer_sqs(ctx, req, *wire, [&answered](http::Response r, const std::string& op) {
            answered.set_value({std::move(r), op});
        });
        auto [r, op] = later.get();
        return finish(std::move(r), x, op);
    }
    std::string op;
    http::Response r = answer(ctx, req, c, op);
    return finish(std::move(r), x, op);
}

http::Response Service::answer(RequestContext& ctx, http::Request& req, const Classified& c,
                               std::string& op) {
    try {
        return route(ctx, req, c, op);
    } catch (const std::exception& e) {
        lamina::logger("api")->error("api.exception request_id={} what={}", ctx.request_id,
                                     e.what());
        op = "Exception";
        return rest_json_error(
            Error{ErrorCode::Service, std::string("Internal error: ") + e.what()}, ctx.request_id);
    }
}

http::Response Service::route(RequestContext& ctx, http::Request& req, const Classified& c,
                              std::string& op) {
    if (c.protocol == Protocol::S3) {
        bool head = req.method == "HEAD";
        std::optional<SigV4Seed> seed;
        if (auto ok = authenticate(req, ctx, true, &seed); !ok) {
            op = "S3Auth";
            return s3::s3_error_response(s3::auth_error(ok.error()), ctx.request_id, head);
        }
        op = "S3";
        s3::S3Context s3ctx{ctx.request_id, ctx.scope.region, ctx.scope.account, std::move(seed)};
        return s3_->handle(s3ctx, req);
    }
    if (auto ok = authenticate(req, ctx); !ok) {
        op = "Auth";
        if (c.protocol == Protocol::Query) return query_xml_error(ok.error(), ctx.request_id, "");
        return rest_json_error(ok.error(), ctx.request_id);
    }
    op = protocol_name(c.protocol);
    switch (c.protocol) {
        case Protocol::Health:
            return health(ctx);
        case Protocol::Metrics: {
            http::Response r;
            r.headers.set("Content-Type", "text/plain; version=0.0.4");
            r.body = metrics_->prometheus();
            return r;
        }
        case Protocol::LaminaPage:
            if (DevApi::owns(req.path)) {
                if (auto r = dev_ ? dev_->handle(req) : std::nullopt) {
                    op = "Dev";
                    return std::move(*r);
                }
                break;
            }
            if (auto r = stacks(ctx, req)) {
                op = "Stacks";
                return std::move(*r);
            }
            break;
        case Protocol::LogsJson:
            op = "Logs." + c.operation;
            return logs_->handle(ctx, c.operation, req);
        case Protocol::EcrJson:
            op = "ECR." + c.operation;
            return answer_ecr(ctx, req, c);
        case Protocol::Dashboard:
            if (auto r = ui_ ? ui_->handle(req) : std::nullopt) {
                op = "Dashboard";
                return std::move(*r);
            }
            break;
        case Protocol::CloudWatchJson:
            op = "CloudWatch";
            return cloudwatch_->handle_json(ctx, req);
        case Protocol::CloudWatchCbor:
            op = "CloudWatch";
            return cloudwatch_->handle_cbor(ctx, req);
        case Protocol::Query:
            if (cloudwatch_) {
                auto form = parse_form(req);
                if (CloudWatchApi::is_query_request(ctx, form)) {
                    op = "CloudWatch";
                    return cloudwatch_->handle_query(ctx, form);
                }
            }
            return query_.handle(ctx, req);
        case Protocol::Lambda: {
            op = c.operation;
            auto result = lambda_.handle(c.route->operation, ctx, req, *c.route);
            if (result) return std::move(*result);
            if (result.error().code == ErrorCode::Service)
                lamina::logger("api")->error("api.error request_id={} op={} message={}",
                                             ctx.request_id, op, result.error().message);
            return rest_json_error(result.error(), ctx.request_id);
        }
        case Protocol::Registry:     // answered asynchronously, by handle()
        case Protocol::FunctionUrl:  // answered asynchronously, by handle()
        case Protocol::SqsJson:
        case Protocol::SqsQuery:
        case Protocol::S3:
        case Protocol::AwsJson:
        case Protocol::Unknown:
            break;
    }
    if (auto target = req.headers.find("X-Amz-Target")) {
        op = "NotImplemented";
        return rest_json_error(
            Error{ErrorCode::NotImplemented,
                  "lamina does not emulate the operation " + *target +
                      " (it emulates AWS Lambda, STS GetCallerIdentity and IAM roles)."},
            ctx.request_id);
    }
    op = "Unknown";
    std::string what =
        "lamina does not recognise " + req.method + " " + req.path +
        (c.path_matched ? " (this path exists, with another HTTP method)" : "") +
        (ctx.service.empty() || ctx.service == "lambda"
             ? std::string(" as an AWS Lambda operation.")
             : " (signed for the '" + ctx.service + "' service, which lamina does not emulate).");
    return rest_json_error(Error{ErrorCode::UnknownOperation, what}, ctx.request_id);
}

}  // namespace lamina::api
