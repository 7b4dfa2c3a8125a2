// S3Api's bucket notifications: Get/PutBucketNotificationConfiguration and
// the hand-off of event records to their destinations.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"
#include "lamina/s3/s3_api.hpp"

namespace lamina::s3 {

namespace {

// S3's generated configuration ids are base64 of a UUID.
std::string new_configuration_id(IdSource& ids) { return base64_encode(ids.uuid()); }

std::string test_event(const std::string& bucket, const std::string& request_id,
                       std::int64_t now_ms) {
    nlohmann::ordered_json j;
    j["Service"] = "Amazon S3";
    j["Event"] = "s3:TestEvent";
    j["Time"] = format_iso8601_ms(now_ms);
    j["Bucket"] = bucket;
    j["RequestId"] = request_id;
    j["HostId"] = base64_encode(request_id);
    return j.dump();
}

}  // namespace

S3Result<std::optional<std::string>> S3Api::notification_request(const S3Context& ctx,
                                                                 const http::Request& req,
                                                                 const std::string& bucket,
                                                                 std::string_view body) {
    auto info = store_.head_bucket(bucket);
    if (!info) return std::unexpected(info.error());
    if (req.method == "GET") {
        auto config = store_.notification(bucket);
        if (!config) return std::unexpected(config.error());
        return std::optional<std::string>(render_notification_xml(*config));
    }
    if (req.method != "PUT")
        return s3_fail(S3ErrorCode::MethodNotAllowed,
                       {{"Method", req.method}, {"ResourceType", "BUCKET"}});
    auto config =
        parse_notification_xml(body, [this] { return new_configuration_id(store_.ids()); });
    if (!config) return std::unexpected(config.error());
    bool skip = ascii_lower(req.headers.get("x-amz-skip-destination-validation")) == "true";
    const std::string bucket_arn = "arn:aws:s3:::" + bucket;
    std::vector<std::pair<std::string, std::string>> failures;
    for (const auto& t : config->targets) {
        if (t.kind == TargetKind::Queue) {
            if (!hooks_.send_to_queue)
                return s3_fail(S3ErrorCode::NotImplemented, {},
                               "lamina cannot deliver S3 notifications to SQS queues yet "
                               "(QueueConfiguration " +
                                   t.arn + "); use CloudFunctionConfiguration.");
            if (!skip && !(hooks_.queue_exists && hooks_.queue_exists(t.arn)))
                failures.emplace_back(t.arn, "The destination queue does not exist");
        } else if (!skip && !(hooks_.lambda_allows_s3 &&
                              hooks_.lambda_allows_s3(t.arn, bucket_arn, info->owner))) {
            failures.emplace_back(t.arn + ", null",
                                  "Not authorized to invoke function [" + t.arn + "]");
        }
    }
    if (!failures.empty()) {
        std::vector<std::pair<std::string, std::string>> fields;
        for (std::size_t i = 0; i < failures.size(); ++i) {
            fields.emplace_back("ArgumentName" + std::to_string(i + 1), failures[i].first);
            fields.emplace_back("ArgumentValue" + std::to_string(i + 1), failures[i].second);
        }
        return s3_fail(S3ErrorCode::InvalidArgument, std::move(fields),
                       "Unable to validate the following destination configurations");
    }
    if (auto ok = store_.put_notification(bucket, *config); !ok) return std::unexpected(ok.error());
    lamina::logger("api")->info("s3.notification_put bucket={} configurations={}", bucket,
                                config->targets.size());
    // S3 tells each queue it was configured with a test message
    for (const auto& t : config->targets) {
        if (t.kind != TargetKind::Queue) continue;
        if (auto st = hooks_.send_to_queue(
                t.arn, test_event(bucket, ctx.request_id, store_.clock().now_ms()), "");
            !st)
            lamina::logger("api")->warn(
                "s3.notify_failed bucket={} target={} event=s3:TestEvent error=\"{}\"", bucket,
                t.arn, st.error().message);
    }
    return std::optional<std::string>();
}

std::string S3Api::next_sequencer() {
    // hex, ordered per key (and overall): the time, then a counter
    auto n = static_cast<unsigned long long>(store_.clock().now_ms()) * 1000000ull +
             sequence_.fetch_add(1) % 1000000ull;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%018llX", n);
    return buf;
}

void S3Api::object_event(const S3Context& ctx, const http::Request& req, const std::string& bucket,
                         const std::string& event_name, const std::string& key,
                         const ObjectInfo* info) {
    auto config = store_.notification(bucket);
    if (!config || config->targets.empty()) return;
    auto b = store_.head_bucket(bucket);
    if (!b) return;
    ObjectEvent e;
    e.event_name = event_name;
    e.region = b->region;
    e.bucket = bucket;
    e.bucket_owner = b->owner;
    e.account = ctx.account;
    e.key = key;
    if (info) {
        e.size = info->size;
        e.etag = info->etag;
        if (e.etag.size() >= 2 && e.etag.front() == '"' && e.etag.back() == '"')
            e.etag = e.etag.substr(1, e.etag.size() - 2);
    }
    e.request_id = ctx.request_id;
    e.source_ip = req.remote_address.empty() ? "127.0.0.1" : req.remote_address;
    e.sequencer = next_sequencer();
    e.trace_header = req.headers.get("x-amzn-trace-id");
    e.time_ms = store_.clock().now_ms();
    auto log = lamina::logger("api");
    for (const auto& t : config->targets) {
        if (!matches(t, event_name, key)) continue;
        std::string payload = event_record(e, t.id);
        Status st = fail(ErrorCode::NotImplemented, "no destination hook");
        if (t.kind == TargetKind::Lambda && hooks_.invoke_async)
            st = hooks_.invoke_async(t.arn, payload, e.trace_header);
        else if (t.kind == TargetKind::Queue && hooks_.send_to_queue)
            st = hooks_.send_to_queue(t.arn, payload, e.trace_header);
        if (st)
            log->debug("s3.notify bucket={} key={} event={} target={}", bucket, key, event_name,
                       t.arn);
        else
            log->warn("s3.notify_failed bucket={} key={} event={} target={} error=\"{}\"", bucket,
                      key, event_name, t.arn, st.error().message);
    }
}

}  // namespace lamina::s3
