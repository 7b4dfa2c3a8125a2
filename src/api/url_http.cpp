#include "url_http.hpp"

#include <ctime>
#include <map>
#include <vector>

#include "lamina/common/encoding.hpp"

namespace lamina::api {

using json = nlohmann::json;

namespace {

// "a=1; b=2" -> ["a=1", "b=2"]
void split_cookies(const std::string& header, json& cookies) {
    std::size_t start = 0;
    while (start < header.size()) {
        auto end = header.find(';', start);
        std::string part = header.substr(start, end == std::string::npos ? end : end - start);
        auto first = part.find_first_not_of(' ');
        auto last = part.find_last_not_of(' ');
        if (first != std::string::npos) cookies.push_back(part.substr(first, last - first + 1));
        if (end == std::string::npos) break;
        start = end + 1;
    }
}

// "04/Mar/2020:19:03:58 +0000", requestContext.time
std::string clf_time(std::int64_t epoch_ms) {
    auto secs = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    return buf;
}

std::string header_value(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();  // numbers and booleans as their JSON text
}

// A response description's "headers" (name -> scalar), with `multi_value`
// its "multiValueHeaders" (name -> scalars), then `default_type` as the
// Content-Type when none was given, then "cookies" (one Set-Cookie each),
// onto `r`. False when any of them is malformed.
bool add_headers_and_cookies(const json& d, bool multi_value, const char* default_type,
                             http::Response& r) {
    bool typed = false;
    auto add = [&](const std::string& name, const json& value) {
        if (value.is_null() || value.is_object() || value.is_array()) return false;
        if (ascii_lower(name) == "content-type") typed = true;
        r.headers.items.emplace_back(name, header_value(value));
        return true;
    };
    if (auto h = d.find("headers"); h != d.end() && !h->is_null()) {
        if (!h->is_object()) return false;
        for (const auto& [name, value] : h->items())
            if (!add(name, value)) return false;
    }
    if (auto h = d.find("multiValueHeaders"); multi_value && h != d.end() && !h->is_null()) {
        if (!h->is_object()) return false;
        for (const auto& [name, values] : h->items()) {
            if (!values.is_array()) return false;
            for (const auto& value : values)
                if (!add(name, value)) return false;
        }
    }
    if (!typed) r.headers.set("Content-Type", default_type);
    if (auto c = d.find("cookies"); c != d.end() && !c->is_null()) {
        if (!c->is_array()) return false;
        for (const auto& cookie : *c) {
            if (!cookie.is_string()) return false;
            r.headers.items.emplace_back("Set-Cookie", cookie.get<std::string>());
        }
    }
    return true;
}

}  // namespace

bool url_body_is_text(const std::string& content_type) {
    std::string t = ascii_lower(content_type.substr(0, content_type.find(';')));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    if (t.starts_with("text/")) return true;
    return t == "application/json" || t == "application/javascript" || t == "application/xml" ||
           t.ends_with("+json") || t.ends_with("+xml");
}

json url_event(const http::Request& req, const std::string& raw_path, const std::string& raw_query,
               const UrlEventContext& ctx) {
    // lower-cased names; a repeated header is one value, joined by commas
    std::map<std::string, std::string> headers;
    json cookies = json::array();
    for (const auto& [name, value] : req.headers.items) {
        std::string key = ascii_lower(name);
        if (key == "cookie") {
            split_cookies(value, cookies);
            continue;
        }
        auto [it, fresh] = headers.try_emplace(key, value);
        if (!fresh) it->second += "," + value;
    }
    headers.try_emplace("x-forwarded-for", ctx.source_ip);
    headers.try_emplace("x-forwarded-proto", "http");
    if (!ctx.port.empty()) headers.try_emplace("x-forwarded-port", ctx.port);
    if (!ctx.trace_id.empty()) headers.try_emplace("x-amzn-trace-id", ctx.trace_id);

    json event = {{"version", "2.0"},
                  {"routeKey", "$default"},
                  {"rawPath", raw_path},
                  {"rawQueryString", raw_query}};
    if (!cookies.empty()) event["cookies"] = cookies;
    event["headers"] = headers;
    if (!req.query.empty()) {
        std::map<std::string, std::string> params;
        for (const auto& [k, v] : req.query) {
            auto [it, fresh] = params.try_emplace(k, v);
            if (!fresh) it->second += "," + v;
        }
        event["queryStringParameters"] = params;
    }
    json request_context = {{"accountId", ctx.account_id},
                            {"apiId", ctx.url_id},
                            {"domainName", ctx.domain_name},
                            {"domainPrefix", ctx.url_id},
                            {"http",
                             {{"method", req.method},
                              {"path", raw_path},
                              {"protocol", "HTTP/1.1"},
                              {"sourceIp", ctx.source_ip},
                              {"userAgent", req.headers.get("User-Agent")}}},
                            {"requestId", ctx.request_id},
                            {"routeKey", "$default"},
                            {"stage", "$default"},
                            {"time", clf_time(ctx.epoch_ms)},
                            {"timeEpoch", ctx.epoch_ms}};
    if (ctx.iam) request_context["authorizer"] = {{"iam", *ctx.iam}};
    event["requestContext"] = std::move(request_context);
    if (!req.body.empty()) {
        const std::string* type = req.headers.find("Content-Type");
        bool text = type && url_body_is_text(*type) && is_valid_utf8(req.body);
        event["body"] = text ? req.body : base64_encode(req.body);
        event["isBase64Encoded"] = !text;
    } else {
        event["isBase64Encoded"] = false;
    }
    return event;
}

std::optional<http::Response> url_response(const std::string& payload) {
    json result = json::parse(payload, nullptr, false);
    if (result.is_discarded()) return std::nullopt;
    http::Response r;
    r.status = 200;
    if (!result.is_object() || !result.contains("statusCode")) {
        r.headers.set("Content-Type", "application/json");
        r.body = result.is_string() ? result.get<std::string>() : result.dump();
        return r;
    }
    const json& status = result["statusCode"];
    long long code = -1;
    if (status.is_number_integer()) {
        code = status.get<long long>();
    } else if (status.is_string()) {
        const std::string s = status.get<std::string>();
        if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        code = std::stoll(s);
    }
    if (code < 100 || code > 599) return std::nullopt;
    r.status = static_cast<unsigned>(code);
    if (!add_headers_and_cookies(result, false, "application/json", r)) return std::nullopt;
    bool base64 = false;
    if (auto b = result.find("isBase64Encoded"); b != result.end() && !b->is_null()) {
        if (!b->is_boolean()) return std::nullopt;
        base64 = b->get<bool>();
    }
    if (auto b = result.find("body"); b != result.end() && !b->is_null()) {
        if (b->is_string()) {
            r.body = b->get<std::string>();
            if (base64) {
                auto decoded = base64_decode(r.body);
                if (!decoded) return std::nullopt;
                r.body = std::move(*decoded);
            }
        } else {
            r.body = b->dump();
        }
    }
    return r;
}

std::optional<http::Response> url_stream_head(std::string_view prelude) {
    json head = json::parse(prelude, nullptr, false);
    if (head.is_discarded() || !head.is_object()) return std::nullopt;
    http::Response r;
    r.status = 200;
    if (auto s = head.find("statusCode"); s != head.end() && !s->is_null()) {
        if (!s->is_number_integer()) return std::nullopt;
        const long long code = s->get<long long>();
        if (code < 100 || code > 599) return std::nullopt;
        r.status = static_cast<unsigned>(code);
    }
    if (!add_headers_and_cookies(head, true, "application/octet-stream", r)) return std::nullopt;
    return r;
}

http::Response url_internal_error() {
    http::Response r;
    r.status = 502;
    r.headers.set("Content-Type", "application/json");
    r.body = "Internal Server Error";
    return r;
}

namespace {
http::Response access_denied(std::string body) {
    http::Response r;
    r.status = 403;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-ErrorType", "AccessDeniedException");
    r.body = std::move(body);
    return r;
}
}  // namespace

http::Response url_forbidden() {
    return access_denied(
        R"({"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"})");
}

http::Response url_unknown() { return access_denied(R"({"Message":null})"); }

http::Response url_too_large() {
    http::Response r;
    r.status = 413;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-ErrorType", "RequestEntityTooLargeException");
    r.body =
        R"({"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"})";
    return r;
}

}  // namespace lamina::api
