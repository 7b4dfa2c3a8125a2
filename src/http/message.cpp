#include "lamina/http/message.hpp"

#include <strings.h>

#include "lamina/common/encoding.hpp"

namespace lamina::http {

const std::string* Headers::find(std::string_view name) const {
    for (const auto& [k, v] : items) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
    }
    return nullptr;
}

std::string Headers::get(std::string_view name, std::string fallback) const {
    const std::string* v = find(name);
    if (v) return *v;
    return fallback;
}

void Headers::set(std::string name, std::string value) {
    for (auto& [k, v] : items) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Request::query_param(const std::string& key) const {
    auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> Request::query_params(const std::string& key) const {
    std::vector<std::string> out;
    auto [b, e] = query.equal_range(key);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    return out;
}

bool parse_target(const std::string& target, std::string& path,
                  std::multimap<std::string, std::string>& query) {
    auto q = target.find('?');
    path = target.substr(0, q);
    if (q == std::string::npos) return true;
    std::string_view rest(target);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto key = url_decode(pair.substr(0, eq), true);
        auto value = url_decode(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) return false;
        query.emplace(std::move(*key), std::move(*value));
    }
    return true;
}

}  // namespace lamina::http
