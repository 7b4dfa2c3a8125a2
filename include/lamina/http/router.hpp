#pragma once
// Maps (method, path template) to an opaque operation id. Templates are
// "/2015-03-31/functions/{FunctionName}/versions"; a "{Name}" matches one
// path segment and is returned %-decoded. A template may require a query
// parameter value ("?find=LayerVersion"); such routes win over plain ones.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lamina::http {

struct RouteMatch {
    int operation = -1;
    std::map<std::string, std::string> params;
};

class Router {
public:
    // pattern may end in "?key=value" to require that query parameter.
    void add(std::string method, const std::string& pattern, int operation);

    // The operation for this request, or nullopt. `path_matched` is set when
    // some route matched the path but not the method.
    std::optional<RouteMatch> match(const std::string& method, const std::string& raw_path,
                                    const std::multimap<std::string, std::string>& query,
                                    bool* path_matched = nullptr) const;

private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;  // literal, or "{Name}"
        std::string query_key, query_value;
        int operation;
    };
    std::vector<Route> routes_;
};

}  // namespace lamina::http
