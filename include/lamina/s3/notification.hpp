#pragma once
// S3 bucket notifications: the NotificationConfiguration a bucket keeps
// (PUT/GET /<bucket>?notification), its XML and JSON forms, which
// configurations an object event matches, and the event record S3 delivers
// ({"Records":[...]}, eventVersion 2.1).
//
// The s3 module does not know Lambda or SQS: NotificationHooks (set by the
// app) check destinations and hand records off to them.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/s3/s3_error.hpp"

namespace lamina::s3 {

enum class TargetKind { Lambda, Queue };

struct FilterRule {
    std::string name;  // "Prefix" or "Suffix" (normalised as S3 records it)
    std::string value;
};

struct NotificationTarget {
    TargetKind kind = TargetKind::Lambda;
    std::string id;
    std::string arn;
    std::vector<std::string> events;  // "s3:ObjectCreated:*", ...
    std::vector<FilterRule> rules;
};

struct NotificationConfig {
    std::vector<NotificationTarget> targets;
};

// How lamina reaches destinations; any may be unset (see S3Api).
struct NotificationHooks {
    // Queues an asynchronous (Event) invocation of the function with `payload`;
    // `trace_header` is the X-Amzn-Trace-Id of the request that caused it ("" none),
    // whose Lineage lets Lambda stop a function -> S3 -> function loop.
    std::function<Status(const std::string& function_arn, const std::string& payload,
                         const std::string& trace_header)>
        invoke_async;
    // Sends `body` to the queue (`trace_header` becomes its AWSTraceHeader).
    std::function<Status(const std::string& queue_arn, const std::string& body,
                         const std::string& trace_header)>
        send_to_queue;
    // Whether the function exists and its resource policy lets
    // s3.amazonaws.com invoke it for this bucket (source ARN and account).
    std::function<bool(const std::string& function_arn, const std::string& bucket_arn,
                       const std::string& bucket_account)>
        lambda_allows_s3;
    std::function<bool(const std::string& queue_arn)> queue_exists;
};

// The PutBucketNotificationConfiguration body, parsed and checked (events,
// filter rules, ARN syntax, overlaps); `new_id` names configurations without
// an Id. Destinations are not checked here (see check_destinations).
S3Result<NotificationConfig> parse_notification_xml(std::string_view body,
                                                    const std::function<std::string()>& new_id);
std::string render_notification_xml(const NotificationConfig& config);

nlohmann::json notification_to_json(const NotificationConfig& config);
std::optional<NotificationConfig> notification_from_json(const nlohmann::json& j);

// Whether an S3 event name ("ObjectCreated:Put") is one of `target`'s
// events (wildcards included) and the key passes its filter rules.
bool matches(const NotificationTarget& target, std::string_view event_name, std::string_view key);

// The key as S3 writes it into records: form URL-encoding ('+' for a space,
// %XX for other bytes outside A-Z a-z 0-9 - _ . ~ /).
std::string record_key(std::string_view key);

struct ObjectEvent {
    std::string event_name;                             // without "s3:", e.g. "ObjectCreated:Put"
    std::string region, bucket, bucket_owner, account;  // account: who made the request
    std::string key;
    std::optional<std::int64_t> size;
    std::string etag;  // unquoted; empty for removals
    std::string request_id, source_ip, sequencer;
    std::string trace_header;  // the request's X-Amzn-Trace-Id, "" without one
    std::int64_t time_ms = 0;
};

// {"Records":[<one record>]} for one configuration, keys in S3's order.
std::string event_record(const ObjectEvent& event, const std::string& configuration_id);

}  // namespace lamina::s3
