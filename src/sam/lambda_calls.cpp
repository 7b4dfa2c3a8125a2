#include "sam/lambda_calls.hpp"

#include <regex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"

namespace lamina::sam {

using nlohmann::json;

namespace {

const std::string kFunctions = "/2015-03-31/functions";
const std::string kLayers = "/2018-10-31/layers";
const std::string kStacks = "/_lamina/stacks/";

std::string function_path(const std::string& name) { return kFunctions + "/" + path_segment(name); }
std::string qualifier_query(const std::string& qualifier) {
    return qualifier.empty() ? "" : "?Qualifier=" + url_encode(qualifier);
}
std::string alias_path(const std::string& name, const std::string& alias) {
    return function_path(name) + "/aliases/" + path_segment(alias);
}
std::string provisioned_path(const std::string& name, const std::string& qualifier) {
    return "/2019-09-30/functions/" + path_segment(name) + "/provisioned-concurrency" +
           qualifier_query(qualifier);
}
std::string event_invoke_path(const std::string& name, const std::string& qualifier) {
    return "/2019-09-25/functions/" + path_segment(name) + "/event-invoke-config" +
           qualifier_query(qualifier);
}
std::string url_config_path(const std::string& name, const std::string& qualifier) {
    return "/2021-10-31/functions/" + path_segment(name) + "/url" + qualifier_query(qualifier);
}
std::string concurrency_path(const std::string& name) {
    return "/2017-10-31/functions/" + path_segment(name) + "/concurrency";
}
std::string tags_path(const std::string& arn) { return "/2017-03-31/tags/" + path_segment(arn); }
std::string layer_version_path(const LayerVersionId& id) {
    return kLayers + "/" + path_segment(id.layer) + "/versions/" + std::to_string(id.version);
}

std::string context(const char* operation, const std::string& who) {
    return who.empty() ? std::string() : who + " (" + operation + "): ";
}

Status done(const Result<json>& r) {
    if (!r) return std::unexpected(r.error());
    return {};
}

}  // namespace

std::optional<LayerVersionId> parse_layer_version_arn(const std::string& arn) {
    static const std::regex kLayerArn(
        R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:([a-zA-Z0-9_-]+):([0-9]{1,15}))");
    std::smatch m;
    if (!regex_full_match(arn, m, kLayerArn)) return std::nullopt;
    return LayerVersionId{m[1].str(), std::stoll(m[2].str())};
}

Status absent_is_done(Status st) {
    if (!st && st.error().code == ErrorCode::ResourceNotFound) return {};
    return st;
}

Result<json> LambdaCalls::send(const std::string& method, const std::string& target,
                               const json& body, const char* operation, const std::string& who) {
    auto r = api_.call(method, target, body.is_null() ? std::string() : body.dump());
    if (!r) return std::unexpected(r.error());
    if (!r->ok())
        return fail(
            r->status == 404 ? ErrorCode::ResourceNotFound : ErrorCode::InvalidParameterValue,
            context(operation, who) + r->error_text());
    return r->json();
}

Result<std::optional<json>> if_found(Result<json> r) {
    if (!r && r.error().code == ErrorCode::ResourceNotFound) return std::optional<json>();
    if (!r) return std::unexpected(std::move(r.error()));
    return std::optional<json>(std::move(*r));
}

Result<std::string> LambdaCalls::caller_account() {
    auto r = api_.call("POST", "/", "Action=GetCallerIdentity&Version=2011-06-15",
                       "application/x-www-form-urlencoded; charset=utf-8");
    if (!r) return std::unexpected(r.error());
    static const std::regex kAccount("<Account>([0-9]{12})</Account>");
    std::smatch m;
    if (!r->ok() || !std::regex_search(r->body, m, kAccount))
        return fail(ErrorCode::Service,
                    "cannot tell the account: GetCallerIdentity answered " + r->error_text());
    return m[1].str();
}

// ---- functions --------------------------------------------------------------

Result<json> LambdaCalls::get_function(const std::string& name, const std::string& who) {
    return send("GET", function_path(name), json(), "GetFunction", who);
}

Result<json> LambdaCalls::get_function_configuration(const std::string& name,
                                                     const std::string& who) {
    return send("GET", function_path(name) + "/configuration", json(), "GetFunctionConfiguration",
                who);
}

Result<json> LambdaCalls::create_function(const json& body, const std::string& who) {
    return send("POST", kFunctions, body, "CreateFunction", who);
}

Status LambdaCalls::delete_function(const std::string& name, const std::string& who) {
    return done(send("DELETE", function_path(name), json(), "DeleteFunction", who));
}

Status LambdaCalls::delete_function_version(const std::string& name, const std::string& version,
                                            const std::string& who) {
    return done(send("DELETE", function_path(name) + qualifier_query(version), json(),
                     "DeleteFunction", who));
}

Result<json> LambdaCalls::update_function_code(const std::string& name, const json& body,
                                               const std::string& who) {
    return send("PUT", function_path(name) + "/code", body, "UpdateFunctionCode", who);
}

Result<json> LambdaCalls::update_function_configuration(const std::string& name, const json& body,
                                                        const std::string& who) {
    return send("PUT", function_path(name) + "/configuration", body, "UpdateFunctionConfiguration",
                who);
}

Status LambdaCalls::tag_resource(const std::string& arn, const json& tags, const std::string& who) {
    return done(send("POST", tags_path(arn), json{{"Tags", tags}}, "TagResource", who));
}

Status LambdaCalls::untag_resource(const std::string& arn, const std::vector<std::string>& keys,
                                   const std::string& who) {
    std::string query;
    for (const auto& k : keys)
        query += (query.empty() ? "?" : "&") + std::string("tagKeys=") + url_encode(k);
    return done(send("DELETE", tags_path(arn) + query, json(), "UntagResource", who));
}

Status LambdaCalls::put_function_concurrency(const std::string& name, std::int64_t reserved,
                                             const std::string& who) {
    return done(send("PUT", concurrency_path(name),
                     json{{"ReservedConcurrentExecutions", reserved}}, "PutFunctionConcurrency",
                     who));
}

Status LambdaCalls::delete_function_concurrency(const std::string& name, const std::string& who) {
    return done(send("DELETE", concurrency_path(name), json(), "DeleteFunctionConcurrency", who));
}

// ---- versions and aliases ---------------------------------------------------

Result<json> LambdaCalls::publish_version(const std::string& name, const json& body,
                                          const std::string& who) {
    return send("POST", function_path(name) + "/versions", body, "PublishVersion", who);
}

Result<json> LambdaCalls::get_alias(const std::string& name, const std::string& alias,
                                    const std::string& who) {
    return send("GET", alias_path(name, alias), json(), "GetAlias", who);
}

Status LambdaCalls::create_alias(const std::string& name, const json& body,
                                 const std::string& who) {
    return done(send("POST", function_path(name) + "/aliases", body, "CreateAlias", who));
}

Status LambdaCalls::update_alias(const std::string& name, const std::string& alias,
                                 const json& body, const std::string& who) {
    return done(send("PUT", alias_path(name, alias), body, "UpdateAlias", who));
}

Status LambdaCalls::delete_alias(const std::string& name, const std::string& alias,
                                 const std::string& who) {
    return done(send("DELETE", alias_path(name, alias), json(), "DeleteAlias", who));
}

// ---- per-qualifier settings -------------------------------------------------

Result<json> LambdaCalls::get_provisioned_concurrency_config(const std::string& name,
                                                             const std::string& qualifier,
                                                             const std::string& who) {
    return send("GET", provisioned_path(name, qualifier), json(), "GetProvisionedConcurrencyConfig",
                who);
}

Status LambdaCalls::put_provisioned_concurrency_config(const std::string& name,
                                                       const std::string& qualifier, std::int64_t n,
                                                       const std::string& who) {
    return done(send("PUT", provisioned_path(name, qualifier),
                     json{{"ProvisionedConcurrentExecutions", n}},
                     "PutProvisionedConcurrencyConfig", who));
}

Status LambdaCalls::delete_provisioned_concurrency_config(const std::string& name,
                                                          const std::string& qualifier,
                                                          const std::string& who) {
    return done(send("DELETE", provisioned_path(name, qualifier), json(),
                     "DeleteProvisionedConcurrencyConfig", who));
}

Status LambdaCalls::put_function_event_invoke_config(const std::string& name,
                                                     const std::string& qualifier, const json& body,
                                                     const std::string& who) {
    return done(
        send("PUT", event_invoke_path(name, qualifier), body, "PutFunctionEventInvokeConfig", who));
}

Status LambdaCalls::delete_function_event_invoke_config(const std::string& name,
                                                        const std::string& qualifier,
                                                        const std::string& who) {
    return done(send("DELETE", event_invoke_path(name, qualifier), json(),
                     "DeleteFunctionEventInvokeConfig", who));
}

// ---- function URL configs ---------------------------------------------------

Result<json> LambdaCalls::get_function_url_config(const std::string& name,
                                                  const std::string& qualifier,
                                                  const std::string& who) {
    return send("GET", url_config_path(name, qualifier), json(), "GetFunctionUrlConfig", who);
}

Result<json> LambdaCalls::create_function_url_config(const std::string& name,
                                                     const std::string& qualifier, const json& body,
                                                     const std::string& who) {
    return send("POST", url_config_path(name, qualifier), body, "CreateFunctionUrlConfig", who);
}

Result<json> LambdaCalls::update_function_url_config(const std::string& name,
                                                     const std::string& qualifier, const json& body,
                                                     const std::string& who) {
    return send("PUT", url_config_path(name, qualifier), body, "UpdateFunctionUrlConfig", who);
}

Status LambdaCalls::delete_function_url_config(const std::string& name,
                                               const std::string& qualifier,
                                               const std::string& who) {
    return done(
        send("DELETE", url_config_path(name, qualifier), json(), "DeleteFunctionUrlConfig", who));
}

// ---- resource policies ------------------------------------------------------

Result<json> LambdaCalls::get_policy(const std::string& name, const std::string& qualifier,
                                     const std::string& who) {
    return send("GET", function_path(name) + "/policy" + qualifier_query(qualifier), json(),
                "GetPolicy", who);
}

Status LambdaCalls::add_permission(const std::string& name, const std::string& qualifier,
                                   const json& body, const std::string& who) {
    return done(send("POST", function_path(name) + "/policy" + qualifier_query(qualifier), body,
                     "AddPermission", who));
}

Status LambdaCalls::remove_permission(const std::string& name, const std::string& qualifier,
                                      const std::string& sid, const std::string& who) {
    return done(send(
        "DELETE", function_path(name) + "/policy/" + path_segment(sid) + qualifier_query(qualifier),
        json(), "RemovePermission", who));
}

// ---- layers -----------------------------------------------------------------

Result<json> LambdaCalls::publish_layer_version(const std::string& layer, const json& body,
                                                const std::string& who) {
    return send("POST", kLayers + "/" + path_segment(layer) + "/versions", body,
                "PublishLayerVersion", who);
}

Status LambdaCalls::delete_layer_version(const LayerVersionId& id, const std::string& who) {
    return done(send("DELETE", layer_version_path(id), json(), "DeleteLayerVersion", who));
}

Result<json> LambdaCalls::get_layer_version_by_arn(const std::string& arn, const std::string& who) {
    return send("GET", kLayers + "?find=LayerVersion&Arn=" + url_encode(arn), json(),
                "GetLayerVersionByArn", who);
}

std::string LambdaCalls::layer_version_policy_path(const LayerVersionId& id) {
    return layer_version_path(id) + "/policy";
}

std::optional<LayerVersionId> LambdaCalls::parse_layer_version_policy_path(
    const std::string& path) {
    static const std::regex kPolicy(
        R"(/2018-10-31/layers/([a-zA-Z0-9_-]+)/versions/([0-9]{1,15})/policy)");
    std::smatch m;
    if (!regex_full_match(path, m, kPolicy)) return std::nullopt;
    return LayerVersionId{m[1].str(), std::stoll(m[2].str())};
}

Result<json> LambdaCalls::get_layer_version_policy(const LayerVersionId& id,
                                                   const std::string& who) {
    return send("GET", layer_version_policy_path(id), json(), "GetLayerVersionPolicy", who);
}

Status LambdaCalls::add_layer_version_permission(const LayerVersionId& id, const json& body,
                                                 const std::string& who) {
    return done(
        send("POST", layer_version_policy_path(id), body, "AddLayerVersionPermission", who));
}

Status LambdaCalls::remove_layer_version_permission(const LayerVersionId& id,
                                                    const std::string& sid,
                                                    const std::string& who) {
    return done(send("DELETE", layer_version_policy_path(id) + "/" + path_segment(sid), json(),
                     "RemoveLayerVersionPermission", who));
}

// ---- stacks -----------------------------------------------------------------

Result<std::optional<json>> LambdaCalls::get_stack(const std::string& stack) {
    auto r = api_.call("GET", kStacks + path_segment(stack), "");
    if (!r) return std::unexpected(r.error());
    if (r->status == 404) return std::optional<json>();
    if (!r->ok()) return fail(ErrorCode::Service, "reading the stack: " + r->error_text());
    return std::optional<json>(r->json());
}

Status LambdaCalls::put_stack(const std::string& stack, const json& record) {
    auto r = api_.call("PUT", kStacks + path_segment(stack), record.dump());
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return fail(ErrorCode::Service, "saving the stack record: " + r->error_text());
    return {};
}

Status LambdaCalls::delete_stack(const std::string& stack) {
    auto r = api_.call("DELETE", kStacks + path_segment(stack), "");
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return fail(ErrorCode::Service, "deleting the stack record: " + r->error_text());
    return {};
}

Status LambdaCalls::start_traffic_shifts(const std::string& stack, const json& body) {
    auto r = api_.call("POST", kStacks + path_segment(stack) + "/traffic-shifts", body.dump());
    if (!r) return std::unexpected(r.error());
    if (!r->ok())
        return fail(ErrorCode::Service, "starting the traffic shifts: " + r->error_text());
    return {};
}

}  // namespace lamina::sam
