#include "lamina/api/lambda_api.hpp"

// Resource policies (AddPermission, GetPolicy, RemovePermission) and tags.

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

Result<http::Response> LambdaApi::add_permission(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "AddPermission"));
    LAMINA_TRY(body, parse_body(req.body));
    control::PermissionInput in;
    LAMINA_TRY(sid, opt_string(body, "StatementId"));
    LAMINA_TRY(action, opt_string(body, "Action"));
    LAMINA_TRY(principal, opt_string(body, "Principal"));
    control::ValidationErrors v;
    static const std::regex kAction(R"((lambda:[*]|lambda:[a-zA-Z]+|[*]))");
    control::check_statement_id(v, sid);
    if (!action)
        v.add_null("action");
    else if (!regex_full_match(*action, kAction))
        v.add(*action, "action",
              "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])");
    if (!principal) v.add_null("principal");
    LAMINA_TRY(url_auth, opt_string(body, "FunctionUrlAuthType"));
    if (url_auth && *url_auth != "NONE" && *url_auth != "AWS_IAM")
        v.add(*url_auth, "functionUrlAuthType",
              "Member must satisfy enum value set: [AWS_IAM, NONE]");
    if (!v.empty()) return std::unexpected(v.error());
    LAMINA_TRY(via_url, opt_bool(body, "InvokedViaFunctionUrl"));
    if (via_url && *via_url && *action != "lambda:InvokeFunction")
        return fail(ErrorCode::InvalidParameterValue,
                    "InvokedViaFunctionUrl is only supported for the lambda:InvokeFunction "
                    "action.");
    in.invoked_via_function_url = via_url.value_or(false);
    in.statement_id = *sid;
    in.action = *action;
    in.principal = *principal;
    LAMINA_TRY(source_arn, opt_string(body, "SourceArn"));
    LAMINA_TRY(source_account, opt_string(body, "SourceAccount"));
    LAMINA_TRY(token, opt_string(body, "EventSourceToken"));
    LAMINA_TRY(org, opt_string(body, "PrincipalOrgID"));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    in.source_arn = source_arn;
    in.source_account = source_account;
    in.event_source_token = token;
    in.principal_org_id = org;
    in.function_url_auth_type = url_auth;
    in.revision_id = revision;
    LAMINA_TRY(statement, registry_.add_permission(scope, ref, std::move(in)));
    return json_response(201, json{{"Statement", statement.dump()}}, ctx);
}

Result<http::Response> LambdaApi::get_policy(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetPolicy"));
    LAMINA_TRY(policy, registry_.get_policy(scope, ref));
    json statements = json::array();
    for (const auto& s : policy.statements) statements.push_back(s.statement);
    json doc = {{"Version", "2012-10-17"}, {"Id", "default"}, {"Statement", statements}};
    return json_response(200, json{{"Policy", doc.dump()}, {"RevisionId", policy.revision_id}},
                         ctx);
}

Result<http::Response> LambdaApi::remove_permission(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "RemovePermission"));
    LAMINA_CHECK(registry_.remove_permission(scope, ref, m.params.at("StatementId"),
                                             req.query_param("RevisionId")));
    return empty_response(204, ctx);
}

namespace {

// The UUID when a tag call names an event source mapping (after AWS's ARN
// checks); nullopt for a function, which the registry's tag calls take.
Result<std::optional<std::string>> esm_tag_target(const control::EventSourceMappings* esms,
                                                  const Scope& scope, const std::string& arn) {
    if (!esms || arn.find(":event-source-mapping:") == std::string::npos)
        return std::optional<std::string>();
    LAMINA_TRY(target, control::tag_target(scope, arn));
    if (target.kind != control::TagTarget::Kind::EventSourceMapping)
        return std::optional<std::string>();
    return std::optional<std::string>(target.id);
}

}  // namespace

Result<http::Response> LambdaApi::tag_resource(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(tags, opt_string_map(body, "Tags"));
    if (!tags) {
        control::ValidationErrors v;
        v.add_null("tags");
        return std::unexpected(v.error());
    }
    std::map<std::string, std::string> wanted(tags->begin(), tags->end());
    LAMINA_TRY(esm, esm_tag_target(esms_, scope, m.params.at("Resource")));
    if (esm) {
        if (wanted.empty())
            return fail(ErrorCode::InvalidParameterValue,
                        "An error occurred and the request cannot be processed.");
        LAMINA_CHECK(esms_->tag(scope, *esm, wanted));
    } else {
        LAMINA_CHECK(registry_.tag_resource(scope, m.params.at("Resource"), wanted));
    }
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::untag_resource(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    auto keys = req.query_params("tagKeys");
    if (keys.empty()) {
        control::ValidationErrors v;
        v.add_null("tagKeys");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(esm, esm_tag_target(esms_, scope, m.params.at("Resource")));
    if (esm)
        LAMINA_CHECK(esms_->untag(scope, *esm, keys));
    else
        LAMINA_CHECK(registry_.untag_resource(scope, m.params.at("Resource"), keys));
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::list_tags(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(esm, esm_tag_target(esms_, scope, m.params.at("Resource")));
    if (esm) {
        LAMINA_TRY(tags, esms_->tags(scope, *esm));
        return json_response(200, json{{"Tags", tags}}, ctx);
    }
    LAMINA_TRY(tags, registry_.list_tags(scope, m.params.at("Resource")));
    return json_response(200, json{{"Tags", tags}}, ctx);
}

}  // namespace lamina::api
