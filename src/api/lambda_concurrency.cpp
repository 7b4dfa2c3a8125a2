#include "lamina/api/lambda_api.hpp"

// Account settings, reserved concurrency and provisioned concurrency configs
// (whose environments exec::ProvisionedConfigs keeps in step).

#include <algorithm>
#include <cctype>

#include "json_input.hpp"
#include "lambda_input.hpp"
#include "lambda_render.hpp"
#include "lambda_routes.hpp"
#include "lambda_tenancy.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/validation.hpp"

namespace lamina::api {

using control::FunctionRef;
using control::NameShape;
using control::Scope;
using json = nlohmann::json;

namespace {

// A concurrency count of a request body (ReservedConcurrentExecutions,
// ProvisionedConcurrentExecutions): required, at least `min` (AWS's
// validation error otherwise); numbers past any account limit are kept just
// past it, so that they fail the limit checks without overflowing an int.
Result<int> concurrency_count(const ojson& body, const char* field, int min) {
    LAMINA_TRY(value, opt_int(body, field));
    std::string member(field);
    member[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(member[0])));
    if (!value || *value < min) {
        control::ValidationErrors v;
        if (!value)
            v.add_null(member);
        else
            v.add(std::to_string(*value), member,
                  "Member must have value greater than or equal to " + std::to_string(min));
        return std::unexpected(v.error());
    }
    return static_cast<int>(std::min<long long>(*value, 1'000'000'000));
}

}  // namespace

Result<http::Response> LambdaApi::get_account_settings(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    auto usage = registry_.account_usage(scope);
    std::int64_t unreserved = config_.quota.account_limit - registry_.reserved_total(scope);
    json out = {{"AccountLimit",
                 {{"TotalCodeSize", control::kTotalCodeStorage},
                  {"CodeSizeUnzipped", control::kMaxUnzippedCode},
                  {"CodeSizeZipped", control::kMaxZippedCode},
                  {"ConcurrentExecutions", config_.quota.account_limit},
                  {"UnreservedConcurrentExecutions", unreserved}}},
                {"AccountUsage",
                 {{"TotalCodeSize", usage.total_code_size + layers_.total_code_size(scope)},
                  {"FunctionCount", usage.function_count}}}};
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::get_function_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "GetFunctionConcurrency", false));
    LAMINA_TRY(details, registry_.get_function(scope, FunctionRef{ref.name, std::nullopt}));
    json out = json::object();
    if (details.reserved_concurrency)
        out["ReservedConcurrentExecutions"] = *details.reserved_concurrency;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::put_or_delete_function_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, op_name(c.op), false));
    if (ref.qualifier)
        return fail(
            ErrorCode::InvalidParameterValue,
            "This operation is permitted on Lambda functions only. Aliases and versions do not "
            "support this operation. Please specify either a function name or an unqualified "
            "function ARN.");
    if (c.op == Op::DeleteFunctionConcurrency) {
        LAMINA_CHECK(registry_.delete_function_concurrency(scope, ref));
        http::Response r;
        r.status = 204;
        r.headers.set("x-amzn-RequestId", ctx.request_id);
        return r;
    }
    // AWS answers a missing function before it looks at the value
    if (auto exists = registry_.check_exists(scope, FunctionRef{ref.name, std::nullopt}); !exists)
        return fail(ErrorCode::ResourceNotFound,
                    "Function not found: " + control::qualified_arn(scope, ref.name, "$LATEST"));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(wanted, concurrency_count(body, "ReservedConcurrentExecutions", 0));
    const CapacityQuota& limits = config_.quota;
    LAMINA_TRY(put, registry_.put_function_concurrency(scope, ref, wanted, limits));
    return json_response(200, json{{"ReservedConcurrentExecutions", put}}, ctx);
}

Result<http::Response> LambdaApi::put_provisioned_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "PutProvisionedConcurrencyConfig"));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(wanted, concurrency_count(body, "ProvisionedConcurrentExecutions", 1));
    if (auto fn = registry_.get_configuration(scope, {ref.name, std::nullopt});
        fn && fn->config.tenant_isolation_mode)
        return std::unexpected(not_with_tenancy(ref.name, "Provisioned concurrency"));
    const CapacityQuota& limits = config_.quota;
    LAMINA_TRY(pc, provisioned_.put(scope, ref, wanted, limits));
    // AWS answers at once; the environments initialise in the background
    json out = {{"RequestedProvisionedConcurrentExecutions", pc.config.requested},
                {"AvailableProvisionedConcurrentExecutions", 0},
                {"AllocatedProvisionedConcurrentExecutions", 0},
                {"Status", "IN_PROGRESS"},
                {"LastModified", pc.config.last_modified}};
    return json_response(202, out, ctx);
}

Result<http::Response> LambdaApi::get_provisioned_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "GetProvisionedConcurrencyConfig"));
    LAMINA_TRY(pc, registry_.get_provisioned_concurrency(scope, ref));
    return json_response(200, render_provisioned(pc, provisioned_.status(scope, pc), false), ctx);
}

Result<http::Response> LambdaApi::delete_provisioned_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "DeleteProvisionedConcurrencyConfig"));
    LAMINA_CHECK(provisioned_.remove(scope, ref));
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::list_provisioned_concurrency(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "ListProvisionedConcurrencyConfigs", false));
    LAMINA_TRY(all, registry_.list_provisioned_concurrency(scope, ref));
    json items = json::array();
    for (const auto& pc : all)
        items.push_back(render_provisioned(pc, provisioned_.status(scope, pc), true));
    return json_response(200, json{{"ProvisionedConcurrencyConfigs", items}}, ctx);
}

}  // namespace lamina::api
