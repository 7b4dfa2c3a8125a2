#include <algorithm>
#include <regex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/names.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/sam/code_package.hpp"
#include "sam/deployment.hpp"

// The resource specs: each emulated resource type's properties read and
// checked into what its Lambda calls take. The plan and the apply phase both
// read them here.

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

std::string short_hash(const std::string& text, std::size_t n) {
    std::string hex = to_hex(sha256(text));
    std::string out = hex.substr(0, n);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    return out;
}

std::string generated_name(const std::string& stack, const std::string& id, std::size_t max) {
    std::string suffix = "-" + short_hash(stack + "/" + id);
    std::string base = stack + "-" + id;
    if (base.size() + suffix.size() > max) base.resize(max - suffix.size());
    return base + suffix;
}

std::string escape_pointer(const std::string& k) {
    std::string out;
    for (char c : k)
        out += c == '/' ? std::string("~1") : c == '~' ? std::string("~0") : std::string(1, c);
    return out;
}

std::pair<std::string, std::string> function_name_and_qualifier(const std::string& v) {
    static const std::regex kArn(
        R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:([a-zA-Z0-9_-]+)(?::([a-zA-Z0-9$_-]+))?)");
    std::smatch m;
    if (regex_full_match(v, m, kArn)) return {m[1], m[2].matched ? m[2].str() : ""};
    auto colon = v.find(':');
    if (colon != std::string::npos && v.rfind("arn:", 0) != 0)
        return {v.substr(0, colon), v.substr(colon + 1)};
    return {v, ""};
}

namespace {

std::string last_segment(const std::string& s) { return s.substr(s.rfind(':') + 1); }

// Reads and checks an integer property.
Result<std::optional<std::int64_t>> int_prop(const Template& t, const json& props,
                                             const std::string& pointer, const std::string& name,
                                             std::int64_t lo, std::int64_t hi) {
    if (!props.contains(name) || props[name].is_null()) return std::optional<std::int64_t>();
    const json& v = props[name];
    std::int64_t n = 0;
    bool ok = false;
    if (v.is_number_integer()) {
        n = v.get<std::int64_t>();
        ok = true;
    } else if (v.is_string()) {
        try {
            std::size_t used = 0;
            n = std::stoll(v.get<std::string>(), &used);
            ok = used == v.get<std::string>().size();
        } catch (const std::exception&) {
        }
    }
    std::string p = pointer + "/" + escape_pointer(name);
    if (!ok) return std::unexpected(t.error_at(p, "must be an integer, got " + v.dump()));
    if (n < lo || n > hi)
        return std::unexpected(t.error_at(p, "must be between " + std::to_string(lo) + " and " +
                                                 std::to_string(hi) + ", got " +
                                                 std::to_string(n)));
    return std::optional<std::int64_t>(n);
}

// An integer property bounded as the Lambda API bounds it.
Result<std::optional<std::int64_t>> limited_prop(const Template& t, const json& props,
                                                 const std::string& pointer,
                                                 const control::SettingLimit& limit) {
    return int_prop(t, props, pointer, limit.key, limit.model_min, limit.max());
}

Result<std::optional<std::string>> string_prop(const Template& t, const json& props,
                                               const std::string& pointer,
                                               const std::string& name) {
    if (!props.contains(name) || props[name].is_null()) return std::optional<std::string>();
    const json& v = props[name];
    if (v.is_string()) return std::optional<std::string>(v.get<std::string>());
    if (v.is_number() || v.is_boolean()) return std::optional<std::string>(v.dump());
    return std::unexpected(
        t.error_at(pointer + "/" + escape_pointer(name), "must be a string, got " + v.dump()));
}

Result<std::vector<std::string>> string_list(const Template& t, const json& props,
                                             const std::string& pointer, const std::string& name) {
    std::vector<std::string> out;
    if (!props.contains(name) || props[name].is_null()) return out;
    const json& v = props[name];
    if (!v.is_array())
        return std::unexpected(t.error_at(pointer + "/" + escape_pointer(name), "must be a list"));
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string())
            return std::unexpected(
                t.error_at(pointer + "/" + escape_pointer(name) + "/" + std::to_string(i),
                           "must be a string"));
        out.push_back(v[i].get<std::string>());
    }
    return out;
}

}  // namespace

Result<CodeSource> Deployment::code_source(const Resource& r, const json& props,
                                           const std::string& runtime) {
    CodeSource c;
    auto s3_from = [&](const json& v, const std::string& p) -> Status {
        if (v.is_string()) {
            static const std::regex kS3(R"(s3://([^/]+)/(.+))");
            std::smatch m;
            std::string s = v;
            if (!regex_full_match(s, m, kS3)) return {};
            c.s3 = {{"S3Bucket", m[1].str()}, {"S3Key", m[2].str()}};
        } else if (v.is_object() && (v.contains("Bucket") || v.contains("S3Bucket"))) {
            std::string b = v.contains("Bucket") ? "Bucket" : "S3Bucket";
            std::string k = v.contains("Key") ? "Key" : "S3Key";
            if (!v.contains(k)) return std::unexpected(t_.error_at(p, "needs a " + k));
            c.s3 = {{"S3Bucket", v[b]}, {"S3Key", v[k]}};
            for (const char* ver : {"Version", "S3ObjectVersion"})
                if (v.contains(ver)) c.s3["S3ObjectVersion"] = v[ver];
        } else {
            return std::unexpected(
                t_.error_at(p, "must be a local path, s3://bucket/key or {Bucket, Key}"));
        }
        c.fingerprint = "s3:" + c.s3.dump();
        return {};
    };
    auto local = [&](const std::string& path, const std::string& p) -> Status {
        fs::path full = fs::path(path).is_absolute() ? fs::path(path) : base_ / path;
        std::error_code ec;
        if (!fs::exists(full, ec))
            return std::unexpected(
                t_.error_at(p, "the folder or zip " + full.string() + " does not exist"));
        if (!options_.hot_reload_bucket.empty() && fs::is_directory(full, ec)) {
            // hot reload: the server binds the folder itself; nothing to zip or watch here
            std::string folder = fs::weakly_canonical(full, ec).string();
            c.s3 = {{"S3Bucket", options_.hot_reload_bucket}, {"S3Key", folder}};
            c.fingerprint = "hot-reload:" + folder;
            return {};
        }
        if (auto cached = packaged_.find(full.string()); cached != packaged_.end()) {
            c.zip = cached->second;
        } else {
            auto zip = package_code(full);
            if (!zip) return std::unexpected(t_.error_at(p, zip.error().message));
            packaged_[full.string()] = *zip;
            c.zip = std::move(*zip);
        }
        if (fs::is_directory(full, ec)) c.folder = fs::weakly_canonical(full, ec);
        c.fingerprint = "sha256:" + base64_encode(sha256(c.zip));
        return {};
    };
    auto inline_code = [&](const std::string& source) -> Status {
        std::string file = runtime.rfind("nodejs", 0) == 0   ? "index.js"
                           : runtime.rfind("python", 0) == 0 ? "index.py"
                                                             : "index";
        auto zip = zip_single_file(file, source);
        if (!zip) return std::unexpected(zip.error());
        c.zip = std::move(*zip);
        c.fingerprint = "sha256:" + base64_encode(sha256(c.zip));
        return {};
    };
    std::string p = r.pointer;
    if (r.type == kServerlessFunction || r.type == kServerlessLayer) {
        std::string key = r.type == kServerlessFunction ? "CodeUri" : "ContentUri";
        if (r.type == kServerlessFunction && props.contains("InlineCode")) {
            if (!props["InlineCode"].is_string())
                return std::unexpected(t_.error_at(p + "/InlineCode", "must be a string"));
            LAMINA_CHECK(inline_code(props["InlineCode"]));
            return c;
        }
        if (!props.contains(key))
            return std::unexpected(
                t_.error_at(p, r.type == kServerlessFunction
                                   ? "CodeUri or InlineCode is required (lamina runs zip functions)"
                                   : "ContentUri is required"));
        const json& v = props[key];
        LAMINA_CHECK(s3_from(v, p + "/" + key));
        if (c.s3.is_null()) LAMINA_CHECK(local(v.get<std::string>(), p + "/" + key));
        return c;
    }
    std::string key = r.type == kFunction ? "Code" : "Content";
    if (!props.contains(key)) return std::unexpected(t_.error_at(p, key + " is required"));
    const json& v = props[key];
    if (v.is_object() && v.contains("ZipFile")) {
        if (!v["ZipFile"].is_string())
            return std::unexpected(
                t_.error_at(p + "/" + key + "/ZipFile", "must be the source text"));
        LAMINA_CHECK(inline_code(v["ZipFile"]));
        return c;
    }
    if (v.is_object() && v.contains("ImageUri"))
        return std::unexpected(
            t_.error_at(p + "/" + key + "/ImageUri",
                        "container images are not supported by lamina (zip functions only)"));
    LAMINA_CHECK(s3_from(v, p + "/" + key));
    if (c.s3.is_null()) LAMINA_CHECK(local(v.get<std::string>(), p + "/" + key));
    return c;
}

json CodeSource::body() const {
    if (!s3.is_null()) return s3;
    return json{{"ZipFile", base64_encode(zip)}};
}

Result<FunctionSpec> Deployment::function_spec(const Resource& r, const json& props) {
    FunctionSpec f;
    const std::string& p = r.pointer;
    LAMINA_TRY(name, string_prop(t_, props, p, "FunctionName"));
    f.name = name ? *name : generated_name(options_.stack_name, r.id);
    if (name) {
        if (!control::is_plain_function_name(*name))
            return std::unexpected(
                t_.error_at(p + "/FunctionName",
                            "'" + *name + "' is not a valid function name (1-64 of A-Za-z0-9_-)"));
    }
    LAMINA_TRY(package_type, string_prop(t_, props, p, "PackageType"));
    if (package_type && *package_type != "Zip" && *package_type != "Image")
        return std::unexpected(t_.error_at(
            p + "/PackageType", "PackageType " + *package_type + " is not Zip or Image"));
    const bool image = package_type == "Image";
    if (image) {
        // SAM: ImageUri; AWS::Lambda::Function: Code.ImageUri
        const json* uri = props.contains("ImageUri") ? &props["ImageUri"] : nullptr;
        if (!uri && props.contains("Code") && props["Code"].is_object() &&
            props["Code"].contains("ImageUri"))
            uri = &props["Code"]["ImageUri"];
        if (!uri || !uri->is_string())
            return std::unexpected(t_.error_at(
                p,
                "ImageUri is required for a PackageType: Image function (lamina does not "
                "build images: push one to lamina's registry and name it)"));
        for (const char* zip_only : {"Runtime", "Handler", "Layers", "CodeUri", "InlineCode"})
            if (props.contains(zip_only))
                return std::unexpected(t_.error_at(
                    p + "/" + zip_only,
                    std::string(zip_only) + " is not for a PackageType: Image function"));
        f.image_uri = uri->get<std::string>();
        f.docker_metadata = r.builds_image;
        if (props.contains("ImageConfig")) {
            if (!props["ImageConfig"].is_object())
                return std::unexpected(t_.error_at(p + "/ImageConfig", "must be a mapping"));
            f.image_config = props["ImageConfig"];
        }
    } else if (props.contains("ImageUri")) {
        return std::unexpected(
            t_.error_at(p + "/ImageUri", "ImageUri is for PackageType: Image functions"));
    }
    LAMINA_TRY(runtime, string_prop(t_, props, p, "Runtime"));
    if (!runtime && !image)
        return std::unexpected(t_.error_at(p, "Runtime is required for a zip function"));
    if (image) runtime = "";
    if (auto st = image ? Status{} : control::validate_runtime(*runtime); !st)
        return std::unexpected(t_.error_at(p + "/Runtime", st.error().message));
    f.runtime = *runtime;
    LAMINA_TRY(handler, string_prop(t_, props, p, "Handler"));
    static const std::regex kHandler(R"([^\s]+)");
    if (!handler && !image)
        return std::unexpected(t_.error_at(p, "Handler is required for a zip function"));
    if (!image && (handler->size() > control::limits::kHandlerLength ||
                   !regex_full_match(*handler, kHandler)))
        return std::unexpected(t_.error_at(
            p + "/Handler", "must be 1-" + std::to_string(control::limits::kHandlerLength) +
                                " characters without whitespace"));
    f.handler = handler.value_or("");
    LAMINA_TRY(role, string_prop(t_, props, p, "Role"));
    if (!role && r.type == kFunction) return std::unexpected(t_.error_at(p, "Role is required"));
    f.role = role ? *role
                  : "arn:aws:iam::" + plan_.account + ":role/" +
                        generated_name(options_.stack_name, r.id + "Role");
    static const std::regex kRole(control::kRolePattern);
    if (!regex_full_match(f.role, kRole))
        return std::unexpected(t_.error_at(p + "/Role", "'" + f.role + "' is not an IAM role ARN"));
    LAMINA_TRY(description, string_prop(t_, props, p, "Description"));
    f.description = description.value_or("");
    if (f.description.size() > control::limits::kDescriptionLength)
        return std::unexpected(t_.error_at(p + "/Description",
                                           "must be at most " +
                                               std::to_string(control::limits::kDescriptionLength) +
                                               " characters"));
    LAMINA_TRY(memory, limited_prop(t_, props, p, control::limits::kMemorySize));
    f.memory = memory.value_or(control::limits::kMemorySize.default_value);
    LAMINA_TRY(timeout, limited_prop(t_, props, p, control::limits::kTimeout));
    f.timeout = timeout.value_or(control::limits::kTimeout.default_value);
    if (props.contains("EphemeralStorage")) {
        LAMINA_TRY(size, limited_prop(t_, props["EphemeralStorage"], p + "/EphemeralStorage",
                                      control::limits::kEphemeralStorage));
        f.ephemeral = size.value_or(control::limits::kEphemeralStorage.default_value);
    }
    if (props.contains("Environment")) {
        const json& e = props["Environment"];
        if (!e.is_object())
            return std::unexpected(
                t_.error_at(p + "/Environment", "must be a mapping with Variables"));
        json vars = e.value("Variables", json::object());
        if (!vars.is_object())
            return std::unexpected(t_.error_at(p + "/Environment/Variables", "must be a mapping"));
        std::vector<std::pair<std::string, std::string>> list;
        for (auto& [k, v] : vars.items()) {
            if (v.is_object() || v.is_array() || v.is_null())
                return std::unexpected(t_.error_at(
                    p + "/Environment/Variables/" + escape_pointer(k), "must be a string"));
            std::string s = v.is_string() ? v.get<std::string>() : v.dump();
            f.environment[k] = s;
            list.emplace_back(k, s);
        }
        if (auto st = control::validate_environment(list); !st)
            return std::unexpected(t_.error_at(p + "/Environment", st.error().message));
    }
    LAMINA_TRY(layers, string_list(t_, props, p, "Layers"));
    if (layers.size() > control::limits::kMaxLayers)
        return std::unexpected(t_.error_at(
            p + "/Layers", "a function can use at most " +
                               std::to_string(control::limits::kMaxLayers) + " layers"));
    f.layers = layers;
    if (props.contains("TenancyConfig")) {
        const json& t = props["TenancyConfig"];
        if (!t.is_object() || t.value("TenantIsolationMode", json()) != "PER_TENANT")
            return std::unexpected(t_.error_at(p + "/TenancyConfig",
                                               "must be a mapping with TenantIsolationMode: "
                                               "PER_TENANT (its one allowed value)"));
        f.tenancy = "PER_TENANT";
    }
    LAMINA_TRY(archs, string_list(t_, props, p, "Architectures"));
    if (archs.size() > 1 || (archs.size() == 1 && archs[0] != "x86_64" && archs[0] != "arm64"))
        return std::unexpected(t_.error_at(p + "/Architectures", "must be [x86_64] or [arm64]"));
    if (!archs.empty()) f.architecture = archs[0];
    if (r.type == kServerlessFunction) {
        LAMINA_TRY(tracing, string_prop(t_, props, p, "Tracing"));
        if (tracing) {
            if (*tracing != "Active" && *tracing != "PassThrough" && *tracing != "Disabled")
                return std::unexpected(
                    t_.error_at(p + "/Tracing", "must be Active, PassThrough or Disabled"));
            f.tracing = *tracing == "Active" ? "Active" : "PassThrough";
        }
        if (props.contains("Tags")) {
            if (!props["Tags"].is_object())
                return std::unexpected(t_.error_at(p + "/Tags", "must be a mapping"));
            for (const auto& [k, v] : props["Tags"].items())
                f.tags[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
        if (props.contains("DeadLetterQueue") && props["DeadLetterQueue"].is_object())
            f.dead_letter = props["DeadLetterQueue"].value("TargetArn", std::string());
        LAMINA_TRY(alias, string_prop(t_, props, p, "AutoPublishAlias"));
        if (alias && !control::is_valid_alias_name(*alias))
            return std::unexpected(
                t_.error_at(p + "/AutoPublishAlias", "'" + *alias + "' is not a valid alias name"));
        f.alias = alias;
        LAMINA_TRY(vd, string_prop(t_, props, p, "VersionDescription"));
        f.version_description = vd;
        if (props.contains("ProvisionedConcurrencyConfig")) {
            if (!alias)
                return std::unexpected(t_.error_at(
                    p + "/ProvisionedConcurrencyConfig",
                    "needs AutoPublishAlias (provisioned concurrency is configured on the alias)"));
            LAMINA_TRY(pc, int_prop(t_, props["ProvisionedConcurrencyConfig"],
                                    p + "/ProvisionedConcurrencyConfig",
                                    "ProvisionedConcurrentExecutions", 1, 1000000));
            if (!pc)
                return std::unexpected(t_.error_at(p + "/ProvisionedConcurrencyConfig",
                                                   "ProvisionedConcurrentExecutions is required"));
            f.provisioned = pc;
        }
        if (props.contains("DeploymentPreference")) {
            const json& d = props["DeploymentPreference"];
            std::string dp = p + "/DeploymentPreference";
            if (!d.is_object()) return std::unexpected(t_.error_at(dp, "must be a mapping"));
            if (!alias)
                return std::unexpected(t_.error_at(
                    dp, "needs AutoPublishAlias (traffic shifts between versions of the alias)"));
            bool enabled = !d.contains("Enabled") || d["Enabled"] == true || d["Enabled"] == "true";
            if (enabled) {
                LAMINA_TRY(type, string_prop(t_, d, dp, "Type"));
                if (!type) return std::unexpected(t_.error_at(dp, "Type is required"));
                if (!deployment_steps(*type, options_.minute_seconds))
                    return std::unexpected(
                        t_.error_at(dp + "/Type", "unknown deployment type '" + *type +
                                                      "' (CanaryXPercentYMinutes, "
                                                      "LinearXPercentEveryYMinutes or AllAtOnce)"));
                f.deployment_type = type;
                for (const char* unsupported : {"Hooks", "Alarms", "TriggerConfigurations"})
                    if (d.contains(unsupported))
                        report_.skipped.push_back(r.id + ".DeploymentPreference." + unsupported);
            }
        }
        if (props.contains("EventInvokeConfig")) {
            const json& e = props["EventInvokeConfig"];
            std::string ep = p + "/EventInvokeConfig";
            if (!e.is_object()) return std::unexpected(t_.error_at(ep, "must be a mapping"));
            LAMINA_TRY(body, event_invoke_body(e, ep));
            f.event_invoke = body;
        }
        // SQS and S3 events are resources of their own (event_sources.cpp)
        if (props.contains("Events") && props["Events"].is_object())
            for (const auto& [event, spec] : props["Events"].items()) {
                std::string type =
                    spec.is_object() ? spec.value("Type", std::string("?")) : std::string("?");
                if (type != "SQS" && type != "S3")
                    report_.skipped.push_back(r.id + ".Events." + event + " (" + type + ")");
            }
    } else {
        if (props.contains("TracingConfig") && props["TracingConfig"].is_object())
            f.tracing = props["TracingConfig"].value("Mode", std::string("PassThrough"));
        if (props.contains("Tags")) {
            if (!props["Tags"].is_array())
                return std::unexpected(t_.error_at(p + "/Tags", "must be a list of {Key, Value}"));
            for (const auto& tag : props["Tags"])
                if (tag.is_object() && tag.contains("Key"))
                    f.tags[tag["Key"].get<std::string>()] = tag.value("Value", std::string());
        }
        if (props.contains("DeadLetterConfig") && props["DeadLetterConfig"].is_object())
            f.dead_letter = props["DeadLetterConfig"].value("TargetArn", std::string());
    }
    LAMINA_TRY(reserved, int_prop(t_, props, p, "ReservedConcurrentExecutions", 0, 1000000));
    f.reserved = reserved;
    LAMINA_TRY(kms, string_prop(t_, props, p, "KmsKeyArn"));
    f.kms_key = kms;
    if (image) {
        f.code.fingerprint = f.image_uri;
        return f;
    }
    LAMINA_TRY(code, code_source(r, props, f.runtime));
    if (code.s3.is_null() && static_cast<std::int64_t>(code.zip.size()) > control::kMaxZippedCode)
        return std::unexpected(
            t_.error_at(r.pointer, "the zipped code is " + std::to_string(code.zip.size()) +
                                       " bytes; Lambda takes at most 50 MiB directly (put it in S3 "
                                       "and use s3://bucket/key)"));
    f.code = std::move(code);
    return f;
}

// SAM's and CloudFormation's EventInvokeConfig -> PutFunctionEventInvokeConfig's body.
Result<json> Deployment::event_invoke_body(const json& e, const std::string& ep) {
    json body = json::object();
    LAMINA_TRY(age, limited_prop(t_, e, ep, control::limits::kMaximumEventAge));
    LAMINA_TRY(retries, limited_prop(t_, e, ep, control::limits::kMaximumRetryAttempts));
    if (age) body["MaximumEventAgeInSeconds"] = *age;
    if (retries) body["MaximumRetryAttempts"] = *retries;
    if (e.contains("DestinationConfig")) {
        const json& d = e["DestinationConfig"];
        json dest = json::object();
        for (const char* which : {"OnSuccess", "OnFailure"}) {
            if (!d.contains(which)) continue;
            const json& w = d[which];
            std::string wp = ep + "/DestinationConfig/" + which;
            if (w.contains("Type") && w["Type"] != "Lambda")
                return std::unexpected(t_.error_at(
                    wp + "/Type",
                    "lamina emulates Lambda destinations only (got " + w["Type"].dump() + ")"));
            if (!w.contains("Destination") || !w["Destination"].is_string())
                return std::unexpected(t_.error_at(wp, "Destination (a function ARN) is required"));
            dest[which] = {{"Destination", w["Destination"]}};
        }
        body["DestinationConfig"] = dest;
    }
    return body;
}

void Deployment::note_function(const Resource& r, const FunctionSpec& f) {
    refs_[r.id] = f.name;
    atts_[r.id + ".Arn"] = function_arn(f.name);
    atts_[r.id + "Role.Arn"] = f.role;
    refs_[r.id + "Role"] = f.role.substr(f.role.rfind('/') + 1);
    if (f.alias) {
        refs_[r.id + ".Alias"] = function_arn(f.name) + ":" + *f.alias;
        refs_[r.id + "Alias" + *f.alias] = function_arn(f.name) + ":" + *f.alias;
        refs_[r.id + ".Version"] = function_arn(f.name) + ":1";  // the real number once published
    }
    for (const auto& l : f.layers) {
        for (const auto& [lid, arn] : layer_arns_)
            if (arn == l) layer_users_[lid].push_back(f.name);
    }
    if (f.code.folder) watched_.emplace_back(*f.code.folder, "function", r.id, f.name);
}

// As CloudFormation: a function this stack did not make is not taken over.
Status Deployment::check_function_is_ours(const Resource& r, const json& props,
                                          const FunctionSpec& f) {
    for (const auto& [_, prev] : previous_.items())
        if (is_function_type(prev.value("Type", std::string())) &&
            prev.value("FunctionName", std::string()) == f.name)
            return {};
    LAMINA_TRY(existing, if_found(lambda_.get_function(f.name, r.id)));
    if (existing)
        return std::unexpected(
            t_.error_at(r.pointer + (props.contains("FunctionName") ? "/FunctionName" : ""),
                        "the function " + f.name + " already exists and was not made by stack " +
                            options_.stack_name + " (delete it, or name the resource otherwise)"));
    return {};
}

// Layers the template names by ARN (not made by it) must exist.
Status Deployment::check_external_layers(const Resource& r, const FunctionSpec& f) {
    for (std::size_t i = 0; i < f.layers.size(); ++i) {
        const std::string& arn = f.layers[i];
        if (planned_layer_arns_.contains(arn)) continue;
        std::string p = r.pointer + "/Layers/" + std::to_string(i);
        if (!parse_layer_version_arn(arn))
            return std::unexpected(t_.error_at(p, "'" + arn + "' is not a layer version ARN"));
        auto found = lambda_.get_layer_version_by_arn(arn, "");
        if (!found && found.error().code == ErrorCode::Service)
            return std::unexpected(found.error());
        if (!found)
            return std::unexpected(
                t_.error_at(p, "layer version " + arn + ": " + found.error().message));
    }
    return {};
}

Result<LayerSpec> Deployment::layer_spec(const Resource& r, const json& props) {
    LayerSpec l;
    const std::string& p = r.pointer;
    LAMINA_TRY(name, string_prop(t_, props, p, "LayerName"));
    l.name =
        name ? *name
             : (r.type == kServerlessLayer ? r.id : generated_name(options_.stack_name, r.id, 140));
    if (l.name.rfind("arn:", 0) == 0) l.name = last_segment(l.name);
    static const std::regex kLayerName("[a-zA-Z0-9_-]{1,140}");
    if (!regex_full_match(l.name, kLayerName))
        return std::unexpected(
            t_.error_at(p + "/LayerName", "'" + l.name + "' is not a valid layer name"));
    LAMINA_TRY(runtimes, string_list(t_, props, p, "CompatibleRuntimes"));
    if (runtimes.size() > 15)
        return std::unexpected(t_.error_at(p + "/CompatibleRuntimes", "at most 15 runtimes"));
    LAMINA_TRY(archs, string_list(t_, props, p, "CompatibleArchitectures"));
    LAMINA_TRY(description, string_prop(t_, props, p, "Description"));
    LAMINA_TRY(license, string_prop(t_, props, p, "LicenseInfo"));
    LAMINA_TRY(retention, string_prop(t_, props, p, "RetentionPolicy"));
    if (retention && *retention != "Retain" && *retention != "Delete")
        return std::unexpected(t_.error_at(p + "/RetentionPolicy", "must be Retain or Delete"));
    l.retain = r.type == kServerlessLayer ? retention.value_or("Retain") == "Retain"
                                          : r.deletion_policy == "Retain";
    LAMINA_TRY(code, code_source(r, props, ""));
    l.code = std::move(code);
    l.body = {{"Content", l.code.body()}};
    if (!runtimes.empty()) l.body["CompatibleRuntimes"] = runtimes;
    if (!archs.empty()) l.body["CompatibleArchitectures"] = archs;
    if (description) l.body["Description"] = *description;
    if (license) l.body["LicenseInfo"] = *license;
    json settings = l.body;
    settings.erase("Content");
    l.fingerprint = l.code.fingerprint + "|" + settings.dump() + "|" + l.name;
    if (l.code.folder) watched_.emplace_back(*l.code.folder, "layer", r.id, l.name);
    return l;
}

Result<VersionSpec> Deployment::version_spec(const Resource& r, const json& props) {
    VersionSpec v;
    LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
    if (!fn) return std::unexpected(t_.error_at(r.pointer, "FunctionName is required"));
    v.function = function_name_and_qualifier(*fn).first;
    LAMINA_TRY(description, string_prop(t_, props, r.pointer, "Description"));
    if (props.contains("ProvisionedConcurrencyConfig")) {
        LAMINA_TRY(n, int_prop(t_, props["ProvisionedConcurrencyConfig"],
                               r.pointer + "/ProvisionedConcurrencyConfig",
                               "ProvisionedConcurrentExecutions", 1, 1000000));
        v.provisioned = n;
    }
    v.body = json::object();
    if (description) v.body["Description"] = *description;
    if (props.contains("CodeSha256")) v.body["CodeSha256"] = props["CodeSha256"];
    return v;
}

Result<AliasSpec> Deployment::alias_spec(const Resource& r, const json& props) {
    AliasSpec a;
    LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
    LAMINA_TRY(name, string_prop(t_, props, r.pointer, "Name"));
    LAMINA_TRY(fv, string_prop(t_, props, r.pointer, "FunctionVersion"));
    if (!fn || !name || !fv)
        return std::unexpected(
            t_.error_at(r.pointer, "FunctionName, FunctionVersion and Name are required"));
    if (!control::is_valid_alias_name(*name))
        return std::unexpected(
            t_.error_at(r.pointer + "/Name", "'" + *name + "' is not a valid alias name"));
    a.function = function_name_and_qualifier(*fn).first;
    a.name = *name;
    a.version = fv->find(':') != std::string::npos ? last_segment(*fv) : *fv;
    LAMINA_TRY(description, string_prop(t_, props, r.pointer, "Description"));
    a.body = {{"FunctionVersion", a.version}, {"Description", description.value_or("")}};
    json weights = json::object();
    if (props.contains("RoutingConfig")) {
        for (const auto& w :
             props["RoutingConfig"].value("AdditionalVersionWeights", json::array())) {
            std::string wv = w.value("FunctionVersion", std::string());
            if (wv.find(':') != std::string::npos) wv = last_segment(wv);
            weights[wv] = w.value("FunctionWeight", 0.0);
        }
    }
    a.body["RoutingConfig"] = {{"AdditionalVersionWeights", weights}};
    if (props.contains("ProvisionedConcurrencyConfig")) {
        LAMINA_TRY(n, int_prop(t_, props["ProvisionedConcurrencyConfig"],
                               r.pointer + "/ProvisionedConcurrencyConfig",
                               "ProvisionedConcurrentExecutions", 1, 1000000));
        a.provisioned = n;
    }
    refs_[r.id] = function_arn(a.function) + ":" + a.name;
    return a;
}

Result<PermissionSpec> Deployment::permission_spec(const Resource& r, const json& props) {
    PermissionSpec s;
    LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
    LAMINA_TRY(action, string_prop(t_, props, r.pointer, "Action"));
    LAMINA_TRY(principal, string_prop(t_, props, r.pointer, "Principal"));
    if (!fn || !action || !principal)
        return std::unexpected(
            t_.error_at(r.pointer, "Action, FunctionName and Principal are required"));
    std::tie(s.function, s.qualifier) = function_name_and_qualifier(*fn);
    s.sid = generated_name(options_.stack_name, r.id, 100);
    s.body = {{"StatementId", s.sid}, {"Action", *action}, {"Principal", *principal}};
    for (const char* k : {"SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID",
                          "FunctionUrlAuthType", "InvokedViaFunctionUrl"})
        if (props.contains(k)) s.body[k] = props[k];
    refs_[r.id] = s.sid;
    return s;
}

Result<EventInvokeSpec> Deployment::event_invoke_spec(const Resource& r, const json& props) {
    EventInvokeSpec e;
    LAMINA_TRY(fn, string_prop(t_, props, r.pointer, "FunctionName"));
    LAMINA_TRY(qualifier, string_prop(t_, props, r.pointer, "Qualifier"));
    if (!fn || !qualifier)
        return std::unexpected(t_.error_at(r.pointer, "FunctionName and Qualifier are required"));
    LAMINA_TRY(body, event_invoke_body(props, r.pointer));
    e.function = function_name_and_qualifier(*fn).first;
    e.qualifier = *qualifier;
    e.body = std::move(body);
    refs_[r.id] = e.function + ":" + e.qualifier;
    return e;
}

Result<LayerPermissionSpec> Deployment::layer_permission_spec(const Resource& r,
                                                              const json& props) {
    LayerPermissionSpec s;
    LAMINA_TRY(arn, string_prop(t_, props, r.pointer, "LayerVersionArn"));
    LAMINA_TRY(action, string_prop(t_, props, r.pointer, "Action"));
    LAMINA_TRY(principal, string_prop(t_, props, r.pointer, "Principal"));
    if (!arn || !action || !principal)
        return std::unexpected(
            t_.error_at(r.pointer, "Action, LayerVersionArn and Principal are required"));
    auto layer = parse_layer_version_arn(*arn);
    if (!layer)
        return std::unexpected(t_.error_at(r.pointer + "/LayerVersionArn",
                                           "'" + *arn + "' is not a layer version ARN"));
    s.arn = *arn;
    s.layer = *layer;
    s.sid = generated_name(options_.stack_name, r.id, 100);
    s.body = {{"StatementId", s.sid}, {"Action", *action}, {"Principal", *principal}};
    if (props.contains("OrganizationId")) s.body["OrganizationId"] = props["OrganizationId"];
    refs_[r.id] = s.sid;
    return s;
}

}  // namespace lamina::sam
