#pragma once
// Which protocol and operation a request is, decided once from its head
// (method, target, headers; never the body). The body policy and dispatch
// both act on this answer, so they cannot disagree.
//
// In order: function URLs (a Host "<url-id>.lambda-url.<region>.localhost",
// or the path /_lamina/urls/<url-id>/...), S3 (signed for "s3"; unsigned with a bucket Host; unsigned on a
// path no other protocol claims, except "/"), then lamina's own pages
// (/health, /metrics, /_lamina/stacks, /_lamina/ui), SQS (X-Amz-Target AmazonSQS.*, or a
// query request signed for "sqs" or sent to a queue URL's path "/<account>/<name>"),
// CloudWatch Logs (X-Amz-Target Logs_20140328.*), CloudWatch awsJson and rpc-v2-cbor,
// the query protocol (form or ?Action= on "/"), the Lambda routes, other
// X-Amz-Target calls, and Unknown. Requests signed for another service are
// never S3's; an unsigned request to "/" with no bucket Host is not either.

#include <any>
#include <optional>
#include <string>
#include <vector>

#include "lamina/http/message.hpp"
#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"

namespace lamina::api {

enum class Protocol {
    Lambda,          // rest-json route of LambdaApi (route is set)
    S3,              // s3::S3Api
    Query,           // STS, IAM or CloudWatch query protocol (the body may name CloudWatch)
    CloudWatchJson,  // awsJson 1.0, X-Amz-Target: GraniteServiceVersion20100801.<Op>
    CloudWatchCbor,  // smithy rpc-v2-cbor, POST /service/GraniteServiceVersion20100801/operation/<Op>
    SqsJson,         // awsJson 1.0, X-Amz-Target: AmazonSQS.<Op>
    SqsQuery,        // SQS query protocol: signed for "sqs", or an Action at a queue URL's path
    LogsJson,        // awsJson 1.1, X-Amz-Target: Logs_20140328.<Op> (CloudWatch Logs)
    EcrJson,         // awsJson 1.1, X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>
    Registry,        // the OCI Distribution API: /v2 and below (oci/distribution_api.hpp)
    AwsJson,         // another X-Amz-Target: a service lamina does not emulate
    Health,          // GET /health
    Metrics,         // GET /metrics (when metrics are recorded)
    LaminaPage,      // /_lamina/stacks[/...], /_lamina/invocations, /_lamina/reset
    Dashboard,       // /_lamina/ui[/...]: the dashboard page and its state (api/ui_api.hpp)
    FunctionUrl,     // a request to a function URL (url_id, url_path are set)
    Unknown,
};

struct Classified {
    Protocol protocol = Protocol::Unknown;
    // The operation where the head names it: the Lambda operation, the
    // CloudWatch operation, the query string's Action; else empty.
    std::string operation;
    std::optional<http::RouteMatch> route;  // Lambda: the router's match
    bool invoke = false;                    // Lambda Invoke or InvokeAsync
    bool path_matched = false;  // Unknown: a Lambda route has this path, with another method
    std::string url_id;         // FunctionUrl: the URL's id
    std::string url_path;       // FunctionUrl: the path below the URL's root, as sent ("/...")
    std::any prepared;          // Registry: what the registry's body policy made of the head
};

// What the answer depends on besides the request: which services are on.
struct ClassifyOptions {
    bool s3 = false;
    std::vector<std::string> s3_host_bases;  // virtual-host bases ("localhost", --host)
    bool cloudwatch = false;                 // metrics are recorded: CloudWatch and /metrics answer
    bool sqs = false;                        // SQS is served
    bool logs = false;                       // the CloudWatch Logs API is served
    bool images = false;                     // the image registry (/v2, ECR) is served
};

Classified classify(const http::Request& req, const ClassifyOptions& opt);
// The same answer from a head, before its body is read (false when the target's query is malformed).
std::optional<Classified> classify(const http::RequestHead& head, const ClassifyOptions& opt);

const char* protocol_name(Protocol p);

}  // namespace lamina::api
