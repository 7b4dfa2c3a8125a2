#include "lamina/api/dev_api.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <set>

namespace lamina::api {

namespace {

using nlohmann::json;

constexpr const char* kInvocationsPath = "/_lamina/invocations";
constexpr const char* kResetPath = "/_lamina/reset";

http::Response json_response(unsigned status, const json& body) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("Cache-Control", "no-store");
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

http::Response error_response(unsigned status, const std::string& type, const std::string& what) {
    return json_response(status, {{"Type", type}, {"message", what}});
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

bool region_like(const std::string& s) {
    if (s.empty() || s.size() > 32) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

json optional_string(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

}  // namespace

Result<InvocationsQuery> parse_invocations_query(
    const std::multimap<std::string, std::string>& query, const control::Scope& default_scope) {
    static const std::set<std::string> kKnown = {"function", "qualifier", "limit", "account",
                                                 "region"};
    InvocationsQuery q;
    q.scope = default_scope;
    for (const auto& [key, value] : query) {
        if (!kKnown.contains(key))
            return fail(ErrorCode::InvalidParameterValue,
                        "unknown parameter '" + key +
                            "' (known: function, qualifier, limit, account, region)");
        if (query.count(key) > 1)
            return fail(ErrorCode::InvalidParameterValue, "parameter '" + key + "' given twice");
    }
    if (auto it = query.find("function"); it != query.end()) {
        if (it->second.size() > 256)
            return fail(ErrorCode::InvalidParameterValue, "function name too long");
        q.function = it->second;
    }
    if (auto it = query.find("qualifier"); it != query.end()) {
        if (it->second.size() > 128)
            return fail(ErrorCode::InvalidParameterValue, "qualifier too long");
        q.qualifier = it->second;
    }
    if (auto it = query.find("limit"); it != query.end()) {
        const std::string& v = it->second;
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (!all_digits(v) || ec != std::errc() || end != v.data() + v.size() || n < 1 ||
            n > kMaxInvocationsLimit)
            return fail(ErrorCode::InvalidParameterValue,
                        "limit must be a whole number from 1 to " +
                            std::to_string(kMaxInvocationsLimit) + ", got '" + v + "'");
        q.limit = n;
    }
    if (auto it = query.find("account"); it != query.end()) {
        if (it->second.size() != 12 || !all_digits(it->second))
            return fail(ErrorCode::InvalidParameterValue, "account must be 12 digits");
        q.scope.account = it->second;
    }
    if (auto it = query.find("region"); it != query.end()) {
        if (!region_like(it->second))
            return fail(ErrorCode::InvalidParameterValue,
                        "region must be lowercase letters, digits and '-'");
        q.scope.region = it->second;
    }
    return q;
}

json invocations_json(const std::vector<exec::InvocationRecord>& newest_first,
                      const InvocationsQuery& q) {
    json list = json::array();
    for (const auto& r : newest_first) {
        if (list.size() >= q.limit) break;
        if (!q.function.empty() && r.function != q.function) continue;
        if (!q.qualifier.empty() && r.qualifier != q.qualifier &&
            !(q.qualifier == "$LATEST" && r.qualifier.empty()))
            continue;
        list.push_back({{"request_id", r.request_id},
                        {"function", r.function},
                        {"qualifier", optional_string(r.qualifier)},
                        {"version", r.version},
                        {"status", r.status},
                        {"error_type", optional_string(r.error_type)},
                        {"duration_ms", r.duration_ms},
                        {"init_type", optional_string(r.init_type)},
                        {"cold", r.cold},
                        {"payload_bytes_in", r.payload_in},
                        {"payload_bytes_out", r.payload_out},
                        {"started_ms", r.started_ms},
                        {"ended_ms", r.at_ms}});
    }
    return {{"account", q.scope.account},
            {"region", q.scope.region},
            {"function", optional_string(q.function)},
            {"qualifier", optional_string(q.qualifier)},
            {"invocations", std::move(list)}};
}

bool is_loopback_address(const std::string& address) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(address, ec);
    if (ec) return false;
    if (a.is_loopback()) return true;
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6())
            .is_loopback();
    return false;
}

bool DevApi::owns(const std::string& path) {
    return path == kInvocationsPath || path == kResetPath;
}

bool DevApi::is_public(const std::string& method, const std::string& path) {
    return (method == "GET" && path == kInvocationsPath) ||
           (method == "POST" && path == kResetPath);
}

std::optional<http::Response> DevApi::handle(const http::Request& req) const {
    if (req.method == "GET" && req.path == kInvocationsPath) {
        auto q = parse_invocations_query(req.query, default_scope_);
        if (!q) return error_response(400, "InvalidParameterValueException", q.error().message);
        std::vector<exec::InvocationRecord> records;
        if (recent_) records = recent_->snapshot(q->scope, q->function);
        json body = invocations_json(records, *q);
        body["capacity"] = recent_ ? json(recent_->capacity()) : json(nullptr);
        return json_response(200, body);
    }
    if (req.method == "POST" && req.path == kResetPath) {
        if (!is_loopback_address(req.remote_address))
            return error_response(403, "AccessDeniedException",
                                  "POST /_lamina/reset is only answered to loopback callers");
        if (!reset_) return error_response(404, "ResourceNotFoundException", "reset is not served");
        auto done = reset_();
        if (!done) return error_response(409, "ResourceConflictException", done.error().message);
        return json_response(200, *done);
    }
    return std::nullopt;
}

}  // namespace lamina::api
