#pragma once
// lamina's developer-loop endpoints, unsigned like /health:
//   GET  /_lamina/invocations?function=&qualifier=&limit=&account=&region=
//        recent invocations (exec::RecentInvocations), newest first;
//   POST /_lamina/reset   everything gone as in a new ephemeral server
//        (loopback callers only; the App decides what it clears and whether
//        it may: see cli/app.cpp).

#include <cstddef>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"
#include "lamina/exec/recent_invocations.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

struct InvocationsQuery {
    control::Scope scope;
    std::string function;   // "" every function
    std::string qualifier;  // "" any; "$LATEST" also matches unqualified invocations
    std::size_t limit = 50;
};

inline constexpr std::size_t kMaxInvocationsLimit = 1000;

// Parses the query string against `default_scope`; unknown parameters, a
// repeated one or a limit outside 1..kMaxInvocationsLimit are refused.
Result<InvocationsQuery> parse_invocations_query(
    const std::multimap<std::string, std::string>& query, const control::Scope& default_scope);
// {"invocations": [...]} of the records that match, at most q.limit.
nlohmann::json invocations_json(const std::vector<exec::InvocationRecord>& newest_first,
                                const InvocationsQuery& q);
// 127.0.0.0/8, ::1 and ::ffff:127.x.y.z.
bool is_loopback_address(const std::string& address);

class DevApi {
public:
    // Clears everything; the body of its 200 answer, or why it did not.
    using ResetHandler = std::function<Result<nlohmann::json>()>;

    DevApi(const exec::RecentInvocations* recent, control::Scope default_scope)
        : recent_(recent), default_scope_(std::move(default_scope)) {}
    void set_reset_handler(ResetHandler h) { reset_ = std::move(h); }

    static bool owns(const std::string& path);
    static bool is_public(const std::string& method, const std::string& path);
    // The answer, nullopt when the method is not one of the path's.
    std::optional<http::Response> handle(const http::Request& req) const;

private:
    const exec::RecentInvocations* recent_;
    control::Scope default_scope_;
    ResetHandler reset_;
};

}  // namespace lamina::api
