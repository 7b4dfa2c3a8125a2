#include "lamina/control/model.hpp"

namespace lamina::control {

using nlohmann::json;

namespace {
template <typename T>
void put_opt(json& j, const char* key, const std::optional<T>& v) {
    if (v) j[key] = *v;
}
template <typename T>
void get_opt(const json& j, const char* key, std::optional<T>& v) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) v = it->get<T>();
}
}  // namespace

bool VersionConfig::same_code_and_config(const VersionConfig& o) const {
    return code_sha256 == o.code_sha256 && code_path == o.code_path && runtime == o.runtime &&
           image_uri == o.image_uri && image_config == o.image_config && role == o.role &&
           handler == o.handler && timeout == o.timeout && memory_size == o.memory_size &&
           ephemeral_storage == o.ephemeral_storage && architecture == o.architecture &&
           environment == o.environment && tracing_mode == o.tracing_mode &&
           dead_letter_target == o.dead_letter_target && kms_key_arn == o.kms_key_arn &&
           log_format == o.log_format && log_group == o.log_group &&
           application_log_level == o.application_log_level &&
           system_log_level == o.system_log_level && snap_start_apply_on == o.snap_start_apply_on &&
           [&] {
               if (layers.size() != o.layers.size()) return false;
               for (std::size_t i = 0; i < layers.size(); ++i)
                   if (layers[i].arn != o.layers[i].arn) return false;
               return true;
           }();
}

std::vector<std::string> VersionConfig::hot_reload_folders() const {
    std::vector<std::string> out;
    if (!code_path.empty()) out.push_back(code_path);
    for (const auto& l : layers)
        if (!l.path.empty()) out.push_back(l.path);
    return out;
}

json VersionConfig::to_doc() const {
    json j = {{"version", version},
              {"description", description},
              {"source_description", source_description},
              {"runtime", runtime},
              {"role", role},
              {"handler", handler},
              {"timeout", timeout},
              {"memory_size", memory_size},
              {"ephemeral_storage", ephemeral_storage},
              {"architecture", architecture},
              {"package_type", package_type},
              {"code_sha256", code_sha256},
              {"code_blob", code_blob},
              {"code_size", code_size},
              {"unzipped_size", unzipped_size},
              {"tracing_mode", tracing_mode},
              {"log_format", log_format},
              {"log_group", log_group},
              {"snap_start_apply_on", snap_start_apply_on},
              {"runtime_version_arn", runtime_version_arn},
              {"last_modified_ms", last_modified_ms},
              {"revision_id", revision_id}};
    put_opt(j, "environment", environment);
    put_opt(j, "dead_letter_target", dead_letter_target);
    put_opt(j, "kms_key_arn", kms_key_arn);
    put_opt(j, "application_log_level", application_log_level);
    put_opt(j, "system_log_level", system_log_level);
    put_opt(j, "tenant_isolation_mode", tenant_isolation_mode);
    if (!code_path.empty()) j["code_path"] = code_path;
    if (!image_uri.empty()) {
        j["image_uri"] = image_uri;
        j["image_repository"] = image_repository;
    }
    if (image_config) {
        json ic = json::object();
        put_opt(ic, "entry_point", image_config->entry_point);
        put_opt(ic, "command", image_config->command);
        put_opt(ic, "working_directory", image_config->working_directory);
        j["image_config"] = std::move(ic);
    }
    json layers_doc = json::array();
    for (const auto& l : layers) {
        json ld = {{"arn", l.arn},
                   {"code_size", l.code_size},
                   {"unzipped_size", l.unzipped_size},
                   {"blob", l.blob}};
        if (!l.path.empty()) ld["path"] = l.path;
        layers_doc.push_back(std::move(ld));
    }
    j["layers"] = std::move(layers_doc);
    return j;
}

VersionConfig VersionConfig::from_doc(const json& j) {
    VersionConfig c;
    c.version = j.at("version").get<std::string>();
    c.description = j.value("description", "");
    c.source_description = j.value("source_description", "");
    c.runtime = j.value("runtime", "");
    c.role = j.value("role", "");
    c.handler = j.value("handler", "");
    c.timeout = j.value("timeout", c.timeout);
    c.memory_size = j.value("memory_size", c.memory_size);
    c.ephemeral_storage = j.value("ephemeral_storage", c.ephemeral_storage);
    c.architecture = j.value("architecture", "x86_64");
    c.package_type = j.value("package_type", "Zip");
    c.code_sha256 = j.value("code_sha256", "");
    c.code_blob = j.value("code_blob", "");
    c.code_size = j.value("code_size", std::int64_t{0});
    c.unzipped_size = j.value("unzipped_size", std::int64_t{0});
    c.tracing_mode = j.value("tracing_mode", "PassThrough");
    c.log_format = j.value("log_format", "Text");
    c.log_group = j.value("log_group", "");
    c.snap_start_apply_on = j.value("snap_start_apply_on", "None");
    c.runtime_version_arn = j.value("runtime_version_arn", "");
    c.last_modified_ms = j.value("last_modified_ms", std::int64_t{0});
    c.revision_id = j.value("revision_id", "");
    get_opt(j, "environment", c.environment);
    get_opt(j, "dead_letter_target", c.dead_letter_target);
    get_opt(j, "kms_key_arn", c.kms_key_arn);
    get_opt(j, "application_log_level", c.application_log_level);
    get_opt(j, "system_log_level", c.system_log_level);
    get_opt(j, "tenant_isolation_mode", c.tenant_isolation_mode);
    c.code_path = j.value("code_path", "");
    c.image_uri = j.value("image_uri", "");
    c.image_repository = j.value("image_repository", "");
    if (auto it = j.find("image_config"); it != j.end() && it->is_object()) {
        ImageConfig ic;
        get_opt(*it, "entry_point", ic.entry_point);
        get_opt(*it, "command", ic.command);
        get_opt(*it, "working_directory", ic.working_directory);
        c.image_config = std::move(ic);
    }
    if (auto it = j.find("layers"); it != j.end()) {
        for (const auto& l : *it)
            c.layers.push_back({l.at("arn").get<std::string>(),
                                l.value("code_size", std::int64_t{0}),
                                l.value("unzipped_size", std::int64_t{0}), l.value("blob", ""),
                                l.value("path", "")});
    }
    return c;
}

json Alias::to_doc() const {
    return {{"name", name},
            {"function_version", function_version},
            {"description", description},
            {"additional_weights", additional_weights},
            {"revision_id", revision_id}};
}

Alias Alias::from_doc(const json& j) {
    Alias a;
    a.name = j.at("name").get<std::string>();
    a.function_version = j.at("function_version").get<std::string>();
    a.description = j.value("description", "");
    if (auto it = j.find("additional_weights"); it != j.end())
        a.additional_weights = it->get<std::map<std::string, double>>();
    a.revision_id = j.value("revision_id", "");
    return a;
}

json Function::to_doc() const {
    json policies_doc = json::object();
    for (const auto& [q, p] : policies) {
        json st = json::array();
        for (const auto& s : p.statements) st.push_back(s.statement);
        policies_doc[q] = {{"statements", st}, {"revision_id", p.revision_id}};
    }
    json eic = json::object();
    for (const auto& [q, c] : event_invoke_configs) {
        json e = {{"last_modified", c.last_modified}};
        put_opt(e, "maximum_retry_attempts", c.maximum_retry_attempts);
        put_opt(e, "maximum_event_age_seconds", c.maximum_event_age_seconds);
        put_opt(e, "on_success", c.on_success);
        put_opt(e, "on_failure", c.on_failure);
        eic[q] = std::move(e);
    }
    json j = {{"name", name},
              {"latest", latest.to_doc()},
              {"last_version", last_version},
              {"policies", policies_doc},
              {"tags", tags},
              {"event_invoke_configs", eic},
              {"recursive_loop", recursive_loop},
              {"update_runtime_on", update_runtime_on}};
    put_opt(j, "reserved_concurrency", reserved_concurrency);
    put_opt(j, "pinned_runtime_version_arn", pinned_runtime_version_arn);
    if (!url_configs.empty()) {
        json urls = json::object();
        for (const auto& [q, u] : url_configs) {
            json e = {{"url_id", u.url_id},
                      {"auth_type", u.auth_type},
                      {"creation_time", u.creation_time},
                      {"last_modified_time", u.last_modified_time}};
            if (u.cors) e["cors"] = *u.cors;
            put_opt(e, "invoke_mode", u.invoke_mode);
            urls[q] = std::move(e);
        }
        j["url_configs"] = std::move(urls);
    }
    if (!provisioned.empty()) {
        json pc = json::object();
        for (const auto& [q, c] : provisioned)
            pc[q] = {{"requested", c.requested}, {"last_modified", c.last_modified}};
        j["provisioned"] = std::move(pc);
    }
    return j;
}

Function Function::from_doc(const json& j) {
    Function f;
    f.name = j.at("name").get<std::string>();
    f.latest = VersionConfig::from_doc(j.at("latest"));
    f.last_version = j.value("last_version", std::int64_t{0});
    const json policies_doc =
        j.value("policies", json::object());  // keep alive: items() refers to it
    for (const auto& [q, p] : policies_doc.items()) {
        ResourcePolicy rp;
        rp.revision_id = p.value("revision_id", "");
        for (const auto& s : p.at("statements")) rp.statements.push_back({s.value("Sid", ""), s});
        f.policies[q] = std::move(rp);
    }
    f.tags = j.value("tags", std::map<std::string, std::string>{});
    const json eic_doc = j.value("event_invoke_configs", json::object());
    for (const auto& [q, e] : eic_doc.items()) {
        EventInvokeConfig c;
        c.last_modified = e.value("last_modified", 0.0);
        get_opt(e, "maximum_retry_attempts", c.maximum_retry_attempts);
        get_opt(e, "maximum_event_age_seconds", c.maximum_event_age_seconds);
        get_opt(e, "on_success", c.on_success);
        get_opt(e, "on_failure", c.on_failure);
        f.event_invoke_configs[q] = c;
    }
    get_opt(j, "reserved_concurrency", f.reserved_concurrency);
    const json pc_doc = j.value("provisioned", json::object());
    for (const auto& [q, c] : pc_doc.items())
        f.provisioned[q] = ProvisionedConfig{c.value("requested", 0), c.value("last_modified", "")};
    const json url_doc = j.value("url_configs", json::object());
    for (const auto& [q, e] : url_doc.items()) {
        FunctionUrlConfig u;
        u.url_id = e.at("url_id").get<std::string>();
        u.auth_type = e.at("auth_type").get<std::string>();
        u.creation_time = e.value("creation_time", "");
        u.last_modified_time = e.value("last_modified_time", u.creation_time);
        if (auto c = e.find("cors"); c != e.end()) u.cors = *c;
        get_opt(e, "invoke_mode", u.invoke_mode);
        f.url_configs[q] = std::move(u);
    }
    f.recursive_loop = j.value("recursive_loop", "Terminate");
    f.update_runtime_on = j.value("update_runtime_on", "Auto");
    get_opt(j, "pinned_runtime_version_arn", f.pinned_runtime_version_arn);
    return f;
}

}  // namespace lamina::control
