#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lamina/common/encoding.hpp"
#include "sam/deployment.hpp"

// The apply phase: each resource created or updated through the Lambda API
// in dependency order, then the prune, the stack record and the outputs.

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string weight_text(double w) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g%%", std::round(w * 1000) / 10);
    return buf;
}

}  // namespace

void Deployment::say(const std::string& line) {
    report_.lines.push_back(line);
    if (say_) say_(line);
}

Result<DeployReport> Deployment::apply() {
    refs_.clear();
    atts_.clear();
    layer_users_.clear();
    for (const auto& id : plan_.order) {
        if (auto st = apply_resource(resources_.at(id)); !st) {
            rollback();
            return std::unexpected(st.error());
        }
    }
    // The template is applied: what cannot be pruned is reported and stays
    // on the record for the next deployment (or `lamina delete`) to retry,
    // rather than failing a deployment whose changes are already made.
    prune_stack(lambda_, previous_, next_, [this](const std::string& l) { say(l); });
    json record = {{"StackName", options_.stack_name},
                   {"Template", fs::absolute(t_.file).string()},
                   {"Resources", next_}};
    LAMINA_CHECK(lambda_.put_stack(options_.stack_name, record));
    LAMINA_TRY(outputs, evaluate_outputs());
    report_.outputs = std::move(outputs);
    // the plan pass and the apply pass both noticed them
    std::sort(report_.skipped.begin(), report_.skipped.end());
    report_.skipped.erase(std::unique(report_.skipped.begin(), report_.skipped.end()),
                          report_.skipped.end());
    return std::move(report_);
}

// Undoes, newest first, what this run created. Best effort: the deployment
// has already failed with its own error; a step that cannot be undone is
// reported (something already gone counts as undone).
void Deployment::rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it)
        if (auto st = absent_is_done((*it)()); !st) say("not undone: " + st.error().message);
    if (!undo_.empty())
        say("rolled back what this deployment created (" + std::to_string(undo_.size()) +
            " changes)");
    undo_.clear();
}

Status Deployment::apply_resource(const Resource& r) {
    LAMINA_TRY(props, props_of(r));
    if (is_function_type(r.type)) {
        LAMINA_TRY(f, function_spec(r, props));
        note_function(r, f);
        return apply_function(r, f);
    }
    if (is_layer_type(r.type)) {
        LAMINA_TRY(l, layer_spec(r, props));
        return apply_layer(r, l);
    }
    if (r.type == kVersion) {
        LAMINA_TRY(v, version_spec(r, props));
        return apply_version(r, v);
    }
    if (r.type == kAlias) {
        LAMINA_TRY(a, alias_spec(r, props));
        return apply_alias(r, a);
    }
    if (r.type == kPermission) {
        LAMINA_TRY(p, permission_spec(r, props));
        return apply_permission(r, p);
    }
    if (r.type == kEventInvokeConfig) {
        LAMINA_TRY(e, event_invoke_spec(r, props));
        return apply_event_invoke_config(r, e);
    }
    if (r.type == kLayerPermission) {
        LAMINA_TRY(p, layer_permission_spec(r, props));
        return apply_layer_permission(r, p);
    }
    if (r.type == kUrl) {
        LAMINA_TRY(u, url_spec(r, props));
        return apply_url(r, u);
    }
    if (r.type == kEventSourceMapping) {
        LAMINA_TRY(m, mapping_spec(r, props));
        return apply_mapping(r, m);
    }
    if (r.type == kQueue) {
        LAMINA_TRY(q, queue_spec(r, props));
        return apply_queue(r, q);
    }
    if (r.type == kBucket) {
        LAMINA_TRY(b, bucket_spec(r, props));
        return apply_bucket(r, b);
    }
    return {};
}

// ---- functions --------------------------------------------------------------

Status Deployment::apply_function(const Resource& r, const FunctionSpec& f) {
    json state = {{"Type", r.type}, {"FunctionName", f.name}, {"Code", f.code.fingerprint}};
    const json prev = previous_.value(r.id, json::object());
    LAMINA_TRY(existing, if_found(lambda_.get_function(f.name, r.id)));
    if (!existing) {
        json body = {{"FunctionName", f.name},
                     {"Runtime", f.runtime},
                     {"Role", f.role},
                     {"Handler", f.handler},
                     {"Code", f.code.body()},
                     {"Description", f.description},
                     {"Timeout", f.timeout},
                     {"MemorySize", f.memory},
                     {"PackageType", "Zip"},
                     {"Environment", {{"Variables", f.environment}}},
                     {"Layers", f.layers},
                     {"Architectures", {f.architecture}},
                     {"EphemeralStorage", {{"Size", f.ephemeral}}},
                     {"TracingConfig", {{"Mode", f.tracing}}}};
        if (!f.tags.empty()) body["Tags"] = f.tags;
        if (f.dead_letter && !f.dead_letter->empty())
            body["DeadLetterConfig"] = {{"TargetArn", *f.dead_letter}};
        if (f.kms_key) body["KMSKeyArn"] = *f.kms_key;
        if (f.tenancy) body["TenancyConfig"] = {{"TenantIsolationMode", *f.tenancy}};
        if (!f.image_uri.empty()) {
            body["PackageType"] = "Image";
            body["Code"] = {{"ImageUri", f.image_uri}};
            for (const char* zip_only : {"Runtime", "Handler", "Layers"}) body.erase(zip_only);
            if (!f.image_config.is_null()) body["ImageConfig"] = f.image_config;
        }
        if (f.docker_metadata)
            say("skipped  " + r.id +
                "  Metadata DockerContext/Dockerfile: lamina does not build images (it runs " +
                f.image_uri + " as pushed)");
        LAMINA_CHECK(lambda_.create_function(body, r.id));
        undo_.emplace_back(
            [this, id = r.id, name = f.name] { return lambda_.delete_function(name, id); });
        say("created  " + r.id + "  function " + f.name);
    } else {
        LAMINA_CHECK(update_function(r, f, *existing, prev));
    }
    json tag_keys = json::array();
    for (const auto& [k, _] : f.tags.items()) tag_keys.push_back(k);
    state["TagKeys"] = tag_keys;

    if (f.reserved) {
        LAMINA_CHECK(lambda_.put_function_concurrency(f.name, *f.reserved, r.id));
        state["Reserved"] = *f.reserved;
    } else if (prev.contains("Reserved")) {
        LAMINA_CHECK(lambda_.delete_function_concurrency(f.name, r.id));
    }

    std::string qualifier = "$LATEST";
    if (f.alias) {
        qualifier = *f.alias;
        LAMINA_CHECK(publish_and_shift(r, f, prev, state));
    } else if (prev.contains("Alias")) {
        // AutoPublishAlias was removed: so is the alias (already gone is fine)
        LAMINA_CHECK(
            absent_is_done(lambda_.delete_alias(f.name, prev["Alias"].get<std::string>(), r.id)));
    }
    // EventInvokeConfig on the alias (or $LATEST)
    if (!f.event_invoke.is_null()) {
        LAMINA_CHECK(
            lambda_.put_function_event_invoke_config(f.name, qualifier, f.event_invoke, r.id));
        state["EventInvokeQualifier"] = qualifier;
    }
    if (prev.contains("EventInvokeQualifier") &&
        (f.event_invoke.is_null() || prev["EventInvokeQualifier"] != qualifier))
        LAMINA_CHECK(absent_is_done(lambda_.delete_function_event_invoke_config(
            f.name, prev["EventInvokeQualifier"].get<std::string>(), r.id)));
    next_[r.id] = state;
    return {};
}

// Brings an existing function to the spec: code, configuration and tags.
Status Deployment::update_function(const Resource& r, const FunctionSpec& f, const json& existing,
                                   const json& prev) {
    bool changed = false;
    const json& cfg = existing["Configuration"];
    // TenancyConfig cannot change in place ("Update requires: Replacement")
    std::optional<std::string> tenancy;
    if (auto t = cfg.find("TenancyConfig"); t != cfg.end() && t->is_object())
        tenancy = t->value("TenantIsolationMode", std::string());
    if (tenancy != f.tenancy)
        return fail(ErrorCode::InvalidParameterValue,
                    r.id + ": TenancyConfig of function " + f.name +
                        " cannot change after it was created (CloudFormation replaces the "
                        "function); lamina does not replace it: delete the function or the stack "
                        "first, or give the function another FunctionName.");
    const bool image = !f.image_uri.empty();
    bool code_changed =
        image ? prev.value("Code", std::string()) != f.code.fingerprint
        : f.code.s3.is_null()
            ? cfg.value("CodeSha256", std::string()) != base64_encode(sha256(f.code.zip))
            : prev.value("Code", std::string()) != f.code.fingerprint;
    std::string arch = cfg.contains("Architectures") && !cfg["Architectures"].empty()
                           ? cfg["Architectures"][0].get<std::string>()
                           : "x86_64";
    if (code_changed || arch != f.architecture) {
        json body = image ? json{{"ImageUri", f.image_uri}} : f.code.body();
        body["Architectures"] = {f.architecture};
        LAMINA_CHECK(lambda_.update_function_code(f.name, body, r.id));
        changed = true;
    }
    std::vector<std::string> current_layers;
    for (const auto& l : cfg.value("Layers", json::array()))
        current_layers.push_back(l.value("Arn", std::string()));
    bool config_changed =
        cfg.value("Runtime", std::string()) != f.runtime ||
        cfg.value("Role", std::string()) != f.role ||
        cfg.value("Handler", std::string()) != f.handler ||
        cfg.value("Description", std::string()) != f.description ||
        cfg.value("Timeout", 0) != f.timeout || cfg.value("MemorySize", 0) != f.memory ||
        cfg.value("Environment", json::object()).value("Variables", json::object()) !=
            f.environment ||
        current_layers != f.layers ||
        cfg.value("EphemeralStorage", json::object()).value("Size", 512) != f.ephemeral ||
        cfg.value("TracingConfig", json::object()).value("Mode", std::string("PassThrough")) !=
            f.tracing ||
        (image &&
         cfg.value("ImageConfigResponse", json::object()).value("ImageConfig", json::object()) !=
             (f.image_config.is_null() ? json::object() : f.image_config));
    if (config_changed) {
        json body = {{"Runtime", f.runtime},
                     {"Role", f.role},
                     {"Handler", f.handler},
                     {"Description", f.description},
                     {"Timeout", f.timeout},
                     {"MemorySize", f.memory},
                     {"Environment", {{"Variables", f.environment}}},
                     {"Layers", f.layers},
                     {"EphemeralStorage", {{"Size", f.ephemeral}}},
                     {"TracingConfig", {{"Mode", f.tracing}}}};
        if (image) {
            for (const char* zip_only : {"Runtime", "Handler", "Layers"}) body.erase(zip_only);
            body["ImageConfig"] = f.image_config.is_null() ? json::object() : f.image_config;
        }
        LAMINA_CHECK(lambda_.update_function_configuration(f.name, body, r.id));
        changed = true;
    }
    // tags: add what differs, remove what an earlier deployment set and this one does not
    json current_tags = existing.value("Tags", json::object());
    json add = json::object();
    for (const auto& [k, v] : f.tags.items())
        if (current_tags.value(k, json()) != v) add[k] = v;
    if (!add.empty()) LAMINA_CHECK(lambda_.tag_resource(function_arn(f.name), add, r.id));
    std::vector<std::string> remove;
    for (const auto& k : prev.value("TagKeys", json::array()))
        if (!f.tags.contains(k.get<std::string>()) && current_tags.contains(k.get<std::string>()))
            remove.push_back(k.get<std::string>());
    if (!remove.empty()) LAMINA_CHECK(lambda_.untag_resource(function_arn(f.name), remove, r.id));
    say(std::string(changed ? "updated  " : "unchanged ") + r.id + "  function " + f.name);
    return {};
}

// AutoPublishAlias: a new version, the alias moved to it (at once, or the
// first step of its DeploymentPreference), and the alias's provisioned
// concurrency.
Status Deployment::publish_and_shift(const Resource& r, const FunctionSpec& f, const json& prev,
                                     json& state) {
    const std::string& alias = *f.alias;
    json body = json::object();
    if (f.version_description) body["Description"] = *f.version_description;
    LAMINA_TRY(published, lambda_.publish_version(f.name, body, r.id));
    std::string v = published.value("Version", std::string());
    refs_[r.id + ".Version"] = function_arn(f.name) + ":" + v;
    LAMINA_TRY(current, if_found(lambda_.get_alias(f.name, alias, r.id)));
    // a shift still running from an earlier deployment ends here (unless replaced below)
    report_.shifts.push_back(TrafficShift{f.name, alias, "", v, {}});
    if (!current) {
        LAMINA_CHECK(
            lambda_.create_alias(f.name, json{{"Name", alias}, {"FunctionVersion", v}}, r.id));
        say("         " + r.id + "  alias " + alias + " -> version " + v);
    } else {
        std::string from = current->value("FunctionVersion", std::string());
        bool routed =
            current->contains("RoutingConfig") &&
            !(*current)["RoutingConfig"].value("AdditionalVersionWeights", json::object()).empty();
        if (from != v || routed) {
            auto steps = f.deployment_type
                             ? *deployment_steps(*f.deployment_type, options_.minute_seconds)
                             : std::vector<TrafficShift::Step>{};
            if (from != v && !steps.empty() && steps.front().weight < 1.0) {
                LAMINA_CHECK(update_alias(f.name, alias, from, v, steps.front().weight, r.id));
                say("         " + r.id + "  alias " + alias + ": " + *f.deployment_type +
                    " from version " + from + " to " + v + " (" +
                    weight_text(steps.front().weight) + " now)");
                report_.shifts.back() =
                    TrafficShift{f.name, alias, from, v,
                                 std::vector<TrafficShift::Step>(steps.begin() + 1, steps.end())};
            } else {
                LAMINA_CHECK(update_alias(f.name, alias, v, v, 1.0, r.id));
                say("         " + r.id + "  alias " + alias + " -> version " + v);
            }
        }
    }
    state["Alias"] = alias;
    if (f.provisioned) {
        LAMINA_TRY(pc, if_found(lambda_.get_provisioned_concurrency_config(f.name, alias, r.id)));
        if (!pc || pc->value("RequestedProvisionedConcurrentExecutions", 0) != *f.provisioned)
            LAMINA_CHECK(
                lambda_.put_provisioned_concurrency_config(f.name, alias, *f.provisioned, r.id));
        state["Provisioned"] = *f.provisioned;
    } else if (prev.contains("Provisioned")) {
        LAMINA_CHECK(
            absent_is_done(lambda_.delete_provisioned_concurrency_config(f.name, alias, r.id)));
    }
    return {};
}

Status Deployment::update_alias(const std::string& fn, const std::string& alias,
                                const std::string& primary, const std::string& additional,
                                double weight, const std::string& who) {
    json body = {{"FunctionVersion", primary}};
    body["RoutingConfig"] = {{"AdditionalVersionWeights", json::object()}};
    if (weight < 1.0) body["RoutingConfig"]["AdditionalVersionWeights"][additional] = weight;
    return lambda_.update_alias(fn, alias, body, who);
}

// ---- layers, versions, aliases ----------------------------------------------

Status Deployment::apply_layer(const Resource& r, const LayerSpec& l) {
    const json prev = previous_.value(r.id, json::object());
    json versions = prev.value("Versions", json::array());
    std::string arn;
    if (prev.value("Fingerprint", std::string()) == l.fingerprint &&
        prev.contains("LayerVersionArn")) {
        // unchanged: the version made last time, unless it was deleted since
        auto still =
            lambda_.get_layer_version_by_arn(prev["LayerVersionArn"].get<std::string>(), r.id);
        if (still)
            arn = prev["LayerVersionArn"];
        else if (still.error().code != ErrorCode::ResourceNotFound)
            return std::unexpected(still.error());
    }
    if (arn.empty()) {
        LAMINA_TRY(published, lambda_.publish_layer_version(l.name, l.body, r.id));
        arn = published.value("LayerVersionArn", std::string());
        LayerVersionId made{l.name, published.value("Version", std::int64_t{0})};
        undo_.emplace_back(
            [this, id = r.id, made] { return lambda_.delete_layer_version(made, id); });
        say("published " + r.id + "  layer " + arn);
        versions.push_back(arn);
    } else {
        say("unchanged " + r.id + "  layer " + arn);
    }
    refs_[r.id] = arn;
    layer_arns_[r.id] = arn;
    next_[r.id] = {{"Type", r.type},         {"LayerName", l.name},
                   {"LayerVersionArn", arn}, {"Fingerprint", l.fingerprint},
                   {"Retain", l.retain},     {"Versions", versions}};
    return {};
}

Status Deployment::apply_version(const Resource& r, const VersionSpec& s) {
    LAMINA_TRY(published, lambda_.publish_version(s.function, s.body, r.id));
    std::string v = published.value("Version", std::string());
    refs_[r.id] = function_arn(s.function) + ":" + v;
    atts_[r.id + ".Version"] = v;
    atts_[r.id + ".FunctionArn"] = function_arn(s.function);
    if (s.provisioned)
        LAMINA_CHECK(
            lambda_.put_provisioned_concurrency_config(s.function, v, *s.provisioned, r.id));
    say("version  " + r.id + "  " + s.function + ":" + v);
    next_[r.id] = {{"Type", r.type},
                   {"FunctionName", s.function},
                   {"Version", v},
                   {"Retain", r.deletion_policy == "Retain"}};
    return {};
}

Status Deployment::apply_alias(const Resource& r, const AliasSpec& a) {
    LAMINA_TRY(current, if_found(lambda_.get_alias(a.function, a.name, r.id)));
    if (!current) {
        json create = a.body;
        create["Name"] = a.name;
        LAMINA_CHECK(lambda_.create_alias(a.function, create, r.id));
        undo_.emplace_back(
            [this, id = r.id, a] { return lambda_.delete_alias(a.function, a.name, id); });
        say("created  " + r.id + "  alias " + a.function + ":" + a.name + " -> " + a.version);
    } else {
        LAMINA_CHECK(lambda_.update_alias(a.function, a.name, a.body, r.id));
        say("updated  " + r.id + "  alias " + a.function + ":" + a.name + " -> " + a.version);
    }
    const json prev = previous_.value(r.id, json::object());
    if (a.provisioned)
        LAMINA_CHECK(
            lambda_.put_provisioned_concurrency_config(a.function, a.name, *a.provisioned, r.id));
    else if (prev.contains("Provisioned"))
        LAMINA_CHECK(absent_is_done(
            lambda_.delete_provisioned_concurrency_config(a.function, a.name, r.id)));
    next_[r.id] = {{"Type", r.type}, {"FunctionName", a.function}, {"Name", a.name}};
    if (a.provisioned) next_[r.id]["Provisioned"] = *a.provisioned;
    return {};
}

// ---- policies and asynchronous invocation -----------------------------------

Status Deployment::apply_permission(const Resource& r, const PermissionSpec& p) {
    std::string fingerprint = p.body.dump() + "|" + p.function + "|" + p.qualifier;
    const json prev = previous_.value(r.id, json::object());
    if (prev.value("Fingerprint", std::string()) == fingerprint) {
        LAMINA_TRY(policy, if_found(lambda_.get_policy(p.function, p.qualifier, r.id)));
        if (policy && policy->dump().find(p.sid) != std::string::npos) {
            next_[r.id] = prev;
            say("unchanged " + r.id + "  permission " + p.sid);
            return {};
        }
    }
    if (prev.contains("StatementId"))
        LAMINA_CHECK(absent_is_done(lambda_.remove_permission(
            prev.value("FunctionName", p.function), prev.value("Qualifier", std::string()),
            prev["StatementId"].get<std::string>(), r.id)));
    LAMINA_CHECK(lambda_.add_permission(p.function, p.qualifier, p.body, r.id));
    undo_.emplace_back([this, id = r.id, p] {
        return lambda_.remove_permission(p.function, p.qualifier, p.sid, id);
    });
    say("added    " + r.id + "  permission " + p.sid + " on " + p.function +
        (p.qualifier.empty() ? "" : ":" + p.qualifier));
    next_[r.id] = {{"Type", r.type},
                   {"FunctionName", p.function},
                   {"Qualifier", p.qualifier},
                   {"StatementId", p.sid},
                   {"Fingerprint", fingerprint}};
    return {};
}

Status Deployment::apply_event_invoke_config(const Resource& r, const EventInvokeSpec& e) {
    LAMINA_CHECK(lambda_.put_function_event_invoke_config(e.function, e.qualifier, e.body, r.id));
    say("put      " + r.id + "  event invoke config " + e.function + ":" + e.qualifier);
    next_[r.id] = {{"Type", r.type}, {"FunctionName", e.function}, {"Qualifier", e.qualifier}};
    return {};
}

// A function URL keeps its id (so its URL) for as long as the template has
// it on the same function or alias: an existing one is updated, not replaced.
Status Deployment::apply_url(const Resource& r, const UrlSpec& u) {
    const json prev = previous_.value(r.id, json::object());
    const std::string where = u.function + (u.qualifier.empty() ? "" : ":" + u.qualifier);
    LAMINA_TRY(existing, if_found(lambda_.get_function_url_config(u.function, u.qualifier, r.id)));
    json now;
    if (!existing) {
        LAMINA_TRY(made, lambda_.create_function_url_config(u.function, u.qualifier, u.body, r.id));
        undo_.emplace_back([this, id = r.id, u] {
            return lambda_.delete_function_url_config(u.function, u.qualifier, id);
        });
        now = std::move(made);
        say("created  " + r.id + "  function url " + where + " " +
            now.value("FunctionUrl", std::string()));
    } else {
        if (prev.value("FunctionName", std::string()) != u.function ||
            prev.value("Qualifier", std::string()) != u.qualifier)
            return fail(ErrorCode::InvalidParameterValue,
                        r.id + ": " + where + " already has a function URL, not made by stack " +
                            options_.stack_name + " (delete it, or put this one elsewhere)");
        // Update keeps what it is not sent: what the template dropped is reset
        json want = u.body;
        if (!want.contains("Cors")) want["Cors"] = json::object();
        if (!want.contains("InvokeMode")) want["InvokeMode"] = "BUFFERED";
        // json against json (clang finds std::string == json ambiguous)
        bool same =
            json(existing->value("AuthType", std::string())) == want["AuthType"] &&
            existing->value("Cors", json::object()) == want["Cors"] &&
            json(existing->value("InvokeMode", std::string("BUFFERED"))) == want["InvokeMode"];
        if (same) {
            now = std::move(*existing);
        } else {
            LAMINA_TRY(updated,
                       lambda_.update_function_url_config(u.function, u.qualifier, want, r.id));
            now = std::move(updated);
        }
        say(std::string(same ? "unchanged " : "updated  ") + r.id + "  function url " + where +
            " " + now.value("FunctionUrl", std::string()));
    }
    const std::string url = now.value("FunctionUrl", std::string());
    atts_[r.id + ".FunctionUrl"] = url;
    report_.function_urls[r.id] = url;
    next_[r.id] = {{"Type", r.type},
                   {"FunctionName", u.function},
                   {"Qualifier", u.qualifier},
                   {"FunctionUrl", url}};
    return {};
}

Status Deployment::apply_layer_permission(const Resource& r, const LayerPermissionSpec& p) {
    std::string fingerprint = p.body.dump() + "|" + p.arn;
    const json prev = previous_.value(r.id, json::object());
    if (prev.value("Fingerprint", std::string()) == fingerprint) {
        LAMINA_TRY(policy, if_found(lambda_.get_layer_version_policy(p.layer, r.id)));
        if (policy && policy->dump().find(p.sid) != std::string::npos) {
            next_[r.id] = prev;
            return {};
        }
    }
    if (prev.contains("Base")) {
        auto old = LambdaCalls::parse_layer_version_policy_path(prev["Base"].get<std::string>());
        if (!old)
            return fail(ErrorCode::Service,
                        r.id + ": the stack record names no layer version policy: " +
                            prev["Base"].get<std::string>());
        LAMINA_CHECK(absent_is_done(lambda_.remove_layer_version_permission(*old, p.sid, r.id)));
    }
    LAMINA_CHECK(lambda_.add_layer_version_permission(p.layer, p.body, r.id));
    undo_.emplace_back([this, id = r.id, p] {
        return lambda_.remove_layer_version_permission(p.layer, p.sid, id);
    });
    say("added    " + r.id + "  layer permission " + p.sid + " on " + p.arn);
    next_[r.id] = {{"Type", r.type},
                   {"Base", LambdaCalls::layer_version_policy_path(p.layer)},
                   {"StatementId", p.sid},
                   {"Fingerprint", fingerprint}};
    return {};
}

}  // namespace lamina::sam
