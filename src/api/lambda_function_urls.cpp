#include "lamina/api/lambda_api.hpp"

// Function URL configs: Create, Get, Update, Delete and List, on the
// unqualified function or one alias.

#include "json_input.hpp"
#include "lambda_input.hpp"
#include "lambda_render.hpp"
#include "lambda_routes.hpp"
#include "lambda_tenancy.hpp"

namespace lamina::api {

using control::NameShape;
using json = nlohmann::json;

namespace {

// Which operation's answer: Create leaves out LastModifiedTime, and Create
// and Update show InvokeMode only once it was set; Get and List always do.
enum class UrlShape { Created, Updated, Read };

json render_url(const control::FunctionUrlView& v, const RequestContext& ctx, UrlShape shape) {
    json out = {{"FunctionUrl", control::function_url(v.config.url_id, ctx.scope.region, ctx.host)},
                {"FunctionArn", v.function_arn},
                {"AuthType", v.config.auth_type},
                {"CreationTime", v.config.creation_time}};
    if (v.config.cors) out["Cors"] = *v.config.cors;
    if (shape != UrlShape::Created) out["LastModifiedTime"] = v.config.last_modified_time;
    if (shape == UrlShape::Read)
        out["InvokeMode"] = v.config.effective_invoke_mode();
    else if (v.config.invoke_mode)
        out["InvokeMode"] = *v.config.invoke_mode;
    return out;
}

std::string list_text(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + "]";
}

// One Cors list member: at most `max_items` strings of min_len..max_len characters.
Result<std::optional<std::vector<std::string>>> cors_list(const ojson& cors, const char* key,
                                                          const char* member, std::size_t max_items,
                                                          std::size_t min_len, std::size_t max_len,
                                                          control::ValidationErrors& v) {
    LAMINA_TRY(list, opt_string_list(cors, key));
    if (!list) return list;
    if (list->size() > max_items)
        v.add(list_text(*list), member,
              "Member must have length less than or equal to " + std::to_string(max_items));
    for (const auto& item : *list) {
        if (item.size() > max_len || item.size() < min_len) {
            v.add(list_text(*list), member,
                  "Member must satisfy constraint: [Member must have length less than or equal "
                  "to " +
                      std::to_string(max_len) +
                      ", Member must have length greater than or equal to " +
                      std::to_string(min_len) + "]");
            break;
        }
    }
    return list;
}

// The Cors member, checked against the model's limits; kept in AWS's member order.
Result<std::optional<json>> read_cors(const ojson& body, control::ValidationErrors& v) {
    auto it = body.find("Cors");
    if (it == body.end() || it->is_null()) return std::optional<json>{};
    if (!it->is_object()) return std::unexpected(wrong_type("Cors", "a structure"));
    const ojson& cors = *it;
    json out = json::object();
    LAMINA_TRY(credentials, opt_bool(cors, "AllowCredentials"));
    if (credentials) out["AllowCredentials"] = *credentials;
    LAMINA_TRY(headers, cors_list(cors, "AllowHeaders", "cors.allowHeaders", 100, 0, 1024, v));
    if (headers) out["AllowHeaders"] = *headers;
    LAMINA_TRY(methods, cors_list(cors, "AllowMethods", "cors.allowMethods", 6, 0, 6, v));
    if (methods) out["AllowMethods"] = *methods;
    LAMINA_TRY(origins, cors_list(cors, "AllowOrigins", "cors.allowOrigins", 100, 1, 253, v));
    if (origins) out["AllowOrigins"] = *origins;
    LAMINA_TRY(expose, cors_list(cors, "ExposeHeaders", "cors.exposeHeaders", 100, 0, 1024, v));
    if (expose) out["ExposeHeaders"] = *expose;
    LAMINA_TRY(max_age, opt_int(cors, "MaxAge"));
    if (max_age) {
        if (*max_age < 0)
            v.add(std::to_string(*max_age), "cors.maxAge",
                  "Member must have value greater than or equal to 0");
        else if (*max_age > 86400)
            v.add(std::to_string(*max_age), "cors.maxAge",
                  "Member must have value less than or equal to 86400");
        out["MaxAge"] = *max_age;
    }
    return std::optional<json>(std::move(out));
}

// The qualifier of a URL operation names an alias; AWS checks that before
// anything exists. Also a qualifier taken from the ARN ("fn:1").
Status check_qualifier(const std::optional<std::string>& q) {
    if (!q) return {};
    control::ValidationErrors v;
    control::check_url_qualifier(v, *q);
    if (!v.empty()) return std::unexpected(v.error());
    return {};
}

}  // namespace

Result<http::Response> LambdaApi::create_or_update_function_url_config(const LambdaCall& c) {
    const bool create = c.op == Op::CreateFunctionUrlConfig;
    control::ValidationErrors v;
    if (auto q = c.req.query_param("Qualifier")) control::check_url_qualifier(v, *q);
    LAMINA_TRY(body, parse_body(c.req.body));
    control::FunctionUrlInput in;
    LAMINA_TRY(auth, opt_string(body, "AuthType"));
    LAMINA_TRY(mode, opt_string(body, "InvokeMode"));
    if (!auth && create)
        v.add_null("authType");
    else if (auth && *auth != "NONE" && *auth != "AWS_IAM")
        v.add(*auth, "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]");
    if (mode && *mode != "BUFFERED" && *mode != "RESPONSE_STREAM")
        v.add(*mode, "invokeMode",
              "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]");
    LAMINA_TRY(cors, read_cors(body, v));
    if (!v.empty()) return std::unexpected(v.error());
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, op_name(c.op)));
    LAMINA_CHECK(check_qualifier(ref.qualifier));
    if (auto fn = registry_.get_configuration(c.ctx.scope, {ref.name, std::nullopt});
        fn && fn->config.tenant_isolation_mode)
        return std::unexpected(not_with_tenancy(ref.name, "Function URLs"));
    in.auth_type = auth;
    in.invoke_mode = mode;
    in.cors = std::move(cors);
    if (create) {
        LAMINA_TRY(view, registry_.create_function_url(c.ctx.scope, ref, in));
        return json_response(201, render_url(view, c.ctx, UrlShape::Created), c.ctx);
    }
    LAMINA_TRY(view, registry_.update_function_url(c.ctx.scope, ref, in));
    return json_response(200, render_url(view, c.ctx, UrlShape::Updated), c.ctx);
}

Result<http::Response> LambdaApi::get_or_delete_function_url_config(const LambdaCall& c) {
    if (auto q = c.req.query_param("Qualifier")) LAMINA_CHECK(check_qualifier(q));
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, op_name(c.op)));
    LAMINA_CHECK(check_qualifier(ref.qualifier));
    if (c.op == Op::DeleteFunctionUrlConfig) {
        LAMINA_CHECK(registry_.delete_function_url(c.ctx.scope, ref));
        return empty_response(204, c.ctx);
    }
    LAMINA_TRY(view, registry_.get_function_url(c.ctx.scope, ref));
    return json_response(200, render_url(view, c.ctx, UrlShape::Read), c.ctx);
}

Result<http::Response> LambdaApi::list_function_url_configs(const LambdaCall& c) {
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "ListFunctionUrlConfigs", false));
    LAMINA_TRY(page, read_page(c.req, 50, 50));
    LAMINA_TRY(result, registry_.list_function_urls(c.ctx.scope, ref, page));
    json rows = json::array();
    for (const auto& v : result.first) rows.push_back(render_url(v, c.ctx, UrlShape::Read));
    json out = {{"FunctionUrlConfigs", rows}};
    if (result.second) out["NextMarker"] = *result.second;
    return json_response(200, out, c.ctx);
}

}  // namespace lamina::api
