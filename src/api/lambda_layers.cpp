#include "lamina/api/lambda_api.hpp"

// Layers: PublishLayerVersion, their reads, lists and per-version policies.

#include <algorithm>
#include <cerrno>

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

namespace {

const std::vector<std::string>& layer_filter_runtimes() {
    // The enum AWS validates ListLayers/ListLayerVersions filters against (wider than
    // CreateFunction's).
    static const std::vector<std::string> kList = {
        "ruby3.5",       "ruby2.6",       "dotnetcore1.0",   "python3.7",
        "nodejs8.10",    "nasa",          "ruby2.7",         "python2.7-greengrass",
        "dotnetcore2.0", "python3.8",     "java21",          "dotnet6",
        "dotnetcore2.1", "python3.9",     "java11",          "nodejs6.10",
        "provided",      "dotnetcore3.1", "dotnet8",         "java25",
        "java17",        "nodejs",        "nodejs4.3",       "java8.al2",
        "go1.x",         "dotnet10",      "nodejs20.x",      "go1.9",
        "byol",          "nodejs10.x",    "provided.al2023", "nodejs22.x",
        "python3.10",    "java8",         "nodejs12.x",      "python3.11",
        "nodejs24.x",    "nodejs8.x",     "python3.12",      "nodejs14.x",
        "nodejs8.9",     "nodejs26.x",    "python3.13",      "python3.14",
        "nodejs16.x",    "python3.15",    "provided.al2",    "nodejs4.3-edge",
        "nodejs18.x",    "ruby3.2",       "python3.4",       "ruby3.3",
        "ruby3.4",       "ruby2.5",       "python3.6",       "python2.7"};
    return kList;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

// LayerName path values: a name, or a layer ARN (possibly another account's).
Result<std::pair<Scope, std::string>> layer_name(const Scope& caller, const std::string& value) {
    static const std::regex kPattern(control::kLayerNamePattern);
    if (value.size() > control::kMaxLayerNameLength || !regex_full_match(value, kPattern)) {
        control::ValidationErrors v;
        v.add(value, "layerName",
              value.size() > control::kMaxLayerNameLength
                  ? "Member must have length less than or equal to " +
                        std::to_string(control::kMaxLayerNameLength)
                  : std::string("Member must satisfy regular expression pattern: ") +
                        control::kLayerNamePattern);
        return std::unexpected(v.error());
    }
    if (value.rfind("arn:", 0) != 0) return std::make_pair(caller, value);
    auto p = control::parse_arn(value);
    return std::make_pair(Scope{p->account, p->region}, p->resource.substr(6));
}

Result<std::int64_t> layer_version_number(const std::string& value) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE)
        return fail(ErrorCode::InvalidParameterValue, "Layer Version Cannot be less than 1");
    if (v < 1) return fail(ErrorCode::InvalidParameterValue, "Layer Version Cannot be less than 1");
    return static_cast<std::int64_t>(v);
}

Status check_filters(const std::optional<std::string>& runtime,
                     const std::optional<std::string>& arch) {
    control::ValidationErrors v;
    const auto& runtimes = layer_filter_runtimes();
    if (runtime && std::find(runtimes.begin(), runtimes.end(), *runtime) == runtimes.end())
        v.add(*runtime, "compatibleRuntime",
              "Member must satisfy enum value set: [" + join_list(runtimes) + "]");
    if (arch && *arch != "x86_64" && *arch != "arm64")
        v.add(*arch, "compatibleArchitecture",
              "Member must satisfy enum value set: [x86_64, arm64]");
    if (!v.empty()) return std::unexpected(v.error());
    return {};
}

}  // namespace

Result<http::Response> LambdaApi::publish_layer_version(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    auto [owner, name] = owner_name;
    std::optional<std::string_view> zip_b64;
    LAMINA_TRY(body, parse_body_extracting(req.body, "Content", "ZipFile", zip_b64));
    LAMINA_TRY(description, opt_string(body, "Description"));
    LAMINA_TRY(runtimes, opt_string_list(body, "CompatibleRuntimes"));
    LAMINA_TRY(archs, opt_string_list(body, "CompatibleArchitectures"));
    LAMINA_TRY(license, opt_string(body, "LicenseInfo"));
    control::ValidationErrors v;
    if (!body.contains("Content")) v.add_null("content");
    const auto& supported = control::supported_runtimes();
    if (runtimes) {
        // Layers may declare deprecated runtimes (AWS accepts them); the
        // message, like AWS's, lists only the current ones.
        bool bad = runtimes->size() > 15;
        for (const auto& r : *runtimes)
            if (std::find(supported.begin(), supported.end(), r) == supported.end() &&
                !control::is_deprecated_runtime(r) && r != "ruby4.0")
                bad = true;
        if (bad)
            v.add("[" + join_list(*runtimes) + "]", "compatibleRuntimes",
                  runtimes->size() > 15
                      ? "Member must have length less than or equal to 15"
                      : "Member must satisfy enum value set: [" + join_list(supported) + "]");
    }
    if (archs) {
        bool bad = archs->size() > 2;
        for (const auto& a : *archs)
            if (a != "x86_64" && a != "arm64") bad = true;
        if (bad)
            v.add("[" + join_list(*archs) + "]", "compatibleArchitectures",
                  archs->size() > 2
                      ? "Member must have length less than or equal to 2"
                      : "Member must satisfy constraint: [Member must satisfy enum value set: "
                        "[x86_64, arm64], Member must not be null]");
    }
    control::check_length(v, "description", description, control::limits::kDescriptionLength);
    control::check_length(v, "licenseInfo", license, control::limits::kLicenseInfoLength);
    if (!v.empty()) return std::unexpected(v.error());
    if (!(owner == scope))
        return std::unexpected(control::access_denied(scope.account, "lambda:PublishLayerVersion",
                                                      control::layer_arn(owner, name),
                                                      control::PolicyClause::Absent));
    const ojson* content = opt_object(body, "Content");
    if (!content) return std::unexpected(wrong_type("Content", "an object"));
    LAMINA_TRY(code, read_code(*content, false, writable_blob(c.body, zip_b64), "content."));
    LAMINA_TRY(hot, hot_reload_code(code, config_.hot_reload_bucket, "content."));
    control::StoredCode stored;
    if (hot) {
        stored = std::move(*hot);  // a folder, bound at /opt as it is
    } else {
        LAMINA_TRY(zip, code_bytes(code_source_, scope, code));
        LAMINA_TRY(checked, check_code(zip, code.from_s3()));
        stored = std::move(checked);
        LAMINA_CHECK(blobs_.put(stored.sha256_hex, zip));
        // Extract now: the /opt tree is ready before any function uses it,
        // and a zip bomb is refused here rather than at first use.
        LAMINA_TRY(tree, layer_cache_.extract(stored.sha256_hex, zip));
        (void)tree;
    }
    control::PublishLayerInput in;
    in.name = name;
    in.description = description.value_or("");
    in.compatible_runtimes = runtimes;
    in.compatible_architectures = archs;
    in.license_info = license;
    in.code_sha256 = stored.sha256_b64;
    in.code_blob = stored.sha256_hex;
    in.code_size = stored.size;
    in.unzipped_size = stored.unzipped_size;
    in.code_path = stored.hot_reload_path;
    LAMINA_TRY(view, layers_.publish(scope, std::move(in)));
    return json_response(201, render_layer_version(view, ctx), ctx);
}

Result<http::Response> LambdaApi::get_or_delete_layer_version(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
    if (c.op == Op::DeleteLayerVersion) {
        if (!(owner_name.first == scope)) return empty_response(204, ctx);
        LAMINA_CHECK(layers_.remove(scope, owner_name.second, version));
        return empty_response(204, ctx);
    }
    LAMINA_TRY(view, layers_.get(scope, owner_name.first, owner_name.second, version));
    return json_response(200, render_layer_version(view, ctx), ctx);
}

Result<http::Response> LambdaApi::get_layer_version_by_arn(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    auto arn = req.query_param("Arn");
    if (!arn) {
        control::ValidationErrors v;
        v.add_null("arn");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(view, layers_.get_by_arn(scope, *arn));
    return json_response(200, render_layer_version(view, ctx), ctx);
}

Result<http::Response> LambdaApi::list_layers(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    auto runtime = req.query_param("CompatibleRuntime");
    auto arch = req.query_param("CompatibleArchitecture");
    LAMINA_CHECK(check_filters(runtime, arch));
    LAMINA_TRY(page, read_page(req, 50, 50));
    if (c.op == Op::ListLayers) {
        LAMINA_TRY(result, layers_.list_layers(scope, runtime, arch, page.marker, page.max_items));
        json rows = json::array();
        for (const auto& item : result.first)
            rows.push_back({{"LayerName", item.name},
                            {"LayerArn", control::layer_arn(item.latest.owner, item.name)},
                            {"LatestMatchingVersion", render_layer_row(item.latest)}});
        json out = {{"Layers", rows}};
        if (result.second) out["NextMarker"] = *result.second;
        return json_response(200, out, ctx);
    }
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    json rows = json::array();
    json out;
    if (owner_name.first == scope) {
        LAMINA_TRY(result, layers_.list_versions(scope, owner_name.second, runtime, arch,
                                                 page.marker, page.max_items));
        for (const auto& v : result.first) rows.push_back(render_layer_row(v));
        if (result.second) out["NextMarker"] = *result.second;
    }
    out["LayerVersions"] = rows;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::add_layer_version_permission(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(sid, opt_string(body, "StatementId"));
    LAMINA_TRY(action, opt_string(body, "Action"));
    LAMINA_TRY(principal, opt_string(body, "Principal"));
    LAMINA_TRY(org, opt_string(body, "OrganizationId"));
    static const std::regex kPrincipal(R"(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)");
    static const std::regex kOrg(R"(o-[a-z0-9]{10,32})");
    control::ValidationErrors v;
    control::check_statement_id(v, sid);
    if (!action)
        v.add_null("action");
    else if (*action != "lambda:GetLayerVersion")
        v.add(*action, "action",
              "Member must satisfy regular expression pattern: lambda:GetLayerVersion");
    if (!principal)
        v.add_null("principal");
    else if (!regex_full_match(*principal, kPrincipal))
        v.add(
            *principal, "principal",
            R"(Member must satisfy regular expression pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)");
    if (org && !regex_full_match(*org, kOrg))
        v.add(*org, "organizationId",
              "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}");
    if (!v.empty()) return std::unexpected(v.error());
    control::LayerPermissionInput in{*sid, *action, *principal, org, req.query_param("RevisionId")};
    LAMINA_TRY(added, layers_.add_permission(owner_name.first == scope ? scope : owner_name.first,
                                             owner_name.second, version, std::move(in)));
    return json_response(201, json{{"Statement", added.first.dump()}, {"RevisionId", added.second}},
                         ctx);
}

Result<http::Response> LambdaApi::get_layer_version_policy(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
    LAMINA_TRY(policy, layers_.get_policy(owner_name.first, owner_name.second, version));
    return json_response(200, json{{"Policy", policy.first}, {"RevisionId", policy.second}}, ctx);
}

Result<http::Response> LambdaApi::remove_layer_version_permission(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    const http::RouteMatch& m = c.match;
    LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
    LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
    LAMINA_CHECK(layers_.remove_permission(owner_name.first, owner_name.second, version,
                                           m.params.at("StatementId"),
                                           req.query_param("RevisionId")));
    return empty_response(204, ctx);
}

}  // namespace lamina::api
