#include "lamina/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include "../fakes/fake_clock.hpp"

using namespace lamina;
using namespace lamina::metrics;

namespace {
const control::Scope kScope{"123456789012", "us-east-1"};
constexpr std::int64_t kT0 = 1'700'000'040'000;  // 40 s into a minute
}  // namespace

TEST(Metrics, MinutesAggregateAndPeriodsAlignOnTheEpoch) {
    fakes::FakeClock clock(kT0);
    MetricsStore store(clock);
    store.record(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}}, 10, "Milliseconds");
    store.record(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}}, 30, "Milliseconds");
    clock.advance(60'000);
    store.record(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}}, 5, "Milliseconds");
    std::string unit;
    auto per_minute = store.query(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}},
                                  kT0 - 600'000, kT0 + 600'000, 60, &unit);
    ASSERT_EQ(per_minute.size(), 2u);
    EXPECT_EQ(unit, "Milliseconds");
    EXPECT_EQ(per_minute[0].timestamp_ms % 60'000, 0);
    EXPECT_EQ(per_minute[0].count, 2);
    EXPECT_DOUBLE_EQ(per_minute[0].sum, 40);
    EXPECT_DOUBLE_EQ(per_minute[0].minimum, 10);
    EXPECT_DOUBLE_EQ(per_minute[0].maximum, 30);
    auto hourly = store.query(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}},
                              kT0 - 3'600'000, kT0 + 3'600'000, 3600);
    ASSERT_EQ(hourly.size(), 1u);
    EXPECT_EQ(hourly[0].count, 3);
    EXPECT_DOUBLE_EQ(hourly[0].minimum, 5);
    EXPECT_EQ(hourly[0].timestamp_ms % 3'600'000, 0);
    // outside the window, another account, other dimensions: nothing
    EXPECT_TRUE(store
                    .query(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "f"}},
                           kT0 + 600'000, kT0 + 700'000, 60)
                    .empty());
    EXPECT_TRUE(store
                    .query({"999999999999", "us-east-1"}, kLambdaNamespace, "Duration",
                           {{"FunctionName", "f"}}, 0, kT0 * 2, 60)
                    .empty());
    EXPECT_TRUE(store.query(kScope, kLambdaNamespace, "Duration", {}, 0, kT0 * 2, 60).empty());
}

TEST(Metrics, LambdaDimensionSetsAsAwsRecordsThem) {
    fakes::FakeClock clock(kT0);
    MetricsStore store(clock);
    record_lambda(&store, {kScope, "f", "live", "3"}, "Invocations", 1, "Count");
    record_lambda(&store, {kScope, "f", "", "$LATEST"}, "Invocations", 1, "Count");
    record_lambda(&store, {kScope, "f", "3", "3"}, "Invocations", 1, "Count");
    auto all = store.list(kScope, kLambdaNamespace, "Invocations", {});
    // account, function, function+Resource(live), function+Resource+ExecutedVersion, function+Resource(3)
    EXPECT_EQ(all.size(), 5u);
    auto of_alias = store.list(kScope, "", "", {{"Resource", "f:live"}});
    EXPECT_EQ(of_alias.size(), 2u);
    auto fn = store.query(kScope, kLambdaNamespace, "Invocations", {{"FunctionName", "f"}}, 0,
                          kT0 * 2, 60);
    ASSERT_EQ(fn.size(), 1u);
    EXPECT_DOUBLE_EQ(fn[0].sum, 3);
    // dimension order does not matter
    auto ev = store.query(kScope, kLambdaNamespace, "Invocations",
                          {{"ExecutedVersion", "3"}, {"Resource", "f:live"}, {"FunctionName", "f"}},
                          0, kT0 * 2, 60);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_DOUBLE_EQ(ev[0].sum, 1);
}

TEST(Metrics, PrometheusShowsCountersGaugesAndTimings) {
    fakes::FakeClock clock(kT0);
    MetricsStore store(clock);
    store.record(kScope, kLambdaNamespace, "Invocations", {{"FunctionName", "f"}}, 1, "Count");
    store.record(kScope, kLambdaNamespace, "Invocations", {{"FunctionName", "f"}}, 1, "Count");
    store.record(kScope, kLambdaNamespace, "ConcurrentExecutions", {}, 4, "Count");
    store.record(kScope, kLambdaNamespace, "ConcurrentExecutions", {}, 1, "Count");
    store.record(kScope, kLambdaNamespace, "Duration", {{"FunctionName", "a\"b"}}, 2.5,
                 "Milliseconds");
    std::string page = store.prometheus();
    EXPECT_NE(page.find("lamina_aws_lambda_invocations_total{account=\"123456789012\",region=\"us-"
                        "east-1\",FunctionName=\"f\"} 2\n"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("# TYPE lamina_aws_lambda_concurrentexecutions gauge\n"),
              std::string::npos);
    EXPECT_NE(page.find("lamina_aws_lambda_concurrentexecutions{account=\"123456789012\",region="
                        "\"us-east-1\"} 1\n"),
              std::string::npos);
    EXPECT_NE(page.find("lamina_aws_lambda_duration_milliseconds_count{account=\"123456789012\","
                        "region=\"us-east-1\",FunctionName=\"a\\\"b\"} 1\n"),
              std::string::npos)
        << page;
}
