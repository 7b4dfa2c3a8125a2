#include "lamina/api/lambda_api.hpp"

// CreateFunction, GetFunction, ListFunctions, DeleteFunction, the updates of
// $LATEST, and lamina's own code and /opt downloads.

#include <algorithm>

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
    LAMINA_TRY(tenancy, read_tenancy_config(body));
    if (tenancy && asks_snap_start(body))
        return std::unexpected(not_with_tenancy(ref.name, "SnapStart"));
    LAMINA_TRY(settings, read_settings(body));
    LAMINA_TRY(arch, read_architecture(body));
    LAMINA_TRY(package_type, opt_string(body, "PackageType"));
    if (package_type && *package_type != "Zip" && *package_type != "Image") {
        control::ValidationErrors v;
        v.add(*package_type, "packageType", "Member must satisfy enum value set: [Image, Zip]");
        return std::unexpected(v.error());
    }
    LAMINA_TRY(publish, opt_bool(body, "Publish"));
    LAMINA_TRY(tags, opt_string_map(body, "Tags"));
    const ojson* code_obj = opt_object(body, "Code");
    if (!code_obj) return std::unexpected(wrong_type("Code", "an object"));
    LAMINA_TRY(code, read_code(*code_obj, false, writable_blob(c.body, zip_b64), "code."));
    bool image = package_type == "Image";
    control::StoredCode stored;
    if (image) {
        if (settings.runtime || settings.handler || (settings.layers && !settings.layers->empty()))
            return fail(ErrorCode::InvalidParameterValue,
                        "Please don't provide Handler or Runtime or Layer when the intended "
                        "function PackageType is Image.");
        if (!code.image_uri)
            return fail(ErrorCode::InvalidParameterValue,
                        "Please provide ImageUri when the intended function PackageType is "
                        "Image.");
        LAMINA_TRY(resolved, resolve_image_code(image_source_, scope, *code.image_uri, ctx.host,
                                                config_.port));
        stored = std::move(resolved);
    } else {
        if (code.image_uri)
            return fail(ErrorCode::InvalidParameterValue,
                        "Please don't provide ImageUri when the intended function PackageType is "
                        "Zip.");
        LAMINA_TRY(zip_stored, store_code(scope, code, "code.", false));
        stored = std::move(zip_stored);
    }
    control::CreateFunctionInput in;
    in.package_type = image ? "Image" : "Zip";
    in.name = ref.name;
    in.settings = std::move(settings);
    in.architecture = arch.value_or("x86_64");
    in.code = stored;
    in.publish = publish.value_or(false);
    if (tags) in.tags = std::map<std::string, std::string>(tags->begin(), tags->end());
    in.tenant_isolation_mode = tenancy;
    LAMINA_TRY(view, registry_.create_function(scope, std::move(in)));
    prepare_spare(scope, view);
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
    // {"Functions":[...],"NextMarker":"..."} as dump_json writes it (members
    // in key order), each row dumped as it is rendered: no tree of the page.
    std::string text = "{\"Functions\":[";
    for (std::size_t k = 0; k < result.first.size(); ++k) {
        if (k) text += ',';
        text += list_rows_->row(scope, result.first[k]);
    }
    text += ']';
    if (result.second) text += ",\"NextMarker\":" + dump_json(*result.second);
    text += '}';
    return json_text_response(200, std::move(text), ctx);
}

Result<http::Response> LambdaApi::get_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunction"));
    LAMINA_TRY(details, registry_.get_function(scope, ref));
    json out = {
        {"Configuration", render_with_snapshot(scope, details.view)},
        {"Code", details.view.config.package_type == "Image"
                     ? json{{"ImageUri", details.view.config.image_uri},
                            {"RepositoryType", "ECR"},
                            {"ResolvedImageUri", resolved_image_uri(scope, details.view.config)}}
                     : render_code_location(details.view.config, ctx)}};
    if (!details.tags.empty()) out["Tags"] = details.tags;
    if (details.reserved_concurrency)
        out["Concurrency"] = {{"ReservedConcurrentExecutions", *details.reserved_concurrency}};
    return json_response(200, out, ctx);
}

json LambdaApi::render_with_snapshot(const Scope& scope, const control::ConfigView& view) {
    json j = render_config(scope, view, false);
    if (invoker_ && exec::snap_start_on(view.config))
        render_snapshot_state(j, invoker_->snapshot(scope, view.name, view.config));
    return j;
}

Result<http::Response> LambdaApi::get_function_configuration(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "GetFunctionConfiguration"));
    LAMINA_TRY(view, registry_.get_configuration(scope, ref));
    return json_response(200, render_with_snapshot(scope, view), ctx);
}

void LambdaApi::prepare_spare(const Scope& scope, const control::ConfigView& view) {
    // Active now: a spare environment of it for its first cold start (exec/spare.cpp)
    if (invoker_)
        invoker_->prepare(
            invoke_request(scope, FunctionRef{view.name, std::nullopt}, view, {}, {}));
}

Result<http::Response> LambdaApi::delete_function(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    LAMINA_TRY(ref, function_ref(c, NameShape::Read, "DeleteFunction"));
    LAMINA_CHECK(provisioned_.delete_function(scope, ref));  // its provisioned environments go too
    if (invoker_) invoker_->forget(scope, ref.name);         // and its spare ones
    if (invoker_)                                            // and its snapshots (SnapStart)
        invoker_->drop_snapshots(scope, ref.name, ref.qualifier.value_or(""));
    return empty_response(204, ctx);
}

Result<http::Response> LambdaApi::update_function_configuration(const LambdaCall& c) {
    const Scope& scope = c.ctx.scope;
    const RequestContext& ctx = c.ctx;
    const http::Request& req = c.req;
    LAMINA_TRY(ref, function_ref(c, NameShape::Create, "UpdateFunctionConfiguration", false));
    LAMINA_TRY(body, parse_body(req.body));
    LAMINA_CHECK(refuse_tenancy_update(body));
    if (asks_snap_start(body)) {
        if (auto current = registry_.get_configuration(scope, {ref.name, std::nullopt});
            current && current->config.tenant_isolation_mode)
            return std::unexpected(not_with_tenancy(ref.name, "SnapStart"));
    }
    LAMINA_TRY(settings, read_settings(body));
    LAMINA_TRY(revision, opt_string(body, "RevisionId"));
    LAMINA_TRY(view, registry_.update_function_configuration(scope, ref, settings, revision));
    prepare_spare(scope, view);
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
    LAMINA_TRY(current, registry_.get_configuration(scope, FunctionRef{ref.name, std::nullopt}));
    bool image = current.config.package_type == "Image";
    if (image && !body.contains("ImageUri"))
        return fail(ErrorCode::InvalidParameterValue,
                    "Please provide ImageUri when updating a function with packageType Image.");
    if (!image && body.contains("ImageUri"))
        return fail(ErrorCode::InvalidParameterValue,
                    "Please don't provide ImageUri when updating a function with packageType Zip.");
    LAMINA_TRY(code, read_code(body, true, writable_blob(c.body, zip_b64), ""));
    control::StoredCode stored;
    if (image) {
        LAMINA_TRY(resolved, resolve_image_code(image_source_, scope, *code.image_uri, ctx.host,
                                                config_.port));
        stored = std::move(resolved);
    } else {
        LAMINA_TRY(zip_stored, store_code(scope, code, "", dry_run.value_or(false)));
        stored = std::move(zip_stored);
    }
    control::UpdateCodeInput in;
    in.code = stored;
    in.architecture = arch;
    in.publish = publish.value_or(false);
    in.dry_run = dry_run.value_or(false);
    in.revision_id = revision;
    LAMINA_TRY(view, registry_.update_function_code(scope, ref, std::move(in)));
    prepare_spare(scope, view);
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
