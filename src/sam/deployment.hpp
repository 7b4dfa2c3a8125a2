#pragma once
// One deployment of one template, in the phases deployer.hpp describes:
//   plan.cpp   reads the template into a Plan: parameters, conditions,
//              resources and their specs, outputs; only reads the API;
//   apply.cpp  creates or updates each resource through the Lambda API;
//   prune.cpp  deletes what the stack's previous record has and the
//              template no longer does.
// Apply evaluates each resource again, now with the real values of what it
// refers to (published version numbers, layer version ARNs), and reads its
// spec with the same code the plan used.

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "lamina/control/validation.hpp"
#include "lamina/sam/deployer.hpp"
#include "lamina/sam/intrinsics.hpp"
#include "lamina/sam/template.hpp"
#include "sam/lambda_calls.hpp"

namespace lamina::sam {

inline constexpr const char* kServerlessFunction = "AWS::Serverless::Function";
inline constexpr const char* kServerlessLayer = "AWS::Serverless::LayerVersion";
inline constexpr const char* kFunction = "AWS::Lambda::Function";
inline constexpr const char* kLayer = "AWS::Lambda::LayerVersion";
inline constexpr const char* kVersion = "AWS::Lambda::Version";
inline constexpr const char* kAlias = "AWS::Lambda::Alias";
inline constexpr const char* kPermission = "AWS::Lambda::Permission";
inline constexpr const char* kEventInvokeConfig = "AWS::Lambda::EventInvokeConfig";
inline constexpr const char* kLayerPermission = "AWS::Lambda::LayerVersionPermission";
inline constexpr const char* kUrl = "AWS::Lambda::Url";
inline constexpr const char* kEventSourceMapping = "AWS::Lambda::EventSourceMapping";
inline constexpr const char* kQueue = "AWS::SQS::Queue";
inline constexpr const char* kBucket = "AWS::S3::Bucket";

inline bool is_function_type(const std::string& t) {
    return t == kServerlessFunction || t == kFunction;
}
inline bool is_layer_type(const std::string& t) { return t == kServerlessLayer || t == kLayer; }

// CloudFormation's physical names: "{stack}-{LogicalId}-{suffix}", within `max`.
std::string generated_name(const std::string& stack, const std::string& id, std::size_t max = 64);
// The first n hex digits of text's SHA-256, upper case.
std::string short_hash(const std::string& text, std::size_t n = 12);
// A JSON pointer's reference token ("a/b" -> "a~1b").
std::string escape_pointer(const std::string& key);
// A function reference in a template: a name, "name:qualifier", or a (maybe
// qualified) ARN -> (name, qualifier or "").
std::pair<std::string, std::string> function_name_and_qualifier(const std::string& v);

struct Resource {
    std::string id, type, pointer;
    nlohmann::json raw;          // Properties as written (plus Globals)
    std::set<std::string> deps;  // logical ids this one needs first
    std::optional<std::string> condition;
    std::string deletion_policy;  // "Retain" or ""
    bool builds_image = false;    // Metadata names a DockerContext or Dockerfile
};

// The code a function or layer is made from.
struct CodeSource {
    std::optional<std::filesystem::path> folder;  // watched when it is a folder
    std::string zip;                              // bytes, for local code
    nlohmann::json s3;        // {"S3Bucket","S3Key"[,"S3ObjectVersion"]} for code in S3
    std::string fingerprint;  // what decides "changed"
    // CreateFunction's Code / PublishLayerVersion's Content
    nlohmann::json body() const;
};

// A function's settings, with AWS's defaults for what the template leaves
// out (so a removed property is reset).
struct FunctionSpec {
    std::string name, role, runtime, handler, description, tracing = "PassThrough",
                                                           architecture = "x86_64";
    std::int64_t memory = control::limits::kMemorySize.default_value;
    std::int64_t timeout = control::limits::kTimeout.default_value;
    std::int64_t ephemeral = control::limits::kEphemeralStorage.default_value;
    nlohmann::json environment = nlohmann::json::object();
    std::vector<std::string> layers;
    nlohmann::json tags = nlohmann::json::object();
    std::optional<std::string> dead_letter, kms_key;
    std::optional<std::int64_t> reserved;
    // TenancyConfig's TenantIsolationMode: set at creation only (CloudFormation replaces
    // a function whose TenancyConfig changes; lamina refuses that change instead)
    std::optional<std::string> tenancy;
    // SAM
    std::optional<std::string> alias, version_description;
    std::optional<std::int64_t> provisioned;
    std::optional<std::string> deployment_type;
    nlohmann::json event_invoke;  // null or PutFunctionEventInvokeConfig's body
    CodeSource code;
    // PackageType Image: its ImageUri (then no code, runtime or handler),
    // ImageConfig (null: none), and whether Metadata asked for a build
    std::string image_uri;
    nlohmann::json image_config;
    bool docker_metadata = false;
};

struct LayerSpec {
    std::string name;
    nlohmann::json body;  // PublishLayerVersion's
    CodeSource code;
    bool retain = true;  // replaced versions are kept
    std::string fingerprint;
};

struct VersionSpec {
    std::string function;
    nlohmann::json body;  // PublishVersion's
    std::optional<std::int64_t> provisioned;
};

struct AliasSpec {
    std::string function, name, version;
    nlohmann::json body;  // UpdateAlias's
    std::optional<std::int64_t> provisioned;
};

struct PermissionSpec {
    std::string function, qualifier, sid;
    nlohmann::json body;  // AddPermission's
};

struct EventInvokeSpec {
    std::string function, qualifier;
    nlohmann::json body;
};

// A function URL config on a function ("" qualifier) or one of its aliases.
struct UrlSpec {
    std::string function, qualifier;
    nlohmann::json body;  // CreateFunctionUrlConfig's: AuthType[, Cors][, InvokeMode]
};

struct LayerPermissionSpec {
    std::string arn;
    LayerVersionId layer;
    std::string sid;
    nlohmann::json body;  // AddLayerVersionPermission's
};

// An SQS queue: its name and CreateQueue's Attributes and tags (strings).
struct QueueSpec {
    std::string name;
    nlohmann::json attributes = nlohmann::json::object();
    nlohmann::json tags = nlohmann::json::object();
};

// An event source mapping: CreateEventSourceMapping's body (FunctionName,
// EventSourceArn and the settings the template gives).
struct MappingSpec {
    std::string source_arn;
    nlohmann::json body;
};

// An S3 bucket and its notification configuration (PutBucketNotificationConfiguration's
// XML; nullopt when the template has none).
struct BucketSpec {
    std::string name;
    std::optional<std::string> notification;
};

// SAM's S3 event on a function, waiting for its bucket: the bucket's
// LambdaConfigurations gain `config`, made after `permission`.
struct PendingS3Event {
    std::string function, bucket, permission, pointer;
    nlohmann::json config;
};

// What the plan phase read, by logical id; resources left out by their
// Condition are in `excluded`, types lamina does not emulate in `others`.
struct Plan {
    std::string account;
    std::vector<std::string> order;  // dependency order
    std::set<std::string> excluded;
    std::map<std::string, std::string> others;  // id -> type
    std::map<std::string, FunctionSpec> functions;
    std::map<std::string, LayerSpec> layers;
    std::map<std::string, VersionSpec> versions;
    std::map<std::string, AliasSpec> aliases;
    std::map<std::string, PermissionSpec> permissions;
    std::map<std::string, EventInvokeSpec> event_invoke_configs;
    std::map<std::string, UrlSpec> function_urls;
    std::map<std::string, LayerPermissionSpec> layer_permissions;
    std::map<std::string, QueueSpec> queues;
    std::map<std::string, MappingSpec> mappings;
    std::map<std::string, BucketSpec> buckets;
    std::map<std::string, std::string> outputs;  // with planned values
};

// A folder to watch: (folder, "function" | "layer", logical id, name).
using WatchedFolder = std::tuple<std::filesystem::path, std::string, std::string, std::string>;

class Deployment {
public:
    Deployment(LambdaCalls& lambda, const Deployer::Say& say, const Template& t,
               const DeployOptions& options);

    // plan.cpp: reads the stack's record and the template and checks every
    // resource; changes nothing.
    Status plan();
    const Plan& planned() const { return plan_; }
    const std::map<std::string, bool>& conditions() const { return ctx_.conditions; }

    // apply.cpp: creates or updates every resource in dependency order (a
    // failure undoes what this run created), prunes, saves the stack record
    // and evaluates the outputs.
    Result<DeployReport> apply();

    const std::vector<WatchedFolder>& watched() const { return watched_; }
    const std::map<std::string, std::string>& layer_arns() const { return layer_arns_; }
    const std::map<std::string, std::vector<std::string>>& layer_users() const {
        return layer_users_;
    }

private:
    // ---- plan.cpp ----
    Status load_previous();
    Status read_parameters();
    Status read_conditions();
    Status read_resources();
    Status admit_resource(Resource r);
    // SAM's FunctionUrlConfig as the resources SAM makes of it: <Fn>Url and,
    // for AuthType NONE, <Fn>UrlPublicPermissions and <Fn>URLInvokeAllowPublicAccess.
    Result<std::vector<Resource>> function_url_resources(const Resource& fn);
    // event_sources.cpp: SAM's SQS and S3 Events as the resources SAM makes of
    // them (<Fn><Event> mappings, <Fn><Event>Permission permissions); an S3
    // event's bucket configuration waits in `pending_s3_` for its bucket.
    Result<std::vector<Resource>> event_resources(const Resource& fn);
    Status attach_s3_events();
    Status order();
    Result<nlohmann::json> resource_value(const std::string& id, const std::string& attribute);
    Result<nlohmann::json> props_of(const Resource& r);
    Status plan_resource(const Resource& r);
    Result<CodeSource> code_source(const Resource& r, const nlohmann::json& props,
                                   const std::string& runtime);
    Result<FunctionSpec> function_spec(const Resource& r, const nlohmann::json& props);
    Result<nlohmann::json> event_invoke_body(const nlohmann::json& e, const std::string& pointer);
    Result<LayerSpec> layer_spec(const Resource& r, const nlohmann::json& props);
    Result<VersionSpec> version_spec(const Resource& r, const nlohmann::json& props);
    Result<AliasSpec> alias_spec(const Resource& r, const nlohmann::json& props);
    Result<PermissionSpec> permission_spec(const Resource& r, const nlohmann::json& props);
    Result<EventInvokeSpec> event_invoke_spec(const Resource& r, const nlohmann::json& props);
    Result<UrlSpec> url_spec(const Resource& r, const nlohmann::json& props);
    Result<LayerPermissionSpec> layer_permission_spec(const Resource& r,
                                                      const nlohmann::json& props);
    Result<MappingSpec> mapping_spec(const Resource& r, const nlohmann::json& props);
    // queues_buckets.cpp
    Result<QueueSpec> queue_spec(const Resource& r, const nlohmann::json& props);
    Result<BucketSpec> bucket_spec(const Resource& r, const nlohmann::json& props);
    Result<std::string> notification_xml(const nlohmann::json& config, const std::string& pointer);
    // What a function makes visible to Ref / Fn::GetAtt and to --watch.
    void note_function(const Resource& r, const FunctionSpec& f);
    Status check_function_is_ours(const Resource& r, const nlohmann::json& props,
                                  const FunctionSpec& f);
    Status check_external_layers(const Resource& r, const FunctionSpec& f);
    Result<std::map<std::string, std::string>> evaluate_outputs();
    std::string function_arn(const std::string& name) const;

    // ---- apply.cpp ----
    Status apply_resource(const Resource& r);
    Status apply_function(const Resource& r, const FunctionSpec& f);
    Status update_function(const Resource& r, const FunctionSpec& f, const nlohmann::json& existing,
                           const nlohmann::json& prev);
    Status publish_and_shift(const Resource& r, const FunctionSpec& f, const nlohmann::json& prev,
                             nlohmann::json& state);
    Status apply_layer(const Resource& r, const LayerSpec& l);
    Status apply_version(const Resource& r, const VersionSpec& v);
    Status apply_alias(const Resource& r, const AliasSpec& a);
    Status apply_permission(const Resource& r, const PermissionSpec& p);
    Status apply_event_invoke_config(const Resource& r, const EventInvokeSpec& e);
    Status apply_url(const Resource& r, const UrlSpec& u);
    Status apply_layer_permission(const Resource& r, const LayerPermissionSpec& p);
    Status apply_mapping(const Resource& r, const MappingSpec& m);
    Status apply_queue(const Resource& r, const QueueSpec& q);
    Status update_queue(const Resource& r, const QueueSpec& q, const std::string& url);
    Status apply_bucket(const Resource& r, const BucketSpec& b);
    Status update_alias(const std::string& fn, const std::string& alias, const std::string& primary,
                        const std::string& additional, double weight, const std::string& who);
    void rollback();
    void say(const std::string& line);

    LambdaCalls& lambda_;
    const Deployer::Say& say_;
    const Template& t_;
    const DeployOptions& options_;
    std::filesystem::path base_;
    EvalContext ctx_;
    Plan plan_;
    nlohmann::json previous_ = nlohmann::json::object();  // the stack record's Resources
    nlohmann::json next_ = nlohmann::json::object();      // what this deployment made
    std::map<std::string, Resource> resources_;
    std::map<std::string, std::string> owner_;  // SAM's generated ids -> their function
    std::map<std::string, nlohmann::json> refs_, atts_;
    std::map<std::string, std::string> packaged_;  // folder -> zip
    std::set<std::string> planned_layer_arns_;
    std::map<std::string, std::string> layer_arns_;
    std::map<std::string, std::vector<std::string>> layer_users_;
    std::vector<WatchedFolder> watched_;
    // what undoes each creation of this run; it names what it undid
    std::vector<std::function<Status()>> undo_;
    std::vector<PendingS3Event> pending_s3_;
    DeployReport report_;
};

// prune.cpp: deletes what `previous` (a stack record's Resources) has and
// `next` does not, and the replaced versions of layers that do not retain
// them. What cannot be deleted is reported through `say`, left in `next`
// when its logical id is free (so the next deployment or `lamina delete`
// tries again), and returned, one line each.
std::vector<std::string> prune_stack(LambdaCalls& lambda, const nlohmann::json& previous,
                                     nlohmann::json& next, const Deployer::Say& say);

}  // namespace lamina::sam
