#include "lamina/s3/notification.hpp"

#include <algorithm>
#include <array>

#include "lamina/common/encoding.hpp"
#include "lamina/s3/xml.hpp"

namespace lamina::s3 {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";

// Every event type S3 accepts in a configuration; lamina raises only
// ObjectCreated:Put/CompleteMultipartUpload and ObjectRemoved:Delete.
constexpr std::array<std::string_view, 27> kEvents = {
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
};

std::unexpected<S3Error> invalid(std::string message, std::string name = {},
                                 std::string value = {}) {
    std::vector<std::pair<std::string, std::string>> fields;
    if (!name.empty())
        fields = {{"ArgumentName", std::move(name)}, {"ArgumentValue", std::move(value)}};
    return s3_fail(S3ErrorCode::InvalidArgument, std::move(fields), std::move(message));
}

// arn:partition:service:region:account:resource, partition and service not empty.
bool parsable_arn(std::string_view arn) {
    if (!arn.starts_with("arn:")) return false;
    std::array<std::size_t, 5> colons{};
    std::size_t pos = 0;
    for (auto& c : colons) {
        pos = arn.find(':', pos);
        if (pos == std::string_view::npos) return false;
        c = pos++;
    }
    return colons[1] - colons[0] > 1 && colons[2] - colons[1] > 1 && colons[4] + 1 < arn.size();
}

std::string trimmed(std::string s) {
    const char* ws = " \t\r\n";
    s.erase(0, s.find_first_not_of(ws));
    s.erase(s.find_last_not_of(ws) + 1);
    return s;
}

S3Result<std::vector<FilterRule>> parse_filter(const XmlNode& filter) {
    std::vector<FilterRule> rules;
    const XmlNode* key = filter.child("S3Key");
    if (!key) return rules;
    for (const XmlNode* r : key->children_named("FilterRule")) {
        const XmlNode* name = r->child("Name");
        const XmlNode* value = r->child("Value");
        std::string n = name ? ascii_lower(trimmed(name->text)) : "";
        if (n != "prefix" && n != "suffix")
            return invalid("filter rule name must be either prefix or suffix", "FilterRule.Name",
                           name ? name->text : "");
        FilterRule rule{n == "prefix" ? "Prefix" : "Suffix", value ? value->text : ""};
        if (std::any_of(rules.begin(), rules.end(),
                        [&](const FilterRule& o) { return o.name == rule.name; }))
            return invalid("Cannot specify more than one " + n + " rule in a filter.",
                           "FilterRule.Name", name->text);
        if (rule.value.size() > 1024)
            return invalid("The value of a filter rule must not be longer than 1024 bytes.",
                           "FilterRule.Value", rule.value);
        rules.push_back(std::move(rule));
    }
    return rules;
}

S3Result<NotificationTarget> parse_target(const XmlNode& node, TargetKind kind,
                                          const std::function<std::string()>& new_id) {
    NotificationTarget t;
    t.kind = kind;
    const char* arn_element = kind == TargetKind::Lambda ? "CloudFunction" : "Queue";
    const XmlNode* arn = node.child(arn_element);
    if (!arn) return s3_fail(S3ErrorCode::MalformedXML);
    t.arn = trimmed(arn->text);
    if (!parsable_arn(t.arn)) return invalid("The ARN could not be parsed", arn_element, t.arn);
    const XmlNode* id = node.child("Id");
    t.id = id ? id->text : "";
    if (t.id.empty()) t.id = new_id();
    if (t.id.size() > 1024)
        return invalid("The Id of a configuration must not be longer than 1024 bytes.", "Id", t.id);
    for (const XmlNode* e : node.children_named("Event")) {
        std::string name = trimmed(e->text);
        if (std::find(kEvents.begin(), kEvents.end(), name) == kEvents.end())
            return invalid("The event is not supported for notifications", "Event", name);
        if (std::find(t.events.begin(), t.events.end(), name) == t.events.end())
            t.events.push_back(std::move(name));
    }
    if (t.events.empty()) return s3_fail(S3ErrorCode::MalformedXML);
    if (const XmlNode* f = node.child("Filter")) {
        auto rules = parse_filter(*f);
        if (!rules) return std::unexpected(rules.error());
        t.rules = std::move(*rules);
    }
    return t;
}

// "s3:ObjectCreated:*" covers "s3:ObjectCreated:Put".
bool events_overlap(std::string_view a, std::string_view b) {
    auto covers = [](std::string_view wild, std::string_view e) {
        return wild.ends_with(":*") && e.starts_with(wild.substr(0, wild.size() - 1));
    };
    return a == b || covers(a, b) || covers(b, a);
}

std::string rule_value(const NotificationTarget& t, std::string_view name) {
    for (const auto& r : t.rules)
        if (r.name == name) return r.value;
    return {};
}

// Two configurations conflict when they share an event type and a key could
// pass both filters (prefixes nest and suffixes nest).
std::optional<S3Error> overlap(const NotificationTarget& a, const NotificationTarget& b) {
    bool shared = std::any_of(a.events.begin(), a.events.end(), [&](const std::string& ea) {
        return std::any_of(b.events.begin(), b.events.end(),
                           [&](const std::string& eb) { return events_overlap(ea, eb); });
    });
    if (!shared) return std::nullopt;
    std::string pa = rule_value(a, "Prefix"), pb = rule_value(b, "Prefix");
    std::string sa = rule_value(a, "Suffix"), sb = rule_value(b, "Suffix");
    bool prefixes = pa.starts_with(pb) || pb.starts_with(pa);
    bool suffixes = sa.ends_with(sb) || sb.ends_with(sa);
    if (!prefixes || !suffixes) return std::nullopt;
    if (a.rules.empty() && b.rules.empty())
        return invalid(
                   "Configurations overlap. Configurations on the same bucket cannot share a "
                   "common event type.")
            .error();
    return invalid(
               "Configuration is ambiguously defined. Cannot have overlapping suffixes in two "
               "rules if the prefixes are overlapping for the same event type.")
        .error();
}

std::string element(const std::string& name, const std::string& text) {
    return "<" + name + ">" + xml_escape(text) + "</" + name + ">";
}

bool unreserved(unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
}

}  // namespace

S3Result<NotificationConfig> parse_notification_xml(std::string_view body,
                                                    const std::function<std::string()>& new_id) {
    NotificationConfig config;
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return s3_fail(S3ErrorCode::MalformedXML);
    auto doc = parse_xml(body);
    if (!doc || doc->name != "NotificationConfiguration") return s3_fail(S3ErrorCode::MalformedXML);
    for (const XmlNode& c : doc->children) {
        if (c.name == "TopicConfiguration" || c.name == "EventBridgeConfiguration")
            return s3_fail(S3ErrorCode::NotImplemented, {},
                           "lamina does not implement " + c.name + " of Amazon S3 (it serves no " +
                               (c.name == "TopicConfiguration" ? "SNS" : "EventBridge") +
                               "); use CloudFunctionConfiguration or QueueConfiguration.");
        TargetKind kind;
        if (c.name == "CloudFunctionConfiguration")
            kind = TargetKind::Lambda;
        else if (c.name == "QueueConfiguration")
            kind = TargetKind::Queue;
        else
            return s3_fail(S3ErrorCode::MalformedXML);
        auto t = parse_target(c, kind, new_id);
        if (!t) return std::unexpected(t.error());
        // (stored as JSON, which holds only UTF-8; a character reference can make a bad one)
        bool utf8 = is_valid_utf8(t->id) && is_valid_utf8(t->arn) &&
                    std::all_of(t->rules.begin(), t->rules.end(),
                                [](const FilterRule& r) { return is_valid_utf8(r.value); });
        if (!utf8) return s3_fail(S3ErrorCode::MalformedXML);
        config.targets.push_back(std::move(*t));
    }
    for (std::size_t i = 0; i < config.targets.size(); ++i)
        for (std::size_t j = i + 1; j < config.targets.size(); ++j)
            if (auto e = overlap(config.targets[i], config.targets[j])) return std::unexpected(*e);
    return config;
}

std::string render_notification_xml(const NotificationConfig& config) {
    std::string body = std::string("<NotificationConfiguration xmlns=\"") + kXmlns + "\">";
    for (TargetKind kind : {TargetKind::Queue, TargetKind::Lambda}) {
        const std::string group =
            kind == TargetKind::Lambda ? "CloudFunctionConfiguration" : "QueueConfiguration";
        for (const auto& t : config.targets) {
            if (t.kind != kind) continue;
            body += "<" + group + ">" + element("Id", t.id) +
                    element(kind == TargetKind::Lambda ? "CloudFunction" : "Queue", t.arn);
            for (const auto& e : t.events) body += element("Event", e);
            if (!t.rules.empty()) {
                body += "<Filter><S3Key>";
                for (const auto& r : t.rules)
                    body += "<FilterRule>" + element("Name", r.name) + element("Value", r.value) +
                            "</FilterRule>";
                body += "</S3Key></Filter>";
            }
            body += "</" + group + ">";
        }
    }
    return body + "</NotificationConfiguration>";
}

json notification_to_json(const NotificationConfig& config) {
    json targets = json::array();
    for (const auto& t : config.targets) {
        json rules = json::array();
        for (const auto& r : t.rules) rules.push_back({{"name", r.name}, {"value", r.value}});
        targets.push_back({{"kind", t.kind == TargetKind::Lambda ? "lambda" : "queue"},
                           {"id", t.id},
                           {"arn", t.arn},
                           {"events", t.events},
                           {"rules", rules}});
    }
    return {{"targets", targets}};
}

std::optional<NotificationConfig> notification_from_json(const json& j) {
    try {
        NotificationConfig config;
        for (const auto& t : j.at("targets")) {
            NotificationTarget target;
            target.kind = t.at("kind") == "queue" ? TargetKind::Queue : TargetKind::Lambda;
            target.id = t.at("id").get<std::string>();
            target.arn = t.at("arn").get<std::string>();
            target.events = t.at("events").get<std::vector<std::string>>();
            for (const auto& r : t.at("rules"))
                target.rules.push_back(
                    {r.at("name").get<std::string>(), r.at("value").get<std::string>()});
            config.targets.push_back(std::move(target));
        }
        return config;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool matches(const NotificationTarget& target, std::string_view event_name, std::string_view key) {
    std::string full = "s3:" + std::string(event_name);
    bool event = std::any_of(target.events.begin(), target.events.end(), [&](const std::string& e) {
        return e == full || (e.ends_with(":*") && full.starts_with(e.substr(0, e.size() - 1)));
    });
    if (!event) return false;
    return std::all_of(target.rules.begin(), target.rules.end(), [&](const FilterRule& r) {
        return r.name == "Prefix" ? key.starts_with(r.value) : key.ends_with(r.value);
    });
}

std::string record_key(std::string_view key) {
    constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string out;
    out.reserve(key.size());
    for (char ch : key) {
        auto c = static_cast<unsigned char>(ch);
        if (c == ' ') {
            out += '+';
        } else if (unreserved(c)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string event_record(const ObjectEvent& e, const std::string& configuration_id) {
    ordered_json object;
    object["key"] = record_key(e.key);
    if (e.size) object["size"] = *e.size;
    if (!e.etag.empty()) object["eTag"] = e.etag;
    object["sequencer"] = e.sequencer;
    ordered_json bucket;
    bucket["name"] = e.bucket;
    bucket["ownerIdentity"] = {{"principalId", e.bucket_owner}};
    bucket["arn"] = "arn:aws:s3:::" + e.bucket;
    ordered_json s3;
    s3["s3SchemaVersion"] = "1.0";
    s3["configurationId"] = configuration_id;
    s3["bucket"] = std::move(bucket);
    s3["object"] = std::move(object);
    ordered_json r;
    r["eventVersion"] = "2.1";
    r["eventSource"] = "aws:s3";
    r["awsRegion"] = e.region;
    r["eventTime"] = format_iso8601_ms(e.time_ms);
    r["eventName"] = e.event_name;
    r["userIdentity"] = {{"principalId", "AWS:" + e.account}};
    r["requestParameters"] = {{"sourceIPAddress", e.source_ip}};
    ordered_json response;
    response["x-amz-request-id"] = e.request_id;
    response["x-amz-id-2"] = base64_encode(e.request_id);
    r["responseElements"] = std::move(response);
    r["s3"] = std::move(s3);
    ordered_json records;
    records["Records"] = ordered_json::array({std::move(r)});
    return records.dump();
}

}  // namespace lamina::s3
