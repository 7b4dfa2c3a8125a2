// Sums over the whole registry: each account's usage and reserved
// concurrency, and which stored blobs some function version still uses.

#include <mutex>

#include "lamina/control/registry.hpp"

namespace lamina::control {

void Registry::recount_reserved(const Scope& s) {
    std::int64_t sum = 0;
    auto it = functions_.find(s);
    if (it != functions_.end())
        for (const auto& [name, f] : it->second) {
            if (f->reserved_concurrency) {
                sum += *f->reserved_concurrency;
            } else {
                for (const auto& [q, pc] : f->provisioned) sum += pc.requested;
            }
        }
    reserved_sums_[s] = sum;
}

std::int64_t Registry::reserved_total(const Scope& s) const {
    std::shared_lock lk(mu_);
    auto it = reserved_sums_.find(s);
    return it == reserved_sums_.end() ? 0 : it->second;
}

std::set<std::string> Registry::referenced_blobs() const {
    std::shared_lock lk(mu_);
    std::set<std::string> keep;
    auto add = [&](const VersionConfig& c) {
        if (!c.code_blob.empty()) keep.insert(c.code_blob);
        for (const auto& l : c.layers)
            if (!l.blob.empty()) keep.insert(l.blob);
    };
    for (const auto& [scope, fmap] : functions_)
        for (const auto& [name, f] : fmap) {
            add(f->latest);
            for (const auto& [n, v] : f->versions) add(v);
        }
    return keep;
}

AccountUsage Registry::account_usage(const Scope& s) const {
    std::shared_lock lk(mu_);
    AccountUsage u;
    auto it = functions_.find(s);
    if (it == functions_.end()) return u;
    for (const auto& [n, f] : it->second) {
        ++u.function_count;
        u.total_code_size += f->latest.code_size;
        for (const auto& [k, v] : f->versions) u.total_code_size += v.code_size;
    }
    return u;
}

std::size_t Registry::total_functions() const {
    std::shared_lock lk(mu_);
    std::size_t n = 0;
    for (const auto& [s, m] : functions_) n += m.size();
    return n;
}

bool Registry::blob_is_referenced(const std::string& hex) const {
    std::shared_lock lk(mu_);
    for (const auto& [s, m] : functions_)
        for (const auto& [n, f] : m) {
            if (f->latest.code_blob == hex) return true;
            for (const auto& [k, v] : f->versions)
                if (v.code_blob == hex) return true;
        }
    return false;
}

}  // namespace lamina::control
