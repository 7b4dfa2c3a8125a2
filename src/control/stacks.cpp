#include "lamina/control/stacks.hpp"

#include <nlohmann/json.hpp>
#include <regex>

#include "lamina/common/regex.hpp"

namespace lamina::control {

namespace {
constexpr const char* kKind = "stack";
constexpr std::size_t kMaxRecordBytes = 4 * 1024 * 1024;
}  // namespace

std::string StackRecords::key(const Scope& s, const std::string& name) {
    return s.account + "/" + s.region + "/" + name;
}

Status StackRecords::load() {
    std::lock_guard lock(mu_);
    return docs_.for_each(
        kKind, [this](const std::string& k, const std::string& doc) { records_[k] = doc; });
}

Status StackRecords::clear() {
    std::lock_guard lock(mu_);
    LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kKind, "")}));
    records_.clear();
    return {};
}

std::optional<std::string> StackRecords::get(const Scope& s, const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = records_.find(key(s, name));
    if (it == records_.end()) return std::nullopt;
    return it->second;
}

Status StackRecords::put(const Scope& s, const std::string& name, const std::string& doc) {
    static const std::regex kName("[A-Za-z][A-Za-z0-9-]{0,127}");
    if (!regex_full_match(name, kName))
        return fail(ErrorCode::Validation,
                    "A stack name must start with a letter and have 1-128 of A-Za-z0-9-: " + name);
    if (doc.size() > kMaxRecordBytes)
        return fail(ErrorCode::RequestEntityTooLarge, "A stack record is at most 4 MiB");
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(ErrorCode::InvalidRequestContent, "A stack record must be a JSON object");
    std::lock_guard lock(mu_);
    LAMINA_CHECK(docs_.apply({store::Mutation::put(kKind, key(s, name), doc)}));
    records_[key(s, name)] = doc;
    return {};
}

Status StackRecords::erase(const Scope& s, const std::string& name) {
    std::lock_guard lock(mu_);
    if (!records_.contains(key(s, name)))
        return fail(ErrorCode::ResourceNotFound, "Stack not found: " + name);
    LAMINA_CHECK(docs_.apply({store::Mutation::erase(kKind, key(s, name))}));
    records_.erase(key(s, name));
    return {};
}

std::vector<std::string> StackRecords::names(const Scope& s) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    std::string prefix = s.account + "/" + s.region + "/";
    for (auto it = records_.lower_bound(prefix);
         it != records_.end() && it->first.rfind(prefix, 0) == 0; ++it)
        out.push_back(it->first.substr(prefix.size()));
    return out;
}

}  // namespace lamina::control
