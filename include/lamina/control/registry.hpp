#pragma once
// The control-plane registry: functions, $LATEST, immutable published
// versions, aliases with routing weights, resource policies, tags and
// per-qualifier configs, per account and region. Pure logic over the store:
// every mutation validates first, then commits one store transaction, then
// updates memory; reads are served from memory under a shared lock.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "lamina/common/capacity_quota.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/names.hpp"
#include "lamina/control/pagination.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::control {

// A zip already hashed, checked and stored as a blob by the caller, or
// hot-reloaded code (`hot_reload_path` set: a folder checked by the caller,
// sha256_b64 kHotReloadCodeSha256, no blob, sizes 0).
struct StoredCode {
    std::string sha256_b64;
    std::string sha256_hex;
    std::int64_t size = 0;
    std::int64_t unzipped_size = 0;
    std::string hot_reload_path;
    // PackageType Image: sha256_b64 holds the manifest digest's hex (what
    // CodeSha256 shows), sha256_hex stays empty (no blob of lamina's store).
    std::string image_uri;
    std::string image_repository;
};

// Settings of CreateFunction / UpdateFunctionConfiguration; unset = keep.
struct FunctionSettings {
    std::optional<std::string> description, runtime, role, handler;
    std::optional<int> timeout, memory_size, ephemeral_storage;
    std::optional<std::map<std::string, std::string>> environment;
    std::optional<std::vector<std::string>> layers;  // layer version ARNs
    std::optional<std::string> tracing_mode;
    std::optional<std::string> dead_letter_target;  // "" clears
    std::optional<std::string> kms_key_arn;         // "" clears
    std::optional<std::string> log_format, log_group, application_log_level, system_log_level;
    std::optional<std::string> snap_start_apply_on;
    // ImageConfig: replaces the whole of it; an empty one removes it
    std::optional<ImageConfig> image_config;
};

struct CreateFunctionInput {
    std::string name;
    FunctionSettings settings;
    std::string architecture = "x86_64";
    std::string package_type = "Zip";
    StoredCode code;
    bool publish = false;
    std::map<std::string, std::string> tags;
    std::optional<std::string> tenant_isolation_mode;  // TenancyConfig (validated by the caller)
};

struct UpdateCodeInput {
    StoredCode code;
    std::optional<std::string> architecture;
    bool publish = false;
    bool dry_run = false;
    std::optional<std::string> revision_id;
};

// How a configuration is shown: AWS reports transitional states in the
// response of the call that caused them.
enum class Phase { Steady, Creating, Updating, PublishedNew };

// One resolved version as the api renders it.
struct ConfigView {
    std::string name;
    VersionConfig config;
    std::string arn_qualifier;  // "" = unqualified ARN
    Phase phase = Phase::Steady;
    // Filled by resolve_invocation: what the concurrency controller needs.
    std::optional<int> reserved_concurrency;
    std::int64_t reserved_total = 0;  // all reservations in the account and region
    int provisioned_total = 0;        // the function's provisioned concurrency, all qualifiers
};

struct ProvisionedView {
    std::string function_name;
    std::string qualifier;     // the version or alias it is configured on
    std::string version;       // the version it provisions (an alias's target)
    std::string function_arn;  // qualified
    ProvisionedConfig config;
};

struct FunctionDetails {
    ConfigView view;
    std::map<std::string, std::string> tags;
    std::optional<int> reserved_concurrency;
};

struct AliasView {
    std::string function_name;
    Alias alias;
};

struct AliasInput {
    std::optional<std::string> function_version;
    std::optional<std::string> description;
    std::optional<std::map<std::string, double>> weights;  // RoutingConfig given
    std::optional<std::string> revision_id;
};

struct PermissionInput {
    std::string statement_id, action, principal;
    std::optional<std::string> source_arn, source_account, event_source_token, principal_org_id,
        function_url_auth_type, revision_id;
    // lambda:InvokeFunction only through a function URL (AWS, October 2025)
    bool invoked_via_function_url = false;
};

struct EventInvokeConfigInput {
    std::optional<int> maximum_retry_attempts;
    std::optional<int> maximum_event_age_seconds;
    std::optional<std::string> on_success, on_failure;
    bool has_destination_config = false;
};

struct EventInvokeConfigView {
    std::string function_arn;  // qualified
    EventInvokeConfig config;
};

// CreateFunctionUrlConfig / UpdateFunctionUrlConfig; unset = keep (Update).
struct FunctionUrlInput {
    std::optional<std::string> auth_type;
    std::optional<nlohmann::json> cors;  // validated by the api; replaces the old one
    std::optional<std::string> invoke_mode;
};

struct FunctionUrlView {
    std::string function_arn;  // unqualified, or ...:<alias>
    FunctionUrlConfig config;
};

// What a function URL id leads to (the HTTP data plane's lookup).
struct UrlTarget {
    Scope scope;
    std::string function_name;
    std::string qualifier;  // "" = the unqualified function, else an alias
    FunctionUrlConfig config;
};

struct AccountUsage {
    std::int64_t function_count = 0;
    std::int64_t total_code_size = 0;
};

class LayerRegistry;

class Registry {
public:
    // `layers` resolves the Layers of functions (may be null: then no layer can be referenced).
    Registry(store::DocumentStore& docs, Clock& clock, IdSource& ids,
             const LayerRegistry* layers = nullptr);

    // Told, under the registry's lock, of every function whose set of
    // hot-reload folders (its versions' code and layers) may have changed:
    // its key ("account/region/name") and the folders now (none once deleted).
    using FolderObserver =
        std::function<void(const std::string& function_key, std::set<std::string> folders)>;
    void set_folder_observer(FolderObserver observer) { folder_observer_ = std::move(observer); }

    // Loads everything from the store.
    Status load();
    // Forgets every function, version, alias and URL, stored and in memory (POST /_lamina/reset).
    Status clear();
    // Every blob a function version uses: its code and its layers.
    std::set<std::string> referenced_blobs() const;

    Result<ConfigView> create_function(const Scope& s, CreateFunctionInput in);
    Result<FunctionDetails> get_function(const Scope& s, const FunctionRef& ref) const;
    Result<ConfigView> get_configuration(const Scope& s, const FunctionRef& ref) const;
    // The version an invocation runs: for a weighted alias, the additional
    // version when `draw` (uniform in [0,1)) falls below its weight.
    Result<ConfigView> resolve_invocation(const Scope& s, const FunctionRef& ref,
                                          double draw) const;
    Result<ConfigView> update_function_code(const Scope& s, const FunctionRef& ref,
                                            UpdateCodeInput in);
    Result<ConfigView> update_function_configuration(const Scope& s, const FunctionRef& ref,
                                                     const FunctionSettings& in,
                                                     std::optional<std::string> revision_id);
    Status delete_function(const Scope& s, const FunctionRef& ref);
    Result<std::pair<std::vector<ConfigView>, std::optional<std::string>>> list_functions(
        const Scope& s, bool all_versions, const Page& page) const;

    Result<ConfigView> publish_version(const Scope& s, const FunctionRef& ref,
                                       std::optional<std::string> code_sha256,
                                       std::optional<std::string> description,
                                       std::optional<std::string> revision_id);
    Result<std::pair<std::vector<ConfigView>, std::optional<std::string>>> list_versions(
        const Scope& s, const FunctionRef& ref, const Page& page) const;

    Result<AliasView> create_alias(const Scope& s, const FunctionRef& ref, const std::string& name,
                                   const AliasInput& in);
    Result<AliasView> get_alias(const Scope& s, const FunctionRef& ref,
                                const std::string& name) const;
    Result<AliasView> update_alias(const Scope& s, const FunctionRef& ref, const std::string& name,
                                   AliasInput in);
    Status delete_alias(const Scope& s, const FunctionRef& ref, const std::string& name);
    Result<std::pair<std::vector<AliasView>, std::optional<std::string>>> list_aliases(
        const Scope& s, const FunctionRef& ref, std::optional<std::string> version,
        const Page& page) const;

    // Returns the new statement.
    Result<nlohmann::json> add_permission(const Scope& s, const FunctionRef& ref,
                                          PermissionInput in);
    Status remove_permission(const Scope& s, const FunctionRef& ref, const std::string& sid,
                             std::optional<std::string> revision_id);
    Result<ResourcePolicy> get_policy(const Scope& s, const FunctionRef& ref) const;
    // Whether the resource policy of the function (or of the version or alias
    // the ref names: each has its own) lets `caller_account` do `action`.
    // False for a function that does not exist.
    bool permits(const Scope& owner, const FunctionRef& ref, const std::string& caller_account,
                 const std::string& action) const;

    Status tag_resource(const Scope& s, const std::string& arn,
                        const std::map<std::string, std::string>& tags);
    Status untag_resource(const Scope& s, const std::string& arn,
                          const std::vector<std::string>& keys);
    Result<std::map<std::string, std::string>> list_tags(const Scope& s,
                                                         const std::string& arn) const;

    Result<EventInvokeConfigView> put_event_invoke_config(const Scope& s, const FunctionRef& ref,
                                                          EventInvokeConfigInput in, bool merge);
    Result<EventInvokeConfigView> get_event_invoke_config(const Scope& s,
                                                          const FunctionRef& ref) const;
    Status delete_event_invoke_config(const Scope& s, const FunctionRef& ref);
    Result<std::pair<std::vector<EventInvokeConfigView>, std::optional<std::string>>>
    list_event_invoke_configs(const Scope& s, const FunctionRef& ref, const Page& page) const;

    // Function URLs: one for the unqualified function and one per alias
    // (the api refuses versions and $LATEST before calling these).
    Result<FunctionUrlView> create_function_url(const Scope& s, const FunctionRef& ref,
                                                const FunctionUrlInput& in);
    Result<FunctionUrlView> get_function_url(const Scope& s, const FunctionRef& ref) const;
    Result<FunctionUrlView> update_function_url(const Scope& s, const FunctionRef& ref,
                                                const FunctionUrlInput& in);
    Status delete_function_url(const Scope& s, const FunctionRef& ref);
    Result<std::pair<std::vector<FunctionUrlView>, std::optional<std::string>>> list_function_urls(
        const Scope& s, const FunctionRef& ref, const Page& page) const;
    // The config a URL id belongs to, in any account and region.
    std::optional<UrlTarget> find_function_url(const std::string& url_id) const;
    // Whether the resource policy of the URL's function (or alias) lets a
    // caller invoke through a URL of `auth_type` ("NONE", "AWS_IAM"): an
    // Allow of lambda:InvokeFunctionUrl whose only condition, if any, is
    // lambda:FunctionUrlAuthType naming that type, for a principal of "*" or
    // (signed callers only: `caller_account` not empty) the caller's account.
    // Checked under the registry's lock, without copying the policy.
    bool permits_url(const Scope& owner, const FunctionRef& ref, const std::string& auth_type,
                     const std::string& caller_account) const;

    // PutFunctionConcurrency: reserves `reserved` for the function, within
    // what the account may reserve while leaving `min_unreserved` shared.
    Result<int> put_function_concurrency(const Scope& s, const FunctionRef& ref, int reserved,
                                         const CapacityQuota& limits);
    Status delete_function_concurrency(const Scope& s, const FunctionRef& ref);
    // The capacity taken from the account's shared pool in this region:
    // every reservation, plus the provisioned concurrency of functions
    // without one.
    std::int64_t reserved_total(const Scope& s) const;

    // Provisioned concurrency configs, on a published version or an alias.
    Result<ProvisionedView> put_provisioned_concurrency(const Scope& s, const FunctionRef& ref,
                                                        int requested, const CapacityQuota& limits);
    Result<ProvisionedView> get_provisioned_concurrency(const Scope& s,
                                                        const FunctionRef& ref) const;
    // Returns the config it removed, if there was one.
    Result<std::optional<ProvisionedView>> delete_provisioned_concurrency(const Scope& s,
                                                                          const FunctionRef& ref);
    Result<std::vector<ProvisionedView>> list_provisioned_concurrency(const Scope& s,
                                                                      const FunctionRef& ref) const;
    // Every config of every function (to provision again after a restart).
    std::vector<std::pair<Scope, ProvisionedView>> all_provisioned() const;

    Result<std::string> get_recursion_config(const Scope& s, const FunctionRef& ref) const;
    Result<std::string> put_recursion_config(const Scope& s, const FunctionRef& ref,
                                             const std::string& loop);

    struct RuntimeManagement {
        std::string function_arn;
        std::string update_runtime_on;
        std::optional<std::string> runtime_version_arn;
    };
    Result<RuntimeManagement> get_runtime_management(const Scope& s, const FunctionRef& ref) const;
    Result<RuntimeManagement> put_runtime_management(
        const Scope& s, const FunctionRef& ref, const std::string& update_runtime_on,
        const std::optional<std::string>& runtime_version_arn);

    // Checks the function (and qualifier) exists; for read-only companions.
    Status check_exists(const Scope& s, const FunctionRef& ref) const;

    AccountUsage account_usage(const Scope& s) const;
    // Read-only views for lamina's dashboard (registry_snapshot.cpp): the
    // scopes that hold functions, and copies of one scope's functions by name.
    std::vector<Scope> scopes() const;
    std::vector<Function> functions_snapshot(const Scope& s) const;
    // Every scope that has at least one function.
    std::size_t total_functions() const;
    // Whether some function version in any scope uses this code blob.
    bool blob_is_referenced(const std::string& hex) const;

    static std::string runtime_version_arn(const std::string& region, const std::string& runtime);

    // AWS's runtime deprecation schedule (lamina serve --runtime-deprecations,
    // --runtime-date): past a runtime's block dates, CreateFunction and
    // updates are refused as AWS refuses them when `enforce`, else accepted
    // with a warning naming AWS's answer; judged at `epoch_ms`, or the
    // clock's today when empty. Set before serving.
    void judge_runtimes(bool enforce, std::optional<std::int64_t> epoch_ms) {
        enforce_runtime_schedule_ = enforce;
        runtime_date_ms_ = epoch_ms;
    }

private:
    using FunctionMap = std::map<std::string, std::shared_ptr<Function>>;

    const Function* find(const Scope& s, const std::string& name) const;
    Result<const Function*> find_or_404(const Scope& s, const FunctionRef& ref) const;
    // Resolves a qualifier (none, $LATEST, number, alias) to a config.
    Result<ConfigView> resolve(const Scope& s, const Function& f, const FunctionRef& ref) const;
    Status apply_settings(const Scope& s, VersionConfig& c, const FunctionSettings& in) const;
    Status check_routing(const Scope& s, const Function& f, const std::string& primary,
                         const std::map<std::string, double>& weights) const;
    Status commit(const Scope& s, const Function& f, std::vector<store::Mutation> extra = {});
    static std::string function_key(const Scope& s, const std::string& name);
    static store::Mutation version_row(const Scope& s, const std::string& name,
                                       const VersionConfig& v);
    static store::Mutation alias_row(const Scope& s, const std::string& name, const Alias& a);
    // Gives the resource a qualifier names ($LATEST, a version or an alias) a
    // new RevisionId, adding the row to write; returns the new id.
    std::string bump_revision(const Scope& s, Function& f, const std::string& qualifier,
                              std::vector<store::Mutation>& rows);
    std::int64_t now_ms() const { return clock_.now_ms(); }
    // AWS's refusal of `runtime` for `use` at the judged date, when enforced (else logged)
    Status runtime_schedule(const std::string& runtime, RuntimeUse use,
                            const std::string& function) const;
    // Tells the folder observer what the function (null: deleted) uses now (under the lock).
    void report_folders(const Scope& s, const std::string& name, const Function* f) const;

    store::DocumentStore& docs_;
    const LayerRegistry* layers_;
    Clock& clock_;
    IdSource& ids_;
    std::optional<std::int64_t> runtime_date_ms_;
    bool enforce_runtime_schedule_ = false;
    FolderObserver folder_observer_;
    mutable std::shared_mutex mu_;
    std::map<Scope, FunctionMap> functions_;
    std::map<std::string, std::pair<Scope, std::string>> url_index_;  // url id -> function
    void index_urls(const Scope& s, const Function& f);               // under the exclusive lock
    void unindex_urls(const Function& f);                             // under the exclusive lock
    std::map<Scope, std::int64_t> reserved_sums_;  // kept with every change of a reservation
    void recount_reserved(const Scope& s);         // under the exclusive lock
};

}  // namespace lamina::control
