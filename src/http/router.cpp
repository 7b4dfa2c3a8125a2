#include "lamina/http/router.hpp"

#include "lamina/common/encoding.hpp"

namespace lamina::http {

namespace {
std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    if (!path.empty() && path[0] == '/') i = 1;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    // a trailing slash leaves an empty last segment: ignore it
    if (out.size() > 1 && out.back().empty()) out.pop_back();
    return out;
}
}  // namespace

void Router::add(std::string method, const std::string& pattern, int operation) {
    Route r;
    r.method = std::move(method);
    r.operation = operation;
    std::string path = pattern;
    if (auto q = pattern.find('?'); q != std::string::npos) {
        path = pattern.substr(0, q);
        auto kv = pattern.substr(q + 1);
        auto eq = kv.find('=');
        r.query_key = kv.substr(0, eq);
        r.query_value = eq == std::string::npos ? std::string{} : kv.substr(eq + 1);
    }
    r.segments = split_path(path);
    // routes with a query requirement are tried first
    if (!r.query_key.empty())
        routes_.insert(routes_.begin(), std::move(r));
    else
        routes_.push_back(std::move(r));
}

std::optional<RouteMatch> Router::match(const std::string& method, const std::string& raw_path,
                                        const std::multimap<std::string, std::string>& query,
                                        bool* path_matched) const {
    auto segments = split_path(raw_path);
    if (path_matched) *path_matched = false;
    for (const auto& r : routes_) {
        if (r.segments.size() != segments.size()) continue;
        RouteMatch m;
        bool ok = true;
        for (std::size_t i = 0; i < segments.size() && ok; ++i) {
            const auto& want = r.segments[i];
            if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
                if (segments[i].empty()) {
                    ok = false;
                    break;
                }
                auto decoded = url_decode(segments[i]);
                if (!decoded) {
                    ok = false;
                    break;
                }
                m.params[want.substr(1, want.size() - 2)] = std::move(*decoded);
            } else if (want != segments[i]) {
                ok = false;
            }
        }
        if (!ok) continue;
        if (!r.query_key.empty()) {
            auto it = query.find(r.query_key);
            if (it == query.end() || it->second != r.query_value) continue;
        }
        if (path_matched) *path_matched = true;
        if (r.method != method) continue;
        m.operation = r.operation;
        return m;
    }
    return std::nullopt;
}

}  // namespace lamina::http
