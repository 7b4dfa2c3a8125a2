// Registry operations on aliases: create, read, update (routing config
// weights checked as AWS checks them), delete and list.
#include <mutex>

#include "lamina/control/registry.hpp"
#include "registry_detail.hpp"

namespace lamina::control {

using registry_detail::kAliasKind;
using registry_detail::not_found_function;
using registry_detail::stale_revision;

Status Registry::check_routing(const Scope& s, const Function& f, const std::string& primary,
                               const std::map<std::string, double>& weights) const {
    // AWS quotes the offending map entry Java-style: {2=0.5}
    auto invalid = [](const std::string& key, double weight, const char* constraint) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", weight);
        std::string shown = buf;
        if (shown.find_first_of(".e") == std::string::npos) shown += ".0";
        ValidationErrors e;
        e.add("{" + key + "=" + shown + "}", "routingConfig.additionalVersionWeights", constraint);
        return std::unexpected(e.error());
    };
    for (const auto& [k, w] : weights) {
        bool numeric = !k.empty() &&
                       std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!numeric)
            return invalid(
                k, w,
                "Map keys must satisfy constraint: [Member must have length less than or equal to "
                "1024, "
                "Member must have length greater than or equal to 1, Member must satisfy regular "
                "expression pattern: [0-9]+]");
        if (!(w >= 0.0 && w <= 1.0))
            return invalid(
                k, w,
                "Map value must satisfy constraint: [Member must have value less than or equal to "
                "1.0, "
                "Member must have value greater than or equal to 0.0, Member must not be null]");
    }
    if (weights.size() > 1)
        return fail(ErrorCode::InvalidParameterValue,
                    "Number of items in AdditionalVersionWeights cannot be greater than 1");
    if (weights.empty()) return {};
    if (primary == "$LATEST")
        return fail(ErrorCode::InvalidParameterValue,
                    "$LATEST is not supported for an alias pointing to more than 1 version");
    const auto& [k, w] = *weights.begin();
    if (k == primary)
        return fail(ErrorCode::InvalidParameterValue,
                    "Invalid function version " + k + ". Function version " + k +
                        " is already included in routing configuration.");
    if (!is_version_number(k) || !f.versions.contains(std::stoll(k)))
        return std::unexpected(not_found_function(s, f.name, k));
    const auto& a = f.versions.at(std::stoll(primary));
    const auto& b = f.versions.at(std::stoll(k));
    if (a.role != b.role || a.dead_letter_target != b.dead_letter_target)
        return fail(
            ErrorCode::InvalidParameterValue,
            "The versions in the routing configuration must have the same execution role and "
            "dead-letter queue configuration.");
    return {};
}

Result<AliasView> Registry::create_alias(const Scope& s, const FunctionRef& ref,
                                         const std::string& name, const AliasInput& in) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name, in.function_version));
    if (cf->aliases.contains(name))
        return fail(ErrorCode::ResourceConflict,
                    "Alias already exists: " + qualified_arn(s, cf->name, name));
    const std::string version = in.function_version.value_or("");
    if (version != "$LATEST" &&
        (!is_version_number(version) || !cf->versions.contains(std::stoll(version))))
        return std::unexpected(not_found_function(s, cf->name, version));
    std::map<std::string, double> weights = in.weights.value_or(std::map<std::string, double>{});
    LAMINA_CHECK(check_routing(s, *cf, version, weights));
    Function f = *cf;
    Alias a;
    a.name = name;
    a.function_version = version;
    a.description = in.description.value_or("");
    a.additional_weights = weights;
    a.revision_id = ids_.uuid();
    f.aliases[name] = a;
    LAMINA_CHECK(commit(s, f,
                        {store::Mutation::put(kAliasKind, function_key(s, f.name) + "/" + name,
                                              a.to_doc().dump())}));
    *functions_[s][f.name] = std::move(f);
    return AliasView{ref.name, a};
}

Result<AliasView> Registry::get_alias(const Scope& s, const FunctionRef& ref,
                                      const std::string& name) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name));
    auto it = f->aliases.find(name);
    if (it == f->aliases.end())
        return fail(ErrorCode::ResourceNotFound,
                    "Cannot find alias arn: " + qualified_arn(s, f->name, name));
    return AliasView{f->name, it->second};
}

Result<AliasView> Registry::update_alias(const Scope& s, const FunctionRef& ref,
                                         const std::string& name, AliasInput in) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    auto it = cf->aliases.find(name);
    if (it == cf->aliases.end())
        return fail(ErrorCode::ResourceNotFound,
                    "Alias not found: " + qualified_arn(s, cf->name, name));
    if (in.revision_id && *in.revision_id != it->second.revision_id)
        return std::unexpected(stale_revision());
    Alias a = it->second;
    if (in.function_version) {
        const auto& v = *in.function_version;
        if (v != "$LATEST" && (!is_version_number(v) || !cf->versions.contains(std::stoll(v))))
            return std::unexpected(not_found_function(s, cf->name, v));
        a.function_version = v;
    }
    if (in.weights) a.additional_weights = *in.weights;
    if (in.description) a.description = *in.description;
    LAMINA_CHECK(check_routing(s, *cf, a.function_version, a.additional_weights));
    a.revision_id = ids_.uuid();
    Function f = *cf;
    f.aliases[name] = a;
    LAMINA_CHECK(commit(s, f,
                        {store::Mutation::put(kAliasKind, function_key(s, f.name) + "/" + name,
                                              a.to_doc().dump())}));
    *functions_[s][f.name] = std::move(f);
    return AliasView{ref.name, a};
}

Status Registry::delete_alias(const Scope& s, const FunctionRef& ref, const std::string& name) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (!cf->aliases.contains(name)) return {};
    Function f = *cf;
    f.aliases.erase(name);
    f.policies.erase(name);
    f.event_invoke_configs.erase(name);
    f.provisioned.erase(name);          // its provisioned concurrency goes with it
    std::optional<std::string> url_id;  // and its function URL
    if (auto u = f.url_configs.find(name); u != f.url_configs.end()) url_id = u->second.url_id;
    f.url_configs.erase(name);
    LAMINA_CHECK(
        commit(s, f, {store::Mutation::erase(kAliasKind, function_key(s, f.name) + "/" + name)}));
    if (url_id) url_index_.erase(*url_id);
    *functions_[s][f.name] = std::move(f);
    recount_reserved(s);
    return {};
}

Result<std::pair<std::vector<AliasView>, std::optional<std::string>>> Registry::list_aliases(
    const Scope& s, const FunctionRef& ref, std::optional<std::string> version,
    const Page& page) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name));
    std::vector<AliasView> rows;
    for (const auto& [n, a] : f->aliases)
        if (!version || a.function_version == *version) rows.push_back({f->name, a});
    return paginate(std::move(rows), page, "aliases:" + f->name,
                    [](const AliasView& a) { return a.alias.name; });
}

}  // namespace lamina::control
