#include "lamina/api/request_context.hpp"

#include "lamina/common/regex.hpp"

namespace lamina::api {

std::optional<SigV4Scope> parse_sigv4_scope(const std::string& authorization) {
    auto pos = authorization.find("Credential=");
    if (pos == std::string::npos) return std::nullopt;
    pos += 11;
    auto end = authorization.find_first_of(", ", pos);
    std::string cred =
        authorization.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    SigV4Scope s;
    std::string* parts[] = {&s.access_key_id, &s.date, &s.region, &s.service};
    std::size_t start = 0;
    for (auto* part : parts) {
        auto slash = cred.find('/', start);
        if (slash == std::string::npos) return std::nullopt;
        *part = cred.substr(start, slash - start);
        start = slash + 1;
    }
    return s;
}

RequestContext make_context(const http::Request& req, const Config& config,
                            std::string request_id) {
    RequestContext ctx;
    ctx.request_id = std::move(request_id);
    ctx.scope = {config.account_id, config.region};
    ctx.host = req.headers.get("Host", config.host + ":" + std::to_string(config.port));
    std::string auth = req.headers.get("Authorization");
    std::optional<SigV4Scope> sig = parse_sigv4_scope(auth);
    if (!sig) {
        // presigned style: X-Amz-Credential in the query string
        if (auto cred = req.query_param("X-Amz-Credential"))
            sig = parse_sigv4_scope("Credential=" + *cred);
    }
    if (sig) {
        ctx.access_key_id = sig->access_key_id;
        ctx.service = sig->service;
        // Only a region-shaped scope is taken (it becomes part of store keys and ARNs).
        static const std::regex kRegion(R"([a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d)");
        // a client signs every request with the same region: matched once per thread
        thread_local std::string last_region;
        if ((!sig->region.empty() && sig->region == last_region) ||
            regex_full_match(sig->region, kRegion)) {
            ctx.scope.region = sig->region;
            last_region = sig->region;
        }
        bool twelve_digits = sig->access_key_id.size() == 12;
        for (char c : sig->access_key_id)
            if (c < '0' || c > '9') twelve_digits = false;
        if (twelve_digits) ctx.scope.account = sig->access_key_id;
    }
    return ctx;
}

}  // namespace lamina::api
