#include <algorithm>
#include <regex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/names.hpp"
#include "sam/deployment.hpp"

// The plan phase: the stack's previous record, the template's parameters,
// conditions, resources (Globals merged, in dependency order) and outputs,
// every resource's spec read and checked. Only reads the API.

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::set<std::string>& emulated_types() {
    static const std::set<std::string> kTypes = {kServerlessFunction,
                                                 kServerlessLayer,
                                                 kFunction,
                                                 kLayer,
                                                 kVersion,
                                                 kAlias,
                                                 kPermission,
                                                 kEventInvokeConfig,
                                                 kLayerPermission,
                                                 kUrl,
                                                 kEventSourceMapping,
                                                 kQueue,
                                                 kBucket};
    return kTypes;
}

const std::map<std::string, std::set<std::string>>& known_properties() {
    static const std::map<std::string, std::set<std::string>> kProperties = {
        {kServerlessFunction,
         {"Architectures",
          "AssumeRolePolicyDocument",
          "AutoPublishAlias",
          "AutoPublishAliasAllProperties",
          "AutoPublishCodeSha256",
          "CodeSigningConfigArn",
          "CodeUri",
          "DeadLetterQueue",
          "DeploymentPreference",
          "Description",
          "Environment",
          "EphemeralStorage",
          "EventInvokeConfig",
          "Events",
          "FileSystemConfigs",
          "FunctionName",
          "FunctionUrlConfig",
          "Handler",
          "ImageConfig",
          "ImageUri",
          "InlineCode",
          "KmsKeyArn",
          "Layers",
          "LoggingConfig",
          "MemorySize",
          "PackageType",
          "PermissionsBoundary",
          "Policies",
          "PropagateTags",
          "ProvisionedConcurrencyConfig",
          "RecursiveLoop",
          "ReservedConcurrentExecutions",
          "Role",
          "RolePath",
          "Runtime",
          "RuntimeManagementConfig",
          "SnapStart",
          "SourceKMSKeyArn",
          "Tags",
          "TenancyConfig",
          "Timeout",
          "Tracing",
          "VersionDescription",
          "VersionDeletionPolicy",
          "VpcConfig"}},
        {kFunction,
         {"Architectures",
          "Code",
          "CodeSigningConfigArn",
          "DeadLetterConfig",
          "Description",
          "Environment",
          "EphemeralStorage",
          "FileSystemConfigs",
          "FunctionName",
          "Handler",
          "ImageConfig",
          "KmsKeyArn",
          "Layers",
          "LoggingConfig",
          "MemorySize",
          "PackageType",
          "RecursiveLoop",
          "ReservedConcurrentExecutions",
          "Role",
          "Runtime",
          "RuntimeManagementConfig",
          "SnapStart",
          "Tags",
          "TenancyConfig",
          "Timeout",
          "TracingConfig",
          "VpcConfig"}},
        {kServerlessLayer,
         {"CompatibleArchitectures", "CompatibleRuntimes", "ContentUri", "Description", "LayerName",
          "LicenseInfo", "RetentionPolicy"}},
        {kLayer,
         {"CompatibleArchitectures", "CompatibleRuntimes", "Content", "Description", "LayerName",
          "LicenseInfo"}},
        {kVersion,
         {"CodeSha256", "Description", "FunctionName", "Policy", "ProvisionedConcurrencyConfig",
          "RuntimePolicy"}},
        {kAlias,
         {"Description", "FunctionName", "FunctionVersion", "Name", "ProvisionedConcurrencyConfig",
          "RoutingConfig"}},
        {kPermission,
         {"Action", "EventSourceToken", "FunctionName", "FunctionUrlAuthType", "Principal",
          "PrincipalOrgID", "SourceAccount", "SourceArn", "InvokedViaFunctionUrl"}},
        {kEventInvokeConfig,
         {"DestinationConfig", "FunctionName", "MaximumEventAgeInSeconds", "MaximumRetryAttempts",
          "Qualifier"}},
        {kLayerPermission, {"Action", "LayerVersionArn", "OrganizationId", "Principal"}},
        {kUrl, {"AuthType", "Cors", "InvokeMode", "Qualifier", "TargetFunctionArn"}},
        {kEventSourceMapping,
         {"AmazonManagedKafkaEventSourceConfig",
          "BatchSize",
          "BisectBatchOnFunctionError",
          "DestinationConfig",
          "DocumentDBEventSourceConfig",
          "Enabled",
          "EventSourceArn",
          "FilterCriteria",
          "FunctionName",
          "FunctionResponseTypes",
          "KmsKeyArn",
          "MaximumBatchingWindowInSeconds",
          "MaximumRecordAgeInSeconds",
          "MaximumRetryAttempts",
          "MetricsConfig",
          "ParallelizationFactor",
          "ProvisionedPollerConfig",
          "Queues",
          "ScalingConfig",
          "SelfManagedEventSource",
          "SelfManagedKafkaEventSourceConfig",
          "SourceAccessConfigurations",
          "StartingPosition",
          "StartingPositionTimestamp",
          "Tags",
          "Topics",
          "TumblingWindowInSeconds"}},
        {kQueue,
         {"ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
          "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId",
          "MaximumMessageSize", "MessageRetentionPeriod", "QueueName",
          "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy",
          "SqsManagedSseEnabled", "Tags", "VisibilityTimeout"}},
    };
    return kProperties;
}
json merge_globals(const json& global, const json& local) {
    auto is_intrinsic = [](const json& v) {
        return v.is_object() && v.size() == 1 &&
               (v.begin().key() == "Ref" || v.begin().key().rfind("Fn::", 0) == 0);
    };
    if (global.is_object() && local.is_object() && !is_intrinsic(global) && !is_intrinsic(local)) {
        json out = global;
        for (const auto& [k, v] : local.items())
            out[k] = out.contains(k) ? merge_globals(out[k], v) : v;
        return out;
    }
    if (global.is_array() && local.is_array()) {
        json out = global;
        for (const auto& v : local) out.push_back(v);
        return out;
    }
    return local;
}

void collect_condition_names(const json& v, std::set<std::string>& out) {
    if (v.is_object()) {
        if (v.size() == 1 && v.begin().key() == "Condition" && v.begin().value().is_string())
            out.insert(v.begin().value().get<std::string>());
        for (const auto& [_, item] : v.items()) collect_condition_names(item, out);
    } else if (v.is_array()) {
        for (const auto& item : v) collect_condition_names(item, out);
    }
}

}  // namespace

Deployment::Deployment(LambdaCalls& lambda, const Deployer::Say& say, const Template& t,
                       const DeployOptions& options)
    : lambda_(lambda), say_(say), t_(t), options_(options), base_(t.file.parent_path()) {}

std::string Deployment::function_arn(const std::string& name) const {
    return control::function_arn(control::Scope{plan_.account, lambda_.region()}, name);
}

Status Deployment::plan() {
    LAMINA_TRY(account, lambda_.caller_account());
    plan_.account = account;
    LAMINA_CHECK(load_previous());
    LAMINA_CHECK(read_parameters());
    LAMINA_CHECK(read_conditions());
    LAMINA_CHECK(read_resources());
    LAMINA_CHECK(order());
    for (const auto& id : plan_.order) LAMINA_CHECK(plan_resource(resources_.at(id)));
    LAMINA_TRY(outputs, evaluate_outputs());
    plan_.outputs = std::move(outputs);
    return {};
}

Status Deployment::load_previous() {
    static const std::regex kStackName("[A-Za-z][A-Za-z0-9-]{0,127}");
    if (!regex_full_match(options_.stack_name, kStackName))
        return fail(ErrorCode::InvalidParameterValue,
                    "the stack name '" + options_.stack_name +
                        "' must start with a letter and have 1-128 of A-Za-z0-9-");
    LAMINA_TRY(record, lambda_.get_stack(options_.stack_name));
    previous_ = record ? (*record)["Resources"] : json::object();
    if (!previous_.is_object()) previous_ = json::object();
    return {};
}

Status Deployment::read_parameters() {
    const json& doc = t_.doc;
    ctx_.tmpl = &t_;
    ctx_.parameters["AWS::AccountId"] = plan_.account;
    ctx_.parameters["AWS::Region"] = lambda_.region();
    ctx_.parameters["AWS::StackName"] = options_.stack_name;
    ctx_.parameters["AWS::StackId"] = "arn:aws:cloudformation:" + lambda_.region() + ":" +
                                      plan_.account + ":stack/" + options_.stack_name + "/" +
                                      short_hash(options_.stack_name, 32);
    ctx_.parameters["AWS::Partition"] = "aws";
    ctx_.parameters["AWS::URLSuffix"] = "amazonaws.com";
    ctx_.parameters["AWS::NotificationARNs"] = json::array();
    json params = doc.value("Parameters", json::object());
    if (!params.is_object())
        return std::unexpected(t_.error_at("/Parameters", "must be a mapping"));
    std::vector<std::string> unknown;
    for (const auto& [k, _] : options_.parameter_overrides)
        if (!params.contains(k)) unknown.push_back(k);
    if (!unknown.empty()) {
        std::string list;
        for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
        return fail(ErrorCode::InvalidParameterValue,
                    t_.file.string() + ": Parameters: [" + list + "] do not exist in the template");
    }
    for (const auto& [name, spec] : params.items()) {
        std::string p = "/Parameters/" + escape_pointer(name);
        if (!spec.is_object() || !spec.contains("Type"))
            return std::unexpected(t_.error_at(p, "a parameter needs a Type"));
        std::string type = spec["Type"].is_string() ? spec["Type"].get<std::string>() : "";
        std::optional<std::string> value;
        if (auto it = options_.parameter_overrides.find(name);
            it != options_.parameter_overrides.end())
            value = it->second;
        else if (spec.contains("Default"))
            value = spec["Default"].is_string() ? spec["Default"].get<std::string>()
                                                : spec["Default"].dump();
        if (!value)
            return std::unexpected(t_.error_at(p, "Parameters: [" + name + "] must have values"));
        if (spec.contains("AllowedValues") && spec["AllowedValues"].is_array()) {
            bool found = false;
            for (const auto& a : spec["AllowedValues"])
                found = found || (a.is_string() ? a.get<std::string>() : a.dump()) == *value;
            if (!found)
                return std::unexpected(t_.error_at(
                    p,
                    "Parameter '" + name + "' must be one of AllowedValues, got '" + *value + "'"));
        }
        if (spec.contains("AllowedPattern") && spec["AllowedPattern"].is_string()) {
            try {
                if (!regex_full_match(*value,
                                      std::regex(spec["AllowedPattern"].get<std::string>())))
                    return std::unexpected(
                        t_.error_at(p, "Parameter '" + name + "' must match pattern " +
                                           spec["AllowedPattern"].get<std::string>()));
            } catch (const std::regex_error&) {
                return std::unexpected(
                    t_.error_at(p, "AllowedPattern is not a valid regular expression"));
            }
        }
        if (type == "Number") {
            static const std::regex kNumber(R"([-+]?[0-9]+(\.[0-9]+)?)");
            if (!regex_full_match(*value, kNumber))
                return std::unexpected(t_.error_at(
                    p, "Parameter '" + name + "' must be a number, got '" + *value + "'"));
            ctx_.parameters[name] = *value;
        } else if (type == "String") {
            ctx_.parameters[name] = *value;
        } else if (type == "CommaDelimitedList" || type == "List<Number>" ||
                   type == "List<String>") {
            json list = json::array();
            std::size_t start = 0;
            while (true) {
                auto comma = value->find(',', start);
                std::string item = value->substr(
                    start, comma == std::string::npos ? std::string::npos : comma - start);
                auto a = item.find_first_not_of(' ');
                list.push_back(a == std::string::npos
                                   ? std::string()
                                   : item.substr(a, item.find_last_not_of(' ') - a + 1));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            ctx_.parameters[name] = list;
        } else {
            return std::unexpected(
                t_.error_at(p + "/Type", "parameter type '" + type +
                                             "' is not supported by lamina (String, Number, "
                                             "CommaDelimitedList, List<Number>)"));
        }
    }
    return {};
}

Status Deployment::read_conditions() {
    json conds = t_.doc.value("Conditions", json::object());
    if (!conds.is_object()) return std::unexpected(t_.error_at("/Conditions", "must be a mapping"));
    // conditions may name each other: evaluate until none is left
    std::map<std::string, json> pending;
    for (const auto& [k, v] : conds.items()) pending[k] = v;
    while (!pending.empty()) {
        bool progress = false;
        for (auto it = pending.begin(); it != pending.end();) {
            std::set<std::string> names;
            collect_condition_names(it->second, names);
            bool ready = true;
            for (const auto& n : names) {
                if (!conds.contains(n))
                    return std::unexpected(t_.error_at("/Conditions/" + escape_pointer(it->first),
                                                       "unknown condition '" + n + "'"));
                ready = ready && ctx_.conditions.contains(n);
            }
            if (!ready) {
                ++it;
                continue;
            }
            auto v =
                evaluate_condition(it->second, "/Conditions/" + escape_pointer(it->first), ctx_);
            if (!v) return std::unexpected(v.error());
            ctx_.conditions[it->first] = *v;
            it = pending.erase(it);
            progress = true;
        }
        if (!progress)
            return std::unexpected(
                t_.error_at("/Conditions", "the conditions refer to each other in a circle"));
    }
    return {};
}

Status Deployment::read_resources() {
    const json& doc = t_.doc;
    bool serverless = false;
    if (doc.contains("Transform")) {
        const json& tr = doc["Transform"];
        serverless = (tr.is_string() && tr == "AWS::Serverless-2016-10-31") ||
                     (tr.is_array() && std::find(tr.begin(), tr.end(),
                                                 json("AWS::Serverless-2016-10-31")) != tr.end());
    }
    json globals = doc.value("Globals", json::object());
    if (!globals.is_object()) return std::unexpected(t_.error_at("/Globals", "must be a mapping"));
    for (const auto& [section, _] : globals.items())
        if (section != "Function") report_.skipped.push_back("Globals." + section);
    json function_globals = globals.value("Function", json::object());
    for (const auto& [id, spec] : doc["Resources"].items()) {
        std::string p = "/Resources/" + escape_pointer(id);
        static const std::regex kLogicalId("[A-Za-z0-9]+");
        if (!regex_full_match(id, kLogicalId))
            return std::unexpected(t_.error_at(p, "a logical id must be alphanumeric (A-Za-z0-9)"));
        if (!spec.is_object() || !spec.contains("Type") || !spec["Type"].is_string())
            return std::unexpected(t_.error_at(p, "a resource needs a Type"));
        Resource r;
        r.id = id;
        r.type = spec["Type"];
        r.pointer = p + "/Properties";
        r.raw = spec.value("Properties", json::object());
        if (!r.raw.is_object()) return std::unexpected(t_.error_at(r.pointer, "must be a mapping"));
        if (r.type.rfind("AWS::Serverless::", 0) == 0 && !serverless)
            return std::unexpected(t_.error_at(
                p + "/Type",
                r.type + " needs 'Transform: AWS::Serverless-2016-10-31' in the template"));
        if (r.type == kServerlessFunction) r.raw = merge_globals(function_globals, r.raw);
        if (spec.contains("Condition")) {
            if (!spec["Condition"].is_string() ||
                !ctx_.conditions.contains(spec["Condition"].get<std::string>()))
                return std::unexpected(
                    t_.error_at(p + "/Condition", "unknown condition " + spec["Condition"].dump()));
            r.condition = spec["Condition"].get<std::string>();
        }
        if (spec.contains("DependsOn")) {
            json d = spec["DependsOn"];
            if (d.is_string()) d = json::array({d});
            if (!d.is_array())
                return std::unexpected(
                    t_.error_at(p + "/DependsOn", "must be a name or a list of names"));
            for (const auto& x : d) {
                if (!x.is_string() || !doc["Resources"].contains(x.get<std::string>()))
                    return std::unexpected(t_.error_at(
                        p + "/DependsOn", "names no resource of this template: " + x.dump()));
                r.deps.insert(x.get<std::string>());
            }
        }
        if (auto md = spec.find("Metadata"); md != spec.end() && md->is_object())
            r.builds_image = md->contains("DockerContext") || md->contains("Dockerfile");
        r.deletion_policy = spec.value("DeletionPolicy", json("")).is_string()
                                ? spec.value("DeletionPolicy", std::string())
                                : "";
        if (auto k = known_properties().find(r.type); k != known_properties().end()) {
            for (const auto& [name, _] : r.raw.items())
                if (!k->second.contains(name))
                    return std::unexpected(t_.error_at(
                        r.pointer + "/" + escape_pointer(name),
                        "property " + name + " is not defined for a resource of type " + r.type));
        }
        // a SAM function and the resources SAM makes of its FunctionUrlConfig and Events
        std::vector<Resource> batch;
        if (r.type == kServerlessFunction) {
            LAMINA_TRY(generated, function_url_resources(r));
            batch = std::move(generated);
            LAMINA_TRY(from_events, event_resources(r));
            for (auto& g : from_events) batch.push_back(std::move(g));
            // what they refer to (queues, buckets) is theirs, not the function's
            if (r.raw.contains("Events") && r.raw["Events"].is_object())
                for (auto it = r.raw["Events"].begin(); it != r.raw["Events"].end();) {
                    json type = it->is_object() ? it->value("Type", json()) : json();
                    it = type == "SQS" || type == "S3" ? r.raw["Events"].erase(it) : std::next(it);
                }
            for (const auto& g : batch)
                if (doc["Resources"].contains(g.id))
                    return std::unexpected(
                        t_.error_at("/Resources/" + escape_pointer(g.id),
                                    "this logical id is the one SAM gives to what it makes of " +
                                        id + "'s FunctionUrlConfig or Events"));
        }
        batch.insert(batch.begin(), std::move(r));
        for (auto& b : batch) LAMINA_CHECK(admit_resource(std::move(b)));
    }
    LAMINA_CHECK(attach_s3_events());
    ctx_.resource_value = [this](const std::string& id, const std::string& attribute) {
        return resource_value(id, attribute);
    };
    return {};
}

// Takes a resource into the deployment, or leaves it out (its Condition
// does not hold, or lamina does not emulate its type).
Status Deployment::admit_resource(Resource r) {
    const std::string id = r.id;
    if (r.condition && !ctx_.conditions.at(*r.condition)) {
        plan_.excluded.insert(id);
        return {};
    }
    if (!emulated_types().contains(r.type)) {
        report_.skipped.push_back(id + " (" + r.type + ")");
        plan_.others[id] = r.type;
        ctx_.resources.insert(id);
        return {};
    }
    ctx_.resources.insert(id);
    if (r.type == kServerlessFunction) {
        for (const char* g : {".Alias", ".Version", "Role"}) {
            ctx_.resources.insert(id + g);
            owner_[id + g] = id;
        }
        if (r.raw.contains("AutoPublishAlias") && r.raw["AutoPublishAlias"].is_string()) {
            std::string generated = id + "Alias" + r.raw["AutoPublishAlias"].get<std::string>();
            ctx_.resources.insert(generated);
            owner_[generated] = id;
        }
    }
    resources_.emplace(id, std::move(r));
    return {};
}

Status Deployment::order() {
    for (auto& [id, r] : resources_) {
        std::set<std::string> refs;
        collect_references(r.raw, refs);
        for (const auto& ref : refs) {
            std::string target = owner_.contains(ref) ? owner_[ref] : ref;
            if (plan_.excluded.contains(target))
                return std::unexpected(t_.error_at(
                    r.pointer,
                    "refers to " + target + ", which its Condition leaves out of this deployment"));
            if (resources_.contains(target) && target != id) r.deps.insert(target);
        }
        std::erase_if(r.deps, [&](const std::string& d) { return !resources_.contains(d); });
    }
    std::map<std::string, int> state;  // 1 visiting, 2 done
    std::function<Status(const std::string&)> visit = [&](const std::string& id) -> Status {
        if (state[id] == 2) return {};
        if (state[id] == 1)
            return std::unexpected(
                t_.error_at("/Resources/" + escape_pointer(id),
                            "circular dependency between resources (through " + id + ")"));
        state[id] = 1;
        for (const auto& d : resources_.at(id).deps) LAMINA_CHECK(visit(d));
        state[id] = 2;
        plan_.order.push_back(id);
        return {};
    };
    for (const auto& [id, _] : resources_) LAMINA_CHECK(visit(id));
    return {};
}

Result<json> Deployment::resource_value(const std::string& id, const std::string& attribute) {
    if (auto o = plan_.others.find(id); o != plan_.others.end()) {
        // not emulated: a stable name, and an ARN of the right shape
        std::string name = generated_name(options_.stack_name, id);
        if (attribute.empty()) return json(name);
        if (attribute == "Arn") {
            std::string service = ascii_lower(o->second.substr(5, o->second.find("::", 5) - 5));
            if (service == "iam") return json("arn:aws:iam::" + plan_.account + ":role/" + name);
            return json("arn:aws:" + service + ":" + lambda_.region() + ":" + plan_.account + ":" +
                        name);
        }
        return json(name);
    }
    auto key = attribute.empty() ? id : id + "." + attribute;
    if (attribute.empty()) {
        if (auto it = refs_.find(id); it != refs_.end()) return it->second;
    } else if (auto it = atts_.find(key); it != atts_.end()) {
        return it->second;
    }
    if (owner_.contains(id) || resources_.contains(id)) {
        std::string owner = owner_.contains(id) ? owner_[id] : id;
        if (!attribute.empty() && resources_.contains(id))
            return fail(
                ErrorCode::InvalidParameterValue,
                "Fn::GetAtt: " + resources_.at(id).type + " has no attribute '" + attribute + "'");
        return fail(ErrorCode::InvalidParameterValue,
                    id + " has no value here (does " + owner + " have AutoPublishAlias?)");
    }
    return fail(ErrorCode::InvalidParameterValue,
                "'" + id + "' is not a resource of this template");
}

Result<json> Deployment::props_of(const Resource& r) {
    auto v = evaluate(r.raw, r.pointer, ctx_);
    if (!v) return std::unexpected(v.error());
    if (v->is_null()) return json::object();
    return v;
}

// Reads a resource's spec and notes the values Ref and Fn::GetAtt give for
// it before it exists (version 1, a layer's next version).
Status Deployment::plan_resource(const Resource& r) {
    LAMINA_TRY(props, props_of(r));
    if (is_function_type(r.type)) {
        LAMINA_TRY(f, function_spec(r, props));
        note_function(r, f);
        LAMINA_CHECK(check_function_is_ours(r, props, f));
        LAMINA_CHECK(check_external_layers(r, f));
        plan_.functions[r.id] = std::move(f);
    } else if (is_layer_type(r.type)) {
        LAMINA_TRY(l, layer_spec(r, props));
        std::string arn =
            control::layer_version_arn(control::Scope{plan_.account, lambda_.region()}, l.name, 1);
        const json prev = previous_.value(r.id, json::object());
        if (prev.value("Fingerprint", std::string()) == l.fingerprint)
            arn = prev.value("LayerVersionArn", arn);
        refs_[r.id] = arn;
        planned_layer_arns_.insert(arn);
        layer_arns_[r.id] = arn;
        plan_.layers[r.id] = std::move(l);
    } else if (r.type == kVersion) {
        LAMINA_TRY(v, version_spec(r, props));
        refs_[r.id] = function_arn(v.function) + ":1";
        atts_[r.id + ".Version"] = "1";
        atts_[r.id + ".FunctionArn"] = function_arn(v.function);
        plan_.versions[r.id] = std::move(v);
    } else if (r.type == kAlias) {
        LAMINA_TRY(a, alias_spec(r, props));
        plan_.aliases[r.id] = std::move(a);
    } else if (r.type == kPermission) {
        LAMINA_TRY(p, permission_spec(r, props));
        plan_.permissions[r.id] = std::move(p);
    } else if (r.type == kEventInvokeConfig) {
        LAMINA_TRY(e, event_invoke_spec(r, props));
        plan_.event_invoke_configs[r.id] = std::move(e);
    } else if (r.type == kLayerPermission) {
        LAMINA_TRY(p, layer_permission_spec(r, props));
        plan_.layer_permissions[r.id] = std::move(p);
    } else if (r.type == kUrl) {
        LAMINA_TRY(u, url_spec(r, props));
        plan_.function_urls[r.id] = std::move(u);
    } else if (r.type == kEventSourceMapping) {
        LAMINA_TRY(m, mapping_spec(r, props));
        plan_.mappings[r.id] = std::move(m);
    } else if (r.type == kQueue) {
        LAMINA_TRY(q, queue_spec(r, props));
        plan_.queues[r.id] = std::move(q);
    } else if (r.type == kBucket) {
        LAMINA_TRY(b, bucket_spec(r, props));
        plan_.buckets[r.id] = std::move(b);
    }
    return {};
}

// The outputs whose Condition holds, as text.
Result<std::map<std::string, std::string>> Deployment::evaluate_outputs() {
    json outputs = t_.doc.value("Outputs", json::object());
    if (!outputs.is_object()) return std::unexpected(t_.error_at("/Outputs", "must be a mapping"));
    std::map<std::string, std::string> out;
    for (const auto& [k, o] : outputs.items()) {
        if (!o.is_object() || !o.contains("Value"))
            return std::unexpected(
                t_.error_at("/Outputs/" + escape_pointer(k), "an output needs a Value"));
        if (o.contains("Condition") && o["Condition"].is_string()) {
            auto c = ctx_.conditions.find(o["Condition"].get<std::string>());
            if (c != ctx_.conditions.end() && !c->second) continue;
        }
        auto v = evaluate(o["Value"], "/Outputs/" + escape_pointer(k) + "/Value", ctx_);
        if (!v) return std::unexpected(v.error());
        out[k] = v->is_string() ? v->get<std::string>() : v->dump();
    }
    return out;
}

}  // namespace lamina::sam
