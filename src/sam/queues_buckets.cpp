#include <regex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "sam/deployment.hpp"

// AWS::SQS::Queue and AWS::S3::Bucket: read into specs, then created or
// updated through lamina's own SQS (JSON protocol) and S3 APIs.

namespace lamina::sam {

using nlohmann::json;

namespace {

// CloudFormation's queue properties that are SQS attributes of the same name.
constexpr const char* kQueueAttributes[] = {
    "DelaySeconds",           "MaximumMessageSize",
    "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",      "ContentBasedDeduplication",
    "DeduplicationScope",     "FifoThroughputLimit",
    "KmsMasterKeyId",         "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",   "RedrivePolicy",
    "RedriveAllowPolicy"};

// What a queue has when the template does not set it (so a removed property is reset).
const std::map<std::string, std::string>& queue_defaults() {
    static const std::map<std::string, std::string> kDefaults = {
        {"DelaySeconds", "0"},
        {"MaximumMessageSize", "1048576"},
        {"MessageRetentionPeriod", "345600"},
        {"ReceiveMessageWaitTimeSeconds", "0"},
        {"VisibilityTimeout", "30"}};
    return kDefaults;
}

bool truthy(const json& v) { return v == true || v == "true"; }

// A scalar as SQS takes it: text.
std::string attribute_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();  // numbers, booleans, and policies written as objects
}

// Equal as SQS means them: policies compared as JSON, the rest as text.
bool same_attribute(const std::string& a, const std::string& b) {
    if (a == b) return true;
    auto ja = json::parse(a, nullptr, false), jb = json::parse(b, nullptr, false);
    return !ja.is_discarded() && !jb.is_discarded() && ja.is_object() && ja == jb;
}

std::string element(const std::string& name, const std::string& text) {
    return "<" + name + ">" + xml_escape(text) + "</" + name + ">";
}

}  // namespace

// ---- queues -----------------------------------------------------------------

Result<QueueSpec> Deployment::queue_spec(const Resource& r, const json& props) {
    const std::string& p = r.pointer;
    QueueSpec q;
    bool fifo = props.contains("FifoQueue") && truthy(props["FifoQueue"]);
    if (props.contains("QueueName")) {
        if (!props["QueueName"].is_string())
            return std::unexpected(t_.error_at(p + "/QueueName", "must be a string"));
        q.name = props["QueueName"];
        if (fifo && !q.name.ends_with(".fifo"))
            return std::unexpected(
                t_.error_at(p + "/QueueName", "the name of a FIFO queue must end with .fifo"));
        if (!fifo && q.name.ends_with(".fifo"))
            return std::unexpected(
                t_.error_at(p + "/FifoQueue", "a queue named *.fifo needs FifoQueue: true"));
    } else {
        // CloudFormation's: <stack>-<LogicalId>-<suffix>, within 80 with ".fifo"
        q.name = fifo ? generated_name(options_.stack_name, r.id, 75) + ".fifo"
                      : generated_name(options_.stack_name, r.id, 80);
    }
    if (fifo) q.attributes["FifoQueue"] = "true";
    for (const char* k : kQueueAttributes) {
        if (!props.contains(k) || props[k].is_null()) continue;
        const json& v = props[k];
        if (v.is_array())
            return std::unexpected(t_.error_at(p + "/" + k, "must be a value or a mapping"));
        q.attributes[k] = attribute_text(v);
    }
    if (props.contains("Tags")) {
        if (!props["Tags"].is_array())
            return std::unexpected(t_.error_at(p + "/Tags", "must be a list of {Key, Value}"));
        for (const auto& tag : props["Tags"])
            if (tag.is_object() && tag.contains("Key") && tag["Key"].is_string())
                q.tags[tag["Key"].get<std::string>()] =
                    attribute_text(tag.value("Value", json("")));
    }
    // the URL is known once the queue exists: the previous deployment's until then
    const json prev = previous_.value(r.id, json::object());
    std::string url = prev.value("QueueName", std::string()) == q.name
                          ? prev.value("QueueUrl", std::string())
                          : "";
    refs_[r.id] = url;
    atts_[r.id + ".QueueUrl"] = url;
    atts_[r.id + ".QueueName"] = q.name;
    atts_[r.id + ".Arn"] = "arn:aws:sqs:" + lambda_.region() + ":" + plan_.account + ":" + q.name;
    return q;
}

// A queue keeps its name (so its URL and messages) while the template does:
// an existing one made by this stack has its attributes and tags set.
Status Deployment::apply_queue(const Resource& r, const QueueSpec& q) {
    const json prev = previous_.value(r.id, json::object());
    auto found = lambda_.get_queue_url(q.name, r.id);
    if (!found && found.error().code != ErrorCode::ResourceNotFound)
        return std::unexpected(found.error());
    std::string url;
    if (!found) {
        LAMINA_TRY(made, lambda_.create_queue(q.name, q.attributes, q.tags, r.id));
        url = made;
        undo_.emplace_back([this, id = r.id, url] { return lambda_.delete_queue(url, id); });
        say("created  " + r.id + "  queue " + url);
    } else {
        if (prev.value("QueueName", std::string()) != q.name)
            return fail(ErrorCode::InvalidParameterValue,
                        r.id + ": the queue " + q.name +
                            " already exists and was not made by stack " + options_.stack_name +
                            " (delete it, or name the resource otherwise)");
        url = *found;
        LAMINA_CHECK(update_queue(r, q, url));
    }
    refs_[r.id] = url;
    atts_[r.id + ".QueueUrl"] = url;
    atts_[r.id + ".QueueName"] = q.name;
    json tag_keys = json::array();
    for (const auto& [k, _] : q.tags.items()) tag_keys.push_back(k);
    next_[r.id] = {{"Type", r.type},
                   {"QueueName", q.name},
                   {"QueueUrl", url},
                   {"TagKeys", tag_keys},
                   {"Retain", r.deletion_policy == "Retain"}};
    return {};
}

Status Deployment::update_queue(const Resource& r, const QueueSpec& q, const std::string& url) {
    LAMINA_TRY(current, lambda_.get_queue_attributes(url, r.id));
    std::map<std::string, std::string> want(queue_defaults());
    if (q.attributes.contains("FifoQueue")) want["ContentBasedDeduplication"] = "false";
    for (const char* k : {"RedrivePolicy", "RedriveAllowPolicy"})
        if (current.contains(k)) want[k] = "";  // removed unless the template has it
    for (const auto& [k, v] : q.attributes.items())
        if (k != "FifoQueue") want[k] = v.get<std::string>();
    json change = json::object();
    for (const auto& [k, v] : want)
        if (!same_attribute(current.value(k, std::string()), v)) change[k] = v;
    if (!change.empty()) LAMINA_CHECK(lambda_.set_queue_attributes(url, change, r.id));
    // tags: add what differs, remove what an earlier deployment set and this one does not
    LAMINA_TRY(tags, lambda_.list_queue_tags(url, r.id));
    json add = json::object();
    for (const auto& [k, v] : q.tags.items())
        if (tags.value(k, json()) != v) add[k] = v;
    if (!add.empty()) LAMINA_CHECK(lambda_.tag_queue(url, add, r.id));
    std::vector<std::string> remove;
    for (const auto& k : previous_.value(r.id, json::object()).value("TagKeys", json::array()))
        if (k.is_string() && !q.tags.contains(k.get<std::string>()) &&
            tags.contains(k.get<std::string>()))
            remove.push_back(k.get<std::string>());
    if (!remove.empty()) LAMINA_CHECK(lambda_.untag_queue(url, remove, r.id));
    bool changed = !change.empty() || !add.empty() || !remove.empty();
    say(std::string(changed ? "updated  " : "unchanged ") + r.id + "  queue " + url);
    return {};
}

// ---- buckets ----------------------------------------------------------------

Result<BucketSpec> Deployment::bucket_spec(const Resource& r, const json& props) {
    const std::string& p = r.pointer;
    BucketSpec b;
    if (props.contains("BucketName")) {
        if (!props["BucketName"].is_string())
            return std::unexpected(t_.error_at(p + "/BucketName", "must be a string"));
        b.name = props["BucketName"];
        static const std::regex kBucketName("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
        if (!regex_full_match(b.name, kBucketName))
            return std::unexpected(
                t_.error_at(p + "/BucketName",
                            "'" + b.name + "' is not a valid bucket name (3-63 of a-z0-9.-)"));
    } else {
        b.name = ascii_lower(generated_name(options_.stack_name, r.id, 63));
    }
    for (const auto& [k, v] : props.items()) {
        if (k == "BucketName") continue;
        if (k != "NotificationConfiguration") {
            report_.skipped.push_back(r.id + "." + k);
            continue;
        }
        LAMINA_TRY(xml, notification_xml(v, p + "/NotificationConfiguration"));
        b.notification = std::move(xml);
    }
    refs_[r.id] = b.name;
    atts_[r.id + ".Arn"] = "arn:aws:s3:::" + b.name;
    atts_[r.id + ".DomainName"] = b.name + ".s3.amazonaws.com";
    atts_[r.id + ".RegionalDomainName"] = b.name + ".s3." + lambda_.region() + ".amazonaws.com";
    return b;
}

// CloudFormation's NotificationConfiguration -> PutBucketNotificationConfiguration's XML.
Result<std::string> Deployment::notification_xml(const json& config, const std::string& pointer) {
    if (!config.is_object()) return std::unexpected(t_.error_at(pointer, "must be a mapping"));
    std::string out =
        R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
    struct Kind {
        const char* list;
        const char* target;
        const char* element;
        const char* arn_element;
    };
    static const Kind kKinds[] = {
        {"QueueConfigurations", "Queue", "QueueConfiguration", "Queue"},
        {"LambdaConfigurations", "Function", "CloudFunctionConfiguration", "CloudFunction"}};
    for (const auto& [k, _] : config.items()) {
        if (k == "TopicConfigurations" || k == "EventBridgeConfiguration") {
            report_.skipped.push_back(pointer.substr(pointer.rfind("/Resources/") + 11) + "." + k);
        } else if (k != "QueueConfigurations" && k != "LambdaConfigurations") {
            return std::unexpected(
                t_.error_at(pointer + "/" + escape_pointer(k),
                            "property " + k + " is not defined for NotificationConfiguration"));
        }
    }
    for (const Kind& kind : kKinds) {
        if (!config.contains(kind.list)) continue;
        const json& list = config[kind.list];
        std::string lp = pointer + "/" + kind.list;
        if (!list.is_array()) return std::unexpected(t_.error_at(lp, "must be a list"));
        for (std::size_t i = 0; i < list.size(); ++i) {
            const json& c = list[i];
            std::string cp = lp + "/" + std::to_string(i);
            if (!c.is_object() || !c.contains("Event") || !c["Event"].is_string() ||
                !c.contains(kind.target) || !c[kind.target].is_string())
                return std::unexpected(t_.error_at(
                    cp, std::string("Event and ") + kind.target + " (an ARN) are required"));
            out += std::string("<") + kind.element + ">";
            out += element(kind.arn_element, c[kind.target].get<std::string>());
            out += element("Event", c["Event"].get<std::string>());
            if (c.contains("Filter")) {
                const json& rules =
                    c["Filter"].value("S3Key", json::object()).value("Rules", json());
                if (!rules.is_array())
                    return std::unexpected(
                        t_.error_at(cp + "/Filter", "must be {S3Key: {Rules: [{Name, Value}]}}"));
                out += "<Filter><S3Key>";
                for (const auto& rule : rules) {
                    if (!rule.is_object() || !rule.contains("Name") || !rule.contains("Value"))
                        return std::unexpected(
                            t_.error_at(cp + "/Filter/S3Key/Rules", "a rule needs Name and Value"));
                    out += "<FilterRule>" + element("Name", attribute_text(rule["Name"])) +
                           element("Value", attribute_text(rule["Value"])) + "</FilterRule>";
                }
                out += "</S3Key></Filter>";
            }
            out += std::string("</") + kind.element + ">";
        }
    }
    return out + "</NotificationConfiguration>";
}

// A bucket keeps its name while the template does; its notification
// configuration is put whenever the template has one (or had one: then it is
// emptied).
Status Deployment::apply_bucket(const Resource& r, const BucketSpec& b) {
    const json prev = previous_.value(r.id, json::object());
    auto found = lambda_.get_bucket_notification(b.name, r.id);
    if (!found && found.error().code != ErrorCode::ResourceNotFound)
        return std::unexpected(found.error());
    if (!found) {
        LAMINA_CHECK(lambda_.create_bucket(b.name, r.id));
        undo_.emplace_back(
            [this, id = r.id, name = b.name] { return lambda_.delete_bucket(name, id); });
        say("created  " + r.id + "  bucket " + b.name);
    } else if (prev.value("BucketName", std::string()) != b.name) {
        return fail(ErrorCode::InvalidParameterValue,
                    r.id + ": the bucket " + b.name + " already exists and was not made by stack " +
                        options_.stack_name + " (delete it, or name the resource otherwise)");
    }
    bool had = prev.value("Notification", false);
    if (b.notification || had) {
        std::string xml = b.notification.value_or(
            R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>)");
        LAMINA_CHECK(lambda_.put_bucket_notification(b.name, xml, r.id));
        say("put      " + r.id + "  notification configuration of bucket " + b.name);
    } else if (found) {
        say("unchanged " + r.id + "  bucket " + b.name);
    }
    next_[r.id] = {{"Type", r.type},
                   {"BucketName", b.name},
                   {"Notification", b.notification.has_value()},
                   {"Retain", r.deletion_policy == "Retain"}};
    return {};
}

}  // namespace lamina::sam
