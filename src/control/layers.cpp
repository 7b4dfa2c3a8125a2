#include "lamina/control/layers.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/pagination.hpp"

namespace lamina::control {

using nlohmann::json;

namespace {

constexpr const char* kLayerKind = "layer";
constexpr const char* kLayerVersionKind = "layer_version";

std::string layer_key(const Scope& s, const std::string& name) {
    return s.account + "/" + s.region + "/" + name;
}

std::string layer_version_key(const Scope& s, const std::string& name, std::int64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(v));
    return layer_key(s, name) + "/" + buf;
}

Error missing_resource() {
    return Error{ErrorCode::ResourceNotFound, "The resource you requested does not exist."};
}

Error missing_version(const Scope& s, const std::string& name, std::int64_t v) {
    return Error{ErrorCode::ResourceNotFound,
                 "Layer version " + layer_version_arn(s, name, v) + " does not exist."};
}

Error access_denied(const Scope& caller, const std::string& arn) {
    return control::access_denied(caller.account, "lambda:GetLayerVersion", arn);
}

bool matches(const LayerVersion& v, const std::optional<std::string>& runtime,
             const std::optional<std::string>& arch) {
    auto has = [](const std::optional<std::vector<std::string>>& list, const std::string& x) {
        return list && std::find(list->begin(), list->end(), x) != list->end();
    };
    if (runtime && !has(v.compatible_runtimes, *runtime)) return false;
    if (arch && !has(v.compatible_architectures, *arch)) return false;
    return true;
}

// Layer version numbers from ARNs and markers: digits that may not fit an int64.
std::optional<std::int64_t> parse_version(const std::string& text) {
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoll(text);
}

}  // namespace

json LayerVersion::to_doc() const {
    json j = {{"layer_name", layer_name},
              {"version", version},
              {"description", description},
              {"code_sha256", code_sha256},
              {"code_blob", code_blob},
              {"code_size", code_size},
              {"unzipped_size", unzipped_size},
              {"created_ms", created_ms},
              {"policy", policy},
              {"policy_revision", policy_revision}};
    if (license_info) j["license_info"] = *license_info;
    if (!code_path.empty()) j["code_path"] = code_path;
    if (compatible_runtimes) j["compatible_runtimes"] = *compatible_runtimes;
    if (compatible_architectures) j["compatible_architectures"] = *compatible_architectures;
    return j;
}

LayerVersion LayerVersion::from_doc(const json& j) {
    LayerVersion v;
    v.layer_name = j.at("layer_name").get<std::string>();
    v.version = j.at("version").get<std::int64_t>();
    v.description = j.value("description", "");
    if (auto it = j.find("compatible_runtimes"); it != j.end())
        v.compatible_runtimes = it->get<std::vector<std::string>>();
    if (auto it = j.find("compatible_architectures"); it != j.end())
        v.compatible_architectures = it->get<std::vector<std::string>>();
    v.code_sha256 = j.value("code_sha256", "");
    v.code_blob = j.value("code_blob", "");
    v.code_size = j.value("code_size", std::int64_t{0});
    v.unzipped_size = j.value("unzipped_size", std::int64_t{0});
    v.code_path = j.value("code_path", "");
    v.created_ms = j.value("created_ms", std::int64_t{0});
    if (auto it = j.find("policy"); it != j.end())
        for (const auto& st : *it) v.policy.push_back(st);
    v.policy_revision = j.value("policy_revision", "");
    if (auto it = j.find("license_info"); it != j.end() && it->is_string())
        v.license_info = it->get<std::string>();
    return v;
}

LayerRegistry::LayerRegistry(store::DocumentStore& docs, Clock& clock, IdSource& ids)
    : docs_(docs), clock_(clock), ids_(ids) {}

Status LayerRegistry::clear() {
    std::unique_lock lk(mu_);
    LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kLayerKind, ""),
                              store::Mutation::erase_prefix(kLayerVersionKind, "")}));
    layers_.clear();
    return {};
}

Status LayerRegistry::load() {
    std::unique_lock lk(mu_);
    layers_.clear();
    auto scope_of = [](const std::string& key) {
        auto a = key.find('/');
        auto b = key.find('/', a + 1);
        return Scope{key.substr(0, a), key.substr(a + 1, b - a - 1)};
    };
    LAMINA_CHECK(docs_.for_each(kLayerKind, [&](const std::string& key, const std::string& doc) {
        auto j = json::parse(doc);
        Layer l;
        l.name = j.at("name").get<std::string>();
        l.last_version = j.value("last_version", std::int64_t{0});
        layers_[scope_of(key)][l.name] = std::move(l);
    }));
    return docs_.for_each(kLayerVersionKind, [&](const std::string& key, const std::string& doc) {
        auto v = LayerVersion::from_doc(json::parse(doc));
        auto& layer = layers_[scope_of(key)][v.layer_name];
        layer.name = v.layer_name;
        layer.last_version = std::max(layer.last_version, v.version);
        layer.versions[v.version] = std::move(v);
    });
}

Status LayerRegistry::commit_version(const Scope& s, const Layer& layer, const LayerVersion& v) {
    return docs_.apply(
        {store::Mutation::put(
             kLayerKind, layer_key(s, layer.name),
             json{{"name", layer.name}, {"last_version", layer.last_version}}.dump()),
         store::Mutation::put(kLayerVersionKind, layer_version_key(s, layer.name, v.version),
                              v.to_doc().dump())});
}

const LayerVersion* LayerRegistry::find(const Scope& s, const std::string& name,
                                        std::int64_t version) const {
    auto a = layers_.find(s);
    if (a == layers_.end()) return nullptr;
    auto l = a->second.find(name);
    if (l == a->second.end()) return nullptr;
    auto v = l->second.versions.find(version);
    return v == l->second.versions.end() ? nullptr : &v->second;
}

bool LayerRegistry::grants(const LayerVersion& v, const Scope& caller) {
    for (const auto& st : v.policy) {
        const auto& p = st.at("Principal");
        // lamina has no AWS Organizations: an OrganizationId-conditioned grant admits no one.
        if (st.contains("Condition")) continue;
        if (p.is_string() && p.get<std::string>() == "*") return true;
        if (p.is_object() && p.value("AWS", "") == "arn:aws:iam::" + caller.account + ":root")
            return true;
    }
    return false;
}

Result<LayerVersionView> LayerRegistry::publish(const Scope& s, PublishLayerInput in) {
    std::unique_lock lk(mu_);
    Layer layer;
    auto& scope_layers = layers_[s];
    if (auto it = scope_layers.find(in.name); it != scope_layers.end()) layer = it->second;
    layer.name = in.name;
    LayerVersion v;
    v.layer_name = in.name;
    v.version = ++layer.last_version;
    v.description = std::move(in.description);
    v.compatible_runtimes = std::move(in.compatible_runtimes);
    v.compatible_architectures = std::move(in.compatible_architectures);
    v.license_info = std::move(in.license_info);
    v.code_sha256 = std::move(in.code_sha256);
    v.code_blob = std::move(in.code_blob);
    v.code_size = in.code_size;
    v.unzipped_size = in.unzipped_size;
    v.code_path = std::move(in.code_path);
    v.created_ms = clock_.now_ms();
    layer.versions[v.version] = v;
    LAMINA_CHECK(commit_version(s, layer, v));
    scope_layers[in.name] = std::move(layer);
    return LayerVersionView{s, v};
}

Result<LayerVersionView> LayerRegistry::get(const Scope& caller, const Scope& owner,
                                            const std::string& name, std::int64_t version) const {
    std::shared_lock lk(mu_);
    const LayerVersion* v = find(owner, name, version);
    if (owner.region != caller.region) return std::unexpected(missing_resource());
    if (owner.account != caller.account) {
        if (!v)
            return std::unexpected(access_denied(caller, layer_version_arn(owner, name, version)));
        if (!grants(*v, caller))
            return std::unexpected(access_denied(caller, layer_version_arn(owner, name, version)));
    }
    if (!v) return std::unexpected(missing_resource());
    return LayerVersionView{owner, *v};
}

Result<LayerVersionView> LayerRegistry::get_by_arn(const Scope& caller,
                                                   const std::string& arn) const {
    static const std::regex kPattern(kLayerVersionArnPattern);
    if (arn.size() > 140 + 64 || !regex_full_match(arn, kPattern)) {
        ValidationErrors e;
        e.add(arn, "arn",
              std::string("Member must satisfy regular expression pattern: ") +
                  kLayerVersionArnPattern);
        return std::unexpected(e.error());
    }
    auto p = parse_arn(arn);
    if (!p || p->resource.rfind("layer:", 0) != 0) return std::unexpected(missing_resource());
    std::string rest = p->resource.substr(6);
    auto colon = rest.rfind(':');
    auto version = parse_version(rest.substr(colon + 1));
    if (!version) return std::unexpected(missing_resource());
    return get(caller, Scope{p->account, p->region}, rest.substr(0, colon), *version);
}

Status LayerRegistry::remove(const Scope& s, const std::string& name, std::int64_t version) {
    std::unique_lock lk(mu_);
    if (!find(s, name, version)) return {};  // AWS answers 204 either way
    LAMINA_CHECK(docs_.apply(
        {store::Mutation::erase(kLayerVersionKind, layer_version_key(s, name, version))}));
    layers_[s][name].versions.erase(version);
    return {};
}

Result<std::pair<std::vector<LayerListItem>, std::optional<std::string>>>
LayerRegistry::list_layers(const Scope& s, const std::optional<std::string>& runtime,
                           const std::optional<std::string>& arch,
                           const std::optional<std::string>& marker, int max_items) const {
    std::shared_lock lk(mu_);
    std::string after;
    if (marker) {
        LAMINA_TRY(pos, read_marker("layers", *marker));
        after = pos;
    }
    std::vector<LayerListItem> out;
    std::optional<std::string> next;
    auto a = layers_.find(s);
    if (a == layers_.end()) return std::make_pair(out, next);
    for (auto it = after.empty() ? a->second.begin() : a->second.upper_bound(after);
         it != a->second.end(); ++it) {
        const Layer& l = it->second;
        const LayerVersion* latest = nullptr;
        for (auto v = l.versions.rbegin(); v != l.versions.rend(); ++v)
            if (matches(v->second, runtime, arch)) {
                latest = &v->second;
                break;
            }
        if (!latest) continue;
        if (static_cast<int>(out.size()) == max_items) {
            next = make_marker("layers", out.back().name);
            break;
        }
        out.push_back({l.name, LayerVersionView{s, *latest}});
    }
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::pair<std::vector<LayerVersionView>, std::optional<std::string>>>
LayerRegistry::list_versions(const Scope& s, const std::string& name,
                             const std::optional<std::string>& runtime,
                             const std::optional<std::string>& arch,
                             const std::optional<std::string>& marker, int max_items) const {
    std::shared_lock lk(mu_);
    std::int64_t below = INT64_MAX;
    if (marker) {
        LAMINA_TRY(pos, read_marker("layer-versions", *marker));
        auto bar = pos.rfind('|');
        auto at = bar == std::string::npos ? std::nullopt : parse_version(pos.substr(bar + 1));
        if (!at || pos.substr(0, bar) != name)
            return fail(ErrorCode::InvalidParameterValue, "Invalid Marker: " + *marker);
        below = *at;
    }
    std::vector<LayerVersionView> out;
    std::optional<std::string> next;
    auto a = layers_.find(s);
    if (a == layers_.end()) return std::make_pair(out, next);
    auto l = a->second.find(name);
    if (l == a->second.end()) return std::make_pair(out, next);
    for (auto v = l->second.versions.rbegin(); v != l->second.versions.rend(); ++v) {
        if (v->first >= below || !matches(v->second, runtime, arch)) continue;
        if (static_cast<int>(out.size()) == max_items) {
            next = make_marker("layer-versions",
                               name + "|" + std::to_string(out.back().version.version));
            break;
        }
        out.push_back({s, v->second});
    }
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::pair<json, std::string>> LayerRegistry::add_permission(const Scope& s,
                                                                   const std::string& name,
                                                                   std::int64_t version,
                                                                   LayerPermissionInput in) {
    std::unique_lock lk(mu_);
    const LayerVersion* cv = find(s, name, version);
    if (!cv) return std::unexpected(missing_version(s, name, version));
    if (in.revision_id && *in.revision_id != cv->policy_revision)
        return fail(ErrorCode::PreconditionFailed,
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetLayerPolicy API "
                    "to retrieve the latest Revision Id");
    for (const auto& st : cv->policy)
        if (st.value("Sid", "") == in.statement_id)
            return fail(ErrorCode::ResourceConflict,
                        "The statement id (" + in.statement_id +
                            ") provided already exists. Please provide a new statement id, or "
                            "remove the existing "
                            "statement.");
    json principal = in.principal == "*" ? json("*")
                     : in.principal.rfind("arn:", 0) == 0
                         ? json{{"AWS", in.principal}}
                         : json{{"AWS", "arn:aws:iam::" + in.principal + ":root"}};
    json statement = {{"Sid", in.statement_id},
                      {"Effect", "Allow"},
                      {"Principal", principal},
                      {"Action", "lambda:GetLayerVersion"},
                      {"Resource", layer_version_arn(s, name, version)}};
    if (in.organization_id)
        statement["Condition"] = {{"StringEquals", {{"aws:PrincipalOrgID", *in.organization_id}}}};
    LayerVersion v = *cv;
    v.policy.push_back(statement);
    v.policy_revision = ids_.uuid();
    Layer& layer = layers_[s][name];
    LAMINA_CHECK(docs_.apply({store::Mutation::put(
        kLayerVersionKind, layer_version_key(s, name, version), v.to_doc().dump())}));
    layer.versions[version] = v;
    return std::make_pair(statement, v.policy_revision);
}

Result<std::pair<std::string, std::string>> LayerRegistry::get_policy(const Scope& s,
                                                                      const std::string& name,
                                                                      std::int64_t version) const {
    std::shared_lock lk(mu_);
    const LayerVersion* v = find(s, name, version);
    if (!v) return std::unexpected(missing_version(s, name, version));
    if (v->policy.empty())
        return fail(ErrorCode::ResourceNotFound,
                    "No policy is associated with the given resource.");
    json doc = {{"Version", "2012-10-17"}, {"Id", "default"}, {"Statement", v->policy}};
    return std::make_pair(doc.dump(), v->policy_revision);
}

Status LayerRegistry::remove_permission(const Scope& s, const std::string& name,
                                        std::int64_t version, const std::string& sid,
                                        std::optional<std::string> revision_id) {
    std::unique_lock lk(mu_);
    const LayerVersion* cv = find(s, name, version);
    if (!cv) return std::unexpected(missing_version(s, name, version));
    if (revision_id && *revision_id != cv->policy_revision)
        return fail(ErrorCode::PreconditionFailed,
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetLayerPolicy API "
                    "to retrieve the latest Revision Id");
    LayerVersion v = *cv;
    auto it = std::find_if(v.policy.begin(), v.policy.end(),
                           [&](const json& st) { return st.value("Sid", "") == sid; });
    if (it == v.policy.end())
        return fail(ErrorCode::ResourceNotFound,
                    "Statement " + sid + " is not found in resource policy.");
    v.policy.erase(it);
    v.policy_revision = v.policy.empty() ? std::string() : ids_.uuid();
    LAMINA_CHECK(docs_.apply({store::Mutation::put(
        kLayerVersionKind, layer_version_key(s, name, version), v.to_doc().dump())}));
    layers_[s][name].versions[version] = v;
    return {};
}

Result<std::vector<LayerRef>> LayerRegistry::resolve_for_function(
    const Scope& caller, const std::vector<std::string>& arns) const {
    static const std::regex kPattern(kLayerVersionArnPattern);
    // 1. request validation: every ARN well formed
    for (const auto& arn : arns) {
        if (arn.empty() || arn.size() > 2048 || !regex_full_match(arn, kPattern)) {
            std::string list = "[";
            for (std::size_t i = 0; i < arns.size(); ++i) list += (i ? ", " : "") + arns[i];
            list += "]";
            ValidationErrors e;
            e.add(list, "layers",
                  std::string("Member must satisfy constraint: [Member must have length less than "
                              "or equal to 2048, "
                              "Member must have length greater than or equal to 1, Member must "
                              "satisfy regular "
                              "expression pattern: ") +
                      kLayerVersionArnPattern + ", Member must not be null]");
            return std::unexpected(e.error());
        }
    }
    if (arns.size() > limits::kMaxLayers)
        return fail(
            ErrorCode::InvalidParameterValue,
            "Cannot reference more than " + std::to_string(limits::kMaxLayers) + " layers.");
    struct Parsed {
        Scope owner;
        std::string name;
        std::int64_t version;
        std::string arn;
    };
    std::vector<Parsed> parsed;
    for (const auto& arn : arns) {
        auto p = parse_arn(arn);
        if (!p || p->resource.rfind("layer:", 0) != 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "Layer version " + arn + " does not exist.");
        std::string rest = p->resource.substr(6);
        auto colon = rest.rfind(':');
        auto version = parse_version(rest.substr(colon + 1));
        if (!version)
            return fail(ErrorCode::InvalidParameterValue,
                        "Layer version " + arn + " does not exist.");
        parsed.push_back({Scope{p->account, p->region}, rest.substr(0, colon), *version, arn});
    }
    // 2. the same layer twice
    for (std::size_t i = 0; i < parsed.size(); ++i)
        for (std::size_t j = i + 1; j < parsed.size(); ++j)
            if (parsed[i].owner == parsed[j].owner && parsed[i].name == parsed[j].name)
                return fail(ErrorCode::InvalidParameterValue,
                            "Two different versions of the same layer are not allowed to be "
                            "referenced in the same "
                            "function. " +
                                parsed[i].arn + " and " + parsed[j].arn +
                                " are versions of the same layer.");
    // 3. region, existence, permission
    for (const auto& p : parsed)
        if (p.owner.region != caller.region)
            return fail(ErrorCode::InvalidParameterValue,
                        "Layers are not in the same region as the function. Layers are expected to "
                        "be in region " +
                            caller.region + ".");
    std::shared_lock lk(mu_);
    std::vector<LayerRef> refs;
    for (const auto& p : parsed) {
        const LayerVersion* v = find(p.owner, p.name, p.version);
        if (p.owner.account != caller.account && (!v || !grants(*v, caller)))
            return std::unexpected(access_denied(caller, p.arn));
        if (!v)
            return fail(ErrorCode::InvalidParameterValue,
                        "Layer version " + p.arn + " does not exist.");
        refs.push_back({p.arn, v->code_size, v->unzipped_size, v->code_blob, v->code_path});
    }
    // 4. lamina's own: a hot-reload layer's folder is bound at /opt as it is
    for (const auto& r : refs)
        if (!r.path.empty() && refs.size() > 1)
            return fail(ErrorCode::InvalidParameterValue,
                        "Layer version " + r.arn + " is hot-reloaded from " + r.path +
                            ", whose folder lamina binds at /opt as it is: a function using it "
                            "can have no other layer.");
    return refs;
}

std::int64_t LayerRegistry::total_code_size(const Scope& s) const {
    std::shared_lock lk(mu_);
    std::int64_t total = 0;
    auto a = layers_.find(s);
    if (a == layers_.end()) return 0;
    for (const auto& [n, l] : a->second)
        for (const auto& [k, v] : l.versions) total += v.code_size;
    return total;
}

std::set<std::string> LayerRegistry::referenced_blobs() const {
    std::shared_lock lk(mu_);
    std::set<std::string> out;
    for (const auto& [s, m] : layers_)
        for (const auto& [n, l] : m)
            for (const auto& [k, v] : l.versions)
                if (!v.code_blob.empty()) out.insert(v.code_blob);
    return out;
}

bool LayerRegistry::blob_is_referenced(const std::string& hex) const {
    std::shared_lock lk(mu_);
    for (const auto& [s, m] : layers_)
        for (const auto& [n, l] : m)
            for (const auto& [k, v] : l.versions)
                if (!hex.empty() && v.code_blob == hex) return true;
    return false;
}

}  // namespace lamina::control
