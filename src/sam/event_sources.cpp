#include <regex>

#include "lamina/common/regex.hpp"
#include "lamina/control/names.hpp"
#include "sam/deployment.hpp"

// Event sources in templates: SAM's SQS and S3 Events turned into the
// resources SAM makes of them, and AWS::Lambda::EventSourceMapping read into a
// MappingSpec and applied through the Lambda API's event source mappings.

namespace lamina::sam {

using nlohmann::json;

namespace {

bool is_ref(const json& v) {
    return v.is_object() && v.size() == 1 && v.contains("Ref") && v["Ref"].is_string();
}

// What an SQS event may carry (SAM's SQS event source), and what lamina
// passes over (reported as skipped).
const std::set<std::string>& sqs_event_properties() {
    static const std::set<std::string> kKnown = {"Queue",
                                                 "BatchSize",
                                                 "Enabled",
                                                 "FilterCriteria",
                                                 "MaximumBatchingWindowInSeconds",
                                                 "FunctionResponseTypes",
                                                 "ScalingConfig",
                                                 "KmsKeyArn",
                                                 "MetricsConfig"};
    return kKnown;
}

// Numbers and booleans a parameter may have given as text.
json typed(const std::string& key, const json& v) {
    static const std::set<std::string> kInts = {"BatchSize",
                                                "MaximumBatchingWindowInSeconds",
                                                "MaximumRecordAgeInSeconds",
                                                "MaximumRetryAttempts",
                                                "ParallelizationFactor",
                                                "TumblingWindowInSeconds"};
    static const std::set<std::string> kBools = {"Enabled", "BisectBatchOnFunctionError"};
    if (!v.is_string()) return v;
    const auto& s = v.get_ref<const std::string&>();
    if (kBools.contains(key) && (s == "true" || s == "false")) return s == "true";
    if (kInts.contains(key) && !s.empty() && s.size() < 10 &&
        s.find_first_not_of("0123456789") == std::string::npos)
        return std::stoll(s);
    return v;
}

}  // namespace

Result<std::vector<Resource>> Deployment::event_resources(const Resource& fn) {
    std::vector<Resource> out;
    if (!fn.raw.contains("Events")) return out;
    const json& events = fn.raw["Events"];
    if (!events.is_object())
        return std::unexpected(t_.error_at(fn.pointer + "/Events", "must be a mapping"));
    bool alias = fn.raw.contains("AutoPublishAlias");
    // as SAM: the alias when AutoPublishAlias is set, else the function
    json target = {{"Ref", alias ? fn.id + ".Alias" : fn.id}};
    for (const auto& [name, e] : events.items()) {
        std::string ep = fn.pointer + "/Events/" + escape_pointer(name);
        if (!e.is_object() || !e.contains("Type") || !e["Type"].is_string())
            return std::unexpected(t_.error_at(ep, "an event needs a Type"));
        const std::string type = e["Type"];
        if (type != "SQS" && type != "S3") continue;  // reported as skipped by function_spec
        static const std::regex kEventName("[A-Za-z0-9]+");
        if (!regex_full_match(name, kEventName))
            return std::unexpected(t_.error_at(ep, "an event name must be alphanumeric"));
        json props = e.value("Properties", json::object());
        std::string pp = ep + "/Properties";
        if (!props.is_object()) return std::unexpected(t_.error_at(pp, "must be a mapping"));
        if (type == "SQS") {
            if (!props.contains("Queue"))
                return std::unexpected(t_.error_at(pp, "Queue (the queue's ARN) is required"));
            Resource m;
            m.id = fn.id + name;
            m.type = kEventSourceMapping;
            m.pointer = pp;
            m.condition = fn.condition;
            m.raw = {{"FunctionName", target}, {"EventSourceArn", props["Queue"]}};
            for (const auto& [k, v] : props.items()) {
                if (!sqs_event_properties().contains(k))
                    return std::unexpected(
                        t_.error_at(pp + "/" + escape_pointer(k),
                                    "property " + k + " is not defined for an SQS event"));
                if (k == "KmsKeyArn" || k == "MetricsConfig")
                    report_.skipped.push_back(fn.id + ".Events." + name + "." + k);
                else if (k != "Queue")
                    m.raw[k] = v;
            }
            out.push_back(std::move(m));
            continue;
        }
        // S3: the bucket must be a Ref to a bucket of this template (SAM requires it)
        for (const auto& [k, _] : props.items())
            if (k != "Bucket" && k != "Events" && k != "Filter")
                return std::unexpected(
                    t_.error_at(pp + "/" + escape_pointer(k),
                                "property " + k + " is not defined for an S3 event"));
        if (!props.contains("Bucket") || !is_ref(props["Bucket"]))
            return std::unexpected(t_.error_at(
                pp + "/Bucket", "must be a Ref to an AWS::S3::Bucket of this template"));
        if (!props.contains("Events"))
            return std::unexpected(t_.error_at(pp, "Events (the S3 event types) is required"));
        json types = props["Events"].is_array() ? props["Events"] : json::array({props["Events"]});
        Resource permission;
        permission.id = fn.id + name + "Permission";
        permission.type = kPermission;
        permission.pointer = pp;
        permission.condition = fn.condition;
        permission.raw = {{"Action", "lambda:InvokeFunction"},
                          {"FunctionName", target},
                          {"Principal", "s3.amazonaws.com"},
                          {"SourceAccount", {{"Ref", "AWS::AccountId"}}}};
        json function = alias ? target : json{{"Fn::GetAtt", {fn.id, "Arn"}}};
        for (const auto& t : types) {
            PendingS3Event pending{fn.id, props["Bucket"]["Ref"], permission.id, pp,
                                   json::object()};
            pending.config = {{"Event", t}, {"Function", function}};
            if (props.contains("Filter")) pending.config["Filter"] = props["Filter"];
            pending_s3_.push_back(std::move(pending));
        }
        out.push_back(std::move(permission));
    }
    return out;
}

// The S3 events' LambdaConfigurations joined to their buckets, each bucket
// made after the permissions S3 checks when it is configured.
Status Deployment::attach_s3_events() {
    for (const auto& e : pending_s3_) {
        if (plan_.excluded.contains(e.function)) continue;
        auto it = resources_.find(e.bucket);
        if (it == resources_.end() || it->second.type != kBucket)
            return std::unexpected(
                t_.error_at(e.pointer + "/Bucket",
                            plan_.excluded.contains(e.bucket)
                                ? e.bucket + " is left out of this deployment by its Condition"
                                : "must be a Ref to an AWS::S3::Bucket of this template"));
        Resource& b = it->second;
        if (!b.raw.contains("NotificationConfiguration"))
            b.raw["NotificationConfiguration"] = json::object();
        json& nc = b.raw["NotificationConfiguration"];
        if (!nc.is_object())
            return std::unexpected(
                t_.error_at(b.pointer + "/NotificationConfiguration", "must be a mapping"));
        if (!nc.contains("LambdaConfigurations")) nc["LambdaConfigurations"] = json::array();
        if (!nc["LambdaConfigurations"].is_array())
            return std::unexpected(t_.error_at(
                b.pointer + "/NotificationConfiguration/LambdaConfigurations", "must be a list"));
        nc["LambdaConfigurations"].push_back(e.config);
        b.deps.insert(e.permission);
    }
    pending_s3_.clear();
    return {};
}

Result<MappingSpec> Deployment::mapping_spec(const Resource& r, const json& props) {
    const std::string& p = r.pointer;
    MappingSpec m;
    for (const char* k : {"EventSourceArn", "FunctionName"})
        if (!props.contains(k) || !props[k].is_string())
            return std::unexpected(
                t_.error_at(p + (props.contains(k) ? "/" + std::string(k) : std::string()),
                            std::string(k) + " is required (a string)"));
    m.source_arn = props["EventSourceArn"];
    m.body = json::object();
    for (const auto& [k, v] : props.items()) {
        if (k == "Tags") {
            if (!v.is_array())
                return std::unexpected(t_.error_at(p + "/Tags", "must be a list of {Key, Value}"));
            json tags = json::object();
            for (const auto& tag : v)
                if (tag.is_object() && tag.contains("Key") && tag["Key"].is_string())
                    tags[tag["Key"].get<std::string>()] = tag.value("Value", std::string());
            if (!tags.empty()) m.body["Tags"] = tags;
        } else if (k == "KmsKeyArn" || k == "MetricsConfig") {
            report_.skipped.push_back(r.id + "." + k);
        } else {
            m.body[k] = typed(k, v);
        }
    }
    // the UUID is known once the mapping exists: the previous deployment's until then
    const json prev = previous_.value(r.id, json::object());
    std::string uuid = prev.value("EventSourceArn", std::string()) == m.source_arn
                           ? prev.value("UUID", std::string())
                           : std::string();
    refs_[r.id] = uuid;
    atts_[r.id + ".Id"] = uuid;
    atts_[r.id + ".EventSourceMappingArn"] = "arn:aws:lambda:" + lambda_.region() + ":" +
                                             plan_.account + ":event-source-mapping:" + uuid;
    return m;
}

// A mapping keeps its UUID while its source stays: an existing one is
// updated (what the template dropped reset to AWS's defaults), not replaced.
Status Deployment::apply_mapping(const Resource& r, const MappingSpec& m) {
    const json prev = previous_.value(r.id, json::object());
    std::optional<json> existing;
    if (prev.value("EventSourceArn", std::string()) == m.source_arn && prev.contains("UUID")) {
        LAMINA_TRY(found, if_found(lambda_.get_event_source_mapping(prev["UUID"], r.id)));
        existing = std::move(found);
    }
    const std::string fn = m.body["FunctionName"];
    json now;
    if (!existing) {
        LAMINA_TRY(made, lambda_.create_event_source_mapping(m.body, r.id));
        now = std::move(made);
        undo_.emplace_back([this, id = r.id, uuid = now.value("UUID", std::string())] {
            return lambda_.delete_event_source_mapping(uuid, id);
        });
        say("created  " + r.id + "  event source mapping " + now.value("UUID", std::string()) +
            " " + m.source_arn + " -> " + fn);
    } else {
        json want = {{"FunctionName", fn},
                     {"BatchSize", 10},
                     {"MaximumBatchingWindowInSeconds", 0},
                     {"Enabled", true},
                     {"FunctionResponseTypes", json::array()}};
        for (const char* k : {"BatchSize", "MaximumBatchingWindowInSeconds", "Enabled",
                              "FunctionResponseTypes", "FilterCriteria", "ScalingConfig"})
            if (m.body.contains(k)) want[k] = m.body[k];
        for (const char* k : {"FilterCriteria", "ScalingConfig"})
            if (!want.contains(k) && existing->contains(k)) want[k] = json::object();
        auto [name, qualifier] = function_name_and_qualifier(fn);
        std::string arn = function_arn(name) + (qualifier.empty() ? "" : ":" + qualifier);
        std::string state = existing->value("State", std::string());
        bool enabled = state != "Disabled" && state != "Disabling";
        bool same = existing->value("FunctionArn", std::string()) == arn &&
                    json(existing->value("BatchSize", 0)) == want["BatchSize"] &&
                    json(existing->value("MaximumBatchingWindowInSeconds", 0)) ==
                        want["MaximumBatchingWindowInSeconds"] &&
                    json(enabled) == want["Enabled"] &&
                    existing->value("FunctionResponseTypes", json::array()) ==
                        want["FunctionResponseTypes"] &&
                    !want.contains("FilterCriteria") && !want.contains("ScalingConfig");
        if (same) {
            now = std::move(*existing);
        } else {
            LAMINA_TRY(updated, lambda_.update_event_source_mapping(prev["UUID"], want, r.id));
            now = std::move(updated);
        }
        // tags change only through TagResource / UntagResource
        const std::string arn_now = now.value("EventSourceMappingArn", std::string());
        json tags = m.body.value("Tags", json::object());
        if (!tags.empty()) LAMINA_CHECK(lambda_.tag_resource(arn_now, tags, r.id));
        std::vector<std::string> dropped;
        for (const auto& k : prev.value("TagKeys", json::array()))
            if (k.is_string() && !tags.contains(k.get<std::string>()))
                dropped.push_back(k.get<std::string>());
        if (!dropped.empty()) LAMINA_CHECK(lambda_.untag_resource(arn_now, dropped, r.id));
        say(std::string(same ? "unchanged " : "updated  ") + r.id + "  event source mapping " +
            now.value("UUID", std::string()));
    }
    json tag_keys = json::array();
    const json tags = m.body.value("Tags", json::object());  // named: items() must not outlive it
    for (const auto& [k, _] : tags.items()) tag_keys.push_back(k);
    const std::string uuid = now.value("UUID", std::string());
    refs_[r.id] = uuid;
    atts_[r.id + ".Id"] = uuid;
    atts_[r.id + ".EventSourceMappingArn"] = now.value("EventSourceMappingArn", std::string());
    next_[r.id] = {
        {"Type", r.type}, {"UUID", uuid},        {"EventSourceArn", m.source_arn},
        {"Function", fn}, {"TagKeys", tag_keys}, {"Retain", r.deletion_policy == "Retain"}};
    return {};
}

}  // namespace lamina::sam
