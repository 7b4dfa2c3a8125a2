#include "lamina/sam/deployer.hpp"

#include <sys/inotify.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <regex>
#include <thread>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/names.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/sam/code_package.hpp"
#include "lamina/sam/intrinsics.hpp"
#include "lamina/sam/template.hpp"

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Deployment preferences and parameter overrides

std::optional<std::vector<TrafficShift::Step>> deployment_steps(const std::string& type, double minute_seconds) {
    static const std::regex kCanary(R"((?:Lambda)?Canary([0-9]{1,2})Percent([0-9]{1,4})Minutes?)");
    static const std::regex kLinear(R"((?:Lambda)?Linear([0-9]{1,2})PercentEvery([0-9]{1,4})Minutes?)");
    std::smatch m;
    std::vector<TrafficShift::Step> steps;
    if (type == "AllAtOnce" || type == "LambdaAllAtOnce") return steps;
    if (regex_full_match(type, m, kCanary)) {
        double p = std::stod(m[1]), minutes = std::stod(m[2]);
        if (p <= 0 || p >= 100 || minutes <= 0) return std::nullopt;
        steps.push_back({0, p / 100});
        steps.push_back({minutes * minute_seconds, 1.0});
        return steps;
    }
    if (regex_full_match(type, m, kLinear)) {
        double p = std::stod(m[1]), minutes = std::stod(m[2]);
        if (p <= 0 || p >= 100 || minutes <= 0) return std::nullopt;
        int n = 0;
        for (double w = p; w < 100 - 1e-9; w += p, ++n) steps.push_back({n * minutes * minute_seconds, w / 100});
        steps.push_back({n * minutes * minute_seconds, 1.0});
        return steps;
    }
    return std::nullopt;
}

Result<std::map<std::string, std::string>> parse_parameter_overrides(const std::vector<std::string>& items) {
    static const std::regex kSam(R"(ParameterKey=([^,]+),ParameterValue=(.*))");
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        std::smatch m;
        if (regex_full_match(item, m, kSam)) {
            out[m[1]] = m[2];
            continue;
        }
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "--parameter-overrides expects Key=Value or ParameterKey=Key,ParameterValue=Value, got '" +
                            item + "'");
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

namespace {

const char* const kServerlessFunction = "AWS::Serverless::Function";
const char* const kServerlessLayer = "AWS::Serverless::LayerVersion";
const char* const kFunction = "AWS::Lambda::Function";
const char* const kLayer = "AWS::Lambda::LayerVersion";
const char* const kVersion = "AWS::Lambda::Version";
const char* const kAlias = "AWS::Lambda::Alias";
const char* const kPermission = "AWS::Lambda::Permission";
const char* const kEventInvokeConfig = "AWS::Lambda::EventInvokeConfig";
const char* const kLayerPermission = "AWS::Lambda::LayerVersionPermission";

bool is_function_type(const std::string& t) { return t == kServerlessFunction || t == kFunction; }
bool is_layer_type(const std::string& t) { return t == kServerlessLayer || t == kLayer; }

const std::set<std::string>& emulated_types() {
    static const std::set<std::string> k = {kServerlessFunction, kServerlessLayer, kFunction,          kLayer,
                                            kVersion,            kAlias,           kPermission,        kEventInvokeConfig,
                                            kLayerPermission};
    return k;
}

const std::map<std::string, std::set<std::string>>& known_properties() {
    static const std::map<std::string, std::set<std::string>> k = {
        {kServerlessFunction,
         {"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
          "AutoPublishCodeSha256", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue", "DeploymentPreference",
          "Description", "Environment", "EphemeralStorage", "EventInvokeConfig", "Events", "FileSystemConfigs",
          "FunctionName", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri", "InlineCode", "KmsKeyArn",
          "Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary", "Policies", "PropagateTags",
          "ProvisionedConcurrencyConfig", "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath",
          "Runtime", "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "Timeout", "Tracing",
          "VersionDescription", "VersionDeletionPolicy", "VpcConfig"}},
        {kFunction,
         {"Architectures", "Code", "CodeSigningConfigArn", "DeadLetterConfig", "Description", "Environment",
          "EphemeralStorage", "FileSystemConfigs", "FunctionName", "Handler", "ImageConfig", "KmsKeyArn", "Layers",
          "LoggingConfig", "MemorySize", "PackageType", "RecursiveLoop", "ReservedConcurrentExecutions", "Role",
          "Runtime", "RuntimeManagementConfig", "SnapStart", "Tags", "Timeout", "TracingConfig", "VpcConfig"}},
        {kServerlessLayer,
         {"CompatibleArchitectures", "CompatibleRuntimes", "ContentUri", "Description", "LayerName", "LicenseInfo",
          "RetentionPolicy"}},
        {kLayer,
         {"CompatibleArchitectures", "CompatibleRuntimes", "Content", "Description", "LayerName", "LicenseInfo"}},
        {kVersion, {"CodeSha256", "Description", "FunctionName", "Policy", "ProvisionedConcurrencyConfig",
                    "RuntimePolicy"}},
        {kAlias, {"Description", "FunctionName", "FunctionVersion", "Name", "ProvisionedConcurrencyConfig",
                  "RoutingConfig"}},
        {kPermission, {"Action", "EventSourceToken", "FunctionName", "FunctionUrlAuthType", "Principal",
                       "PrincipalOrgID", "SourceAccount", "SourceArn", "InvokedViaFunctionUrl"}},
        {kEventInvokeConfig, {"DestinationConfig", "FunctionName", "MaximumEventAgeInSeconds",
                              "MaximumRetryAttempts", "Qualifier"}},
        {kLayerPermission, {"Action", "LayerVersionArn", "OrganizationId", "Principal"}},
    };
    return k;
}

std::string short_hash(const std::string& text, std::size_t n = 12) {
    std::string hex = to_hex(sha256(text));
    std::string out = hex.substr(0, n);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
}

// CloudFormation's physical names: "{stack}-{LogicalId}-{suffix}", within `max`.
std::string generated_name(const std::string& stack, const std::string& id, std::size_t max = 64) {
    std::string suffix = "-" + short_hash(stack + "/" + id);
    std::string base = stack + "-" + id;
    if (base.size() + suffix.size() > max) base.resize(max - suffix.size());
    return base + suffix;
}

std::string esc(const std::string& k) {
    std::string out;
    for (char c : k) out += c == '/' ? std::string("~1") : c == '~' ? std::string("~0") : std::string(1, c);
    return out;
}

std::string last_segment(const std::string& s) { return s.substr(s.rfind(':') + 1); }

// A function reference in a template: a name, or a (maybe qualified) ARN.
std::pair<std::string, std::string> function_name_and_qualifier(const std::string& v) {
    static const std::regex kArn(R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:([a-zA-Z0-9_-]+)(?::([a-zA-Z0-9$_-]+))?)");
    std::smatch m;
    if (regex_full_match(v, m, kArn)) return {m[1], m[2].matched ? m[2].str() : ""};
    auto colon = v.find(':');
    if (colon != std::string::npos && v.rfind("arn:", 0) != 0) return {v.substr(0, colon), v.substr(colon + 1)};
    return {v, ""};
}

// Globals.Function merged under a function's own properties, as SAM does:
// maps merge (the resource wins), lists add up, anything else is replaced.
json merge_globals(const json& global, const json& local) {
    auto is_intrinsic = [](const json& v) {
        return v.is_object() && v.size() == 1 && (v.begin().key() == "Ref" || v.begin().key().rfind("Fn::", 0) == 0);
    };
    if (global.is_object() && local.is_object() && !is_intrinsic(global) && !is_intrinsic(local)) {
        json out = global;
        for (const auto& [k, v] : local.items()) out[k] = out.contains(k) ? merge_globals(out[k], v) : v;
        return out;
    }
    if (global.is_array() && local.is_array()) {
        json out = global;
        for (const auto& v : local) out.push_back(v);
        return out;
    }
    return local;
}

struct Resource {
    std::string id, type, pointer;
    json raw;                       // Properties as written (plus Globals)
    std::set<std::string> deps;     // logical ids this one needs first
    std::optional<std::string> condition;
    std::string deletion_policy;    // "Retain" or ""
};

// Reads and checks an integer property.
Result<std::optional<std::int64_t>> int_prop(const Template& t, const json& props, const std::string& pointer,
                                             const std::string& name, std::int64_t lo, std::int64_t hi) {
    if (!props.contains(name) || props[name].is_null()) return std::optional<std::int64_t>();
    const json& v = props[name];
    std::int64_t n = 0;
    bool ok = false;
    if (v.is_number_integer()) {
        n = v.get<std::int64_t>();
        ok = true;
    } else if (v.is_string()) {
        try {
            std::size_t used = 0;
            n = std::stoll(v.get<std::string>(), &used);
            ok = used == v.get<std::string>().size();
        } catch (const std::exception&) {
        }
    }
    std::string p = pointer + "/" + esc(name);
    if (!ok) return std::unexpected(t.error_at(p, "must be an integer, got " + v.dump()));
    if (n < lo || n > hi)
        return std::unexpected(t.error_at(p, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                                 ", got " + std::to_string(n)));
    return std::optional<std::int64_t>(n);
}

Result<std::optional<std::string>> string_prop(const Template& t, const json& props, const std::string& pointer,
                                               const std::string& name) {
    if (!props.contains(name) || props[name].is_null()) return std::optional<std::string>();
    const json& v = props[name];
    if (v.is_string()) return std::optional<std::string>(v.get<std::string>());
    if (v.is_number() || v.is_boolean()) return std::optional<std::string>(v.dump());
    return std::unexpected(t.error_at(pointer + "/" + esc(name), "must be a string, got " + v.dump()));
}

Result<std::vector<std::string>> string_list(const Template& t, const json& props, const std::string& pointer,
                                             const std::string& name) {
    std::vector<std::string> out;
    if (!props.contains(name) || props[name].is_null()) return out;
    const json& v = props[name];
    if (!v.is_array()) return std::unexpected(t.error_at(pointer + "/" + esc(name), "must be a list"));
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string())
            return std::unexpected(t.error_at(pointer + "/" + esc(name) + "/" + std::to_string(i), "must be a string"));
        out.push_back(v[i].get<std::string>());
    }
    return out;
}

// The code a function or layer is made from.
struct CodeSource {
    std::optional<fs::path> folder;     // watched when it is a folder
    std::string zip;                    // bytes, for local code
    json s3;                            // {"S3Bucket","S3Key"[,"S3ObjectVersion"]} for code in S3
    std::string fingerprint;            // what decides "changed"
};

void delete_layer_version(ApiClient& api_, const std::string& arn) {
    static const std::regex kLayerArn(R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:([a-zA-Z0-9_-]+):([0-9]+))");
    std::smatch m;
    if (regex_full_match(arn, m, kLayerArn))
        (void)api_.call("DELETE", "/2018-10-31/layers/" + path_segment(m[1]) + "/versions/" + m[2].str(), "");
}

// Deletes what the previous deployment made and the next one does not have;
// drops replaced layer versions of layers that do not retain them.
void prune_stack(ApiClient& api_, const json& previous_, json& next_, const std::function<void(const std::string&)>& say) {
auto fn_path = [](const std::string& name) { return "/2015-03-31/functions/" + path_segment(name); };
    // layer versions replaced in this deployment, when the layer does not keep them
    for (auto& [id, st] : next_.items()) {
        if (!is_layer_type(st.value("Type", std::string())) || st.value("Retain", true)) continue;
        json kept = json::array();
        for (const auto& v : st["Versions"]) {
            if (v == st["LayerVersionArn"]) kept.push_back(v);
            else delete_layer_version(api_, v);
        }
        st["Versions"] = kept;
    }
    // resources gone from the template (or replaced under another name), newest kinds first
    std::vector<std::string> kinds = {kPermission, kLayerPermission, kEventInvokeConfig, kAlias,
                                      kVersion,    kServerlessFunction, kFunction,       kServerlessLayer, kLayer};
    for (const auto& kind : kinds) {
        for (const auto& [id, prev] : previous_.items()) {
            if (prev.value("Type", std::string()) != kind) continue;
            bool same = next_.contains(id);
            for (const char* k : {"FunctionName", "LayerName", "Name", "Qualifier"})
                same = same && next_[id].value(k, std::string()) == prev.value(k, std::string());
            if (same) continue;
            std::string fn = prev.value("FunctionName", std::string());
            if (is_function_type(kind)) {
                (void)api_.call("DELETE", fn_path(fn), "");
                say("deleted  " + id + "  function " + fn);
            } else if (is_layer_type(kind)) {
                bool retain = prev.value("Retain", true);
                if (!retain)
                    for (const auto& v : prev.value("Versions", json::array())) delete_layer_version(api_, v);
                say(std::string(retain ? "retained " : "deleted  ") + id + "  layer " + prev.value("LayerName", std::string()));
            } else if (kind == kAlias) {
                (void)api_.call("DELETE", fn_path(fn) + "/aliases/" + path_segment(prev.value("Name", std::string())), "");
                say("deleted  " + id + "  alias " + fn + ":" + prev.value("Name", std::string()));
            } else if (kind == kVersion) {
                if (prev.value("Retain", false)) continue;
                auto r = api_.call("DELETE", fn_path(fn) + "?Qualifier=" + prev.value("Version", std::string()), "");
                if (r && r->ok()) say("deleted  " + id + "  version " + fn + ":" + prev.value("Version", std::string()));
                else say("kept     " + id + "  version " + fn + ":" + prev.value("Version", std::string()) + (r ? " (" + r->error_text() + ")" : ""));
            } else if (kind == kPermission) {
                std::string q = prev.value("Qualifier", std::string());
                (void)api_.call("DELETE", fn_path(fn) + "/policy/" + path_segment(prev.value("StatementId", std::string())) +
                                              (q.empty() ? "" : "?Qualifier=" + url_encode(q)), "");
                say("removed  " + id + "  permission " + prev.value("StatementId", std::string()));
            } else if (kind == kLayerPermission) {
                (void)api_.call("DELETE", prev.value("Base", std::string()) + "/" + path_segment(prev.value("StatementId", std::string())), "");
                say("removed  " + id + "  layer permission");
            } else if (kind == kEventInvokeConfig) {
                (void)api_.call("DELETE", "/2019-09-25/functions/" + path_segment(fn) + "/event-invoke-config?Qualifier=" +
                                              url_encode(prev.value("Qualifier", std::string())), "");
                say("deleted  " + id + "  event invoke config");
            }
        }
    }
}


// One deployment of one template.
class Run {
public:
    Run(ApiClient& api, const Deployer::Say& say, const Template& t, const DeployOptions& options)
        : api_(api), say_(say), t_(t), options_(options), base_(t.file.parent_path()) {}

    Result<DeployReport> execute(std::vector<std::tuple<fs::path, std::string, std::string, std::string>>& watched,
                                 std::map<std::string, std::string>& layer_arns,
                                 std::map<std::string, std::vector<std::string>>& layer_users) {
        LAMINA_CHECK(identify());
        LAMINA_CHECK(load_previous());
        LAMINA_CHECK(read_parameters());
        LAMINA_CHECK(read_conditions());
        LAMINA_CHECK(read_resources());
        LAMINA_CHECK(order());
        // plan: everything evaluated and checked, nothing changed
        applying_ = false;
        for (const auto& id : order_) LAMINA_CHECK(process(resources_.at(id)));
        LAMINA_CHECK(check_outputs());
        // apply
        applying_ = true;
        refs_.clear();
        atts_.clear();
        layer_users_.clear();
        for (const auto& id : order_) {
            if (auto st = process(resources_.at(id)); !st) {
                rollback();
                return std::unexpected(st.error());
            }
        }
        prune();
        LAMINA_CHECK(save());
        LAMINA_CHECK(evaluate_outputs());
        for (const auto& w : watched_) watched.push_back(w);
        // the plan pass and the apply pass both noticed them
        std::sort(report_.skipped.begin(), report_.skipped.end());
        report_.skipped.erase(std::unique(report_.skipped.begin(), report_.skipped.end()), report_.skipped.end());
        layer_arns = layer_arns_;
        layer_users = layer_users_;
        return std::move(report_);
    }

private:
    // ---- calls ------------------------------------------------------------
    Result<json> call(const std::string& method, const std::string& target, const json& body,
                      const std::string& what) {
        auto r = api_.call(method, target, body.is_null() ? std::string() : body.dump());
        if (!r) return std::unexpected(r.error());
        if (!r->ok()) return fail(ErrorCode::InvalidParameterValue, what + ": " + r->error_text());
        return r->json();
    }
    // nullopt when the API answers 404
    Result<std::optional<json>> get(const std::string& target, const std::string& what) {
        auto r = api_.call("GET", target, "");
        if (!r) return std::unexpected(r.error());
        if (r->status == 404) return std::optional<json>();
        if (!r->ok()) return fail(ErrorCode::InvalidParameterValue, what + ": " + r->error_text());
        return std::optional<json>(r->json());
    }
    void say(const std::string& line) {
        report_.lines.push_back(line);
        if (say_) say_(line);
    }

    std::string fn_path(const std::string& name) { return "/2015-03-31/functions/" + path_segment(name); }
    std::string function_arn(const std::string& name) const {
        return "arn:aws:lambda:" + api_.region() + ":" + account_ + ":function:" + name;
    }

    // ---- template sections ------------------------------------------------
    Status identify() {
        auto r = api_.call("POST", "/", "Action=GetCallerIdentity&Version=2011-06-15",
                           "application/x-www-form-urlencoded; charset=utf-8");
        if (!r) return std::unexpected(r.error());
        static const std::regex kAccount("<Account>([0-9]{12})</Account>");
        std::smatch m;
        if (!r->ok() || !std::regex_search(r->body, m, kAccount))
            return fail(ErrorCode::Service, "cannot tell the account: GetCallerIdentity answered " + r->error_text());
        account_ = m[1];
        return {};
    }

    Status load_previous() {
        static const std::regex kStackName("[A-Za-z][A-Za-z0-9-]{0,127}");
        if (!regex_full_match(options_.stack_name, kStackName))
            return fail(ErrorCode::InvalidParameterValue, "the stack name '" + options_.stack_name +
                                                              "' must start with a letter and have 1-128 of A-Za-z0-9-");
        auto r = get("/_lamina/stacks/" + path_segment(options_.stack_name), "reading the stack");
        if (!r) return std::unexpected(r.error());
        previous_ = *r ? (**r)["Resources"] : json::object();
        if (!previous_.is_object()) previous_ = json::object();
        return {};
    }

    Status read_parameters() {
        const json& doc = t_.doc;
        ctx_.tmpl = &t_;
        ctx_.parameters["AWS::AccountId"] = account_;
        ctx_.parameters["AWS::Region"] = api_.region();
        ctx_.parameters["AWS::StackName"] = options_.stack_name;
        ctx_.parameters["AWS::StackId"] = "arn:aws:cloudformation:" + api_.region() + ":" + account_ + ":stack/" +
                                          options_.stack_name + "/" + short_hash(options_.stack_name, 32);
        ctx_.parameters["AWS::Partition"] = "aws";
        ctx_.parameters["AWS::URLSuffix"] = "amazonaws.com";
        ctx_.parameters["AWS::NotificationARNs"] = json::array();
        json params = doc.value("Parameters", json::object());
        if (!params.is_object()) return std::unexpected(t_.error_at("/Parameters", "must be a mapping"));
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
            std::string p = "/Parameters/" + esc(name);
            if (!spec.is_object() || !spec.contains("Type"))
                return std::unexpected(t_.error_at(p, "a parameter needs a Type"));
            std::string type = spec["Type"].is_string() ? spec["Type"].get<std::string>() : "";
            std::optional<std::string> value;
            if (auto it = options_.parameter_overrides.find(name); it != options_.parameter_overrides.end())
                value = it->second;
            else if (spec.contains("Default"))
                value = spec["Default"].is_string() ? spec["Default"].get<std::string>() : spec["Default"].dump();
            if (!value) return std::unexpected(t_.error_at(p, "Parameters: [" + name + "] must have values"));
            if (spec.contains("AllowedValues") && spec["AllowedValues"].is_array()) {
                bool found = false;
                for (const auto& a : spec["AllowedValues"])
                    found = found || (a.is_string() ? a.get<std::string>() : a.dump()) == *value;
                if (!found)
                    return std::unexpected(t_.error_at(p, "Parameter '" + name + "' must be one of AllowedValues, got '" + *value + "'"));
            }
            if (spec.contains("AllowedPattern") && spec["AllowedPattern"].is_string()) {
                try {
                    if (!regex_full_match(*value, std::regex(spec["AllowedPattern"].get<std::string>())))
                        return std::unexpected(t_.error_at(p, "Parameter '" + name + "' must match pattern " +
                                                                  spec["AllowedPattern"].get<std::string>()));
                } catch (const std::regex_error&) {
                    return std::unexpected(t_.error_at(p, "AllowedPattern is not a valid regular expression"));
                }
            }
            if (type == "Number") {
                static const std::regex kNumber(R"([-+]?[0-9]+(\.[0-9]+)?)");
                if (!regex_full_match(*value, kNumber))
                    return std::unexpected(t_.error_at(p, "Parameter '" + name + "' must be a number, got '" + *value + "'"));
                ctx_.parameters[name] = *value;
            } else if (type == "String") {
                ctx_.parameters[name] = *value;
            } else if (type == "CommaDelimitedList" || type == "List<Number>" || type == "List<String>") {
                json list = json::array();
                std::size_t start = 0;
                while (true) {
                    auto comma = value->find(',', start);
                    std::string item = value->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                    auto a = item.find_first_not_of(' ');
                    list.push_back(a == std::string::npos ? std::string() : item.substr(a, item.find_last_not_of(' ') - a + 1));
                    if (comma == std::string::npos) break;
                    start = comma + 1;
                }
                ctx_.parameters[name] = list;
            } else {
                return std::unexpected(t_.error_at(p + "/Type", "parameter type '" + type +
                                                                     "' is not supported by lamina (String, Number, "
                                                                     "CommaDelimitedList, List<Number>)"));
            }
        }
        return {};
    }

    Status read_conditions() {
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
                        return std::unexpected(t_.error_at("/Conditions/" + esc(it->first), "unknown condition '" + n + "'"));
                    ready = ready && ctx_.conditions.contains(n);
                }
                if (!ready) {
                    ++it;
                    continue;
                }
                auto v = evaluate_condition(it->second, "/Conditions/" + esc(it->first), ctx_);
                if (!v) return std::unexpected(v.error());
                ctx_.conditions[it->first] = *v;
                it = pending.erase(it);
                progress = true;
            }
            if (!progress)
                return std::unexpected(t_.error_at("/Conditions", "the conditions refer to each other in a circle"));
        }
        return {};
    }

    static void collect_condition_names(const json& v, std::set<std::string>& out) {
        if (v.is_object()) {
            if (v.size() == 1 && v.begin().key() == "Condition" && v.begin().value().is_string())
                out.insert(v.begin().value().get<std::string>());
            for (const auto& [_, item] : v.items()) collect_condition_names(item, out);
        } else if (v.is_array()) {
            for (const auto& item : v) collect_condition_names(item, out);
        }
    }

    Status read_resources() {
        const json& doc = t_.doc;
        bool serverless = false;
        if (doc.contains("Transform")) {
            const json& tr = doc["Transform"];
            serverless = (tr.is_string() && tr == "AWS::Serverless-2016-10-31") ||
                         (tr.is_array() && std::find(tr.begin(), tr.end(), json("AWS::Serverless-2016-10-31")) != tr.end());
        }
        json globals = doc.value("Globals", json::object());
        if (!globals.is_object()) return std::unexpected(t_.error_at("/Globals", "must be a mapping"));
        for (const auto& [section, _] : globals.items())
            if (section != "Function") report_.skipped.push_back("Globals." + section);
        json function_globals = globals.value("Function", json::object());
        for (const auto& [id, spec] : doc["Resources"].items()) {
            std::string p = "/Resources/" + esc(id);
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
                return std::unexpected(t_.error_at(p + "/Type", r.type + " needs 'Transform: AWS::Serverless-2016-10-31' in the template"));
            if (r.type == kServerlessFunction) r.raw = merge_globals(function_globals, r.raw);
            if (spec.contains("Condition")) {
                if (!spec["Condition"].is_string() || !ctx_.conditions.contains(spec["Condition"].get<std::string>()))
                    return std::unexpected(t_.error_at(p + "/Condition", "unknown condition " + spec["Condition"].dump()));
                r.condition = spec["Condition"].get<std::string>();
            }
            if (spec.contains("DependsOn")) {
                json d = spec["DependsOn"];
                if (d.is_string()) d = json::array({d});
                if (!d.is_array()) return std::unexpected(t_.error_at(p + "/DependsOn", "must be a name or a list of names"));
                for (const auto& x : d) {
                    if (!x.is_string() || !doc["Resources"].contains(x.get<std::string>()))
                        return std::unexpected(t_.error_at(p + "/DependsOn", "names no resource of this template: " + x.dump()));
                    r.deps.insert(x.get<std::string>());
                }
            }
            r.deletion_policy = spec.value("DeletionPolicy", json("")).is_string() ? spec.value("DeletionPolicy", std::string()) : "";
            if (auto k = known_properties().find(r.type); k != known_properties().end()) {
                for (const auto& [name, _] : r.raw.items())
                    if (!k->second.contains(name))
                        return std::unexpected(t_.error_at(r.pointer + "/" + esc(name),
                                                           "property " + name + " is not defined for a resource of type " + r.type));
            }
            if (r.condition && !ctx_.conditions.at(*r.condition)) {
                excluded_.insert(id);
                continue;
            }
            if (!emulated_types().contains(r.type)) {
                report_.skipped.push_back(id + " (" + r.type + ")");
                others_[id] = r.type;
                ctx_.resources.insert(id);
                continue;
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
        }
        ctx_.resource_value = [this](const std::string& id, const std::string& attribute) {
            return resource_value(id, attribute);
        };
        return {};
    }

    Status order() {
        for (auto& [id, r] : resources_) {
            std::set<std::string> refs;
            collect_references(r.raw, refs);
            for (const auto& ref : refs) {
                std::string target = owner_.contains(ref) ? owner_[ref] : ref;
                if (excluded_.contains(target))
                    return std::unexpected(t_.error_at(r.pointer, "refers to " + target +
                                                                      ", which its Condition leaves out of this deployment"));
                if (resources_.contains(target) && target != id) r.deps.insert(target);
            }
            std::erase_if(r.deps, [&](const std::string& d) { return !resources_.contains(d); });
        }
        std::map<std::string, int> state;  // 1 visiting, 2 done
        std::function<Status(const std::string&)> visit = [&](const std::string& id) -> Status {
            if (state[id] == 2) return {};
            if (state[id] == 1)
                return std::unexpected(t_.error_at("/Resources/" + esc(id), "circular dependency between resources (through " + id + ")"));
            state[id] = 1;
            for (const auto& d : resources_.at(id).deps) LAMINA_CHECK(visit(d));
            state[id] = 2;
            order_.push_back(id);
            return {};
        };
        for (const auto& [id, _] : resources_) LAMINA_CHECK(visit(id));
        return {};
    }

    // ---- Ref and Fn::GetAtt -----------------------------------------------
    Result<json> resource_value(const std::string& id, const std::string& attribute) {
        if (auto o = others_.find(id); o != others_.end()) {
            // not emulated: a stable name, and an ARN of the right shape
            std::string name = generated_name(options_.stack_name, id);
            if (attribute.empty()) return json(name);
            if (attribute == "Arn") {
                std::string service = ascii_lower(o->second.substr(5, o->second.find("::", 5) - 5));
                if (service == "iam") return json("arn:aws:iam::" + account_ + ":role/" + name);
                return json("arn:aws:" + service + ":" + api_.region() + ":" + account_ + ":" + name);
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
                return fail(ErrorCode::InvalidParameterValue,
                            "Fn::GetAtt: " + resources_.at(id).type + " has no attribute '" + attribute + "'");
            return fail(ErrorCode::InvalidParameterValue,
                        id + " has no value here (does " + owner + " have AutoPublishAlias?)");
        }
        return fail(ErrorCode::InvalidParameterValue, "'" + id + "' is not a resource of this template");
    }

    Result<json> props_of(const Resource& r) {
        auto v = evaluate(r.raw, r.pointer, ctx_);
        if (!v) return std::unexpected(v.error());
        if (v->is_null()) return json::object();
        return v;
    }

    // ---- resources --------------------------------------------------------
    Status process(const Resource& r) {
        LAMINA_TRY(props, props_of(r));
        if (is_function_type(r.type)) return function(r, props);
        if (is_layer_type(r.type)) return layer(r, props);
        if (r.type == kVersion) return version(r, props);
        if (r.type == kAlias) return alias(r, props);
        if (r.type == kPermission) return permission(r, props);
        if (r.type == kEventInvokeConfig) return event_invoke_config(r, props);
        if (r.type == kLayerPermission) return layer_permission(r, props);
        return {};
    }

    Result<CodeSource> code_source(const Resource& r, const json& props, const std::string& runtime) {
        CodeSource c;
        auto s3_from = [&](const json& v, const std::string& p) -> Status {
            if (v.is_string()) {
                static const std::regex kS3(R"(s3://([^/]+)/(.+))");
                std::smatch m;
                std::string s = v;
                if (!regex_full_match(s, m, kS3)) return {};
                c.s3 = {{"S3Bucket", m[1].str()}, {"S3Key", m[2].str()}};
            } else if (v.is_object() && (v.contains("Bucket") || v.contains("S3Bucket"))) {
                std::string b = v.contains("Bucket") ? "Bucket" : "S3Bucket";
                std::string k = v.contains("Key") ? "Key" : "S3Key";
                if (!v.contains(k)) return std::unexpected(t_.error_at(p, "needs a " + k));
                c.s3 = {{"S3Bucket", v[b]}, {"S3Key", v[k]}};
                for (const char* ver : {"Version", "S3ObjectVersion"})
                    if (v.contains(ver)) c.s3["S3ObjectVersion"] = v[ver];
            } else {
                return std::unexpected(t_.error_at(p, "must be a local path, s3://bucket/key or {Bucket, Key}"));
            }
            c.fingerprint = "s3:" + c.s3.dump();
            return {};
        };
        auto local = [&](const std::string& path, const std::string& p) -> Status {
            fs::path full = fs::path(path).is_absolute() ? fs::path(path) : base_ / path;
            std::error_code ec;
            if (!fs::exists(full, ec))
                return std::unexpected(t_.error_at(p, "the folder or zip " + full.string() + " does not exist"));
            if (auto cached = packaged_.find(full.string()); cached != packaged_.end()) {
                c.zip = cached->second;
            } else {
                auto zip = package_code(full);
                if (!zip) return std::unexpected(t_.error_at(p, zip.error().message));
                packaged_[full.string()] = *zip;
                c.zip = std::move(*zip);
            }
            if (fs::is_directory(full, ec)) c.folder = fs::weakly_canonical(full, ec);
            c.fingerprint = "sha256:" + base64_encode(sha256(c.zip));
            return {};
        };
        auto inline_code = [&](const std::string& source) -> Status {
            std::string file = runtime.rfind("nodejs", 0) == 0 ? "index.js" : runtime.rfind("python", 0) == 0 ? "index.py" : "index";
            auto zip = zip_single_file(file, source);
            if (!zip) return std::unexpected(zip.error());
            c.zip = std::move(*zip);
            c.fingerprint = "sha256:" + base64_encode(sha256(c.zip));
            return {};
        };
        std::string p = r.pointer;
        if (r.type == kServerlessFunction || r.type == kServerlessLayer) {
            std::string key = r.type == kServerlessFunction ? "CodeUri" : "ContentUri";
            if (r.type == kServerlessFunction && props.contains("InlineCode")) {
                if (!props["InlineCode"].is_string()) return std::unexpected(t_.error_at(p + "/InlineCode", "must be a string"));
                LAMINA_CHECK(inline_code(props["InlineCode"]));
                return c;
            }
            if (!props.contains(key))
                return std::unexpected(t_.error_at(p, r.type == kServerlessFunction
                                                          ? "CodeUri or InlineCode is required (lamina runs zip functions)"
                                                          : "ContentUri is required"));
            const json& v = props[key];
            LAMINA_CHECK(s3_from(v, p + "/" + key));
            if (c.s3.is_null()) LAMINA_CHECK(local(v.get<std::string>(), p + "/" + key));
            return c;
        }
        std::string key = r.type == kFunction ? "Code" : "Content";
        if (!props.contains(key)) return std::unexpected(t_.error_at(p, key + " is required"));
        const json& v = props[key];
        if (v.is_object() && v.contains("ZipFile")) {
            if (!v["ZipFile"].is_string()) return std::unexpected(t_.error_at(p + "/" + key + "/ZipFile", "must be the source text"));
            LAMINA_CHECK(inline_code(v["ZipFile"]));
            return c;
        }
        if (v.is_object() && v.contains("ImageUri"))
            return std::unexpected(t_.error_at(p + "/" + key + "/ImageUri", "container images are not supported by lamina (zip functions only)"));
        LAMINA_CHECK(s3_from(v, p + "/" + key));
        if (c.s3.is_null()) LAMINA_CHECK(local(v.get<std::string>(), p + "/" + key));
        return c;
    }

    json code_body(const CodeSource& c) const {
        if (!c.s3.is_null()) return c.s3;
        return json{{"ZipFile", base64_encode(c.zip)}};
    }

    // The settings UpdateFunctionConfiguration takes, with AWS's defaults
    // for what the template leaves out (so a removed property is reset).
    struct FunctionSpec {
        std::string name, role, runtime, handler, description, tracing = "PassThrough", architecture = "x86_64";
        std::int64_t memory = 128, timeout = 3, ephemeral = 512;
        json environment = json::object();
        std::vector<std::string> layers;
        json tags = json::object();
        std::optional<std::string> dead_letter, kms_key;
        std::optional<std::int64_t> reserved;
        // SAM
        std::optional<std::string> alias, version_description;
        std::optional<std::int64_t> provisioned;
        std::optional<std::string> deployment_type;
        json event_invoke;  // null or the SAM/CFN EventInvokeConfig body
    };

    Result<FunctionSpec> function_spec(const Resource& r, const json& props) {
        FunctionSpec f;
        const std::string& p = r.pointer;
        LAMINA_TRY(name, string_prop(t_, props, p, "FunctionName"));
        f.name = name ? *name : generated_name(options_.stack_name, r.id);
        if (name) {
            static const std::regex kFunctionName("[a-zA-Z0-9_-]{1,64}");
            if (!regex_full_match(*name, kFunctionName))
                return std::unexpected(t_.error_at(p + "/FunctionName", "'" + *name + "' is not a valid function name (1-64 of A-Za-z0-9_-)"));
        }
        LAMINA_TRY(package_type, string_prop(t_, props, p, "PackageType"));
        if (package_type && *package_type != "Zip")
            return std::unexpected(t_.error_at(p + "/PackageType", "PackageType " + *package_type + " is not supported by lamina (zip functions only)"));
        if (props.contains("ImageUri"))
            return std::unexpected(t_.error_at(p + "/ImageUri", "container images are not supported by lamina (zip functions only)"));
        LAMINA_TRY(runtime, string_prop(t_, props, p, "Runtime"));
        if (!runtime) return std::unexpected(t_.error_at(p, "Runtime is required for a zip function"));
        if (auto st = control::validate_runtime(*runtime); !st)
            return std::unexpected(t_.error_at(p + "/Runtime", st.error().message));
        f.runtime = *runtime;
        LAMINA_TRY(handler, string_prop(t_, props, p, "Handler"));
        static const std::regex kHandler(R"([^\s]{1,128})");
        if (!handler) return std::unexpected(t_.error_at(p, "Handler is required for a zip function"));
        if (!regex_full_match(*handler, kHandler))
            return std::unexpected(t_.error_at(p + "/Handler", "must be 1-128 characters without whitespace"));
        f.handler = *handler;
        LAMINA_TRY(role, string_prop(t_, props, p, "Role"));
        if (!role && r.type == kFunction) return std::unexpected(t_.error_at(p, "Role is required"));
        f.role = role ? *role : "arn:aws:iam::" + account_ + ":role/" + generated_name(options_.stack_name, r.id + "Role");
        static const std::regex kRole(control::kRolePattern);
        if (!regex_full_match(f.role, kRole))
            return std::unexpected(t_.error_at(p + "/Role", "'" + f.role + "' is not an IAM role ARN"));
        LAMINA_TRY(description, string_prop(t_, props, p, "Description"));
        f.description = description.value_or("");
        if (f.description.size() > 256) return std::unexpected(t_.error_at(p + "/Description", "must be at most 256 characters"));
        LAMINA_TRY(memory, int_prop(t_, props, p, "MemorySize", 128, 10240));
        f.memory = memory.value_or(128);
        LAMINA_TRY(timeout, int_prop(t_, props, p, "Timeout", 1, 900));
        f.timeout = timeout.value_or(3);
        if (props.contains("EphemeralStorage")) {
            LAMINA_TRY(size, int_prop(t_, props["EphemeralStorage"], p + "/EphemeralStorage", "Size", 512, 10240));
            f.ephemeral = size.value_or(512);
        }
        if (props.contains("Environment")) {
            const json& e = props["Environment"];
            if (!e.is_object()) return std::unexpected(t_.error_at(p + "/Environment", "must be a mapping with Variables"));
            json vars = e.value("Variables", json::object());
            if (!vars.is_object()) return std::unexpected(t_.error_at(p + "/Environment/Variables", "must be a mapping"));
            std::vector<std::pair<std::string, std::string>> list;
            for (auto& [k, v] : vars.items()) {
                if (v.is_object() || v.is_array() || v.is_null())
                    return std::unexpected(t_.error_at(p + "/Environment/Variables/" + esc(k), "must be a string"));
                std::string s = v.is_string() ? v.get<std::string>() : v.dump();
                f.environment[k] = s;
                list.emplace_back(k, s);
            }
            if (auto st = control::validate_environment(list); !st)
                return std::unexpected(t_.error_at(p + "/Environment", st.error().message));
        }
        LAMINA_TRY(layers, string_list(t_, props, p, "Layers"));
        if (layers.size() > 5) return std::unexpected(t_.error_at(p + "/Layers", "a function can use at most 5 layers"));
        f.layers = layers;
        LAMINA_TRY(archs, string_list(t_, props, p, "Architectures"));
        if (archs.size() > 1 || (archs.size() == 1 && archs[0] != "x86_64" && archs[0] != "arm64"))
            return std::unexpected(t_.error_at(p + "/Architectures", "must be [x86_64] or [arm64]"));
        if (!archs.empty()) f.architecture = archs[0];
        if (r.type == kServerlessFunction) {
            LAMINA_TRY(tracing, string_prop(t_, props, p, "Tracing"));
            if (tracing) {
                if (*tracing != "Active" && *tracing != "PassThrough" && *tracing != "Disabled")
                    return std::unexpected(t_.error_at(p + "/Tracing", "must be Active, PassThrough or Disabled"));
                f.tracing = *tracing == "Active" ? "Active" : "PassThrough";
            }
            if (props.contains("Tags")) {
                if (!props["Tags"].is_object()) return std::unexpected(t_.error_at(p + "/Tags", "must be a mapping"));
                for (const auto& [k, v] : props["Tags"].items()) f.tags[k] = v.is_string() ? v.get<std::string>() : v.dump();
            }
            if (props.contains("DeadLetterQueue") && props["DeadLetterQueue"].is_object())
                f.dead_letter = props["DeadLetterQueue"].value("TargetArn", std::string());
            LAMINA_TRY(alias, string_prop(t_, props, p, "AutoPublishAlias"));
            if (alias && !control::is_valid_alias_name(*alias))
                return std::unexpected(t_.error_at(p + "/AutoPublishAlias", "'" + *alias + "' is not a valid alias name"));
            f.alias = alias;
            LAMINA_TRY(vd, string_prop(t_, props, p, "VersionDescription"));
            f.version_description = vd;
            if (props.contains("ProvisionedConcurrencyConfig")) {
                if (!alias)
                    return std::unexpected(t_.error_at(p + "/ProvisionedConcurrencyConfig", "needs AutoPublishAlias (provisioned concurrency is configured on the alias)"));
                LAMINA_TRY(pc, int_prop(t_, props["ProvisionedConcurrencyConfig"], p + "/ProvisionedConcurrencyConfig",
                                        "ProvisionedConcurrentExecutions", 1, 1000000));
                if (!pc) return std::unexpected(t_.error_at(p + "/ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions is required"));
                f.provisioned = pc;
            }
            if (props.contains("DeploymentPreference")) {
                const json& d = props["DeploymentPreference"];
                std::string dp = p + "/DeploymentPreference";
                if (!d.is_object()) return std::unexpected(t_.error_at(dp, "must be a mapping"));
                if (!alias) return std::unexpected(t_.error_at(dp, "needs AutoPublishAlias (traffic shifts between versions of the alias)"));
                bool enabled = !d.contains("Enabled") || d["Enabled"] == true || d["Enabled"] == "true";
                if (enabled) {
                    LAMINA_TRY(type, string_prop(t_, d, dp, "Type"));
                    if (!type) return std::unexpected(t_.error_at(dp, "Type is required"));
                    if (!deployment_steps(*type, options_.minute_seconds))
                        return std::unexpected(t_.error_at(dp + "/Type", "unknown deployment type '" + *type +
                                                                             "' (CanaryXPercentYMinutes, LinearXPercentEveryYMinutes or AllAtOnce)"));
                    f.deployment_type = type;
                    for (const char* unsupported : {"Hooks", "Alarms", "TriggerConfigurations"})
                        if (d.contains(unsupported))
                            report_.skipped.push_back(r.id + ".DeploymentPreference." + unsupported);
                }
            }
            if (props.contains("EventInvokeConfig")) {
                const json& e = props["EventInvokeConfig"];
                std::string ep = p + "/EventInvokeConfig";
                if (!e.is_object()) return std::unexpected(t_.error_at(ep, "must be a mapping"));
                LAMINA_TRY(body, event_invoke_body(e, ep));
                f.event_invoke = body;
            }
            if (props.contains("Events") && props["Events"].is_object())
                for (const auto& [event, spec] : props["Events"].items())
                    report_.skipped.push_back(r.id + ".Events." + event + " (" +
                                              (spec.is_object() ? spec.value("Type", std::string("?")) : std::string("?")) + ")");
            if (props.contains("FunctionUrlConfig")) report_.skipped.push_back(r.id + ".FunctionUrlConfig");
        } else {
            if (props.contains("TracingConfig") && props["TracingConfig"].is_object())
                f.tracing = props["TracingConfig"].value("Mode", std::string("PassThrough"));
            if (props.contains("Tags")) {
                if (!props["Tags"].is_array()) return std::unexpected(t_.error_at(p + "/Tags", "must be a list of {Key, Value}"));
                for (const auto& tag : props["Tags"])
                    if (tag.is_object() && tag.contains("Key")) f.tags[tag["Key"].get<std::string>()] = tag.value("Value", std::string());
            }
            if (props.contains("DeadLetterConfig") && props["DeadLetterConfig"].is_object())
                f.dead_letter = props["DeadLetterConfig"].value("TargetArn", std::string());
        }
        LAMINA_TRY(reserved, int_prop(t_, props, p, "ReservedConcurrentExecutions", 0, 1000000));
        f.reserved = reserved;
        LAMINA_TRY(kms, string_prop(t_, props, p, "KmsKeyArn"));
        f.kms_key = kms;
        return f;
    }

    // SAM's and CloudFormation's EventInvokeConfig -> PutFunctionEventInvokeConfig's body.
    Result<json> event_invoke_body(const json& e, const std::string& ep) {
        json body = json::object();
        LAMINA_TRY(age, int_prop(t_, e, ep, "MaximumEventAgeInSeconds", 60, 21600));
        LAMINA_TRY(retries, int_prop(t_, e, ep, "MaximumRetryAttempts", 0, 2));
        if (age) body["MaximumEventAgeInSeconds"] = *age;
        if (retries) body["MaximumRetryAttempts"] = *retries;
        if (e.contains("DestinationConfig")) {
            const json& d = e["DestinationConfig"];
            json dest = json::object();
            for (const char* which : {"OnSuccess", "OnFailure"}) {
                if (!d.contains(which)) continue;
                const json& w = d[which];
                std::string wp = ep + "/DestinationConfig/" + which;
                if (w.contains("Type") && w["Type"] != "Lambda")
                    return std::unexpected(t_.error_at(wp + "/Type", "lamina emulates Lambda destinations only (got " + w["Type"].dump() + ")"));
                if (!w.contains("Destination") || !w["Destination"].is_string())
                    return std::unexpected(t_.error_at(wp, "Destination (a function ARN) is required"));
                dest[which] = {{"Destination", w["Destination"]}};
            }
            body["DestinationConfig"] = dest;
        }
        return body;
    }

    Status function(const Resource& r, const json& props) {
        LAMINA_TRY(f, function_spec(r, props));
        LAMINA_TRY(code, code_source(r, props, f.runtime));
        if (code.s3.is_null() && static_cast<std::int64_t>(code.zip.size()) > control::kMaxZippedCode)
            return std::unexpected(t_.error_at(r.pointer, "the zipped code is " + std::to_string(code.zip.size()) +
                                                              " bytes; Lambda takes at most 50 MiB directly (put it in S3 and use s3://bucket/key)"));
        refs_[r.id] = f.name;
        atts_[r.id + ".Arn"] = function_arn(f.name);
        atts_[r.id + "Role.Arn"] = f.role;
        refs_[r.id + "Role"] = f.role.substr(f.role.rfind('/') + 1);
        if (f.alias) {
            refs_[r.id + ".Alias"] = function_arn(f.name) + ":" + *f.alias;
            refs_[r.id + "Alias" + *f.alias] = function_arn(f.name) + ":" + *f.alias;
            refs_[r.id + ".Version"] = function_arn(f.name) + ":1";  // the real number once published
        }
        for (const auto& l : f.layers) {
            for (const auto& [lid, arn] : layer_arns_)
                if (arn == l) layer_users_[lid].push_back(f.name);
        }
        if (code.folder) watched_.emplace_back(*code.folder, "function", r.id, f.name);
        if (!applying_) {
            // as CloudFormation: a function this stack did not make is not taken over
            bool ours = false;
            for (const auto& [_, prev] : previous_.items())
                ours = ours || (is_function_type(prev.value("Type", std::string())) && prev.value("FunctionName", std::string()) == f.name);
            if (!ours) {
                LAMINA_TRY(existing, get(fn_path(f.name), r.id));
                if (existing)
                    return std::unexpected(t_.error_at(r.pointer + (props.contains("FunctionName") ? "/FunctionName" : ""),
                                                       "the function " + f.name + " already exists and was not made by stack " +
                                                           options_.stack_name + " (delete it, or name the resource otherwise)"));
            }
            return check_external_layers(r, f);
        }

        json state = {{"Type", r.type}, {"FunctionName", f.name}, {"Code", code.fingerprint}};
        const json prev = previous_.value(r.id, json::object());
        LAMINA_TRY(existing, get(fn_path(f.name), r.id));
        bool changed = false;
        if (!existing) {
            json body = {{"FunctionName", f.name}, {"Runtime", f.runtime},     {"Role", f.role},
                         {"Handler", f.handler},   {"Code", code_body(code)},   {"Description", f.description},
                         {"Timeout", f.timeout},   {"MemorySize", f.memory},    {"PackageType", "Zip"},
                         {"Environment", {{"Variables", f.environment}}},       {"Layers", f.layers},
                         {"Architectures", {f.architecture}},                   {"EphemeralStorage", {{"Size", f.ephemeral}}},
                         {"TracingConfig", {{"Mode", f.tracing}}}};
            if (!f.tags.empty()) body["Tags"] = f.tags;
            if (f.dead_letter && !f.dead_letter->empty()) body["DeadLetterConfig"] = {{"TargetArn", *f.dead_letter}};
            if (f.kms_key) body["KMSKeyArn"] = *f.kms_key;
            LAMINA_CHECK(call("POST", "/2015-03-31/functions", body, r.id + " (CreateFunction)"));
            undo_.push_back([this, name = f.name] { (void)api_.call("DELETE", fn_path(name), ""); });
            say("created  " + r.id + "  function " + f.name);
            changed = true;
        } else {
            const json& cfg = (*existing)["Configuration"];
            bool code_changed = code.s3.is_null() ? cfg.value("CodeSha256", std::string()) != base64_encode(sha256(code.zip))
                                                  : prev.value("Code", std::string()) != code.fingerprint;
            std::string arch = cfg.contains("Architectures") && !cfg["Architectures"].empty() ? cfg["Architectures"][0].get<std::string>() : "x86_64";
            if (code_changed || arch != f.architecture) {
                json body = code_body(code);
                body["Architectures"] = {f.architecture};
                LAMINA_CHECK(call("PUT", fn_path(f.name) + "/code", body, r.id + " (UpdateFunctionCode)"));
                changed = true;
            }
            std::vector<std::string> current_layers;
            for (const auto& l : cfg.value("Layers", json::array())) current_layers.push_back(l.value("Arn", std::string()));
            bool config_changed =
                cfg.value("Runtime", std::string()) != f.runtime || cfg.value("Role", std::string()) != f.role ||
                cfg.value("Handler", std::string()) != f.handler || cfg.value("Description", std::string()) != f.description ||
                cfg.value("Timeout", 0) != f.timeout || cfg.value("MemorySize", 0) != f.memory ||
                cfg.value("Environment", json::object()).value("Variables", json::object()) != f.environment ||
                current_layers != f.layers ||
                cfg.value("EphemeralStorage", json::object()).value("Size", 512) != f.ephemeral ||
                cfg.value("TracingConfig", json::object()).value("Mode", std::string("PassThrough")) != f.tracing;
            if (config_changed) {
                json body = {{"Runtime", f.runtime},         {"Role", f.role},
                             {"Handler", f.handler},         {"Description", f.description},
                             {"Timeout", f.timeout},         {"MemorySize", f.memory},
                             {"Environment", {{"Variables", f.environment}}}, {"Layers", f.layers},
                             {"EphemeralStorage", {{"Size", f.ephemeral}}},   {"TracingConfig", {{"Mode", f.tracing}}}};
                LAMINA_CHECK(call("PUT", fn_path(f.name) + "/configuration", body, r.id + " (UpdateFunctionConfiguration)"));
                changed = true;
            }
            // tags: add what differs, remove what an earlier deployment set and this one does not
            json current_tags = (*existing).value("Tags", json::object());
            json add = json::object();
            for (const auto& [k, v] : f.tags.items())
                if (current_tags.value(k, json()) != v) add[k] = v;
            if (!add.empty())
                LAMINA_CHECK(call("POST", "/2017-03-31/tags/" + path_segment(function_arn(f.name)), json{{"Tags", add}}, r.id + " (TagResource)"));
            std::string remove;
            for (const auto& k : prev.value("TagKeys", json::array()))
                if (!f.tags.contains(k.get<std::string>()) && current_tags.contains(k.get<std::string>()))
                    remove += (remove.empty() ? "?" : "&") + std::string("tagKeys=") + url_encode(k.get<std::string>());
            if (!remove.empty())
                LAMINA_CHECK(call("DELETE", "/2017-03-31/tags/" + path_segment(function_arn(f.name)) + remove, json(), r.id + " (UntagResource)"));
            say(std::string(changed ? "updated  " : "unchanged ") + r.id + "  function " + f.name);
        }
        json tag_keys = json::array();
        for (const auto& [k, _] : f.tags.items()) tag_keys.push_back(k);
        state["TagKeys"] = tag_keys;

        // reserved concurrency
        if (f.reserved) {
            LAMINA_CHECK(call("PUT", "/2017-10-31/functions/" + path_segment(f.name) + "/concurrency",
                                   json{{"ReservedConcurrentExecutions", *f.reserved}}, r.id + " (PutFunctionConcurrency)"));
            state["Reserved"] = *f.reserved;
        } else if (prev.contains("Reserved")) {
            LAMINA_CHECK(call("DELETE", "/2017-10-31/functions/" + path_segment(f.name) + "/concurrency", json(), r.id + " (DeleteFunctionConcurrency)"));
        }

        std::string qualifier = "$LATEST";
        if (f.alias) {
            qualifier = *f.alias;
            json body = json::object();
            if (f.version_description) body["Description"] = *f.version_description;
            LAMINA_TRY(published, call("POST", fn_path(f.name) + "/versions", body, r.id + " (PublishVersion)"));
            std::string v = published.value("Version", std::string());
            refs_[r.id + ".Version"] = function_arn(f.name) + ":" + v;
            std::string apath = fn_path(f.name) + "/aliases/" + path_segment(*f.alias);
            LAMINA_TRY(current, get(apath, r.id + " (GetAlias)"));
            // a shift still running from an earlier deployment ends here (unless replaced below)
            report_.shifts.push_back(TrafficShift{f.name, *f.alias, "", v, {}});
            if (!current) {
                LAMINA_CHECK(call("POST", fn_path(f.name) + "/aliases", json{{"Name", *f.alias}, {"FunctionVersion", v}}, r.id + " (CreateAlias)"));
                say("         " + r.id + "  alias " + *f.alias + " -> version " + v);
            } else {
                std::string from = (*current).value("FunctionVersion", std::string());
                bool routed = (*current).contains("RoutingConfig") &&
                              !(*current)["RoutingConfig"].value("AdditionalVersionWeights", json::object()).empty();
                if (from != v || routed) {
                    auto steps = f.deployment_type ? *deployment_steps(*f.deployment_type, options_.minute_seconds)
                                                   : std::vector<TrafficShift::Step>{};
                    if (from != v && !steps.empty() && steps.front().weight < 1.0) {
                        LAMINA_CHECK(update_alias(f.name, *f.alias, from, v, steps.front().weight, r.id));
                        say("         " + r.id + "  alias " + *f.alias + ": " + *f.deployment_type + " from version " + from +
                            " to " + v + " (" + weight_text(steps.front().weight) + " now)");
                        report_.shifts.back() = TrafficShift{f.name, *f.alias, from, v,
                                                             std::vector<TrafficShift::Step>(steps.begin() + 1, steps.end())};
                    } else {
                        LAMINA_CHECK(update_alias(f.name, *f.alias, v, v, 1.0, r.id));
                        say("         " + r.id + "  alias " + *f.alias + " -> version " + v);
                    }
                }
            }
            state["Alias"] = *f.alias;
            // provisioned concurrency on the alias
            std::string pc_path = "/2019-09-30/functions/" + path_segment(f.name) + "/provisioned-concurrency?Qualifier=" + url_encode(*f.alias);
            if (f.provisioned) {
                LAMINA_TRY(pc, get(pc_path, r.id + " (GetProvisionedConcurrencyConfig)"));
                if (!pc || (*pc).value("RequestedProvisionedConcurrentExecutions", 0) != *f.provisioned)
                    LAMINA_CHECK(call("PUT", pc_path, json{{"ProvisionedConcurrentExecutions", *f.provisioned}},
                                           r.id + " (PutProvisionedConcurrencyConfig)"));
                state["Provisioned"] = *f.provisioned;
            } else if (prev.contains("Provisioned")) {
                auto st = api_.call("DELETE", pc_path, "");
                (void)st;
            }
        } else if (prev.contains("Alias")) {
            (void)api_.call("DELETE", fn_path(f.name) + "/aliases/" + path_segment(prev["Alias"].get<std::string>()), "");
        }
        // EventInvokeConfig on the alias (or $LATEST)
        std::string eic_path = "/2019-09-25/functions/" + path_segment(f.name) + "/event-invoke-config?Qualifier=" + url_encode(qualifier);
        if (!f.event_invoke.is_null()) {
            LAMINA_CHECK(call("PUT", eic_path, f.event_invoke, r.id + " (PutFunctionEventInvokeConfig)"));
            state["EventInvokeQualifier"] = qualifier;
        }
        if (prev.contains("EventInvokeQualifier") && (f.event_invoke.is_null() || prev["EventInvokeQualifier"] != qualifier))
            (void)api_.call("DELETE", "/2019-09-25/functions/" + path_segment(f.name) + "/event-invoke-config?Qualifier=" +
                                          url_encode(prev["EventInvokeQualifier"].get<std::string>()), "");
        next_[r.id] = state;
        return {};
    }

    static std::string weight_text(double w) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g%%", std::round(w * 1000) / 10);
        return buf;
    }

    Status update_alias(const std::string& fn, const std::string& alias, const std::string& primary,
                        const std::string& additional, double weight, const std::string& what) {
        json body = {{"FunctionVersion", primary}};
        body["RoutingConfig"] = {{"AdditionalVersionWeights", json::object()}};
        if (weight < 1.0) body["RoutingConfig"]["AdditionalVersionWeights"][additional] = weight;
        LAMINA_CHECK(call("PUT", fn_path(fn) + "/aliases/" + path_segment(alias), body, what + " (UpdateAlias)"));
        return {};
    }

    // Layers the template names by ARN (not made by it) must exist.
    Status check_external_layers(const Resource& r, const FunctionSpec& f) {
        for (std::size_t i = 0; i < f.layers.size(); ++i) {
            const std::string& arn = f.layers[i];
            if (planned_layer_arns_.contains(arn)) continue;
            static const std::regex kLayerArn(R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[a-zA-Z0-9_-]+:[0-9]+)");
            if (!regex_full_match(arn, kLayerArn))
                return std::unexpected(t_.error_at(r.pointer + "/Layers/" + std::to_string(i), "'" + arn + "' is not a layer version ARN"));
            auto found = api_.call("GET", "/2018-10-31/layers?find=LayerVersion&Arn=" + url_encode(arn), "");
            if (!found) return std::unexpected(found.error());
            if (!found->ok())
                return std::unexpected(t_.error_at(r.pointer + "/Layers/" + std::to_string(i), "layer version " + arn + ": " + found->error_text()));
        }
        return {};
    }

    Status layer(const Resource& r, const json& props) {
        const std::string& p = r.pointer;
        LAMINA_TRY(name, string_prop(t_, props, p, "LayerName"));
        std::string layer_name = name ? *name : (r.type == kServerlessLayer ? r.id : generated_name(options_.stack_name, r.id, 140));
        if (layer_name.rfind("arn:", 0) == 0) layer_name = last_segment(layer_name);
        static const std::regex kLayerName("[a-zA-Z0-9_-]{1,140}");
        if (!regex_full_match(layer_name, kLayerName))
            return std::unexpected(t_.error_at(p + "/LayerName", "'" + layer_name + "' is not a valid layer name"));
        LAMINA_TRY(runtimes, string_list(t_, props, p, "CompatibleRuntimes"));
        if (runtimes.size() > 15) return std::unexpected(t_.error_at(p + "/CompatibleRuntimes", "at most 15 runtimes"));
        LAMINA_TRY(archs, string_list(t_, props, p, "CompatibleArchitectures"));
        LAMINA_TRY(description, string_prop(t_, props, p, "Description"));
        LAMINA_TRY(license, string_prop(t_, props, p, "LicenseInfo"));
        LAMINA_TRY(retention, string_prop(t_, props, p, "RetentionPolicy"));
        if (retention && *retention != "Retain" && *retention != "Delete")
            return std::unexpected(t_.error_at(p + "/RetentionPolicy", "must be Retain or Delete"));
        bool retain = r.type == kServerlessLayer ? retention.value_or("Retain") == "Retain" : r.deletion_policy == "Retain";
        LAMINA_TRY(code, code_source(r, props, ""));
        json body = {{"Content", code_body(code)}};
        if (!runtimes.empty()) body["CompatibleRuntimes"] = runtimes;
        if (!archs.empty()) body["CompatibleArchitectures"] = archs;
        if (description) body["Description"] = *description;
        if (license) body["LicenseInfo"] = *license;
        json settings = body;
        settings.erase("Content");
        std::string fingerprint = code.fingerprint + "|" + settings.dump() + "|" + layer_name;
        const json prev = previous_.value(r.id, json::object());
        if (code.folder) watched_.emplace_back(*code.folder, "layer", r.id, layer_name);
        if (!applying_) {
            std::string arn = "arn:aws:lambda:" + api_.region() + ":" + account_ + ":layer:" + layer_name + ":1";
            if (prev.value("Fingerprint", std::string()) == fingerprint) arn = prev.value("LayerVersionArn", arn);
            refs_[r.id] = arn;
            planned_layer_arns_.insert(arn);
            layer_arns_[r.id] = arn;
            return {};
        }
        json versions = prev.value("Versions", json::array());
        std::string arn;
        if (prev.value("Fingerprint", std::string()) == fingerprint && prev.contains("LayerVersionArn")) {
            auto still = api_.call("GET", "/2018-10-31/layers?find=LayerVersion&Arn=" + url_encode(prev["LayerVersionArn"].get<std::string>()), "");
            if (still && still->ok()) arn = prev["LayerVersionArn"];
        }
        if (arn.empty()) {
            LAMINA_TRY(published, call("POST", "/2018-10-31/layers/" + path_segment(layer_name) + "/versions", body, r.id + " (PublishLayerVersion)"));
            arn = published.value("LayerVersionArn", std::string());
            std::int64_t number = published.value("Version", 0);
            undo_.push_back([this, layer_name, number] {
                (void)api_.call("DELETE", "/2018-10-31/layers/" + path_segment(layer_name) + "/versions/" + std::to_string(number), "");
            });
            say("published " + r.id + "  layer " + arn);
            versions.push_back(arn);
        } else {
            say("unchanged " + r.id + "  layer " + arn);
        }
        refs_[r.id] = arn;
        layer_arns_[r.id] = arn;
        next_[r.id] = {{"Type", r.type}, {"LayerName", layer_name}, {"LayerVersionArn", arn}, {"Fingerprint", fingerprint},
                       {"Retain", retain}, {"Versions", versions}};
        return {};
    }

    Status version(const Resource& r, const json& props) {
        LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
        if (!fn) return std::unexpected(t_.error_at(r.pointer, "FunctionName is required"));
        std::string name = function_name_and_qualifier(*fn).first;
        LAMINA_TRY(description, string_prop(t_, props, r.pointer, "Description"));
        std::optional<std::int64_t> pc;
        if (props.contains("ProvisionedConcurrencyConfig")) {
            LAMINA_TRY(n, int_prop(t_, props["ProvisionedConcurrencyConfig"], r.pointer + "/ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions", 1, 1000000));
            pc = n;
        }
        if (!applying_) {
            refs_[r.id] = function_arn(name) + ":1";
            atts_[r.id + ".Version"] = "1";
            atts_[r.id + ".FunctionArn"] = function_arn(name);
            return {};
        }
        json body = json::object();
        if (description) body["Description"] = *description;
        if (props.contains("CodeSha256")) body["CodeSha256"] = props["CodeSha256"];
        LAMINA_TRY(published, call("POST", fn_path(name) + "/versions", body, r.id + " (PublishVersion)"));
        std::string v = published.value("Version", std::string());
        refs_[r.id] = function_arn(name) + ":" + v;
        atts_[r.id + ".Version"] = v;
        atts_[r.id + ".FunctionArn"] = function_arn(name);
        if (pc)
            LAMINA_CHECK(call("PUT", "/2019-09-30/functions/" + path_segment(name) + "/provisioned-concurrency?Qualifier=" + v,
                                   json{{"ProvisionedConcurrentExecutions", *pc}}, r.id + " (PutProvisionedConcurrencyConfig)"));
        say("version  " + r.id + "  " + name + ":" + v);
        next_[r.id] = {{"Type", r.type}, {"FunctionName", name}, {"Version", v}, {"Retain", r.deletion_policy == "Retain"}};
        return {};
    }

    Status alias(const Resource& r, const json& props) {
        LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
        LAMINA_TRY(name, string_prop(t_, props, r.pointer, "Name"));
        LAMINA_TRY(fv, string_prop(t_, props, r.pointer, "FunctionVersion"));
        if (!fn || !name || !fv) return std::unexpected(t_.error_at(r.pointer, "FunctionName, FunctionVersion and Name are required"));
        if (!control::is_valid_alias_name(*name))
            return std::unexpected(t_.error_at(r.pointer + "/Name", "'" + *name + "' is not a valid alias name"));
        std::string function = function_name_and_qualifier(*fn).first;
        std::string version = fv->find(':') != std::string::npos ? last_segment(*fv) : *fv;
        LAMINA_TRY(description, string_prop(t_, props, r.pointer, "Description"));
        json body = {{"FunctionVersion", version}, {"Description", description.value_or("")}};
        json weights = json::object();
        if (props.contains("RoutingConfig")) {
            for (const auto& w : props["RoutingConfig"].value("AdditionalVersionWeights", json::array())) {
                std::string wv = w.value("FunctionVersion", std::string());
                if (wv.find(':') != std::string::npos) wv = last_segment(wv);
                weights[wv] = w.value("FunctionWeight", 0.0);
            }
        }
        body["RoutingConfig"] = {{"AdditionalVersionWeights", weights}};
        std::optional<std::int64_t> pc;
        if (props.contains("ProvisionedConcurrencyConfig")) {
            LAMINA_TRY(n, int_prop(t_, props["ProvisionedConcurrencyConfig"], r.pointer + "/ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions", 1, 1000000));
            pc = n;
        }
        refs_[r.id] = function_arn(function) + ":" + *name;
        if (!applying_) return {};
        std::string apath = fn_path(function) + "/aliases/" + path_segment(*name);
        LAMINA_TRY(current, get(apath, r.id + " (GetAlias)"));
        if (!current) {
            json create = body;
            create["Name"] = *name;
            LAMINA_CHECK(call("POST", fn_path(function) + "/aliases", create, r.id + " (CreateAlias)"));
            undo_.push_back([this, apath] { (void)api_.call("DELETE", apath, ""); });
            say("created  " + r.id + "  alias " + function + ":" + *name + " -> " + version);
        } else {
            LAMINA_CHECK(call("PUT", apath, body, r.id + " (UpdateAlias)"));
            say("updated  " + r.id + "  alias " + function + ":" + *name + " -> " + version);
        }
        const json prev = previous_.value(r.id, json::object());
        std::string pc_path = "/2019-09-30/functions/" + path_segment(function) + "/provisioned-concurrency?Qualifier=" + url_encode(*name);
        if (pc) LAMINA_CHECK(call("PUT", pc_path, json{{"ProvisionedConcurrentExecutions", *pc}}, r.id + " (PutProvisionedConcurrencyConfig)"));
        else if (prev.contains("Provisioned")) (void)api_.call("DELETE", pc_path, "");
        next_[r.id] = {{"Type", r.type}, {"FunctionName", function}, {"Name", *name}};
        if (pc) next_[r.id]["Provisioned"] = *pc;
        return {};
    }

    Status permission(const Resource& r, const json& props) {
        LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
        LAMINA_TRY(action, string_prop(t_, props, r.pointer, "Action"));
        LAMINA_TRY(principal, string_prop(t_, props, r.pointer, "Principal"));
        if (!fn || !action || !principal) return std::unexpected(t_.error_at(r.pointer, "Action, FunctionName and Principal are required"));
        auto [function, qualifier] = function_name_and_qualifier(*fn);
        std::string sid = generated_name(options_.stack_name, r.id, 100);
        json body = {{"StatementId", sid}, {"Action", *action}, {"Principal", *principal}};
        for (const char* k : {"SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType"})
            if (props.contains(k)) body[k] = props[k];
        refs_[r.id] = sid;
        if (!applying_) return {};
        std::string fingerprint = body.dump() + "|" + function + "|" + qualifier;
        const json prev = previous_.value(r.id, json::object());
        std::string q = qualifier.empty() ? "" : "?Qualifier=" + url_encode(qualifier);
        if (prev.value("Fingerprint", std::string()) == fingerprint) {
            auto policy = api_.call("GET", fn_path(function) + "/policy" + q, "");
            if (policy && policy->ok() && policy->body.find(sid) != std::string::npos) {
                next_[r.id] = prev;
                say("unchanged " + r.id + "  permission " + sid);
                return {};
            }
        }
        if (prev.contains("StatementId"))
            (void)api_.call("DELETE", fn_path(prev.value("FunctionName", function)) + "/policy/" + path_segment(prev["StatementId"]) +
                                          (prev.value("Qualifier", std::string()).empty() ? "" : "?Qualifier=" + url_encode(prev["Qualifier"].get<std::string>())), "");
        LAMINA_CHECK(call("POST", fn_path(function) + "/policy" + q, body, r.id + " (AddPermission)"));
        undo_.push_back([this, function, sid, q] { (void)api_.call("DELETE", fn_path(function) + "/policy/" + path_segment(sid) + q, ""); });
        say("added    " + r.id + "  permission " + sid + " on " + function + (qualifier.empty() ? "" : ":" + qualifier));
        next_[r.id] = {{"Type", r.type}, {"FunctionName", function}, {"Qualifier", qualifier}, {"StatementId", sid}, {"Fingerprint", fingerprint}};
        return {};
    }

    Status event_invoke_config(const Resource& r, const json& props) {
        LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
        LAMINA_TRY(qualifier, string_prop(t_, props, r.pointer, "Qualifier"));
        if (!fn || !qualifier) return std::unexpected(t_.error_at(r.pointer, "FunctionName and Qualifier are required"));
        LAMINA_TRY(body, event_invoke_body(props, r.pointer));
        std::string function = function_name_and_qualifier(*fn).first;
        refs_[r.id] = function + ":" + *qualifier;
        if (!applying_) return {};
        LAMINA_CHECK(call("PUT", "/2019-09-25/functions/" + path_segment(function) + "/event-invoke-config?Qualifier=" + url_encode(*qualifier),
                               body, r.id + " (PutFunctionEventInvokeConfig)"));
        say("put      " + r.id + "  event invoke config " + function + ":" + *qualifier);
        next_[r.id] = {{"Type", r.type}, {"FunctionName", function}, {"Qualifier", *qualifier}};
        return {};
    }

    Status layer_permission(const Resource& r, const json& props) {
        LAMINA_TRY(arn, string_prop(t_, props, r.pointer, "LayerVersionArn"));
        LAMINA_TRY(action, string_prop(t_, props, r.pointer, "Action"));
        LAMINA_TRY(principal, string_prop(t_, props, r.pointer, "Principal"));
        if (!arn || !action || !principal)
            return std::unexpected(t_.error_at(r.pointer, "Action, LayerVersionArn and Principal are required"));
        static const std::regex kLayerArn(R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:([a-zA-Z0-9_-]+):([0-9]+))");
        std::smatch m;
        if (!regex_full_match(*arn, m, kLayerArn))
            return std::unexpected(t_.error_at(r.pointer + "/LayerVersionArn", "'" + *arn + "' is not a layer version ARN"));
        std::string sid = generated_name(options_.stack_name, r.id, 100);
        refs_[r.id] = sid;
        if (!applying_) return {};
        std::string base = "/2018-10-31/layers/" + path_segment(m[1]) + "/versions/" + m[2].str() + "/policy";
        json body = {{"StatementId", sid}, {"Action", *action}, {"Principal", *principal}};
        if (props.contains("OrganizationId")) body["OrganizationId"] = props["OrganizationId"];
        std::string fingerprint = body.dump() + "|" + *arn;
        const json prev = previous_.value(r.id, json::object());
        if (prev.value("Fingerprint", std::string()) == fingerprint) {
            auto policy = api_.call("GET", base, "");
            if (policy && policy->ok() && policy->body.find(sid) != std::string::npos) {
                next_[r.id] = prev;
                return {};
            }
        }
        if (prev.contains("Base")) (void)api_.call("DELETE", prev["Base"].get<std::string>() + "/" + path_segment(sid), "");
        LAMINA_CHECK(call("POST", base, body, r.id + " (AddLayerVersionPermission)"));
        undo_.push_back([this, base, sid] { (void)api_.call("DELETE", base + "/" + path_segment(sid), ""); });
        say("added    " + r.id + "  layer permission " + sid + " on " + *arn);
        next_[r.id] = {{"Type", r.type}, {"Base", base}, {"StatementId", sid}, {"Fingerprint", fingerprint}};
        return {};
    }

    // ---- after apply ------------------------------------------------------
    void rollback() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
        if (!undo_.empty()) say("rolled back what this deployment created (" + std::to_string(undo_.size()) + " changes)");
        undo_.clear();
    }

    void prune() { prune_stack(api_, previous_, next_, [this](const std::string& l) { say(l); }); }

    Status save() {
        json record = {{"StackName", options_.stack_name},
                       {"Template", fs::absolute(t_.file).string()},
                       {"Resources", next_}};
        auto r = api_.call("PUT", "/_lamina/stacks/" + path_segment(options_.stack_name), record.dump());
        if (!r) return std::unexpected(r.error());
        if (!r->ok()) return fail(ErrorCode::Service, "saving the stack record: " + r->error_text());
        return {};
    }

    bool condition_true(const std::string& name) const {
        auto it = ctx_.conditions.find(name);
        return it == ctx_.conditions.end() || it->second;
    }

    Status check_outputs() {
        json outputs = t_.doc.value("Outputs", json::object());
        if (!outputs.is_object()) return std::unexpected(t_.error_at("/Outputs", "must be a mapping"));
        for (const auto& [k, o] : outputs.items()) {
            if (!o.is_object() || !o.contains("Value"))
                return std::unexpected(t_.error_at("/Outputs/" + esc(k), "an output needs a Value"));
            if (o.contains("Condition") && o["Condition"].is_string() && !condition_true(o["Condition"].get<std::string>())) continue;
            auto v = evaluate(o["Value"], "/Outputs/" + esc(k) + "/Value", ctx_);
            if (!v) return std::unexpected(v.error());
        }
        return {};
    }

    Status evaluate_outputs() {
        json outputs = t_.doc.value("Outputs", json::object());
        for (const auto& [k, o] : outputs.items()) {
            if (o.contains("Condition") && o["Condition"].is_string() && !condition_true(o["Condition"].get<std::string>())) continue;
            auto v = evaluate(o["Value"], "/Outputs/" + esc(k) + "/Value", ctx_);
            if (!v) return std::unexpected(v.error());
            report_.outputs[k] = v->is_string() ? v->get<std::string>() : v->dump();
        }
        return {};
    }

    ApiClient& api_;
    const Deployer::Say& say_;
    const Template& t_;
    const DeployOptions& options_;
    fs::path base_;
    std::string account_;
    EvalContext ctx_;
    json previous_ = json::object();
    json next_ = json::object();
    std::map<std::string, Resource> resources_;
    std::map<std::string, std::string> others_;  // not emulated: id -> type
    std::map<std::string, std::string> owner_;   // SAM's generated ids -> their function
    std::set<std::string> excluded_;             // left out by their Condition
    std::vector<std::string> order_;
    std::map<std::string, json> refs_, atts_;
    std::map<std::string, std::string> packaged_;
    std::set<std::string> planned_layer_arns_;
    std::map<std::string, std::string> layer_arns_;
    std::map<std::string, std::vector<std::string>> layer_users_;
    std::vector<std::tuple<fs::path, std::string, std::string, std::string>> watched_;
    std::vector<std::function<void()>> undo_;
    bool applying_ = false;
    DeployReport report_;
};

}  // namespace

Deployer::Deployer(ApiClient& api, Say say) : api_(api), say_(std::move(say)) {}

Result<DeployReport> Deployer::deploy(const fs::path& file, const DeployOptions& options) {
    LAMINA_TRY(t, load_template(file));
    Run run(api_, say_, t, options);
    std::vector<std::tuple<fs::path, std::string, std::string, std::string>> watched;
    auto report = run.execute(watched, layer_arns_, layer_users_);
    if (!report) return report;
    watched_.clear();
    for (auto& [folder, kind, id, name] : watched) {
        bool dup = false;
        for (const auto& w : watched_) dup = dup || (w.folder == folder && w.logical_id == id);
        if (!dup) watched_.push_back(Watched{folder, kind, id, name});
    }
    return report;
}

Status Deployer::destroy(const std::string& stack_name) {
    std::string path = "/_lamina/stacks/" + path_segment(stack_name);
    auto r = api_.call("GET", path, "");
    if (!r) return std::unexpected(r.error());
    if (r->status == 404) return fail(ErrorCode::ResourceNotFound, "no stack named " + stack_name + " was deployed here");
    if (!r->ok()) return fail(ErrorCode::Service, "reading the stack: " + r->error_text());
    json previous = r->json().value("Resources", json::object());
    json next = json::object();
    prune_stack(api_, previous, next, say_ ? say_ : [](const std::string&) {});
    auto d = api_.call("DELETE", path, "");
    if (!d) return std::unexpected(d.error());
    if (!d->ok()) return fail(ErrorCode::Service, "deleting the stack record: " + d->error_text());
    return {};
}

Status Deployer::start_shifts(const std::string& stack_name, const std::vector<TrafficShift>& shifts) {
    if (shifts.empty()) return {};
    json body = {{"Shifts", json::array()}};
    for (const auto& sh : shifts) {
        json steps = json::array();
        for (const auto& st : sh.steps) steps.push_back({{"AtSeconds", st.at_seconds}, {"Weight", st.weight}});
        body["Shifts"].push_back({{"FunctionName", sh.function_name}, {"Alias", sh.alias}, {"FromVersion", sh.from_version},
                                  {"ToVersion", sh.to_version}, {"Steps", steps}});
    }
    auto r = api_.call("POST", "/_lamina/stacks/" + path_segment(stack_name) + "/traffic-shifts", body.dump());
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return fail(ErrorCode::Service, "starting the traffic shifts: " + r->error_text());
    return {};
}

Status Deployer::wait_for_shifts(const std::vector<TrafficShift>& shifts, std::stop_token stop) {
    double longest = 0;
    for (const auto& s : shifts)
        for (const auto& st : s.steps) longest = std::max(longest, st.at_seconds);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(longest + 60));
    std::map<std::string, std::string> seen;
    std::set<std::string> done;
    std::size_t moving = 0;
    for (const auto& s : shifts) {
        if (s.steps.empty()) done.insert(s.function_name + ":" + s.alias);  // nothing to follow
        else ++moving;
    }
    while (done.size() < shifts.size() && moving > 0) {
        if (stop.stop_requested()) return {};
        if (std::chrono::steady_clock::now() > deadline)
            return fail(ErrorCode::Service, "the traffic shifts did not end in time (is the server still running?)");
        for (const auto& s : shifts) {
            std::string key = s.function_name + ":" + s.alias;
            if (done.contains(key)) continue;
            auto r = api_.call("GET", "/2015-03-31/functions/" + path_segment(s.function_name) + "/aliases/" + path_segment(s.alias), "");
            if (!r) return std::unexpected(r.error());
            if (!r->ok()) return fail(ErrorCode::Service, "following " + key + ": " + r->error_text());
            json a = r->json();
            std::string version = a.value("FunctionVersion", std::string());
            json weights = a.value("RoutingConfig", json::object()).value("AdditionalVersionWeights", json::object());
            std::string now;
            if (version == s.to_version && weights.empty()) {
                now = "traffic  " + key + " -> version " + s.to_version + " (100%)";
                done.insert(key);
            } else if (weights.contains(s.to_version)) {
                char pct[32];
                std::snprintf(pct, sizeof pct, "%g%%", std::round(weights[s.to_version].get<double>() * 1000) / 10);
                now = "traffic  " + key + " -> " + pct + " on version " + s.to_version;
            } else {
                return fail(ErrorCode::Service, key + " was moved by someone else (now version " + version + "): the shift stopped");
            }
            if (seen[key] != now && say_) say_(now);
            seen[key] = now;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return {};
}

Status Deployer::on_folder_changed(const Watched& w, const DeployOptions& options) {
    if (w.kind == "function") {
        auto zip = zip_folder(w.folder);
        if (!zip) return std::unexpected(zip.error());
        auto cfg = api_.call("GET", "/2015-03-31/functions/" + path_segment(w.name) + "/configuration", "");
        if (!cfg) return std::unexpected(cfg.error());
        if (cfg->ok() && cfg->json().value("CodeSha256", std::string()) == base64_encode(sha256(*zip))) return {};
        json body = {{"ZipFile", base64_encode(*zip)}};
        auto r = api_.call("PUT", "/2015-03-31/functions/" + path_segment(w.name) + "/code", body.dump());
        if (!r) return std::unexpected(r.error());
        if (!r->ok()) return fail(ErrorCode::InvalidParameterValue, w.logical_id + ": " + r->error_text());
        if (say_) say_("watch    " + w.logical_id + "  $LATEST of " + w.name + " updated from " + w.folder.string());
        return {};
    }
    // a layer: a new version, and the functions that used the old one move to it
    auto zip = zip_folder(w.folder);
    if (!zip) return std::unexpected(zip.error());
    std::string old_arn = layer_arns_[w.logical_id];
    auto old = api_.call("GET", "/2018-10-31/layers?find=LayerVersion&Arn=" + url_encode(old_arn), "");
    json body = {{"Content", {{"ZipFile", base64_encode(*zip)}}}};
    if (old && old->ok()) {
        auto o = old->json();
        if (o.contains("Content") && o["Content"].value("CodeSha256", std::string()) == base64_encode(sha256(*zip))) return {};
        for (const char* k : {"CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"})
            if (o.contains(k)) body[k] = o[k];
    }
    auto r = api_.call("POST", "/2018-10-31/layers/" + path_segment(w.name) + "/versions", body.dump());
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return fail(ErrorCode::InvalidParameterValue, w.logical_id + ": " + r->error_text());
    std::string arn = r->json().value("LayerVersionArn", std::string());
    layer_arns_[w.logical_id] = arn;
    // the stack's record learns of the version, so a redeploy or delete handles it
    std::string record_path = "/_lamina/stacks/" + path_segment(options.stack_name);
    if (auto rec = api_.call("GET", record_path, ""); rec && rec->ok()) {
        json record = rec->json();
        json& entry = record["Resources"][w.logical_id];
        if (entry.is_object()) {
            entry["LayerVersionArn"] = arn;
            entry["Versions"].push_back(arn);
            (void)api_.call("PUT", record_path, record.dump());
        }
    }
    if (say_) say_("watch    " + w.logical_id + "  published " + arn);
    for (const auto& fn : layer_users_[w.logical_id]) {
        auto cfg = api_.call("GET", "/2015-03-31/functions/" + path_segment(fn) + "/configuration", "");
        if (!cfg || !cfg->ok()) continue;
        json layers = json::array();
        for (const auto& l : cfg->json().value("Layers", json::array())) {
            std::string a = l.value("Arn", std::string());
            layers.push_back(a == old_arn ? arn : a);
        }
        auto u = api_.call("PUT", "/2015-03-31/functions/" + path_segment(fn) + "/configuration", json{{"Layers", layers}}.dump());
        if (u && u->ok() && say_) say_("watch    $LATEST of " + fn + " now uses " + arn);
    }
    return {};
}

Status Deployer::watch(const fs::path& file, const DeployOptions& options, std::stop_token stop) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return fail(ErrorCode::Service, "inotify is not available: --watch cannot work here");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    const uint32_t kMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB;
    std::map<int, fs::path> dirs;
    fs::path template_path = fs::weakly_canonical(file);
    auto add_tree = [&](const fs::path& root) {
        std::error_code ec;
        int wd = ::inotify_add_watch(fd, root.c_str(), kMask);
        if (wd >= 0) dirs[wd] = root;
        for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec)) {
                int w = ::inotify_add_watch(fd, it->path().c_str(), kMask);
                if (w >= 0) dirs[w] = it->path();
            }
    };
    auto rewatch = [&] {
        for (const auto& [wd, _] : dirs) ::inotify_rm_watch(fd, wd);
        dirs.clear();
        int wd = ::inotify_add_watch(fd, template_path.parent_path().c_str(), kMask);
        if (wd >= 0) dirs[wd] = template_path.parent_path();
        for (const auto& w : watched_) add_tree(w.folder);
    };
    rewatch();
    if (say_) say_("watching " + template_path.string() + " and " + std::to_string(watched_.size()) + " code folder(s)");
    std::set<fs::path> changed;
    auto last_event = std::chrono::steady_clock::now();
    char buf[16384];
    while (!stop.stop_requested()) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, 100);
        if (n > 0) {
            ssize_t len;
            while ((len = ::read(fd, buf, sizeof buf)) > 0) {
                for (char* ptr = buf; ptr < buf + len;) {
                    auto* ev = reinterpret_cast<inotify_event*>(ptr);
                    ptr += sizeof(inotify_event) + ev->len;
                    auto it = dirs.find(ev->wd);
                    if (it == dirs.end()) continue;
                    fs::path what = ev->len ? it->second / ev->name : it->second;
                    if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) add_tree(what);
                    changed.insert(what);
                    last_event = std::chrono::steady_clock::now();
                }
            }
        }
        // act once the folder has been quiet for a moment (an editor writes in bursts)
        if (changed.empty() || std::chrono::steady_clock::now() - last_event < std::chrono::milliseconds(250)) continue;
        std::set<fs::path> batch;
        batch.swap(changed);
        if (batch.contains(template_path)) {
            if (say_) say_("watch    " + template_path.string() + " changed: deploying it again");
            auto report = deploy(file, options);
            if (!report) {
                if (say_) say_("watch    the template was not applied: " + report.error().message);
            } else if (auto st = start_shifts(options.stack_name, report->shifts); !st && say_) {
                say_("watch    " + st.error().message);
            }
            rewatch();
            continue;
        }
        for (const auto& w : watched_) {
            bool hit = false;
            for (const auto& c : batch) {
                auto rel = c.lexically_relative(w.folder);
                hit = hit || (!rel.empty() && *rel.begin() != "..");
            }
            if (!hit) continue;
            if (auto st = on_folder_changed(w, options); !st && say_)
                say_("watch    " + w.logical_id + " not updated: " + st.error().message);
        }
    }
    return {};
}

}  // namespace lamina::sam
