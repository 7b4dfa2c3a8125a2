#include "lamina/api/classify.hpp"

#include "lamina/api/cloudwatch_api.hpp"
#include "lamina/api/lambda_api.hpp"
#include "lamina/api/logs_api.hpp"
#include "lamina/control/names.hpp"
#include "lamina/oci/distribution_api.hpp"
#include "lamina/oci/ecr_api.hpp"
#include "lamina/s3/address.hpp"
#include "lamina/s3/s3_api.hpp"
#include "lamina/sqs/sqs_api.hpp"

namespace lamina::api {

namespace {

// The parts of a request (or of a head with its target split) that decide.
struct Parts {
    const std::string& method;
    const std::string& path;
    const std::multimap<std::string, std::string>& query;
    const http::Headers& headers;
};

bool is_digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// "/YYYY-MM-DD" alone or followed by "/...": Lambda's API versions.
bool dated(std::string_view p) {
    if (p.size() < 11 || p[0] != '/' || p[5] != '-' || p[8] != '-') return false;
    if (!is_digits(p.substr(1, 4)) || !is_digits(p.substr(6, 2)) || !is_digits(p.substr(9, 2)))
        return false;
    return p.size() == 11 || p[11] == '/';
}

bool root(const std::string& p) { return p.empty() || p == "/"; }

// Function URLs for clients that cannot set a Host: /_lamina/urls/<url-id>/<path>
constexpr const char* kUrlPathPrefix = "/_lamina/urls/";

bool form_or_action(const Parts& r) {
    if (r.method != "POST" && r.method != "GET") return false;
    return r.query.contains("Action") ||
           r.headers.get("Content-Type").find("application/x-www-form-urlencoded") !=
               std::string::npos;
}

// The SQS query protocol: a form or ?Action= signed for "sqs", or sent to a queue URL's path.
bool is_sqs_query(const Parts& r, const ClassifyOptions& opt) {
    if (!opt.sqs || !form_or_action(r) || r.headers.find("X-Amz-Target")) return false;
    std::string service = s3::signing_service(r.headers, r.query);
    if (service == "sqs") return true;
    return (service.empty() || service == "sqs") && sqs::SqsApi::is_queue_path(r.path);
}

// Signed for "s3"; unsigned with a bucket Host; unsigned on a path that no
// other protocol claims and that is not "/" (which names no bucket).
bool is_s3(const Parts& r, const ClassifyOptions& opt) {
    if (!opt.s3) return false;
    std::string service = s3::signing_service(r.headers, r.query);
    if (service == "s3") return true;
    if (!service.empty()) return false;
    if (is_sqs_query(r, opt)) return false;
    if (s3::virtual_host_bucket(r.headers.get("Host"), opt.s3_host_bases)) return true;
    const std::string& p = r.path;
    if (root(p) || p == "/health" || p == "/metrics" || p.starts_with("/_lamina/")) return false;
    if (dated(p) || r.headers.find("X-Amz-Target")) return false;
    if (opt.images && oci::DistributionApi::owns(p)) return false;  // "v2" is no bucket name
    return !p.starts_with("/service/");  // smithy rpc-v2 (CloudWatch CBOR)
}

// A form posted to "/", or GET/POST "/?Action=...": STS, IAM, CloudWatch.
bool is_query(const Parts& r) {
    if (r.method != "POST" && r.method != "GET") return false;
    if (!root(r.path)) return false;
    if (r.headers.get("Content-Type").find("application/x-www-form-urlencoded") !=
        std::string::npos)
        return true;
    return r.query.contains("Action");
}

const http::Router& lambda_routes() {
    static const http::Router kRouter = [] {
        http::Router r;
        LambdaApi::add_routes(r);
        return r;
    }();
    return kRouter;
}

Classified classify_parts(const Parts& r, const ClassifyOptions& opt) {
    Classified c;
    auto is = [&c](Protocol p, std::string op = {}) {
        c.protocol = p;
        c.operation = std::move(op);
        return std::move(c);
    };
    const std::string& p = r.path;
    if (auto id = control::url_id_from_host(r.headers.get("Host"))) {
        c.url_id = std::move(*id);
        c.url_path = p.empty() ? "/" : p;
        return is(Protocol::FunctionUrl, "InvokeFunctionUrl");
    }
    if (p.starts_with(kUrlPathPrefix)) {
        std::string_view rest = std::string_view(p).substr(std::string_view(kUrlPathPrefix).size());
        auto slash = rest.find('/');
        std::string_view id = rest.substr(0, slash);
        if (id.size() == control::kUrlIdLength) {
            c.url_id = std::string(id);
            c.url_path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
            return is(Protocol::FunctionUrl, "InvokeFunctionUrl");
        }
    }
    if (is_s3(r, opt)) return is(Protocol::S3);
    if (opt.images && oci::DistributionApi::owns(p)) return is(Protocol::Registry);
    if (r.method == "GET" && p == "/health") return is(Protocol::Health);
    if (r.method == "GET" && p == "/metrics" && opt.cloudwatch) return is(Protocol::Metrics);
    if (p == "/_lamina/stacks" || p.starts_with("/_lamina/stacks/") ||
        p == "/_lamina/invocations" || p == "/_lamina/reset")
        return is(Protocol::LaminaPage);
    if (p == "/_lamina/ui" || p.starts_with("/_lamina/ui/")) return is(Protocol::Dashboard);
    const std::string* target = r.headers.find("X-Amz-Target");
    if (opt.sqs && target && target->starts_with(sqs::kTargetPrefix))
        return is(Protocol::SqsJson, target->substr(std::string_view(sqs::kTargetPrefix).size()));
    if (is_sqs_query(r, opt)) {
        auto action = r.query.find("Action");
        return is(Protocol::SqsQuery, action == r.query.end() ? std::string() : action->second);
    }
    if (opt.logs && target && target->starts_with(kLogsTargetPrefix))
        return is(Protocol::LogsJson, target->substr(std::string_view(kLogsTargetPrefix).size()));
    if (opt.images && target && target->starts_with(oci::kEcrTargetPrefix))
        return is(Protocol::EcrJson,
                  target->substr(std::string_view(oci::kEcrTargetPrefix).size()));
    if (opt.cloudwatch && target && target->starts_with(kCloudWatchTargetPrefix))
        return is(Protocol::CloudWatchJson,
                  target->substr(std::string_view(kCloudWatchTargetPrefix).size()));
    if (opt.cloudwatch && p.starts_with(kCloudWatchCborPathPrefix))
        return is(Protocol::CloudWatchCbor,
                  p.substr(std::string_view(kCloudWatchCborPathPrefix).size()));
    if (is_query(r)) {
        auto action = r.query.find("Action");
        return is(Protocol::Query, action == r.query.end() ? std::string() : action->second);
    }
    auto match = lambda_routes().match(r.method, p, r.query, &c.path_matched);
    if (match && LambdaApi::owns(match->operation)) {
        c.invoke = LambdaApi::is_invoke(match->operation);
        c.route = std::move(match);
        return is(Protocol::Lambda, LambdaApi::operation_name(c.route->operation));
    }
    if (target) return is(Protocol::AwsJson, *target);
    return is(Protocol::Unknown);
}

}  // namespace

Classified classify(const http::Request& req, const ClassifyOptions& opt) {
    return classify_parts(Parts{req.method, req.path, req.query, req.headers}, opt);
}

std::optional<Classified> classify(const http::RequestHead& head, const ClassifyOptions& opt) {
    std::string path;
    std::multimap<std::string, std::string> query;
    if (!http::parse_target(head.target, path, query)) return std::nullopt;
    return classify_parts(Parts{head.method, path, query, head.headers}, opt);
}

const char* protocol_name(Protocol p) {
    switch (p) {
        case Protocol::Lambda:
            return "Lambda";
        case Protocol::S3:
            return "S3";
        case Protocol::Query:
            return "Query";
        case Protocol::CloudWatchJson:
            return "CloudWatchJson";
        case Protocol::CloudWatchCbor:
            return "CloudWatchCbor";
        case Protocol::SqsJson:
            return "SqsJson";
        case Protocol::SqsQuery:
            return "SqsQuery";
        case Protocol::LogsJson:
            return "LogsJson";
        case Protocol::AwsJson:
            return "AwsJson";
        case Protocol::EcrJson:
            return "EcrJson";
        case Protocol::Registry:
            return "Registry";
        case Protocol::Health:
            return "Health";
        case Protocol::Metrics:
            return "Metrics";
        case Protocol::LaminaPage:
            return "LaminaPage";
        case Protocol::Dashboard:
            return "Dashboard";
        case Protocol::FunctionUrl:
            return "FunctionUrl";
        case Protocol::Unknown:
            return "Unknown";
    }
    return "Unknown";
}

}  // namespace lamina::api
