#include "lamina/api/lambda_api.hpp"

// PublishVersion, ListVersionsByFunction and the alias operations.

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

Result<http::Response> LambdaApi::publish_version(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "PublishVersion", false));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(sha, opt_string(body, "CodeSha256"));
    LAMINA_TRY(description, opt_string(body, "Description"));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    if (description && description->size() > 256) {
        control::ValidationErrors v;
        v.add(*description, "description", "Member must have length less than or equal to 256");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(view, registry_.publish_version(scope, ref, sha, description, revision));
    // a SnapStart version's snapshot is taken now: Pending until it is
    return json_response(201, render_with_snapshot(scope, view), ctx);
}

Result<http::Response> LambdaApi::list_versions_by_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "ListVersionsByFunction", false));
    LAMINA_TRY(page, read_page(req));
    LAMINA_TRY(result, registry_.list_versions(scope, ref, page));
    json rows = json::array();
    for (const auto& v : result.first) rows.push_back(render_config(scope, v, true));
    json out = {{"Versions", rows}};
    if (result.second) out["NextMarker"] = *result.second;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::create_or_update_alias(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create,
                                 c.op == Op::CreateAlias ? "CreateAlias" : "UpdateAlias", false));
    LAMINA_TRY(body, parse_body(req.body));
    std::string name;
    if (c.op == Op::CreateAlias) {
        LAMINA_TRY(n, opt_string(body, "Name"));
        name = n.value_or("");
    } else {
        name = m.params.at("Name");
    }
    LAMINA_TRY(version, opt_string(body, "FunctionVersion"));
    LAMINA_TRY(description, opt_string(body, "Description"));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    control::ValidationErrors v;
    if (c.op == Op::CreateAlias && !body.contains("Name"))
        v.add_null("name");
    else if (!control::is_valid_alias_name(name))
        v.add(name, "name",
              name.size() > 128 ? "Member must have length less than or equal to 128"
                                : std::string("Member must satisfy regular expression pattern: ") +
                                      control::kAliasPattern);
    if (c.op == Op::CreateAlias && !version) v.add_null("functionVersion");
    if (!v.empty()) return std::unexpected(v.error());
    control::AliasInput in;
    in.function_version = version;
    in.description = description;
    in.revision_id = revision;
    if (const ojson* routing = opt_object(body, "RoutingConfig")) {
        std::map<std::string, double> weights;
        if (const ojson* w = opt_object(*routing, "AdditionalVersionWeights")) {
            for (const auto& [k, val] : w->items()) {
                if (!val.is_number())
                    return std::unexpected(
                        wrong_type("AdditionalVersionWeights", "a map of numbers"));
                weights[k] = val.get<double>();
            }
        }
        in.weights = std::move(weights);
    }
    if (c.op == Op::CreateAlias) {
        LAMINA_TRY(alias, registry_.create_alias(scope, ref, name, in));
        return json_response(201, render_alias(scope, alias), ctx);
    }
    // provisioned concurrency on the alias moves with it
    LAMINA_TRY(alias, provisioned_.update_alias(scope, ref, name, std::move(in)));
    return json_response(200, render_alias(scope, alias), ctx);
}

Result<http::Response> LambdaApi::get_or_delete_alias(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create,
                                 c.op == Op::GetAlias ? "GetAlias" : "DeleteAlias", false));
    const std::string& name = m.params.at("Name");
    if (!control::is_valid_alias_name(name)) {
        control::ValidationErrors v;
        v.add(name, "name",
              std::string("Member must satisfy regular expression pattern: ") +
                  control::kAliasPattern);
        return std::unexpected(v.error());
    }
    if (c.op == Op::DeleteAlias) {
        LAMINA_CHECK(provisioned_.delete_alias(scope, ref, name));
        return empty_response(204, ctx);
    }
    LAMINA_TRY(alias, registry_.get_alias(scope, ref, name));
    return json_response(200, render_alias(scope, alias), ctx);
}

Result<http::Response> LambdaApi::list_aliases(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "ListAliases", false));
    LAMINA_TRY(page, read_page(req));
    LAMINA_TRY(result,
               registry_.list_aliases(scope, ref, req.query_param("FunctionVersion"), page));
    json rows = json::array();
    for (const auto& a : result.first) rows.push_back(render_alias(scope, a));
    json out = {{"Aliases", rows}};
    if (result.second) out["NextMarker"] = *result.second;
    return json_response(200, out, ctx);
}

}  // namespace lamina::api
