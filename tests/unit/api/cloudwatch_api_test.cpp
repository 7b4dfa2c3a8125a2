#include "lamina/api/cloudwatch_api.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes/fake_clock.hpp"

using namespace lamina;
using namespace lamina::api;

namespace {

RequestContext context() {
    RequestContext ctx;
    ctx.request_id = "rid";
    ctx.scope = {"123456789012", "us-east-1"};
    ctx.service = "monitoring";
    return ctx;
}

std::map<std::string, std::string> statistics_form(const std::string& start) {
    return {{"Action", "GetMetricStatistics"},
            {"Version", "2010-08-01"},
            {"Namespace", "AWS/Lambda"},
            {"MetricName", "Invocations"},
            {"StartTime", start},
            {"EndTime", "2026-01-01T00:00:00Z"},
            {"Period", "60"},
            {"Statistics.member.1", "Sum"}};
}

}  // namespace

// Found by tests/fuzz (fuzz_cbor_cloudwatch): an epoch-seconds time of dots
// made std::stod throw (a 500 through the service), and one too large for
// an int64 of milliseconds was undefined behaviour.
TEST(CloudWatchApi, MalformedEpochTimesAreInvalidParameterValue) {
    fakes::FakeClock clock;
    metrics::MetricsStore store(clock);
    CloudWatchApi api(store);
    for (const std::string& start : std::vector<std::string>{
             ".", "..", "1.2.3", "99999999999999999999999999", std::string(400, '9')}) {
        auto r = api.handle_query(context(), statistics_form(start));
        EXPECT_EQ(r.status, 400u) << start;
        EXPECT_NE(r.body.find("InvalidParameterValue"), std::string::npos) << start;
    }
    auto ok = api.handle_query(context(), statistics_form("1767222000.5"));
    EXPECT_EQ(ok.status, 200u);
}

// Found by tests/fuzz (fuzz_api_dispatch): an awsJson operation name or
// metric name that is not UTF-8 made nlohmann's dump() throw (a 500).
TEST(CloudWatchApi, AwsJsonAnswersQuoteBytesThatAreNotUtf8) {
    fakes::FakeClock clock;
    metrics::MetricsStore store(clock);
    store.record({"123456789012", "us-east-1"}, "AWS/Lambda", "Invo\xffs", {}, 1, "Count");
    CloudWatchApi api(store);
    http::Request req;
    req.method = "POST";
    req.target = req.path = "/";
    req.headers.set("Content-Type", "application/x-amz-json-1.0");
    req.headers.set("X-Amz-Target", std::string(kCloudWatchTargetPrefix) + "GetM\x9b\x8b" + "Data");
    req.body = "{}";
    auto unknown = api.handle_json(context(), req);
    EXPECT_EQ(unknown.status, 400u);
    EXPECT_TRUE(nlohmann::json::accept(unknown.body)) << unknown.body;

    req.headers.set("X-Amz-Target", std::string(kCloudWatchTargetPrefix) + "ListMetrics");
    req.body = R"({"Namespace":"AWS/Lambda"})";
    auto listed = api.handle_json(context(), req);
    EXPECT_EQ(listed.status, 200u);
    EXPECT_TRUE(nlohmann::json::accept(listed.body)) << listed.body;
}

// Found by tests/fuzz (fuzz_cbor_cloudwatch): a GetMetricData Period of
// 1e119 was read as an int (undefined behaviour).
TEST(CloudWatchApi, GetMetricDataFloatPeriodIsAWrongTypeError) {
    fakes::FakeClock clock;
    metrics::MetricsStore store(clock);
    CloudWatchApi api(store);
    http::Request req;
    req.method = "POST";
    req.target = req.path = "/";
    req.headers.set("Content-Type", "application/x-amz-json-1.0");
    req.headers.set("X-Amz-Target", std::string(kCloudWatchTargetPrefix) + "GetMetricData");
    for (const char* period : {"1e119", "60.5", "\"60\""}) {
        req.body =
            std::string(
                R"({"MetricDataQueries":[{"Id":"m1","MetricStat":{"Metric":{"Namespace":"AWS/Lambda",)") +
            R"("MetricName":"Duration"},"Period":)" + period +
            R"(,"Stat":"Maximum"}}],"StartTime":1767222000,"EndTime":1767225600})";
        auto r = api.handle_json(context(), req);
        EXPECT_EQ(r.status, 400u) << period;
        EXPECT_NE(r.body.find("wrong type"), std::string::npos) << r.body;
    }
}
