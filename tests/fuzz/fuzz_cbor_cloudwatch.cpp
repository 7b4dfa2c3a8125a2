// CBOR (common/cbor.cpp) and the CloudWatch metric reads in their three
// protocols (api/cloudwatch_api.cpp): smithy-rpc-v2-cbor, awsJson 1.0 and
// query, over a metrics store holding a few AWS/Lambda series.
//
// Input: one byte choosing what is fed, then the bytes:
//   mode % 4 == 0: cbor::decode; what decodes (to UTF-8) must re-encode stably
//   mode % 4 == 1: a CBOR body to POST .../operation/<Op>
//   mode % 4 == 2: an awsJson body for X-Amz-Target GraniteServiceVersion20100801.<Op>
//   mode % 4 == 3: a query-protocol form body (Action=...&Version=2010-08-01&...)
// (mode / 4) % 3 picks the operation. Checked beyond the sanitizers: no 500
// answer, and a JSON answer is JSON.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fakes/fake_clock.hpp"
#include "fuzz_stack.hpp"
#include "lamina/api/classify.hpp"
#include "lamina/api/cloudwatch_api.hpp"
#include "lamina/api/query_api.hpp"
#include "lamina/common/cbor.hpp"
#include "lamina/metrics/metrics.hpp"

namespace {

using namespace lamina;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_cbor_cloudwatch: %s\n", what.c_str());
    std::abort();
}

constexpr const char* kOperations[] = {"GetMetricStatistics", "GetMetricData", "ListMetrics"};

fakes::FakeClock& clock() {
    static fakes::FakeClock c(1'767'223'800'000);  // 2025-12-31T23:30Z, in the seeds' windows
    return c;
}

metrics::MetricsStore& metric_store() {
    static metrics::MetricsStore s(clock());
    return s;
}

void fill(metrics::MetricsStore& m) {
    control::Scope scope{"123456789012", "us-east-1"};
    for (int minute = 0; minute < 5; ++minute) {
        metrics::InvocationTarget t{scope, "my-function", minute % 2 ? "live" : "",
                                    minute % 2 ? "3" : ""};
        metrics::record_lambda(&m, t, "Invocations", 1, "Count");
        metrics::record_lambda(&m, t, "Duration", 12.5 * minute, "Milliseconds");
        metrics::record_lambda(&m, t, "Errors", minute % 3 == 0, "Count");
        clock().advance(60'000);
    }
}

void check(const http::Response& r) {
    if (r.status == 500) finding("500 for a CloudWatch request: " + r.body.substr(0, 2000));
    if (r.headers.get("Content-Type").find("json") != std::string::npos &&
        !nlohmann::json::accept(r.body))
        finding("a JSON answer that is not JSON: " + r.body.substr(0, 2000));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    fill(metric_store());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return -1;
    std::uint8_t mode = data[0];
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    const char* op = kOperations[(mode / 4) % 3];
    static api::CloudWatchApi cloudwatch(metric_store());
    api::RequestContext ctx;
    ctx.request_id = "00000000-0000-4000-8000-000000000001";
    ctx.scope = {"123456789012", "us-east-1"};
    ctx.service = "monitoring";
    http::Request req;
    req.method = "POST";
    req.body = std::string(bytes);
    switch (mode % 4) {
        case 0: {
            auto decoded = cbor::decode(bytes);
            if (!decoded) {
                if (decoded.error().code != ErrorCode::InvalidRequestContent)
                    finding("cbor::decode failed with another code: " + decoded.error().message);
                return 0;
            }
            // byte strings decode to strings as they are; encode writes
            // strings as text, so only UTF-8 documents must round-trip
            try {
                (void)decoded->dump();
            } catch (const nlohmann::json::type_error&) {
                (void)cbor::encode(*decoded);
                return 0;
            }
            std::string once = cbor::encode(*decoded);
            auto again = cbor::decode(once);
            if (!again) finding("cbor::encode wrote what decode refuses: " + again.error().message);
            if (cbor::encode(*again) != once) finding("cbor encode/decode is not stable");
            return 0;
        }
        case 1:
            req.path = req.target = std::string(api::kCloudWatchCborPathPrefix) + op;
            req.headers.set("Content-Type", "application/cbor");
            req.headers.set("smithy-protocol", "rpc-v2-cbor");
            if (api::classify(req, api::ClassifyOptions{.cloudwatch = true}).protocol !=
                api::Protocol::CloudWatchCbor)
                finding("a CBOR request not seen as one");
            check(cloudwatch.handle_cbor(ctx, req));
            return 0;
        case 2:
            req.path = req.target = "/";
            req.headers.set("Content-Type", "application/x-amz-json-1.0");
            req.headers.set("X-Amz-Target", std::string(api::kCloudWatchTargetPrefix) + op);
            check(cloudwatch.handle_json(ctx, req));
            return 0;
        default: {
            req.path = req.target = "/";
            req.headers.set("Content-Type", "application/x-www-form-urlencoded");
            auto form = api::parse_form(req);
            if (api::CloudWatchApi::is_query_request(ctx, form))
                check(cloudwatch.handle_query(ctx, form));
            return 0;
        }
    }
}
