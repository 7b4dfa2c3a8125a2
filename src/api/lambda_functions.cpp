#include "lamina/api/lambda_api.hpp"

// CreateFunction, GetFunction, ListFunctions, DeleteFunction, the updates of
// $LATEST, and lamina's own code and /opt downloads.

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

// A function's code: a hot-reload folder, or the zip (checked, and stored
// as a blob unless `dry_run`).
Result<control::StoredCode> LambdaApi::store_code(const Scope& scope, CodeInput& code,
                                                  const std::string& field_prefix, bool dry_run) {
    LAMINA_TRY(hot, hot_reload_code(code, config_.hot_reload_bucket, field_prefix));
    if (hot) return std::move(*hot);
    LAMINA_TRY(zip, code_bytes(code_source_, scope, code));
    LAMINA_TRY(stored, check_code(zip, code.from_s3()));
    if (!dry_run) LAMINA_CHECK(blobs_.put(stored.sha256_hex, zip));
    return stored;
}

Result<http::Response> LambdaApi::create_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    std::optional<std::string_view> zip_b64;
    LAMINA_TRY(body, parse_body_extracting(req.body, "Code", "ZipFile", zip_b64));
    LAMINA_TRY(name_value, opt_string(body, "FunctionName"));
    control::ValidationErrors missing;
    if (!name_value) missing.add_null("functionName");
    if (!body.contains("Role")) missing.add_null("role");
    if (!body.contains("Code")) missing.add_null("code");
    if (!missing.empty()) return std::unexpected(missing.error());
    LAMINA_TRY(ref, control::resolve_function_name(*name_value, NameShape::Create, std::nullopt,
                                                   scope, "lambda:CreateFunction"));
    LAMINA_TRY(settings, read_settings(body));
    LAMINA_TRY(arch, read_architecture(body));
    LAMINA_TRY(package_type, opt_string(body, "PackageType"));
    if (package_type && *package_type == "Image")
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate container image functions (PackageType Image) yet.");
    if (package_type && *package_type != "Zip") {
        control::ValidationErrors v;
        v.add(*package_type, "packageType", "Member must satisfy enum value set: [Image, Zip]");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(publish, opt_bool(body, "Publish"));
    LAMINA_TRY(tags, opt_string_map(body, "Tags"));
    const ojson* code_obj = opt_object(body, "Code");
    if (!code_obj) return std::unexpected(wrong_type("Code", "an object"));
    LAMINA_TRY(code, read_code(*code_obj, false, zip_b64, "code."));
    LAMINA_TRY(stored, store_code(scope, code, "code.", false));
    control::CreateFunctionInput in;
    in.name = ref.name;
    in.settings = std::move(settings);
    in.architecture = arch.value_or("x86_64");
    in.code = stored;
    in.publish = publish.value_or(false);
    if (tags) in.tags = std::map<std::string, std::string>(tags->begin(), tags->end());
    LAMINA_TRY(view, registry_.create_function(scope, std::move(in)));
    return json_response(201, render_config(scope, view, false), ctx);
}

Result<http::Response> LambdaApi::list_functions(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    auto version = req.query_param("FunctionVersion");
    if (version && *version != "ALL") {
        control::ValidationErrors v;
        v.add(*version, "functionVersion", "Member must satisfy enum value set: [ALL]");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(page, read_page(req));
    LAMINA_TRY(result, registry_.list_functions(scope, version.has_value(), page));
    json rows = json::array();
    for (const auto& v : result.first) rows.push_back(render_config(scope, v, true));
    json out = {{"Functions", rows}};
    if (result.second) out["NextMarker"] = *result.second;
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::get_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunction"));
    LAMINA_TRY(details, registry_.get_function(scope, ref));
    json out = {{"Configuration", render_config(scope, details.view, false)},
                {"Code", render_code_location(details.view.config, ctx)}};
    if (!details.tags.empty()) out["Tags"] = details.tags;
    if (details.reserved_concurrency)
        out["Concurrency"] = {{"ReservedConcurrentExecutions", *details.reserved_concurrency}};
    return json_response(200, out, ctx);
}

Result<http::Response> LambdaApi::get_function_configuration(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunctionConfiguration"));
    LAMINA_TRY(view, registry_.get_configuration(scope, ref));
    return json_response(200, render_config(scope, view, false), ctx);
}

Result<http::Response> LambdaApi::delete_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "DeleteFunction"));
    LAMINA_CHECK(provisioned_.delete_function(scope, ref));  // its provisioned environments go too
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::update_function_configuration(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "UpdateFunctionConfiguration", false));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_TRY(settings, read_settings(body));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    LAMINA_TRY(view, registry_.update_function_configuration(scope, ref, settings, revision));
    return json_response(200, render_config(scope, view, false), ctx);
}

Result<http::Response> LambdaApi::update_function_code(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "UpdateFunctionCode", false));
    std::optional<std::string_view> zip_b64;
    LAMINA_TRY(body, parse_body_extracting(req.body, "", "ZipFile", zip_b64));
    LAMINA_TRY(arch, read_architecture(body));
    LAMINA_TRY(publish, opt_bool(body, "Publish"));
    LAMINA_TRY(dry_run, opt_bool(body, "DryRun"));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    LAMINA_CHECK(registry_.check_exists(scope, FunctionRef{ref.name, std::nullopt}));
    LAMINA_TRY(code, read_code(body, true, zip_b64, ""));
    LAMINA_TRY(stored, store_code(scope, code, "", dry_run.value_or(false)));
    control::UpdateCodeInput in;
    in.code = stored;
    in.architecture = arch;
    in.publish = publish.value_or(false);
    in.dry_run = dry_run.value_or(false);
    in.revision_id = revision;
    LAMINA_TRY(view, registry_.update_function_code(scope, ref, std::move(in)));
    return json_response(200, render_config(scope, view, false), ctx);
}

Result<http::Response> LambdaApi::download_code(const LambdaCall& c) {
    const RequestContext& ctx = c.ctx;
    const http::RouteMatch& m = c.match;
    const std::string& blob = m.params.at("Blob");
    if (!registry_.blob_is_referenced(blob) && !layers_.blob_is_referenced(blob))
        return fail(ErrorCode::ResourceNotFound, "The resource you requested does not exist.");
    LAMINA_TRY(bytes, blobs_.read(blob));
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/zip");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = std::move(bytes);
    return r;
}

Result<http::Response> LambdaApi::opt_tree(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunction"));
    LAMINA_TRY(view, registry_.get_configuration(scope, ref));
    std::vector<std::string> blobs;
    json arns = json::array();
    for (const auto& l : view.config.layers) {
        blobs.push_back(l.blob);
        arns.push_back(l.arn);
    }
    const auto& layers = view.config.layers;
    if (layers.size() == 1 && !layers.front().path.empty())  // a hot-reload layer: its folder
        return json_response(200, json{{"Path", layers.front().path}, {"Layers", arns}}, ctx);
    LAMINA_TRY(path, layer_cache_.assemble(blobs));
    return json_response(200, json{{"Path", path.string()}, {"Layers", arns}}, ctx);
}

}  // namespace lamina::api
