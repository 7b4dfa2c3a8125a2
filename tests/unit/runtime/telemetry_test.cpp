#include "lamina/runtime/telemetry.hpp"

#include <gtest/gtest.h>

using namespace lamina::runtime;
using nlohmann::json;

namespace {

const std::string kGood =
    R"({"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/in?x=1"},"types":["platform","function"],"buffering":{"maxItems":25,"maxBytes":262144,"timeoutMs":100}})";

std::string with(const std::string& key, const json& value) {
    json j = json::parse(kGood);
    if (value.is_null())
        j.erase(key);
    else
        j[key] = value;
    return j.dump();
}

SubscribeError refused(TelemetryApi api, const std::string& body) {
    auto s = parse_subscription(api, body);
    EXPECT_FALSE(s.has_value()) << body;
    return s ? SubscribeError{} : s.error();
}

}  // namespace

TEST(Telemetry, ParsesAValidSubscription) {
    auto s = parse_subscription(TelemetryApi::Telemetry, kGood);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->port, 4243);
    EXPECT_EQ(s->target, "/in?x=1");
    EXPECT_EQ(s->kinds, unsigned(RecordKind::Platform) | unsigned(RecordKind::Function));
    EXPECT_EQ(s->types, (std::vector<std::string>{"platform", "function"}));
    EXPECT_EQ(s->buffering.max_items, 25u);
    EXPECT_EQ(s->buffering.timeout_ms, 100);
    auto defaults = parse_subscription(TelemetryApi::Telemetry, with("buffering", nullptr));
    ASSERT_TRUE(defaults.has_value());
    EXPECT_EQ(defaults->buffering.max_items, 10000u);
    EXPECT_EQ(defaults->buffering.max_bytes, 262144u);
    EXPECT_EQ(defaults->buffering.timeout_ms, 1000);
    auto no_path = parse_subscription(
        TelemetryApi::Telemetry,
        with("destination", {{"protocol", "HTTP"}, {"URI", "http://sandbox.localdomain:80"}}));
    ASSERT_TRUE(no_path.has_value());
    EXPECT_EQ(no_path->target, "/");
}

TEST(Telemetry, RefusesWhatAwsRefuses) {
    auto dest = [](const std::string& protocol, const std::string& uri) {
        return json{{"protocol", protocol}, {"URI", uri}};
    };
    for (const std::string& body :
         {std::string("not json"),
          std::string("[]"),
          with("schemaVersion", nullptr),
          with("schemaVersion", "2020-08-15"),
          with("destination", nullptr),
          with("destination", dest("HTTPS", "http://sandbox.localdomain:1")),
          with("destination", dest("HTTP", "https://sandbox.localdomain:1/")),
          with("destination", dest("HTTP", "http://localhost:4243/")),
          with("destination", dest("HTTP", "http://sandbox.localdomain/")),
          with("destination", dest("HTTP", "http://sandbox.localdomain:0/")),
          with("destination", dest("HTTP", "http://sandbox.localdomain:70000/")),
          with("types", json::array()),
          with("types", {"platform", "logs"}),
          with("buffering", {{"maxItems", 24}}),
          with("buffering", {{"maxItems", 10001}}),
          with("buffering", {{"maxBytes", 262143}}),
          with("buffering", {{"maxBytes", 1048577}}),
          with("buffering", {{"timeoutMs", 24}}),
          with("buffering", {{"timeoutMs", 30001}}),
          with("buffering", {{"timeoutMs", "100"}})}) {
        auto e = refused(TelemetryApi::Telemetry, body);
        EXPECT_EQ(e.status, 400u);
        EXPECT_EQ(e.type, "ValidationError");
    }
    auto reserved = refused(TelemetryApi::Telemetry,
                            with("destination", dest("HTTP", "http://sandbox.localdomain:9001/")));
    EXPECT_NE(reserved.message.find("9001"), std::string::npos);
    auto tcp = refused(TelemetryApi::Telemetry,
                       with("destination", dest("TCP", "http://sandbox.localdomain:4243")));
    EXPECT_NE(tcp.message.find("TCP"), std::string::npos);
}

TEST(Telemetry, LogsApiHasItsOwnVersionsAndRanges) {
    auto logs = parse_subscription(TelemetryApi::Logs, with("schemaVersion", nullptr));
    ASSERT_FALSE(logs.has_value());  // maxItems 25 is below the Logs API's 1,000
    json j = json::parse(kGood);
    j.erase("schemaVersion");
    j["buffering"]["maxItems"] = 1000;
    auto ok = parse_subscription(TelemetryApi::Logs, j.dump());
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->schema_version, "2020-08-15");
    j["schemaVersion"] = "2022-12-13";
    EXPECT_FALSE(parse_subscription(TelemetryApi::Logs, j.dump()).has_value());
}

TEST(Telemetry, RecordsHaveAwsShapes) {
    const std::int64_t t = 1700000000123;
    auto start = records::start(t, "r1", "$LATEST", "Root=1-a-b;Parent=cafe;Sampled=0");
    EXPECT_EQ(
        start.dump(),
        R"({"time":"2023-11-14T22:13:20.123Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST","tracing":{"spanId":"cafe","type":"X-Amzn-Trace-Id","value":"Root=1-a-b;Parent=cafe;Sampled=0"}}})");
    records::Invoke inv;
    inv.request_id = "r1";
    inv.status = "timeout";
    inv.error_type = "Sandbox.Timedout";
    inv.duration_ms = 3000.456;
    inv.billed_ms = 3001;
    inv.memory_mb = 128;
    inv.max_memory_mb = 40;
    inv.init_ms = 12.345;
    inv.produced_bytes = 7;
    EXPECT_EQ(
        records::report(t, inv)["record"].dump(),
        R"({"requestId":"r1","metrics":{"durationMs":3000.46,"billedDurationMs":3001,"memorySizeMB":128,"maxMemoryUsedMB":40,"initDurationMs":12.35},"status":"timeout","errorType":"Sandbox.Timedout"})");
    EXPECT_EQ(
        records::runtime_done(t, inv)["record"].dump(),
        R"({"requestId":"r1","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000.456,"producedBytes":7}})");
    EXPECT_EQ(records::init_start(t, "provisioned-concurrency")["record"].dump(),
              R"({"initializationType":"provisioned-concurrency","phase":"init"})");
    EXPECT_EQ(
        records::init_report(t, "on-demand", "success", "", 250.5)["record"].dump(),
        R"({"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":250.5}})");
    EXPECT_EQ(records::extension(t, "x", {"INVOKE"})["record"].dump(),
              R"({"name":"x","state":"Ready","events":["INVOKE"]})");
    EXPECT_EQ(records::line(t, RecordKind::Function, R"({"level":"INFO"})", true)["record"],
              json({{"level", "INFO"}}));
    EXPECT_EQ(records::line(t, RecordKind::Function, R"({"level":"INFO"})", false)["record"],
              R"({"level":"INFO"})");
    EXPECT_EQ(records::line(t, RecordKind::Extension, "hi", true)["type"], "extension");
}

TEST(Telemetry, RestoreRecordsHaveAwsShapes) {
    // AWS's Telemetry API schema reference: PlatformRestoreStart,
    // PlatformRestoreRuntimeDone, PlatformRestoreReport
    const std::int64_t t = 1700000000123;
    records::RestoreStart rs{"fn", "3", "i-1", 256, "python:3.12", "arn:rt"};
    auto start = records::restore_start(t, rs);
    EXPECT_EQ(start["type"], "platform.restoreStart");
    EXPECT_EQ(
        start["record"].dump(),
        R"({"functionName":"fn","functionVersion":"3","instanceId":"i-1","instanceMaxMemory":256,"runtimeVersion":"python:3.12","runtimeVersionArn":"arn:rt"})");
    EXPECT_EQ(records::restore_runtime_done(t, "success", "")["record"].dump(),
              R"({"status":"success"})");
    EXPECT_EQ(
        records::restore_runtime_done(t, "failure", "Runtime.AfterRestoreError")["record"].dump(),
        R"({"status":"failure","errorType":"Runtime.AfterRestoreError"})");
    auto report = records::restore_report(t, "success", "", 15.1949);
    EXPECT_EQ(report["type"], "platform.restoreReport");
    EXPECT_EQ(report["record"].dump(), R"({"status":"success","metrics":{"durationMs":15.195}})");
    // the Logs API has no restore records (as no init records)
    EXPECT_TRUE(records::to_logs_api(start).empty());
    EXPECT_TRUE(records::to_logs_api(report).empty());
    // a restored environment's first report: restoreDurationMs, no initDurationMs
    records::Invoke inv;
    inv.request_id = "r1";
    inv.restore_ms = 4.567;
    auto first = records::report(t, inv)["record"]["metrics"];
    EXPECT_EQ(first["restoreDurationMs"], 4.57);
    EXPECT_FALSE(first.contains("initDurationMs"));
}

TEST(Telemetry, LogsApiGetsItsOlderRecords) {
    const std::int64_t t = 1700000000123;
    records::Invoke inv;
    inv.request_id = "r1";
    auto done = records::to_logs_api(records::runtime_done(t, inv));
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0]["record"].dump(), R"({"requestId":"r1","status":"success"})");
    EXPECT_EQ(done[1]["type"], "platform.end");
    auto report = records::to_logs_api(records::report(t, inv));
    ASSERT_EQ(report.size(), 1u);
    EXPECT_FALSE(report[0]["record"].contains("status"));
    EXPECT_EQ(
        records::to_logs_api(records::telemetry_subscription(t, "x", {"platform"}))[0]["type"],
        "platform.logsSubscription");
    EXPECT_TRUE(records::to_logs_api(records::init_start(t, "on-demand")).empty());
    auto line = records::to_logs_api(records::line(t, RecordKind::Function, R"({"a":1})", true));
    EXPECT_EQ(line[0]["record"], R"({"a":1})");
}

TEST(Telemetry, BufferBatchesByItemsAndBytesInOrder) {
    TelemetryBuffer b(Buffering{3, 262144, 1000});
    for (int i = 0; i < 7; ++i) EXPECT_TRUE(b.push(std::to_string(i)));
    EXPECT_TRUE(b.full());
    std::size_t n = 0;
    EXPECT_EQ(b.take_batch(0, &n), "[0,1,2]");
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(b.take_batch(0), "[3,4,5]");
    EXPECT_FALSE(b.full());
    EXPECT_EQ(b.take_batch(0), "[6]");
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.take_batch(0), "");

    TelemetryBuffer bytes(Buffering{100, 10, 1000});
    bytes.push("\"aaaa\"");
    bytes.push("\"bbbb\"");
    EXPECT_TRUE(bytes.full());
    EXPECT_EQ(bytes.take_batch(0), "[\"aaaa\"]");  // a second record would pass maxBytes
    EXPECT_EQ(bytes.take_batch(0), "[\"bbbb\"]");
}

TEST(Telemetry, BufferReportsWhatItDropped) {
    TelemetryBuffer b(Buffering{1, 262144, 1000});
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.push("1"));
    EXPECT_FALSE(b.push("2"));  // four batches behind: dropped
    b.dropped(2, 10);           // an undelivered batch
    auto batch = json::parse(b.take_batch(1700000000123));
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0]["type"], "platform.logsDropped");
    EXPECT_EQ(batch[0]["record"]["droppedRecords"], 3);
    EXPECT_EQ(batch[0]["record"]["droppedBytes"], 11);
    EXPECT_EQ(batch[1], 1);
}
