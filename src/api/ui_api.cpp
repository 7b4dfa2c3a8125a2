#include "lamina/api/ui_api.hpp"

#include <algorithm>
#include <map>

#include "lamina/control/names.hpp"

// The state's shape (every key always present; null where a source is missing):
// {"scope": {account, region}, "scopes": [{account, region}], "now_ms",
//  "window_minutes",
//  "concurrency": {"in_use", "unreserved_in_use", "account_limit", "reserved_total",
//                  "unreserved_limit"},
//  "totals": {"invocations", "errors", "throttles"},   over the window
//  "minutes": [{"t", "invocations", "errors", "throttles", "max_concurrency"}],
//  "functions": [{"name", "runtime", "handler", "memory_size", "timeout", "last_modified_ms",
//                 "code_size", "versions": [{"version", "description", "last_modified_ms"}],
//                 "aliases": [{"name", "version", "weights": {version: weight}}],
//                 "layers": [arn], "reserved_concurrency", "provisioned": [{"qualifier",
//                 "requested", "allocated", "available", "status", "reason"}],
//                 "concurrency", "invocations", "errors", "throttles"}],
//  "event_queue": {"waiting", "retrying", "received", "dropped",
//                  "events": [{"id", "function", "qualifier", "received_ms", "next_ms",
//                              "attempts", "throttles", "payload_bytes"}]},
//  "recent": {"capacity", "function", "invocations": [{"request_id", "function", "qualifier",
//             "version", "at_ms", "duration_ms", "status", "cold", "error_type", "log"}]},
//  "event_source_mappings": [{"uuid", "function", "qualifier", "source", "batch_size",
//                             "state", "last_modified_ms"}],
//  "function_urls": [{"function", "qualifier", "url", "auth_type", "invoke_mode"}]}

namespace lamina::api {

namespace {

using nlohmann::json;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::size_t kMaxShownEvents = 100;

std::int64_t minute_of(std::int64_t ms) { return ms - ms % kMinuteMs; }

// A metric's per-minute sums over the window (minute start -> sum), of one series.
std::map<std::int64_t, double> per_minute(const metrics::MetricsStore* m, const UiQuery& q,
                                          const std::string& name, metrics::Dimensions dims,
                                          bool use_max = false) {
    std::map<std::int64_t, double> out;
    if (!m) return out;
    std::int64_t end = minute_of(q.now_ms) + kMinuteMs;
    std::int64_t start = end - static_cast<std::int64_t>(q.window_minutes) * kMinuteMs;
    for (const auto& d :
         m->query(q.scope, metrics::kLambdaNamespace, name, std::move(dims), start, end, 60))
        out[d.timestamp_ms] = use_max ? d.maximum : d.sum;
    return out;
}

double total(const std::map<std::int64_t, double>& series) {
    double t = 0;
    for (const auto& [at, v] : series) t += v;
    return t;
}

json function_metric(const metrics::MetricsStore* m, const UiQuery& q, const std::string& fn,
                     const std::string& name) {
    if (!m) return nullptr;
    return total(per_minute(m, q, name, {{"FunctionName", fn}}));
}

json function_json(const UiSources& src, const UiQuery& q, const control::Function& f) {
    json versions = json::array();
    for (const auto& [n, v] : f.versions)
        versions.push_back({{"version", v.version},
                            {"description", v.description},
                            {"last_modified_ms", v.last_modified_ms}});
    json aliases = json::array();
    for (const auto& [n, a] : f.aliases) {
        json weights = json::object();
        for (const auto& [v, w] : a.additional_weights) weights[v] = w;
        aliases.push_back(
            {{"name", a.name}, {"version", a.function_version}, {"weights", weights}});
    }
    json layers = json::array();
    for (const auto& l : f.latest.layers) layers.push_back(l.arn);
    json provisioned = json::array();
    for (const auto& [qualifier, pc] : f.provisioned) {
        json p = {{"qualifier", qualifier}, {"requested", pc.requested}, {"allocated", nullptr},
                  {"available", nullptr},   {"status", nullptr},         {"reason", nullptr}};
        if (src.invoker) {
            auto st = src.invoker->provisioned_status(q.scope, f.name, qualifier);
            p["allocated"] = st.allocated;
            p["available"] = st.available;
            p["status"] = st.status;
            p["reason"] = st.reason;
        }
        provisioned.push_back(std::move(p));
    }
    json out = {{"name", f.name},
                {"runtime", f.latest.runtime},
                {"handler", f.latest.handler},
                {"memory_size", f.latest.memory_size},
                {"timeout", f.latest.timeout},
                {"last_modified_ms", f.latest.last_modified_ms},
                {"code_size", f.latest.code_size},
                {"versions", std::move(versions)},
                {"aliases", std::move(aliases)},
                {"layers", std::move(layers)},
                {"reserved_concurrency",
                 f.reserved_concurrency ? json(*f.reserved_concurrency) : json(nullptr)},
                {"provisioned", std::move(provisioned)},
                {"concurrency", src.concurrency ? json(src.concurrency->concurrent(q.scope, f.name))
                                                : json(nullptr)}};
    for (const char* name : {"Invocations", "Errors", "Throttles"}) {
        std::string key = name;
        key[0] = static_cast<char>(key[0] - 'A' + 'a');
        out[key] = function_metric(src.metrics, q, f.name, name);
    }
    return out;
}

json concurrency_json(const UiSources& src, const UiQuery& q) {
    json c = {{"in_use", nullptr},
              {"unreserved_in_use", nullptr},
              {"account_limit", nullptr},
              {"reserved_total", nullptr},
              {"unreserved_limit", nullptr}};
    std::int64_t reserved = src.registry ? src.registry->reserved_total(q.scope) : 0;
    c["reserved_total"] = reserved;
    if (src.concurrency) {
        auto usage = src.concurrency->usage(q.scope);
        int limit = src.concurrency->settings().quota.account_limit;
        c["in_use"] = usage.concurrent;
        c["unreserved_in_use"] = usage.unreserved_concurrent;
        c["account_limit"] = limit;
        c["unreserved_limit"] = std::max<std::int64_t>(0, limit - reserved);
    }
    return c;
}

// Per-minute account-level figures over the window, oldest first, every minute present.
json minutes_json(const UiSources& src, const UiQuery& q, json& totals) {
    auto inv = per_minute(src.metrics, q, "Invocations", {});
    auto err = per_minute(src.metrics, q, "Errors", {});
    auto thr = per_minute(src.metrics, q, "Throttles", {});
    auto conc = per_minute(src.metrics, q, "ConcurrentExecutions", {}, true);
    auto at = [](const std::map<std::int64_t, double>& s, std::int64_t t) {
        auto it = s.find(t);
        return it == s.end() ? 0.0 : it->second;
    };
    json out = json::array();
    std::int64_t last = minute_of(q.now_ms);
    for (int i = q.window_minutes - 1; i >= 0; --i) {
        std::int64_t t = last - static_cast<std::int64_t>(i) * kMinuteMs;
        out.push_back({{"t", t},
                       {"invocations", at(inv, t)},
                       {"errors", at(err, t)},
                       {"throttles", at(thr, t)},
                       {"max_concurrency", at(conc, t)}});
    }
    if (src.metrics)
        totals = {{"invocations", total(inv)}, {"errors", total(err)}, {"throttles", total(thr)}};
    else
        totals = {{"invocations", nullptr}, {"errors", nullptr}, {"throttles", nullptr}};
    return out;
}

// A per-function metric summed over every function that has it (deleted ones too).
double all_functions(const metrics::MetricsStore* m, const UiQuery& q, const std::string& name) {
    double sum = 0;
    for (const auto& series :
         m->list(q.scope, metrics::kLambdaNamespace, name, {{"FunctionName", ""}}))
        if (series.dimensions.size() == 1) sum += total(per_minute(m, q, name, series.dimensions));
    return sum;
}

json queue_json(const UiSources& src, const UiQuery& q) {
    json out = {{"waiting", nullptr},
                {"retrying", nullptr},
                {"received", nullptr},
                {"dropped", nullptr},
                {"events", json::array()}};
    if (src.events) {
        auto events = src.events->queued(q.scope);
        int retrying = 0;
        for (const auto& e : events) {
            if (e.attempts > 0) ++retrying;
            if (out["events"].size() >= kMaxShownEvents) continue;
            out["events"].push_back({{"id", e.id},
                                     {"function", e.function},
                                     {"qualifier", e.qualifier},
                                     {"received_ms", e.received_ms},
                                     {"next_ms", e.next_ms},
                                     {"attempts", e.attempts},
                                     {"throttles", e.throttles},
                                     {"payload_bytes", e.payload_bytes}});
        }
        out["waiting"] = events.size();
        out["retrying"] = retrying;
    }
    if (src.metrics) {  // recorded per function only (as AWS does)
        out["received"] = all_functions(src.metrics, q, "AsyncEventsReceived");
        out["dropped"] = all_functions(src.metrics, q, "AsyncEventsDropped");
    }
    return out;
}

json recent_json(const UiSources& src, const UiQuery& q) {
    json list = json::array();
    if (src.recent) {
        auto records = src.recent->snapshot(q.scope, q.function);
        for (auto& r : records) {
            if (list.size() >= q.recent_limit) break;
            list.push_back({{"request_id", r.request_id},
                            {"function", r.function},
                            {"qualifier", r.qualifier},
                            {"version", r.version},
                            {"at_ms", r.at_ms},
                            {"duration_ms", r.duration_ms},
                            {"status", r.status},
                            {"cold", r.cold},
                            {"error_type", r.error_type},
                            {"log", std::move(r.log)}});
        }
    }
    return {{"capacity", src.recent ? json(src.recent->capacity()) : json(nullptr)},
            {"function", q.function},
            {"invocations", std::move(list)}};
}

json esms_json(const UiSources& src, const UiQuery& q) {
    json out = json::array();
    if (!src.esms) return out;
    for (const auto& m : src.esms->all()) {
        if (!(m.scope == q.scope)) continue;
        out.push_back({{"uuid", m.uuid},
                       {"function", m.function_name},
                       {"qualifier", m.qualifier},
                       {"source", m.event_source_arn},
                       {"batch_size", m.batch_size},
                       {"state", control::esm_state_name(m.enabled ? control::EsmState::Enabled
                                                                   : control::EsmState::Disabled)},
                       {"last_modified_ms", m.last_modified_ms}});
    }
    return out;
}

json urls_json(const UiQuery& q, const std::vector<control::Function>& fns) {
    json out = json::array();
    for (const auto& f : fns)
        for (const auto& [qualifier, u] : f.url_configs)
            out.push_back({{"function", f.name},
                           {"qualifier", qualifier},
                           {"url", control::function_url(u.url_id, q.scope.region, q.request_host)},
                           {"auth_type", u.auth_type},
                           {"invoke_mode", u.effective_invoke_mode()}});
    return out;
}

}  // namespace

json ui_state(const UiSources& src, const UiQuery& q) {
    std::vector<control::Function> fns;
    json scopes = json::array();
    if (src.registry) {
        fns = src.registry->functions_snapshot(q.scope);
        auto known = src.registry->scopes();
        auto add = [&known](const control::Scope& s) {
            if (std::find(known.begin(), known.end(), s) == known.end()) known.push_back(s);
        };
        add(q.scope);
        for (const auto& s : q.also_list) add(s);
        std::sort(known.begin(), known.end());
        for (const auto& s : known)
            scopes.push_back({{"account", s.account}, {"region", s.region}});
    }
    json functions = json::array();
    for (const auto& f : fns) functions.push_back(function_json(src, q, f));
    json totals;
    json minutes = minutes_json(src, q, totals);
    return {{"scope", {{"account", q.scope.account}, {"region", q.scope.region}}},
            {"scopes", std::move(scopes)},
            {"now_ms", q.now_ms},
            {"window_minutes", q.window_minutes},
            {"concurrency", concurrency_json(src, q)},
            {"totals", std::move(totals)},
            {"minutes", std::move(minutes)},
            {"functions", std::move(functions)},
            {"event_queue", queue_json(src, q)},
            {"recent", recent_json(src, q)},
            {"event_source_mappings", esms_json(src, q)},
            {"function_urls", urls_json(q, fns)}};
}

namespace {

constexpr std::string_view kPrefix = "/_lamina/ui";

http::Response asset(std::string_view body, const char* type) {
    http::Response r;
    r.headers.set("Content-Type", type);
    r.headers.set("Cache-Control", "no-store");
    r.headers.set("X-Content-Type-Options", "nosniff");
    // the page's own script and style only; data reaches the DOM as text
    r.headers.set("Content-Security-Policy",
                  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                  "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                  "frame-ancestors 'none'");
    r.body = std::string(body);
    return r;
}

bool all_of_chars(const std::string& s, std::string_view allowed_extra, bool digits_only) {
    for (char c : s) {
        bool ok = (c >= '0' && c <= '9') ||
                  (!digits_only &&
                   ((c >= 'a' && c <= 'z') || allowed_extra.find(c) != std::string_view::npos));
        if (!ok) return false;
    }
    return true;
}

http::Response bad_request(const std::string& message) {
    http::Response r;
    r.status = 400;
    r.headers.set("Content-Type", "application/json");
    r.body = json{{"message", message}}.dump();
    return r;
}

}  // namespace

bool UiApi::is_public(const std::string& method, const std::string& path) {
    return method == "GET" && (path == kPrefix || path.starts_with(std::string(kPrefix) + "/"));
}

std::optional<http::Response> UiApi::handle(const http::Request& req) const {
    if (req.method != "GET") return std::nullopt;
    const std::string& p = req.path;
    if (p == kPrefix || p == "/_lamina/ui/")
        return asset(ui_page_html(), "text/html; charset=utf-8");
    if (p == "/_lamina/ui/app.js") return asset(ui_page_js(), "text/javascript; charset=utf-8");
    if (p == "/_lamina/ui/app.css") return asset(ui_page_css(), "text/css; charset=utf-8");
    if (p != "/_lamina/ui/state") return std::nullopt;
    UiQuery q;
    q.scope = default_scope_;
    if (auto a = req.query_param("account"); a && !a->empty()) q.scope.account = *a;
    if (auto r = req.query_param("region"); r && !r->empty()) q.scope.region = *r;
    if (q.scope.account.size() != 12 || !all_of_chars(q.scope.account, "", true))
        return bad_request("account must be 12 digits");
    if (q.scope.region.size() > 32 || !all_of_chars(q.scope.region, "-", false))
        return bad_request("region must be lowercase letters, digits and '-'");
    q.function = req.query_param("function").value_or("");
    if (q.function.size() > 256) return bad_request("function name too long");
    q.request_host = req.headers.get("Host");
    q.now_ms = clock_.now_ms();
    q.also_list.push_back(default_scope_);
    http::Response r;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("Cache-Control", "no-store");
    r.body = ui_state(sources_, q).dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

}  // namespace lamina::api
