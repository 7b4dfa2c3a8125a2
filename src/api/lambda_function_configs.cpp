#include "lamina/api/lambda_api.hpp"

// Per-function configs: event invoke configs, runtime management, recursion,
// code signing (function URLs: lambda_function_urls.cpp; event source
// mappings: lambda_event_source_mappings.cpp).

#include <algorithm>

#include "json_input.hpp"
#include "lambda_input.hpp"
#include "lambda_render.hpp"
#include "lambda_routes.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/validation.hpp"

namespace lamina::api {

using control::FunctionRef;
using control::NameShape;
using control::Scope;
using json = nlohmann::json;

Result<http::Response> LambdaApi::put_event_invoke_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, op_name(c.op)));
    LAMINA_TRY(body, parse_body(req.body));
    control::EventInvokeConfigInput in;
    LAMINA_TRY(retries, opt_int(body, control::limits::kMaximumRetryAttempts.key));
    LAMINA_TRY(age, opt_int(body, control::limits::kMaximumEventAge.key));
    control::ValidationErrors v;
    control::check_model_range(v, control::limits::kMaximumRetryAttempts, retries);
    control::check_model_range(v, control::limits::kMaximumEventAge, age);
    if (!v.empty()) return std::unexpected(v.error());
    if (retries) in.maximum_retry_attempts = static_cast<int>(*retries);
    if (age) in.maximum_event_age_seconds = static_cast<int>(*age);
    if (const ojson* dc = opt_object(body, "DestinationConfig")) {
        in.has_destination_config = true;
        if (const ojson* s = opt_object(*dc, "OnSuccess")) {
            LAMINA_TRY(d, opt_string(*s, "Destination"));
            in.on_success = d;
        }
        if (const ojson* f = opt_object(*dc, "OnFailure")) {
            LAMINA_TRY(d, opt_string(*f, "Destination"));
            in.on_failure = d;
        }
    }
    LAMINA_TRY(view, registry_.put_event_invoke_config(
                         scope, ref, std::move(in), c.op == Op::UpdateFunctionEventInvokeConfig));
    return json_response(200, render_eic(view), ctx);
}

Result<http::Response> LambdaApi::get_event_invoke_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunctionEventInvokeConfig"));
    LAMINA_TRY(view, registry_.get_event_invoke_config(scope, ref));
    return json_response(200, render_eic(view), ctx);
}

Result<http::Response> LambdaApi::delete_event_invoke_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "DeleteFunctionEventInvokeConfig"));
    LAMINA_CHECK(registry_.delete_event_invoke_config(scope, ref));
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::list_event_invoke_configs(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "ListFunctionEventInvokeConfigs", false));
    LAMINA_TRY(page, read_page(req, 50, 50));
    LAMINA_TRY(result, registry_.list_event_invoke_configs(scope, ref, page));
    json rows = json::array();
    for (const auto& v : result.first) rows.push_back(render_eic(v));
    json out = {{"FunctionEventInvokeConfigs", rows}};
    if (result.second) out["NextMarker"] = *result.second;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::get_code_signing_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunctionCodeSigningConfig", false));
    LAMINA_CHECK(registry_.check_exists(scope, ref));
    return json_response(200, json::object(), ctx);
}

Result<http::Response> LambdaApi::runtime_management_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, op_name(c.op)));
    control::Registry::RuntimeManagement r;
    if (c.op == Op::GetRuntimeManagementConfig) {
        LAMINA_TRY(got, registry_.get_runtime_management(scope, ref));
        r = got;
    } else {
        LAMINA_TRY(body, parse_body(req.body));
        LAMINA_TRY(on, opt_string(body, "UpdateRuntimeOn"));
        LAMINA_TRY(arn, opt_string(body, "RuntimeVersionArn"));
        if (!on || (*on != "Auto" && *on != "Manual" && *on != "FunctionUpdate")) {
            control::ValidationErrors v;
            if (!on)
                v.add_null("updateRuntimeOn");
            else
                v.add(*on, "updateRuntimeOn",
                      "Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]");
            return std::unexpected(v.error());
        }
        LAMINA_TRY(put, registry_.put_runtime_management(scope, ref, *on, arn));
        r = put;
    }
    json out = {{"UpdateRuntimeOn", r.update_runtime_on}, {"FunctionArn", r.function_arn}};
    if (r.runtime_version_arn) out["RuntimeVersionArn"] = *r.runtime_version_arn;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::recursion_config(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Unqualified, op_name(c.op), false));
    std::string loop;
    if (c.op == Op::GetFunctionRecursionConfig) {
        LAMINA_TRY(got, registry_.get_recursion_config(scope, ref));
        loop = got;
    } else {
        LAMINA_TRY(body, parse_body(req.body));
        LAMINA_TRY(value, opt_string(body, "RecursiveLoop"));
        if (!value || (*value != "Allow" && *value != "Terminate")) {
            control::ValidationErrors v;
            if (!value)
                v.add_null("recursiveLoop");
            else
                v.add(*value, "recursiveLoop",
                      "Member must satisfy enum value set: [Terminate, Allow]");
            return std::unexpected(v.error());
        }
        LAMINA_TRY(put, registry_.put_recursion_config(scope, ref, *value));
        loop = put;
    }
    return json_response(200, json{{"RecursiveLoop", loop}}, ctx);
}

}  // namespace lamina::api
