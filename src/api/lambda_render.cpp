#include "lambda_render.hpp"

#include "lamina/common/clock.hpp"

namespace lamina::api {

using control::ConfigView;
using control::Phase;
using control::Scope;
using json = nlohmann::json;

std::string dump_json(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);  // never throws on odd bytes
}

http::Response json_text_response(unsigned status, std::string text, const RequestContext& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = std::move(text);
    return r;
}

http::Response json_response(unsigned status, const json& body, const RequestContext& ctx) {
    return json_text_response(status, dump_json(body), ctx);
}

http::Response empty_response(unsigned status, const RequestContext& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    return r;
}

std::string code_location(const std::string& blob, const std::string& hot_reload_path,
                          const RequestContext& ctx) {
    // hot-reloaded code has no package to download: the folder, as LocalStack shows it
    if (!hot_reload_path.empty()) return "Code location: " + hot_reload_path;
    return "http://" + ctx.host + "/_lamina/code/" + blob;
}

json render_code_location(const control::VersionConfig& c, const RequestContext& ctx) {
    return {{"RepositoryType", "S3"}, {"Location", code_location(c.code_blob, c.code_path, ctx)}};
}

json render_config(const Scope& s, const ConfigView& v, bool list_row) {
    const auto& c = v.config;
    json j;
    j["FunctionName"] = v.name;
    j["FunctionArn"] = v.arn_qualifier.empty() ? control::function_arn(s, v.name)
                                               : control::qualified_arn(s, v.name, v.arn_qualifier);
    bool image = c.package_type == "Image";
    if (!image) j["Runtime"] = c.runtime;
    j["Role"] = c.role;
    if (!image) j["Handler"] = c.handler;
    j["CodeSize"] = c.code_size;
    j["Description"] = c.description;
    j["Timeout"] = c.timeout;
    j["MemorySize"] = c.memory_size;
    j["LastModified"] = format_lambda_time(c.last_modified_ms);
    j["CodeSha256"] = c.code_sha256;
    j["Version"] = c.version;
    if (c.environment) {
        json vars = json::object();
        for (const auto& [k, val] : *c.environment) vars[k] = val;
        j["Environment"] = {{"Variables", vars}};
    }
    j["TracingConfig"] = {{"Mode", c.tracing_mode}};
    j["RevisionId"] = c.revision_id;
    if (!c.layers.empty()) {
        json layers = json::array();
        for (const auto& l : c.layers)
            layers.push_back({{"Arn", l.arn}, {"CodeSize", l.code_size}});
        j["Layers"] = layers;
    }
    if (c.dead_letter_target) j["DeadLetterConfig"] = {{"TargetArn", *c.dead_letter_target}};
    if (c.kms_key_arn) j["KMSKeyArn"] = *c.kms_key_arn;
    j["PackageType"] = c.package_type;
    j["Architectures"] = json::array({c.architecture});
    j["EphemeralStorage"] = {{"Size", c.ephemeral_storage}};
    if (c.image_config) {
        json ic = json::object();
        if (c.image_config->entry_point) ic["EntryPoint"] = *c.image_config->entry_point;
        if (c.image_config->command) ic["Command"] = *c.image_config->command;
        if (c.image_config->working_directory)
            ic["WorkingDirectory"] = *c.image_config->working_directory;
        j["ImageConfigResponse"] = {{"ImageConfig", ic}};
    }
    j["SnapStart"] = {{"ApplyOn", c.snap_start_apply_on},
                      {"OptimizationStatus", exec::snap_start_on(c) ? "On" : "Off"}};
    json logging = {{"LogFormat", c.log_format}, {"LogGroup", c.log_group}};
    if (c.application_log_level) logging["ApplicationLogLevel"] = *c.application_log_level;
    if (c.system_log_level) logging["SystemLogLevel"] = *c.system_log_level;
    j["LoggingConfig"] = logging;
    if (c.tenant_isolation_mode)
        j["TenancyConfig"] = {{"TenantIsolationMode", *c.tenant_isolation_mode}};
    if (list_row) return j;
    if (!image) j["RuntimeVersionConfig"] = {{"RuntimeVersionArn", c.runtime_version_arn}};
    switch (v.phase) {
        case Phase::Steady:
            j["State"] = "Active";
            j["LastUpdateStatus"] = "Successful";
            break;
        case Phase::Creating:
        case Phase::PublishedNew:
            j["State"] = "Pending";
            j["StateReason"] = "The function is being created.";
            j["StateReasonCode"] = "Creating";
            break;
        case Phase::Updating:
            j["State"] = "Active";
            j["LastUpdateStatus"] = "InProgress";
            j["LastUpdateStatusReason"] = "The function is being created.";
            j["LastUpdateStatusReasonCode"] = "Creating";
            break;
    }
    return j;
}

std::string ListRowCache::row(const Scope& s, const ConfigView& v) {
    const auto& c = v.config;
    std::string key;
    key.reserve(s.account.size() + s.region.size() + v.name.size() + v.arn_qualifier.size() +
                c.version.size() + c.revision_id.size() + c.code_sha256.size() + 32);
    for (const std::string* part : {&s.account, &s.region, &v.name, &v.arn_qualifier, &c.version,
                                    &c.revision_id, &c.code_sha256}) {
        key += *part;
        key += '\n';  // in none of them
    }
    key += std::to_string(c.last_modified_ms);
    {
        std::lock_guard lk(mu_);
        if (auto it = rows_.find(key); it != rows_.end()) return it->second;
    }
    std::string text = dump_json(render_config(s, v, true));
    std::lock_guard lk(mu_);
    if (rows_.size() >= kMaxRows) rows_.clear();
    rows_.emplace(std::move(key), text);
    return text;
}

void render_snapshot_state(json& j, const exec::SnapshotStatus& snap) {
    if (!j.contains("State")) return;  // a list row
    if (snap.state == "Active") return;
    j["State"] = snap.state;
    if (snap.state == "Pending") {
        j["StateReason"] = "The function is being created.";
        j["StateReasonCode"] = "Creating";
    } else {
        j["StateReason"] = snap.reason;
        j["StateReasonCode"] = snap.reason_code;
    }
}

json render_alias(const Scope& s, const control::AliasView& a) {
    json j = {{"AliasArn", control::qualified_arn(s, a.function_name, a.alias.name)},
              {"Name", a.alias.name},
              {"FunctionVersion", a.alias.function_version},
              {"Description", a.alias.description},
              {"RevisionId", a.alias.revision_id}};
    if (!a.alias.additional_weights.empty()) {
        json w = json::object();
        for (const auto& [k, v] : a.alias.additional_weights) w[k] = v;
        j["RoutingConfig"] = {{"AdditionalVersionWeights", w}};
    }
    return j;
}

json render_eic(const control::EventInvokeConfigView& v) {
    json j = {{"LastModified", v.config.last_modified}, {"FunctionArn", v.function_arn}};
    if (v.config.maximum_retry_attempts)
        j["MaximumRetryAttempts"] = *v.config.maximum_retry_attempts;
    if (v.config.maximum_event_age_seconds)
        j["MaximumEventAgeInSeconds"] = *v.config.maximum_event_age_seconds;
    json on_success = json::object(), on_failure = json::object();
    if (v.config.on_success) on_success["Destination"] = *v.config.on_success;
    if (v.config.on_failure) on_failure["Destination"] = *v.config.on_failure;
    j["DestinationConfig"] = {{"OnSuccess", on_success}, {"OnFailure", on_failure}};
    return j;
}

json render_provisioned(const control::ProvisionedView& pc, const exec::ProvisionedStatus& st,
                        bool listed) {
    json out = json::object();
    if (listed) out["FunctionArn"] = pc.function_arn;
    out["RequestedProvisionedConcurrentExecutions"] = pc.config.requested;
    out["AvailableProvisionedConcurrentExecutions"] = st.available;
    out["AllocatedProvisionedConcurrentExecutions"] = st.allocated;
    out["Status"] = st.status;
    if (!st.reason.empty()) out["StatusReason"] = st.reason;
    out["LastModified"] = pc.config.last_modified;
    return out;
}

json render_layer_row(const control::LayerVersionView& v) {
    json j = {{"LayerVersionArn",
               control::layer_version_arn(v.owner, v.version.layer_name, v.version.version)},
              {"Version", v.version.version},
              {"Description", v.version.description},
              {"CreatedDate", format_lambda_time(v.version.created_ms)}};
    if (v.version.compatible_runtimes) j["CompatibleRuntimes"] = *v.version.compatible_runtimes;
    if (v.version.compatible_architectures)
        j["CompatibleArchitectures"] = *v.version.compatible_architectures;
    if (v.version.license_info) j["LicenseInfo"] = *v.version.license_info;
    return j;
}

json render_layer_version(const control::LayerVersionView& v, const RequestContext& ctx) {
    json j = render_layer_row(v);
    j["LayerArn"] = control::layer_arn(v.owner, v.version.layer_name);
    j["Content"] = {{"Location", code_location(v.version.code_blob, v.version.code_path, ctx)},
                    {"CodeSha256", v.version.code_sha256},
                    {"CodeSize", v.version.code_size}};
    return j;
}

}  // namespace lamina::api
