#include "lamina/api/lambda_api.hpp"

// Requests to function URLs (the HTTP data plane): the URL's function and
// auth type, the resource policy, CORS, the payload 2.0 event, and the
// function's result as the HTTP response: whole (BUFFERED), or chunk by
// chunk as the function streams it (RESPONSE_STREAM).

#include <nlohmann/json.hpp>

#include "invoke_stream.hpp"
#include "lambda_input.hpp"
#include "lamina/common/trace_header.hpp"
#include "url_http.hpp"

namespace lamina::api {

using json = nlohmann::json;

namespace {

std::string joined(const json& cors, const char* key) {
    std::string out;
    if (auto it = cors.find(key); it != cors.end() && it->is_array())
        for (const auto& v : *it) out += (out.empty() ? "" : ",") + v.get<std::string>();
    return out;
}

// The URL's CORS headers for a request from `origin` (none when the origin
// is not allowed). The configured values replace the function's own.
void add_cors(http::Response& r, const json& cors, const std::string& origin, bool preflight) {
    if (origin.empty()) return;
    bool any = false, listed = false;
    if (auto it = cors.find("AllowOrigins"); it != cors.end() && it->is_array())
        for (const auto& o : *it) {
            any = any || o == "*";
            listed = listed || o == origin;
        }
    if (!any && !listed) return;
    const bool credentials = cors.value("AllowCredentials", false);
    r.headers.set("Access-Control-Allow-Origin", listed || credentials ? origin : "*");
    if (listed || credentials) r.headers.set("Vary", "Origin");
    if (credentials) r.headers.set("Access-Control-Allow-Credentials", "true");
    if (auto expose = joined(cors, "ExposeHeaders"); !expose.empty())
        r.headers.set("Access-Control-Expose-Headers", expose);
    if (!preflight) return;
    if (auto methods = joined(cors, "AllowMethods"); !methods.empty())
        r.headers.set("Access-Control-Allow-Methods", methods);
    if (auto headers = joined(cors, "AllowHeaders"); !headers.empty())
        r.headers.set("Access-Control-Allow-Headers", headers);
    if (auto it = cors.find("MaxAge"); it != cors.end() && it->is_number_integer())
        r.headers.set("Access-Control-Max-Age", std::to_string(it->get<long long>()));
}

// Who answers a RESPONSE_STREAM URL's caller: the stream's start, or the
// invocation's end when the function did not stream, whichever comes first.
struct UrlStreamCall {
    std::mutex mu;
    bool responded = false;
    std::shared_ptr<InvokeStream> stream;
};

}  // namespace

void LambdaApi::invoke_url(const RequestContext& ctx, const http::Request& req,
                           const std::string& url_id, const std::string& raw_path,
                           const std::function<void(http::Response)>& respond) {
    auto target = registry_.find_function_url(url_id);
    if (!target) {
        respond(url_unknown());
        return;
    }
    const control::FunctionUrlConfig& url = target->config;
    const std::string origin = req.headers.get("Origin");
    // a CORS preflight is answered here, without the function or credentials
    if (url.cors && req.method == "OPTIONS" && !origin.empty() &&
        req.headers.find("Access-Control-Request-Method")) {
        http::Response r;
        r.status = 200;
        add_cors(r, *url.cors, origin, true);
        respond(std::move(r));
        return;
    }
    const bool signed_request = !ctx.access_key_id.empty();
    control::FunctionRef ref{
        target->function_name,
        target->qualifier.empty() ? std::nullopt : std::optional<std::string>(target->qualifier)};
    // AWS_IAM: same-account callers are allowed by their identity (lamina
    // keeps no identity policies); other accounts need the function's policy too
    const bool allowed =
        url.auth_type == "AWS_IAM"
            ? signed_request &&
                  (ctx.scope.account == target->scope.account ||
                   registry_.permits_url(target->scope, ref, "AWS_IAM", ctx.scope.account))
            : registry_.permits_url(target->scope, ref, "NONE", "");
    if (!allowed) {
        respond(url_forbidden());
        return;
    }
    auto view = registry_.resolve_invocation(target->scope, ref, ids_.unit_draw());
    if (!view || !invoker_) {
        respond(url_internal_error());
        return;
    }
    UrlEventContext ec;
    ec.url_id = url_id;
    auto [host, port] = control::split_host_port(req.headers.get("Host", ctx.host));
    ec.domain_name = control::url_id_from_host(host) ? host : ctx.host;
    ec.port = port;
    ec.account_id = target->scope.account;
    ec.request_id = ctx.request_id;
    ec.source_ip = control::split_host_port(req.remote_address).host;
    ec.epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    // the caller's X-Amzn-Trace-Id carries on (the event shows it; the function gets its Root)
    ec.trace_id = req.headers.get("x-amzn-trace-id");
    if (ec.trace_id.empty()) ec.trace_id = "Root=1-" + ids_.hex(8) + "-" + ids_.hex(24);
    if (url.auth_type == "AWS_IAM")
        ec.iam = json{{"accessKey", ctx.access_key_id},
                      {"accountId", ctx.scope.account},
                      {"callerId", ctx.access_key_id},
                      {"cognitoIdentity", nullptr},
                      {"principalOrgId", nullptr},
                      {"userArn", "arn:aws:iam::" + ctx.scope.account + ":root"},
                      {"userId", ctx.scope.account}};
    const auto q = req.target.find('?');
    const std::string raw_query = q == std::string::npos ? "" : req.target.substr(q + 1);
    std::string payload = url_event(req, raw_path, raw_query, ec)
                              .dump(-1, ' ', false, json::error_handler_t::replace);
    if (payload.size() > kMaxUrlEventBytes) {  // a binary body grows by a third as base64
        respond(url_too_large());
        return;
    }
    exec::InvokeRequest in =
        invoke_request(target->scope, ref, std::move(*view), std::move(payload), ctx.request_id);
    in.trace_header = invocation_trace(ec.trace_id, ids_);
    const bool streaming = url.effective_invoke_mode() == "RESPONSE_STREAM";
    std::optional<json> cors = url.cors;
    auto call = std::make_shared<UrlStreamCall>();
    if (streaming) {
        in.on_stream = [call, respond, cors, origin, request_id = ctx.request_id](
                           const std::shared_ptr<http::BodySource>& body,
                           const std::string& content_type) {
            // the answer starts once its head is known: at once, or after the prelude
            auto start = [call, respond, cors, origin, request_id](
                             std::optional<http::Response> head, std::string lead,
                             const std::shared_ptr<http::BodySource>& source) {
                {
                    std::lock_guard lk(call->mu);
                    if (call->responded) {
                        source->cancel();
                        return;
                    }
                    call->responded = true;
                    if (head) {
                        // a function error after the head ends the body without its last
                        // chunk: the client sees it broken off, not complete
                        call->stream = std::make_shared<InvokeStream>(
                            source, std::move(lead), nullptr, [](const exec::InvokeResult& r) {
                                return std::vector<http::BodyPiece>{
                                    r.function_error ? http::BodyPiece::failed("function error")
                                                     : http::BodyPiece::end()};
                            });
                        head->stream = call->stream;
                        head->lambda_stream = true;
                    }
                }
                http::Response r = head ? std::move(*head) : url_internal_error();
                if (!head) source->cancel();  // an unusable prelude: the function runs on, unheard
                if (cors) add_cors(r, *cors, origin, false);
                r.headers.set("x-amzn-RequestId", request_id);
                respond(std::move(r));
            };
            if (content_type != kHttpIntegrationType) {
                // the head goes once the first bytes (or the end) are there: a function
                // that fails before it wrote anything answers 502, not a broken 200
                body->next([start, body, content_type](http::BodyPiece first) {
                    std::optional<http::Response> head;
                    if (first.kind != http::BodyPiece::Kind::Failed) {
                        head.emplace();
                        head->headers.set("Content-Type", content_type);
                    }
                    start(std::move(head), std::move(first.data), body);
                });
                return;
            }
            read_prelude(body, [start, body](auto prelude) {
                std::optional<http::Response> head;
                if (prelude) head = url_stream_head(prelude->first);
                start(std::move(head), prelude ? std::move(prelude->second) : std::string(), body);
            });
        };
    }
    in.log_after_answer = true;  // a function URL's answer never carries log lines
    invoker_->invoke(std::move(in), [call, respond, streaming, cors, origin,
                                     request_id = ctx.request_id](exec::InvokeResult out) {
        std::shared_ptr<InvokeStream> stream;
        {
            std::lock_guard lk(call->mu);
            if (call->responded && !call->stream) return;  // answered 502 from a bad prelude
            stream = call->stream;
            call->responded = true;
        }
        if (stream) {
            stream->complete(out);
            return;
        }
        // a function error, or a result that makes no response: 502
        http::Response r = url_internal_error();
        if (out.throttle) {
            r.status = 429;
            r.headers.set("x-amzn-ErrorType", "TooManyRequestsException");
            r.body = R"({"Message":"Rate Exceeded."})";
        } else if (!out.function_error && streaming) {
            // a handler that does not stream, behind a RESPONSE_STREAM URL: its raw result
            r.status = 200;
            r.headers.set("Content-Type", "application/octet-stream");
            r.body = std::move(out.payload);
        } else if (!out.function_error) {
            if (auto mapped = url_response(out.payload)) r = std::move(*mapped);
        }
        if (cors) add_cors(r, *cors, origin, false);
        r.headers.set("x-amzn-RequestId", request_id);
        respond(std::move(r));
    });
}

}  // namespace lamina::api
