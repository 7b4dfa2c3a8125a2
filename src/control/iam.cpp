#include "lamina/control/iam.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "lamina/common/regex.hpp"

namespace lamina::control {

using nlohmann::json;

namespace {

constexpr const char* kRoleKind = "iam_role";

json to_doc(const Role& r) {
    return {{"name", r.name},
            {"path", r.path},
            {"id", r.id},
            {"arn", r.arn},
            {"description", r.description},
            {"assume_role_policy", r.assume_role_policy},
            {"created_ms", r.created_ms},
            {"max_session_duration", r.max_session_duration},
            {"attached", r.attached},
            {"inline_policies", r.inline_policies},
            {"tags", r.tags}};
}

Role from_doc(const json& j) {
    Role r;
    r.name = j.at("name");
    r.path = j.value("path", "/");
    r.id = j.value("id", "");
    r.arn = j.value("arn", "");
    r.description = j.value("description", "");
    r.assume_role_policy = j.value("assume_role_policy", "");
    r.created_ms = j.value("created_ms", std::int64_t{0});
    r.max_session_duration = j.value("max_session_duration", 3600);
    r.attached = j.value("attached", std::vector<std::string>{});
    r.inline_policies = j.value("inline_policies", std::map<std::string, std::string>{});
    r.tags = j.value("tags", std::map<std::string, std::string>{});
    return r;
}

Error no_such_role(const std::string& name) {
    return Error{ErrorCode::NoSuchEntity, "The role with name " + name + " cannot be found."};
}

}  // namespace

IamRoles::IamRoles(store::DocumentStore& docs, Clock& clock, IdSource& ids)
    : docs_(docs), clock_(clock), ids_(ids) {}

Status IamRoles::clear() {
    std::lock_guard lk(mu_);
    LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kRoleKind, "")}));
    roles_.clear();
    return {};
}

Status IamRoles::load() {
    std::lock_guard lk(mu_);
    return docs_.for_each(kRoleKind, [&](const std::string& key, const std::string& doc) {
        auto account = key.substr(0, key.find('/'));
        Role r = from_doc(json::parse(doc));
        roles_[account][r.name] = std::move(r);
    });
}

Status IamRoles::save(const std::string& account, const Role& r) {
    return docs_.apply({store::Mutation::put(kRoleKind, account + "/" + r.name, to_doc(r).dump())});
}

Result<Role> IamRoles::create(const std::string& account, Role role) {
    static const std::regex kName(R"([\w+=,.@-]{1,64})");
    if (!regex_full_match(role.name, kName))
        return fail(ErrorCode::IamValidationError,
                    "1 validation error detected: Value '" + role.name +
                        "' at 'roleName' failed to satisfy constraint: Member must satisfy regular "
                        "expression "
                        "pattern: [\\w+=,.@-]+");
    if (role.assume_role_policy.empty())
        return fail(ErrorCode::IamValidationError,
                    "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed "
                    "to satisfy "
                    "constraint: Member must not be null");
    if (!json::accept(role.assume_role_policy))
        return fail(ErrorCode::MalformedPolicyDocument, "This policy contains invalid Json");
    std::lock_guard lk(mu_);
    auto& roles = roles_[account];
    auto same = std::find_if(roles.begin(), roles.end(), [&](const auto& kv) {
        return strcasecmp(kv.first.c_str(), role.name.c_str()) == 0;
    });
    if (same != roles.end())
        return fail(ErrorCode::EntityAlreadyExists,
                    "Role with name " + role.name + " already exists.");
    if (role.path.empty()) role.path = "/";
    role.arn = "arn:aws:iam::" + account + ":role" + role.path + role.name;
    std::string hex = ids_.hex(17);
    for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    role.id = "AROA" + hex;
    role.created_ms = clock_.now_ms();
    LAMINA_CHECK(save(account, role));
    roles[role.name] = role;
    return role;
}

Result<Role> IamRoles::get(const std::string& account, const std::string& name) const {
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    return a->second.at(name);
}

Status IamRoles::remove(const std::string& account, const std::string& name) {
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    const Role& r = a->second.at(name);
    if (!r.attached.empty() || !r.inline_policies.empty())
        return fail(ErrorCode::DeleteConflict,
                    "Cannot delete entity, must detach all policies first.");
    LAMINA_CHECK(docs_.apply({store::Mutation::erase(kRoleKind, account + "/" + name)}));
    a->second.erase(name);
    return {};
}

std::vector<Role> IamRoles::list(const std::string& account, const std::string& path_prefix) const {
    std::lock_guard lk(mu_);
    std::vector<Role> out;
    auto a = roles_.find(account);
    if (a == roles_.end()) return out;
    for (const auto& [n, r] : a->second)
        if (r.path.rfind(path_prefix, 0) == 0) out.push_back(r);
    return out;
}

Status IamRoles::attach(const std::string& account, const std::string& name,
                        const std::string& policy_arn) {
    static const std::regex kPolicyArn(R"(arn:aws[a-zA-Z-]*:iam::(aws|\d{12}):policy/.+)");
    if (!regex_full_match(policy_arn, kPolicyArn))
        return fail(ErrorCode::IamValidationError, "ARN " + policy_arn + " is not valid.");
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    Role r = a->second.at(name);
    if (std::find(r.attached.begin(), r.attached.end(), policy_arn) == r.attached.end())
        r.attached.push_back(policy_arn);
    LAMINA_CHECK(save(account, r));
    a->second[name] = std::move(r);
    return {};
}

Status IamRoles::detach(const std::string& account, const std::string& name,
                        const std::string& policy_arn) {
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    Role r = a->second.at(name);
    auto it = std::find(r.attached.begin(), r.attached.end(), policy_arn);
    if (it == r.attached.end())
        return fail(ErrorCode::NoSuchEntity, "Policy " + policy_arn + " was not found.");
    r.attached.erase(it);
    LAMINA_CHECK(save(account, r));
    a->second[name] = std::move(r);
    return {};
}

Status IamRoles::put_inline(const std::string& account, const std::string& name,
                            const std::string& policy_name, const std::string& document) {
    if (!json::accept(document))
        return fail(ErrorCode::MalformedPolicyDocument, "This policy contains invalid Json");
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    Role r = a->second.at(name);
    r.inline_policies[policy_name] = document;
    LAMINA_CHECK(save(account, r));
    a->second[name] = std::move(r);
    return {};
}

Status IamRoles::delete_inline(const std::string& account, const std::string& name,
                               const std::string& policy_name) {
    std::lock_guard lk(mu_);
    auto a = roles_.find(account);
    if (a == roles_.end() || !a->second.contains(name)) return std::unexpected(no_such_role(name));
    Role r = a->second.at(name);
    if (!r.inline_policies.erase(policy_name))
        return fail(ErrorCode::NoSuchEntity,
                    "The role policy with name " + policy_name + " cannot be found.");
    LAMINA_CHECK(save(account, r));
    a->second[name] = std::move(r);
    return {};
}

}  // namespace lamina::control
