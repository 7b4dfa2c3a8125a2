#include "lamina/api/query_api.hpp"

#include "lamina/api/aws_error.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::api {

namespace {

constexpr const char* kStsNs = "https://sts.amazonaws.com/doc/2011-06-15/";
constexpr const char* kIamNs = "https://iam.amazonaws.com/doc/2010-05-08/";

std::string tag(const std::string& name, const std::string& value) {
    return "<" + name + ">" + xml_escape(value) + "</" + name + ">";
}

std::string role_xml(const control::Role& r) {
    std::string x = tag("Path", r.path) + tag("RoleName", r.name) + tag("RoleId", r.id) +
                    tag("Arn", r.arn) + tag("CreateDate", format_iso8601(r.created_ms)) +
                    tag("AssumeRolePolicyDocument", url_encode(r.assume_role_policy)) +
                    tag("MaxSessionDuration", std::to_string(r.max_session_duration));
    if (!r.description.empty()) x += tag("Description", r.description);
    if (!r.tags.empty()) {
        x += "<Tags>";
        for (const auto& [k, v] : r.tags)
            x += "<member>" + tag("Key", k) + tag("Value", v) + "</member>";
        x += "</Tags>";
    }
    return x;
}

Result<std::string> required(const std::map<std::string, std::string>& form,
                             const std::string& key) {
    auto it = form.find(key);
    if (it == form.end() || it->second.empty())
        return fail(ErrorCode::IamValidationError,
                    "1 validation error detected: Value null at '" +
                        std::string(1, static_cast<char>(std::tolower(key[0]))) + key.substr(1) +
                        "' failed to satisfy constraint: Member must not be null");
    return it->second;
}

}  // namespace

std::map<std::string, std::string> parse_form(const http::Request& req) {
    std::map<std::string, std::string> form;
    std::string_view rest(req.body);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        auto eq = pair.find('=');
        auto k = url_decode(pair.substr(0, eq), true);
        auto v = url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1),
                            true);
        if (k && v) form[*k] = *v;
    }
    for (const auto& [k, v] : req.query) form.emplace(k, v);
    return form;
}

QueryApi::QueryApi(control::IamRoles& roles) : roles_(roles) {}

http::Response QueryApi::handle(const RequestContext& ctx, const http::Request& req) {
    auto form = parse_form(req);
    std::string action = form.count("Action") ? form["Action"] : "";
    std::string version = form.count("Version") ? form["Version"] : "";
    bool is_sts = ctx.service == "sts" || version == "2011-06-15";
    bool is_iam = ctx.service == "iam" || version == "2010-05-08";
    const char* ns = is_iam ? kIamNs : kStsNs;
    Result<std::string> result = fail(ErrorCode::InvalidAction, "");
    if (is_sts) {
        result = sts(ctx, action, form);
    } else if (is_iam) {
        result = iam(ctx, action, form);
    } else {
        std::string service = ctx.service.empty() ? "unknown" : ctx.service;
        result = fail(ErrorCode::NotImplemented,
                      "lamina does not emulate the " + service + " service (Action=" + action +
                          ", Version=" + version +
                          "); it emulates Lambda, plus STS GetCallerIdentity and IAM roles.");
    }
    if (!result) return query_xml_error(result.error(), ctx.request_id, ns);
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "text/xml");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = "<" + action + "Response xmlns=\"" + ns + "\">" + *result +
             "<ResponseMetadata><RequestId>" + ctx.request_id +
             "</RequestId></ResponseMetadata></" + action + "Response>";
    return r;
}

Result<std::string> QueryApi::sts(const RequestContext& ctx, const std::string& action,
                                  const std::map<std::string, std::string>&) {
    if (action == "GetCallerIdentity") {
        const std::string& account = ctx.scope.account;
        return "<GetCallerIdentityResult>" + tag("Arn", "arn:aws:iam::" + account + ":root") +
               tag("UserId", account) + tag("Account", account) + "</GetCallerIdentityResult>";
    }
    return fail(ErrorCode::NotImplemented, "lamina does not emulate the STS " + action +
                                               " operation; only GetCallerIdentity.");
}

Result<std::string> QueryApi::iam(const RequestContext& ctx, const std::string& action,
                                  const std::map<std::string, std::string>& form) {
    const std::string& account = ctx.scope.account;
    auto result_of = [&](const std::string& body) {
        return "<" + action + "Result>" + body + "</" + action + "Result>";
    };
    auto opt = [&](const std::string& key, const std::string& fallback = {}) {
        auto it = form.find(key);
        return it == form.end() ? fallback : it->second;
    };
    if (action == "CreateRole") {
        control::Role r;
        LAMINA_TRY(name, required(form, "RoleName"));
        r.name = name;
        r.path = opt("Path", "/");
        r.assume_role_policy = opt("AssumeRolePolicyDocument");
        r.description = opt("Description");
        if (auto d = opt("MaxSessionDuration"); !d.empty())
            r.max_session_duration = std::atoi(d.c_str());
        for (int i = 1; form.count("Tags.member." + std::to_string(i) + ".Key"); ++i)
            r.tags[form.at("Tags.member." + std::to_string(i) + ".Key")] =
                opt("Tags.member." + std::to_string(i) + ".Value");
        LAMINA_TRY(role, roles_.create(account, std::move(r)));
        return result_of("<Role>" + role_xml(role) + "</Role>");
    }
    if (action == "GetRole") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(role, roles_.get(account, name));
        return result_of("<Role>" + role_xml(role) + "</Role>");
    }
    if (action == "DeleteRole") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_CHECK(roles_.remove(account, name));
        return std::string();
    }
    if (action == "ListRoles") {
        std::string members;
        for (const auto& r : roles_.list(account, opt("PathPrefix", "/")))
            members += "<member>" + role_xml(r) + "</member>";
        return result_of("<IsTruncated>false</IsTruncated><Roles>" + members + "</Roles>");
    }
    if (action == "AttachRolePolicy" || action == "DetachRolePolicy") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(arn, required(form, "PolicyArn"));
        LAMINA_CHECK(action == "AttachRolePolicy" ? roles_.attach(account, name, arn)
                                                  : roles_.detach(account, name, arn));
        return std::string();
    }
    if (action == "PutRolePolicy") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(policy, required(form, "PolicyName"));
        LAMINA_TRY(doc, required(form, "PolicyDocument"));
        LAMINA_CHECK(roles_.put_inline(account, name, policy, doc));
        return std::string();
    }
    if (action == "DeleteRolePolicy") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(policy, required(form, "PolicyName"));
        LAMINA_CHECK(roles_.delete_inline(account, name, policy));
        return std::string();
    }
    if (action == "GetRolePolicy") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(policy, required(form, "PolicyName"));
        LAMINA_TRY(role, roles_.get(account, name));
        auto it = role.inline_policies.find(policy);
        if (it == role.inline_policies.end())
            return fail(ErrorCode::NoSuchEntity,
                        "The role policy with name " + policy + " cannot be found.");
        return result_of(tag("RoleName", name) + tag("PolicyName", policy) +
                         tag("PolicyDocument", url_encode(it->second)));
    }
    if (action == "ListAttachedRolePolicies") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(role, roles_.get(account, name));
        std::string members;
        for (const auto& arn : role.attached)
            members += "<member>" + tag("PolicyName", arn.substr(arn.rfind('/') + 1)) +
                       tag("PolicyArn", arn) + "</member>";
        return result_of("<AttachedPolicies>" + members +
                         "</AttachedPolicies><IsTruncated>false</IsTruncated>");
    }
    if (action == "ListRolePolicies") {
        LAMINA_TRY(name, required(form, "RoleName"));
        LAMINA_TRY(role, roles_.get(account, name));
        std::string members;
        for (const auto& [n, d] : role.inline_policies) members += tag("member", n);
        return result_of("<PolicyNames>" + members +
                         "</PolicyNames><IsTruncated>false</IsTruncated>");
    }
    return fail(ErrorCode::NotImplemented,
                "lamina does not emulate the IAM " + action +
                    " operation; it stores roles (CreateRole, GetRole, DeleteRole, ListRoles, "
                    "Attach/DetachRolePolicy, "
                    "Put/Get/DeleteRolePolicy, ListAttachedRolePolicies, ListRolePolicies) and "
                    "never enforces them.");
}

}  // namespace lamina::api
