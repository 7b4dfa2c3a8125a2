#include <regex>

#include "lamina/common/regex.hpp"
#include "sam/deployment.hpp"

// Function URLs in templates: SAM's FunctionUrlConfig turned into the
// resources SAM makes of it, and an AWS::Lambda::Url read into a UrlSpec.

namespace lamina::sam {

using nlohmann::json;

namespace {

// A string property, nullopt when absent.
Result<std::optional<std::string>> text_prop(const Template& t, const json& props,
                                             const std::string& pointer, const char* name) {
    if (!props.contains(name) || props[name].is_null()) return std::optional<std::string>();
    if (!props[name].is_string())
        return std::unexpected(
            t.error_at(pointer + "/" + name, "must be a string, got " + props[name].dump()));
    return std::optional<std::string>(props[name].get<std::string>());
}

bool is_intrinsic(const json& v) {
    return v.is_object() && v.size() == 1 &&
           (v.begin().key() == "Ref" || v.begin().key().rfind("Fn::", 0) == 0);
}

// The template's Cors as CreateFunctionUrlConfig takes it (and Get answers it).
Result<json> cors_body(const Template& t, const json& c, const std::string& cp) {
    if (!c.is_object()) return std::unexpected(t.error_at(cp, "must be a mapping"));
    static const std::set<std::string> kLists = {"AllowHeaders", "AllowMethods", "AllowOrigins",
                                                 "ExposeHeaders"};
    json out = json::object();
    for (const auto& [k, v] : c.items()) {
        std::string kp = cp + "/" + escape_pointer(k);
        if (kLists.contains(k)) {
            bool strings = v.is_array();
            for (const auto& item : v) strings = strings && item.is_string();
            if (!strings) return std::unexpected(t.error_at(kp, "must be a list of strings"));
            out[k] = v;
        } else if (k == "AllowCredentials") {
            if (!v.is_boolean() && v != "true" && v != "false")
                return std::unexpected(t.error_at(kp, "must be true or false"));
            out[k] = v == true || v == "true";
        } else if (k == "MaxAge") {
            static const std::regex kDigits("[0-9]{1,9}");
            std::optional<std::int64_t> n;
            if (v.is_number_integer())
                n = v.get<std::int64_t>();
            else if (v.is_string() && regex_full_match(v.get<std::string>(), kDigits))
                n = std::stoll(v.get<std::string>());
            if (!n || *n < 0 || *n > 86400)
                return std::unexpected(t.error_at(kp, "must be an integer from 0 to 86400"));
            out[k] = *n;
        } else {
            return std::unexpected(
                t.error_at(kp, k + " is not a valid property for configuring Cors"));
        }
    }
    return out;
}

}  // namespace

Result<std::vector<Resource>> Deployment::function_url_resources(const Resource& fn) {
    std::vector<Resource> out;
    if (!fn.raw.contains("FunctionUrlConfig")) return out;
    const json& c = fn.raw["FunctionUrlConfig"];
    const std::string cp = fn.pointer + "/FunctionUrlConfig";
    if (!c.is_object() || is_intrinsic(c))
        return std::unexpected(t_.error_at(cp, "must be a mapping of AuthType, Cors, InvokeMode"));
    for (const auto& [k, _] : c.items())
        if (k != "AuthType" && k != "Cors" && k != "InvokeMode")
            return std::unexpected(
                t_.error_at(cp + "/" + escape_pointer(k),
                            "property " + k + " is not defined for FunctionUrlConfig"));
    if (!c.contains("AuthType"))
        return std::unexpected(t_.error_at(cp, "AuthType is required (AWS_IAM or NONE)"));
    // as SAM: on the AutoPublishAlias alias when there is one, else the function
    json target = {{"Ref", fn.raw.contains("AutoPublishAlias") ? fn.id + ".Alias" : fn.id}};
    Resource url;
    url.id = fn.id + "Url";
    url.type = kUrl;
    url.pointer = cp;
    url.raw = c;
    url.raw["TargetFunctionArn"] = target;
    url.condition = fn.condition;
    out.push_back(url);
    // public access: SAM adds both statements only for a literal NONE
    if (c["AuthType"] == "NONE") {
        Resource url_permission;
        url_permission.id = fn.id + "UrlPublicPermissions";
        url_permission.type = kPermission;
        url_permission.pointer = cp;
        url_permission.condition = fn.condition;
        url_permission.raw = {{"Action", "lambda:InvokeFunctionUrl"},
                              {"FunctionName", target},
                              {"Principal", "*"},
                              {"FunctionUrlAuthType", "NONE"}};
        Resource invoke_permission = url_permission;
        invoke_permission.id = fn.id + "URLInvokeAllowPublicAccess";
        invoke_permission.raw = {{"Action", "lambda:InvokeFunction"},
                                 {"FunctionName", target},
                                 {"Principal", "*"},
                                 {"InvokedViaFunctionUrl", true}};
        out.push_back(std::move(url_permission));
        out.push_back(std::move(invoke_permission));
    }
    return out;
}

Result<UrlSpec> Deployment::url_spec(const Resource& r, const json& props) {
    const std::string& p = r.pointer;
    LAMINA_TRY(target, text_prop(t_, props, p, "TargetFunctionArn"));
    LAMINA_TRY(auth, text_prop(t_, props, p, "AuthType"));
    LAMINA_TRY(qualifier, text_prop(t_, props, p, "Qualifier"));
    LAMINA_TRY(mode, text_prop(t_, props, p, "InvokeMode"));
    if (!auth) return std::unexpected(t_.error_at(p, "AuthType is required (AWS_IAM or NONE)"));
    if (!target) return std::unexpected(t_.error_at(p, "TargetFunctionArn is required"));
    if (*auth != "AWS_IAM" && *auth != "NONE")
        return std::unexpected(
            t_.error_at(p + "/AuthType", "must be AWS_IAM or NONE, got '" + *auth + "'"));
    if (mode && *mode != "BUFFERED" && *mode != "RESPONSE_STREAM")
        return std::unexpected(t_.error_at(
            p + "/InvokeMode", "must be BUFFERED or RESPONSE_STREAM, got '" + *mode + "'"));
    UrlSpec u;
    std::tie(u.function, u.qualifier) = function_name_and_qualifier(*target);
    if (qualifier) {
        if (!u.qualifier.empty() && u.qualifier != *qualifier)
            return std::unexpected(t_.error_at(
                p + "/Qualifier",
                "is '" + *qualifier + "' but TargetFunctionArn names '" + u.qualifier + "'"));
        u.qualifier = *qualifier;
    }
    static const std::regex kAliasName("[0-9a-zA-Z_-]{1,128}");
    static const std::regex kDigits("[0-9]+");
    if (!u.qualifier.empty() &&
        (!regex_full_match(u.qualifier, kAliasName) || regex_full_match(u.qualifier, kDigits)))
        return std::unexpected(
            t_.error_at(p + (qualifier ? "/Qualifier" : "/TargetFunctionArn"),
                        "a function URL goes on a function or one of its aliases, not on '" +
                            u.qualifier + "'"));
    u.body = {{"AuthType", *auth}};
    if (mode) u.body["InvokeMode"] = *mode;
    if (props.contains("Cors") && !props["Cors"].is_null()) {
        LAMINA_TRY(cors, cors_body(t_, props["Cors"], p + "/Cors"));
        u.body["Cors"] = std::move(cors);
    }
    // Ref is the function's ARN (CloudFormation's physical id); the URL is
    // known once it exists: the previous deployment's until then
    std::string arn = function_arn(u.function) + (u.qualifier.empty() ? "" : ":" + u.qualifier);
    refs_[r.id] = arn;
    atts_[r.id + ".FunctionArn"] = arn;
    const json prev = previous_.value(r.id, json::object());
    bool same = prev.value("FunctionName", std::string()) == u.function &&
                prev.value("Qualifier", std::string()) == u.qualifier;
    atts_[r.id + ".FunctionUrl"] = same ? prev.value("FunctionUrl", std::string()) : std::string();
    return u;
}

}  // namespace lamina::sam
