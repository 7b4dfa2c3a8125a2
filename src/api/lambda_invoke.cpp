#include "lamina/api/lambda_api.hpp"

// Invoke and InvokeAsync, and the async event queue's hooks: both build the
// data plane's InvokeRequest the same way.

#include <optional>

#include "invoke_stream.hpp"
#include "json_input.hpp"
#include "lambda_input.hpp"
#include "lambda_routes.hpp"
#include "lambda_tenancy.hpp"
#include "lamina/api/event_hooks.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"
#include "lamina/common/trace_header.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/metrics/metrics.hpp"

namespace lamina::api {

using control::FunctionRef;
using control::NameShape;
using control::Scope;

namespace {

// Largest X-Amz-Client-Context header AWS takes: 3,583 bytes of base64.
constexpr std::size_t kMaxClientContextBytes = 3583;

}  // namespace

exec::InvokeRequest invoke_request(const Scope& scope, const FunctionRef& ref,
                                   control::ConfigView view, std::string payload,
                                   const std::string& request_id) {
    exec::InvokeRequest in;
    in.scope = scope;
    in.function_name = view.name;
    in.config = std::move(view.config);
    in.invoked_arn = ref.qualifier ? control::qualified_arn(scope, view.name, *ref.qualifier)
                                   : control::function_arn(scope, view.name);
    in.payload = std::move(payload);
    in.request_id = request_id;
    in.qualifier = ref.qualifier.value_or("");
    in.reserved_concurrency = view.reserved_concurrency;
    in.reserved_total = view.reserved_total;
    in.provisioned_total = view.provisioned_total;
    return in;
}

exec::EventQueueHooks event_queue_hooks(control::Registry& registry, IdSource& ids) {
    exec::EventQueueHooks hooks;
    hooks.resolve = [&registry, &ids](const exec::QueuedEvent& e) -> Result<exec::InvokeRequest> {
        FunctionRef ref{e.function, e.qualifier.empty() ? std::nullopt
                                                        : std::optional<std::string>(e.qualifier)};
        LAMINA_TRY(view, registry.resolve_invocation(e.scope, ref, ids.unit_draw()));
        std::optional<std::string> tenant;
        if (!e.tenant_id.empty()) tenant = e.tenant_id;
        // an event without a tenant (a destination, an S3 notification) cannot
        // run a tenant-isolated function: dropped with this reason
        LAMINA_CHECK(check_tenant_id(view.config, tenant));
        exec::InvokeRequest in = invoke_request(e.scope, ref, std::move(view), e.payload, e.id);
        in.tenant_id = e.tenant_id;
        return in;
    };
    hooks.config =
        [&registry](const exec::QueuedEvent& e) -> std::optional<control::EventInvokeConfig> {
        FunctionRef ref{e.function, e.qualifier.empty() ? std::string("$LATEST") : e.qualifier};
        auto got = registry.get_event_invoke_config(e.scope, ref);
        if (!got) return std::nullopt;
        return got->config;
    };
    hooks.stops_loops = [&registry](const exec::QueuedEvent& e) {
        auto loop = registry.get_recursion_config(e.scope, FunctionRef{e.function, std::nullopt});
        return !loop || *loop != "Allow";
    };
    hooks.dead_letter_target =
        [&registry](const exec::QueuedEvent& e) -> std::optional<std::string> {
        FunctionRef ref{e.function, e.qualifier.empty() ? std::nullopt
                                                        : std::optional<std::string>(e.qualifier)};
        auto got = registry.get_function(e.scope, ref);
        if (!got) return std::nullopt;
        return got->view.config.dead_letter_target;
    };
    return hooks;
}

esm::PollerHooks esm_poller_hooks(control::Registry& registry, IdSource& ids,
                                  metrics::MetricsStore* metrics) {
    esm::PollerHooks hooks;
    hooks.stops_loops = [&registry](const control::EventSourceMapping& m) {
        auto loop =
            registry.get_recursion_config(m.scope, FunctionRef{m.function_name, std::nullopt});
        return !loop || *loop != "Allow";
    };
    hooks.dropped_recursive = [metrics](const control::EventSourceMapping& m,
                                        const std::string& message_id) {
        logger("esm")->warn(
            "esm.recursive_loop_stopped function={} mapping={} message_id={} depth={}: the message "
            "has invoked the function {} times through a loop; it is left to the queue's redrive "
            "policy (PutFunctionRecursionConfig RecursiveLoop=Allow lets it run)",
            m.function_name, m.uuid, message_id, kMaxRecursionDepth, kMaxRecursionDepth);
        metrics::record_lambda(metrics, {m.scope, m.function_name, m.qualifier, ""},
                               "RecursiveInvocationsDropped", 1, "Count");
    };
    hooks.resolve = [&registry, &ids](const control::EventSourceMapping& m,
                                      std::string payload) -> Result<exec::InvokeRequest> {
        FunctionRef ref{m.function_name, m.qualifier.empty()
                                             ? std::nullopt
                                             : std::optional<std::string>(m.qualifier)};
        LAMINA_TRY(view, registry.resolve_invocation(m.scope, ref, ids.unit_draw()));
        return invoke_request(m.scope, ref, std::move(view), std::move(payload), ids.uuid());
    };
    return hooks;
}

bool LambdaApi::is_invoke(int operation) {
    auto op = op_from_id(operation);
    return op == Op::Invoke || op == Op::InvokeAsync || op == Op::InvokeWithResponseStream;
}

namespace {

// Who answers a streamed invocation's caller: the stream's start (a runtime
// that streams), or the invocation's end (one that answered at once, a
// refusal), whichever comes first.
struct StreamCall {
    std::mutex mu;
    bool responded = false;
    std::shared_ptr<InvokeStream> stream;
};

// lamina's own share of a sync invoke, as Server-Timing entries: `deliver`
// from the request's head read to the event handed to the runtime's /next
// answer, `answer` from the head of the runtime's answer read to this
// response built (Service::finish adds `app`, the whole time in the handler).
// Absent when the runtime never answered (a timeout, a crash).
void set_own_share(http::Response& r, std::chrono::steady_clock::time_point arrived,
                   const exec::InvokeResult& out) {
    using std::chrono::steady_clock;
    const steady_clock::time_point unset{};
    if (arrived == unset || out.delivered == unset || out.answered == unset) return;
    auto ms = [](steady_clock::duration d) {
        return std::to_string(
            static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
            1e6);
    };
    r.headers.set("Server-Timing", "deliver;dur=" + ms(out.delivered - arrived) +
                                       ", answer;dur=" + ms(steady_clock::now() - out.answered));
}

// The caller's error when the invocation was refused before it ran: a
// throttle (429), or SnapStart's errors (AWS errors, not function errors).
std::optional<Error> refusal_of(exec::InvokeResult& out) {
    if (out.throttle) {
        Error e{ErrorCode::TooManyRequests, out.throttle->message};
        e.reason = out.throttle->reason;
        return e;
    }
    if (out.refused) return std::move(*out.refused);
    return std::nullopt;
}

http::Response stream_head(const std::string& request_id, const std::string& executed) {
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/vnd.amazon.eventstream");
    r.headers.set("x-amzn-RequestId", request_id);
    r.headers.set("X-Amz-Executed-Version", executed);
    return r;
}

}  // namespace

void LambdaApi::invoke_streaming(exec::InvokeRequest in, bool tail,
                                 const std::function<void(Result<http::Response>)>& respond) {
    auto call = std::make_shared<StreamCall>();
    const std::string executed = in.config.version;
    const std::string request_id = in.request_id;
    in.on_stream = [call, respond, tail, executed, request_id](
                       std::shared_ptr<http::BodySource> body, const std::string&) {
        auto stream = std::make_shared<InvokeStream>(
            std::move(body), std::string(),
            [](const std::string& bytes) { return payload_chunk_event(bytes); },
            [tail](const exec::InvokeResult& r) {
                return std::vector<http::BodyPiece>{
                    http::BodyPiece::bytes(invoke_complete_event(r, tail)), http::BodyPiece::end()};
            });
        {
            std::lock_guard lk(call->mu);
            if (call->responded) {
                stream->cancel();
                return;
            }
            call->responded = true;
            call->stream = stream;
        }
        http::Response r = stream_head(request_id, executed);
        r.stream = std::move(stream);
        r.lambda_stream = true;
        respond(std::move(r));
    };
    invoker_->invoke(std::move(in),
                     [call, respond, tail, executed, request_id](exec::InvokeResult out) {
                         std::shared_ptr<InvokeStream> stream;
                         {
                             std::lock_guard lk(call->mu);
                             stream = call->stream;
                             if (!stream) {
                                 if (call->responded) return;
                                 call->responded = true;
                             }
                         }
                         if (stream) {
                             stream->complete(out);
                             return;
                         }
                         if (auto refusal = refusal_of(out)) {
                             respond(std::unexpected(std::move(*refusal)));
                             return;
                         }
                         http::Response r = stream_head(request_id, executed);
                         r.body = buffered_stream_body(out, tail);
                         respond(std::move(r));
                     });
}

void LambdaApi::invoke(int operation, const RequestContext& ctx, const http::Request& req,
                       const http::RouteMatch& m,
                       const std::function<void(Result<http::Response>)>& respond) {
    bool async = op_from_id(operation) == Op::InvokeAsync;
    bool streaming = op_from_id(operation) == Op::InvokeWithResponseStream;
    auto result = [&]() -> Result<std::optional<exec::InvokeRequest>> {
        LAMINA_CHECK(refuse_unemulated_members(*op_from_id(operation), req));
        LAMINA_TRY(tenant, read_tenant_id(req));  // X-Amz-Tenant-Id (tenant isolation)
        // A function of another account runs there (its concurrency, its
        // metrics) when its resource policy lets the caller's account invoke it.
        std::optional<std::string> owner;
        LAMINA_TRY(ref, control::resolve_function_name(m.params.at("FunctionName"), NameShape::Read,
                                                       req.query_param("Qualifier"), ctx.scope,
                                                       "lambda:InvokeFunction", &owner));
        Scope scope = ctx.scope;
        if (owner) {
            scope.account = *owner;
            if (!registry_.permits(scope, ref, ctx.scope.account, "lambda:InvokeFunction"))
                return std::unexpected(
                    control::access_denied(ctx.scope.account, "lambda:InvokeFunction",
                                           control::function_arn(scope, ref.name) +
                                               (ref.qualifier ? ":" + *ref.qualifier : "")));
        }
        std::string type =
            async ? "Event" : req.headers.get("X-Amz-Invocation-Type", "RequestResponse");
        if (streaming && type != "RequestResponse" && type != "DryRun") {
            control::ValidationErrors v;
            v.add(type, "invocationType",
                  "Member must satisfy enum value set: [RequestResponse, DryRun]");
            return std::unexpected(v.error());
        }
        if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
            control::ValidationErrors v;
            v.add(type, "invocationType",
                  "Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
            return std::unexpected(v.error());
        }
        if (type == "Event" && req.body.size() > 1048576)
            return fail(ErrorCode::RequestEntityTooLarge,
                        std::to_string(req.body.size()) +
                            " byte payload is too large for the Event invocation "
                            "type (limit 1048576 bytes)");
        // InvokeAsync's InvokeArgs become the same event: the same checks
        if (!req.body.empty()) {
            if (auto bad = invalid_utf8(req.body))
                return fail(
                    ErrorCode::InvalidRequestContent,
                    "Could not parse request body into json: Could not parse payload into json: " +
                        *bad);
        }
        if (auto log_type = req.headers.find("X-Amz-Log-Type");
            log_type && *log_type != "None" && *log_type != "Tail") {
            control::ValidationErrors v;
            v.add(*log_type, "logType", "Member must satisfy enum value set: [None, Tail]");
            return std::unexpected(v.error());
        }
        if (!req.body.empty() && !nlohmann::json::accept(req.body)) {
            try {
                auto parsed = nlohmann::json::parse(req.body);
                (void)parsed;
            } catch (const nlohmann::json::exception& e) {
                return fail(ErrorCode::InvalidRequestContent,
                            std::string("Could not parse request body into json: Could not parse "
                                        "payload into json: ") +
                                e.what());
            }
        }
        LAMINA_TRY(view, registry_.resolve_invocation(scope, ref, ids_.unit_draw()));
        LAMINA_CHECK(check_tenant_id(view.config, tenant));
        if (type == "DryRun") return std::optional<exec::InvokeRequest>{};
        if (!invoker_)
            return fail(ErrorCode::NotImplemented, "lamina was started without a data plane");
        exec::InvokeRequest in =
            invoke_request(scope, ref, std::move(view),
                           req.body.empty() ? std::string("{}") : req.body, ctx.request_id);
        in.tenant_id = tenant.value_or("");
        // Recursive loop detection: a function that invokes itself through the
        // SDK passes its trace header on, and Lineage counts the trips.
        if (auto trace = req.headers.find("X-Amzn-Trace-Id"); trace && type != "Event") {
            const std::string hash = lineage_hash(control::function_arn(scope, in.function_name));
            const int depth = lineage_count(*trace, hash);
            if (depth >= kMaxRecursionDepth) {
                auto loop = registry_.get_recursion_config(
                    scope, FunctionRef{in.function_name, std::nullopt});
                if (!loop || *loop != "Allow") {
                    logger("api")->warn("invoke.recursive_loop_stopped function={} depth={}",
                                        in.function_name, depth);
                    return fail(ErrorCode::RecursiveInvocation,
                                "Lambda detected that this invocation is part of a recursive loop "
                                "(it has invoked " +
                                    in.function_name + " " + std::to_string(depth) +
                                    " times) and stopped it. PutFunctionRecursionConfig with "
                                    "RecursiveLoop Allow lets such loops run.");
                }
            }
            in.trace_header = with_lineage(*trace, hash, depth + 1, ids_);
        }
        if (auto cc = req.headers.find("X-Amz-Client-Context")) {
            if (cc->size() > kMaxClientContextBytes)
                return fail(
                    ErrorCode::InvalidParameterValue,
                    "Client context must be no larger than 3583 bytes when Base64-encoded.");
            auto decoded = base64_decode(*cc);
            if (!decoded || !nlohmann::json::accept(*decoded))
                return fail(ErrorCode::InvalidParameterValue,
                            "Client context must be a valid Base64-encoded JSON object.");
            in.client_context = *decoded;
        }
        if (type == "Event") {
            // stored, then answered 202; it runs from the queue (retries, destinations)
            if (!events_)
                return fail(ErrorCode::NotImplemented, "lamina was started without an event queue");
            exec::QueuedEvent e;
            e.id = ctx.request_id;
            e.scope = scope;
            e.function = in.function_name;
            e.qualifier = ref.qualifier.value_or("");
            e.payload = std::move(in.payload);
            e.tenant_id = in.tenant_id;
            // the queue counts the trip when it runs the event (and stops a loop there)
            if (auto trace = req.headers.find("X-Amzn-Trace-Id")) e.trace_header = *trace;
            LAMINA_CHECK(events_->enqueue(std::move(e)));
            return std::optional<exec::InvokeRequest>{};
        }
        return std::optional<exec::InvokeRequest>(std::move(in));
    }();
    if (!result) {
        respond(std::unexpected(result.error()));
        return;
    }
    if (!*result) {
        std::string type =
            async ? "Event" : req.headers.get("X-Amz-Invocation-Type", "RequestResponse");
        http::Response r;
        r.status = type == "DryRun" ? 204 : 202;
        r.headers.set("x-amzn-RequestId", ctx.request_id);
        if (async) r.body = R"({"Status":202})";
        respond(r);
        return;
    }
    bool tail = req.headers.get("X-Amz-Log-Type") == "Tail";
    if (streaming) {
        invoke_streaming(std::move(**result), tail, respond);
        return;
    }
    std::string executed = (*result)->config.version;
    std::string request_id = ctx.request_id;
    (*result)->log_after_answer = !tail;  // the log lines only travel with a Tail answer
    invoker_->invoke(std::move(**result), [respond, tail, executed, request_id,
                                           arrived = req.arrived](exec::InvokeResult out) {
        if (auto refusal = refusal_of(out)) {
            respond(std::unexpected(std::move(*refusal)));
            return;
        }
        http::Response r;
        r.status = 200;
        r.headers.set("Content-Type", "application/json");
        r.headers.set("x-amzn-RequestId", request_id);
        r.headers.set("X-Amz-Executed-Version", executed);
        if (out.function_error) r.headers.set("X-Amz-Function-Error", "Unhandled");
        if (tail) {
            std::string_view log(out.log);
            if (log.size() > 4096) log.remove_prefix(log.size() - 4096);
            r.headers.set("X-Amz-Log-Result", base64_encode(log));
        }
        r.body = std::move(out.payload);
        set_own_share(r, arrived, out);
        respond(std::move(r));
    });
}

}  // namespace lamina::api
