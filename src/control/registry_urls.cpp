// Registry operations on function URL configs, and the index by which the
// HTTP data plane finds the function a URL belongs to.
#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "lamina/control/registry.hpp"

namespace lamina::control {

using json = nlohmann::json;

namespace {

constexpr const char* kNoResource = "The resource you requested does not exist.";
constexpr const char* kNoFunction = "Function does not exist";

std::string url_function_arn(const Scope& s, const std::string& name, const std::string& q) {
    return q.empty() ? function_arn(s, name) : qualified_arn(s, name, q);
}

// The function (and alias) a URL call names; AWS words a missing one
// differently per operation.
const Function* url_owner(const Function* f, const std::string& q) {
    if (!f || (!q.empty() && !f->aliases.contains(q))) return nullptr;
    return f;
}

// Whether a statement's principal admits the caller: "*" admits anyone, an
// account only a signed caller of that account.
bool admits(const json& principal, const std::string& caller_account) {
    if (principal.is_string() && principal.get<std::string>() == "*") return true;
    if (caller_account.empty() || !principal.is_object() || !principal.contains("AWS"))
        return false;
    const json& aws = principal["AWS"];
    if (!aws.is_string()) return false;
    const auto& p = aws.get_ref<const std::string&>();
    return p == "*" || p == caller_account || p == "arn:aws:iam::" + caller_account + ":root";
}

bool allows_url(const json& s, const std::string& auth_type, const std::string& caller_account) {
    if (s.value("Effect", "") != "Allow") return false;
    const std::string action = s.value("Action", "");
    if (action != "lambda:InvokeFunctionUrl" && action != "lambda:*" && action != "*") return false;
    if (!admits(s.value("Principal", json()), caller_account)) return false;
    auto c = s.find("Condition");
    if (c == s.end()) return true;
    const json only = {{"StringEquals", {{"lambda:FunctionUrlAuthType", auth_type}}}};
    return *c == only;
}

}  // namespace

bool Registry::permits_url(const Scope& owner, const FunctionRef& ref, const std::string& auth_type,
                           const std::string& caller_account) const {
    std::shared_lock lk(mu_);
    const Function* f = find(owner, ref.name);
    if (!f) return false;
    const std::string q = ref.qualifier.value_or("");
    if (!q.empty() && !f->aliases.contains(q)) return false;
    auto it = f->policies.find(q);
    if (it == f->policies.end()) return false;
    return std::any_of(it->second.statements.begin(), it->second.statements.end(),
                       [&](const PolicyStatement& st) {
                           return allows_url(st.statement, auth_type, caller_account);
                       });
}

void Registry::index_urls(const Scope& s, const Function& f) {
    for (const auto& [q, u] : f.url_configs) url_index_[u.url_id] = {s, f.name};
}

void Registry::unindex_urls(const Function& f) {
    for (const auto& [q, u] : f.url_configs) url_index_.erase(u.url_id);
}

Result<FunctionUrlView> Registry::create_function_url(const Scope& s, const FunctionRef& ref,
                                                      const FunctionUrlInput& in) {
    std::unique_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("");
    const Function* cf = url_owner(find(s, ref.name), q);
    if (!cf) return fail(ErrorCode::ResourceNotFound, kNoFunction);
    if (cf->url_configs.contains(q))
        return fail(ErrorCode::ResourceConflict,
                    "Failed to create function url config for [functionArn = " +
                        url_function_arn(s, cf->name, q) +
                        "]. Error message:  FunctionUrlConfig exists for this Lambda function");
    Function f = *cf;
    FunctionUrlConfig u;
    do {
        u.url_id = ids_.hex(32);
    } while (url_index_.contains(u.url_id));
    u.auth_type = in.auth_type.value_or("NONE");
    u.cors = in.cors;
    u.invoke_mode = in.invoke_mode;
    u.creation_time = format_iso8601_ms(now_ms());
    u.last_modified_time = u.creation_time;
    f.url_configs[q] = u;
    LAMINA_CHECK(commit(s, f));
    url_index_[u.url_id] = {s, f.name};
    std::string arn = url_function_arn(s, f.name, q);
    *functions_[s][f.name] = std::move(f);
    return FunctionUrlView{std::move(arn), std::move(u)};
}

Result<FunctionUrlView> Registry::get_function_url(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("");
    const Function* f = url_owner(find(s, ref.name), q);
    if (!f) return fail(ErrorCode::ResourceNotFound, kNoResource);
    auto it = f->url_configs.find(q);
    if (it == f->url_configs.end()) return fail(ErrorCode::ResourceNotFound, kNoResource);
    return FunctionUrlView{url_function_arn(s, f->name, q), it->second};
}

Result<FunctionUrlView> Registry::update_function_url(const Scope& s, const FunctionRef& ref,
                                                      const FunctionUrlInput& in) {
    std::unique_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("");
    const Function* cf = url_owner(find(s, ref.name), q);
    if (!cf) return fail(ErrorCode::ResourceNotFound, kNoFunction);
    if (!cf->url_configs.contains(q)) return fail(ErrorCode::ResourceNotFound, kNoResource);
    Function f = *cf;
    FunctionUrlConfig& u = f.url_configs.at(q);
    if (in.auth_type) u.auth_type = *in.auth_type;
    if (in.cors) u.cors = in.cors;
    if (in.invoke_mode) u.invoke_mode = in.invoke_mode;
    u.last_modified_time = format_iso8601_ms(now_ms());
    FunctionUrlView view{url_function_arn(s, f.name, q), u};
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return view;
}

Status Registry::delete_function_url(const Scope& s, const FunctionRef& ref) {
    std::unique_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("");
    const Function* cf = url_owner(find(s, ref.name), q);
    if (!cf || !cf->url_configs.contains(q)) return fail(ErrorCode::ResourceNotFound, kNoResource);
    Function f = *cf;
    const std::string id = f.url_configs.at(q).url_id;
    f.url_configs.erase(q);
    LAMINA_CHECK(commit(s, f));
    url_index_.erase(id);
    *functions_[s][f.name] = std::move(f);
    return {};
}

Result<std::pair<std::vector<FunctionUrlView>, std::optional<std::string>>>
Registry::list_function_urls(const Scope& s, const FunctionRef& ref, const Page& page) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return fail(ErrorCode::ResourceNotFound, kNoFunction);
    std::vector<FunctionUrlView> rows;
    rows.reserve(f->url_configs.size());
    for (const auto& [q, u] : f->url_configs) rows.push_back({url_function_arn(s, f->name, q), u});
    return paginate(std::move(rows), page, "function-url-configs",
                    [](const FunctionUrlView& v) { return v.function_arn; });
}

std::optional<UrlTarget> Registry::find_function_url(const std::string& url_id) const {
    std::shared_lock lk(mu_);
    auto it = url_index_.find(url_id);
    if (it == url_index_.end()) return std::nullopt;
    const auto& [scope, name] = it->second;
    const Function* f = find(scope, name);
    if (!f) return std::nullopt;
    for (const auto& [q, u] : f->url_configs)
        if (u.url_id == url_id) return UrlTarget{scope, f->name, q, u};
    return std::nullopt;
}

}  // namespace lamina::control
