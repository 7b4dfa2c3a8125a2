#pragma once
// Lambda layers: named, versioned, immutable zips, per account and region,
// with per-version resource policies that let other accounts use them.
// Same discipline as the function registry: validate, commit one store
// transaction, then update memory.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/names.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::control {

struct LayerVersion {
    std::string layer_name;
    std::int64_t version = 0;
    std::string description;
    // absent when the publisher did not give them (AWS then omits the keys)
    std::optional<std::vector<std::string>> compatible_runtimes;
    std::optional<std::vector<std::string>> compatible_architectures;
    std::optional<std::string> license_info;
    std::string code_sha256;  // base64
    std::string code_blob;    // hex
    std::int64_t code_size = 0;
    std::int64_t unzipped_size = 0;
    std::string code_path;  // hot reload: the folder bound live at /opt (code_blob empty)
    std::int64_t created_ms = 0;
    std::vector<nlohmann::json> policy;  // statements
    std::string policy_revision;

    nlohmann::json to_doc() const;
    static LayerVersion from_doc(const nlohmann::json& doc);
};

struct PublishLayerInput {
    std::string name;
    std::string description;
    std::optional<std::vector<std::string>> compatible_runtimes;
    std::optional<std::vector<std::string>> compatible_architectures;
    std::optional<std::string> license_info;
    std::string code_sha256, code_blob;
    std::int64_t code_size = 0, unzipped_size = 0;
    std::string code_path;  // hot reload
};

struct LayerPermissionInput {
    std::string statement_id, action, principal;
    std::optional<std::string> organization_id, revision_id;
};

struct LayerVersionView {
    Scope owner;
    LayerVersion version;
};

struct LayerListItem {
    std::string name;
    LayerVersionView latest;
};

class LayerRegistry {
public:
    LayerRegistry(store::DocumentStore& docs, Clock& clock, IdSource& ids);
    Status load();
    // Forgets every layer and layer version, stored and in memory.
    Status clear();

    Result<LayerVersionView> publish(const Scope& s, PublishLayerInput in);
    // `caller` reads a version of `owner`'s layer: needs a grant when they differ.
    Result<LayerVersionView> get(const Scope& caller, const Scope& owner, const std::string& name,
                                 std::int64_t version) const;
    Result<LayerVersionView> get_by_arn(const Scope& caller, const std::string& arn) const;
    Status remove(const Scope& s, const std::string& name, std::int64_t version);
    Result<std::pair<std::vector<LayerListItem>, std::optional<std::string>>> list_layers(
        const Scope& s, const std::optional<std::string>& runtime,
        const std::optional<std::string>& arch, const std::optional<std::string>& marker,
        int max_items) const;
    Result<std::pair<std::vector<LayerVersionView>, std::optional<std::string>>> list_versions(
        const Scope& s, const std::string& name, const std::optional<std::string>& runtime,
        const std::optional<std::string>& arch, const std::optional<std::string>& marker,
        int max_items) const;

    Result<std::pair<nlohmann::json, std::string>> add_permission(const Scope& s,
                                                                  const std::string& name,
                                                                  std::int64_t version,
                                                                  LayerPermissionInput in);
    Result<std::pair<std::string, std::string>> get_policy(const Scope& s, const std::string& name,
                                                           std::int64_t version) const;
    Status remove_permission(const Scope& s, const std::string& name, std::int64_t version,
                             const std::string& sid, std::optional<std::string> revision_id);

    // Resolves the Layers list of a function in `caller`'s scope, with AWS's
    // checks in AWS's order; returns the references to store. A hot-reload
    // layer is bound at /opt as it is, so it must be the only layer.
    Result<std::vector<LayerRef>> resolve_for_function(const Scope& caller,
                                                       const std::vector<std::string>& arns) const;

    std::int64_t total_code_size(const Scope& s) const;
    std::set<std::string> referenced_blobs() const;
    bool blob_is_referenced(const std::string& hex) const;

private:
    struct Layer {
        std::string name;
        std::int64_t last_version = 0;
        std::map<std::int64_t, LayerVersion> versions;
    };
    const LayerVersion* find(const Scope& s, const std::string& name, std::int64_t version) const;
    Status commit_version(const Scope& s, const Layer& layer, const LayerVersion& v);
    static bool grants(const LayerVersion& v, const Scope& caller);

    store::DocumentStore& docs_;
    Clock& clock_;
    IdSource& ids_;
    mutable std::shared_mutex mu_;
    std::map<Scope, std::map<std::string, Layer>> layers_;
};

}  // namespace lamina::control
