#pragma once
// The control plane's records: a function's $LATEST and published versions,
// aliases, resource policies, tags and per-qualifier configs. Each record
// serialises to an internal JSON document for the store (not the wire shape:
// the api module renders AWS's shapes).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lamina/control/validation.hpp"

namespace lamina::control {

// What CodeSha256 (and a layer's Content.CodeSha256) reads for hot-reloaded
// code, as LocalStack reports it: there is no package to hash.
inline constexpr const char* kHotReloadCodeSha256 = "hot-reloading-hash-not-available";

struct LayerRef {
    std::string arn;  // layer version ARN
    std::int64_t code_size = 0;
    std::int64_t unzipped_size = 0;
    std::string
        blob;  // hex sha256 of the layer zip: keeps working after the layer version is deleted
    std::string path;  // a hot-reload layer's folder (bound live at /opt); blob is then empty
};

// ImageConfig of an image function: each part, when set, overrides the
// image's own ENTRYPOINT, CMD or WORKDIR.
struct ImageConfig {
    std::optional<std::vector<std::string>> entry_point, command;
    std::optional<std::string> working_directory;
    bool empty() const { return !entry_point && !command && !working_directory; }
    bool operator==(const ImageConfig&) const = default;
};

// One version's code and configuration ($LATEST or a published number).
struct VersionConfig {
    std::string version = "$LATEST";
    std::string description;
    std::string source_description;  // $LATEST's description when this version was published
    std::string runtime;
    std::string role;
    std::string handler;
    int timeout = static_cast<int>(limits::kTimeout.default_value);
    int memory_size = static_cast<int>(limits::kMemorySize.default_value);
    int ephemeral_storage = static_cast<int>(limits::kEphemeralStorage.default_value);
    std::string architecture = "x86_64";
    std::string package_type = "Zip";
    std::optional<std::map<std::string, std::string>> environment;
    std::vector<LayerRef> layers;
    std::string code_sha256;         // base64, as AWS reports it
    std::string code_blob;           // hex sha256: the blob's name in the store
    std::int64_t code_size = 0;      // zipped bytes
    std::int64_t unzipped_size = 0;  // sum of entry sizes
    // Hot reload: the folder on this machine bound live at /var/task (code_blob
    // is then empty, code_sha256 kHotReloadCodeSha256, the sizes 0).
    std::string code_path;
    // PackageType Image: the ImageUri as given, the ECR repository it names
    // (in the function's account and region), and ImageConfig; code_sha256
    // is then the manifest digest's 64 hex digits, code_blob empty.
    std::string image_uri;
    std::string image_repository;
    std::optional<ImageConfig> image_config;
    std::string tracing_mode = "PassThrough";
    std::optional<std::string> dead_letter_target;
    std::optional<std::string> kms_key_arn;
    std::string log_format = "Text";
    std::string log_group;  // default /aws/lambda/<name>
    std::optional<std::string> application_log_level;
    std::optional<std::string> system_log_level;
    std::string snap_start_apply_on = "None";
    // TenancyConfig.TenantIsolationMode ("PER_TENANT"), set at CreateFunction
    // only and kept by every version: invocations then need a tenant id and
    // run in environments of that tenant alone.
    std::optional<std::string> tenant_isolation_mode;
    std::string runtime_version_arn;
    std::int64_t last_modified_ms = 0;
    std::string revision_id;

    // Fields that make two versions "the same" for PublishVersion.
    bool same_code_and_config(const VersionConfig& o) const;
    // Every hot-reload folder it runs: its code's and its layers'.
    std::vector<std::string> hot_reload_folders() const;

    nlohmann::json to_doc() const;
    static VersionConfig from_doc(const nlohmann::json& doc);
};

struct Alias {
    std::string name;
    std::string function_version;
    std::string description;
    std::map<std::string, double> additional_weights;
    std::string revision_id;

    nlohmann::json to_doc() const;
    static Alias from_doc(const nlohmann::json& doc);
};

struct PolicyStatement {
    std::string sid;
    nlohmann::json statement;  // the statement exactly as GetPolicy shows it
};

struct ResourcePolicy {
    std::vector<PolicyStatement> statements;
    std::string revision_id;
};

struct EventInvokeConfig {
    std::optional<int> maximum_retry_attempts;
    std::optional<int> maximum_event_age_seconds;
    std::optional<std::string> on_success;
    std::optional<std::string> on_failure;
    double last_modified = 0;  // epoch seconds with fraction
};

// The function URL of the unqualified function or of one alias.
struct FunctionUrlConfig {
    std::string url_id;     // 32 lowercase hex characters, stable for the config's life
    std::string auth_type;  // NONE | AWS_IAM
    std::optional<nlohmann::json> cors;      // the Cors object as given (validated)
    std::optional<std::string> invoke_mode;  // BUFFERED | RESPONSE_STREAM; unset = never sent
    std::string creation_time;               // ISO-8601 UTC with microseconds
    std::string last_modified_time;

    std::string effective_invoke_mode() const { return invoke_mode.value_or("BUFFERED"); }
};

// A provisioned concurrency config of one qualifier (a version or an alias).
struct ProvisionedConfig {
    int requested = 0;
    std::string last_modified;  // AWS's ISO form, +0000
};

// A function with everything that belongs to it.
struct Function {
    std::string name;
    VersionConfig latest;
    std::int64_t last_version = 0;  // numbers are never reused
    std::map<std::int64_t, VersionConfig> versions;
    std::map<std::string, Alias> aliases;
    std::map<std::string, ResourcePolicy> policies;  // "" = unqualified
    std::map<std::string, std::string> tags;
    std::map<std::string, EventInvokeConfig> event_invoke_configs;  // qualifier -> config
    std::map<std::string, FunctionUrlConfig> url_configs;  // "" = unqualified, else an alias
    std::optional<int> reserved_concurrency;
    std::map<std::string, ProvisionedConfig> provisioned;  // qualifier -> config
    std::string recursive_loop = "Terminate";
    std::string update_runtime_on = "Auto";
    std::optional<std::string> pinned_runtime_version_arn;

    // Everything except versions and aliases, which are stored as rows of their own.
    nlohmann::json to_doc() const;
    static Function from_doc(const nlohmann::json& doc);
};

}  // namespace lamina::control
