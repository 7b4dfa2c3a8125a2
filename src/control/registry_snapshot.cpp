// Copies of the registry's records for the dashboard (api/ui_api).

#include "lamina/control/registry.hpp"

namespace lamina::control {

std::vector<Scope> Registry::scopes() const {
    std::shared_lock lk(mu_);
    std::vector<Scope> out;
    for (const auto& [s, m] : functions_)
        if (!m.empty()) out.push_back(s);
    return out;
}

std::vector<Function> Registry::functions_snapshot(const Scope& s) const {
    std::shared_lock lk(mu_);
    std::vector<Function> out;
    auto it = functions_.find(s);
    if (it == functions_.end()) return out;
    out.reserve(it->second.size());
    for (const auto& [name, f] : it->second) out.push_back(*f);
    return out;
}

}  // namespace lamina::control
