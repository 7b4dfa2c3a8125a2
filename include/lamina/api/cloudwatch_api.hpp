#pragma once
// CloudWatch metric reads through lamina's endpoint, so that
// `aws cloudwatch get-metric-statistics` / `get-metric-data` / `list-metrics`
// see the AWS/Lambda metrics lamina records. This aws CLI and boto3 speak
// awsJson 1.0 (X-Amz-Target: GraniteServiceVersion20100801.<Op>); newer
// Smithy SDKs smithy-rpc-v2-cbor (POST /service/GraniteServiceVersion20100801/
// operation/<Op>, CBOR bodies, timestamps as tag 1); older clients the query
// protocol (Action=<Op>&Version=2010-08-01). Each is answered in the protocol
// of the request, errors included. awsJson and CBOR share one implementation
// on JSON-shaped documents.

#include "lamina/api/request_context.hpp"
#include "lamina/http/message.hpp"
#include "lamina/metrics/metrics.hpp"

namespace lamina::api {

inline constexpr const char* kCloudWatchTargetPrefix = "GraniteServiceVersion20100801.";
inline constexpr const char* kCloudWatchCborPathPrefix =
    "/service/GraniteServiceVersion20100801/operation/";

class CloudWatchApi {
public:
    explicit CloudWatchApi(metrics::MetricsStore& store);

    // Which requests are awsJson or rpc-v2-cbor CloudWatch calls: api::classify.
    // A query-protocol request for CloudWatch (Version=2010-08-01 or signed for "monitoring").
    static bool is_query_request(const RequestContext& ctx,
                                 const std::map<std::string, std::string>& form);

    http::Response handle_json(const RequestContext& ctx, const http::Request& req);
    http::Response handle_cbor(const RequestContext& ctx, const http::Request& req);
    http::Response handle_query(const RequestContext& ctx,
                                const std::map<std::string, std::string>& form);

private:
    metrics::MetricsStore& store_;
};

}  // namespace lamina::api
