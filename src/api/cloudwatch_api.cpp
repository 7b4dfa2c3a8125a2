#include "lamina/api/cloudwatch_api.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "lamina/common/cbor.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::api {

namespace {

using json = nlohmann::json;
constexpr const char* kXmlns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

// A CloudWatch error: its query code (also the x-amzn-query-error code) and HTTP status.
struct CwError {
    std::string code;  // InvalidParameterValue, MissingParameter, InvalidParameterCombination, ...
    std::string message;
    unsigned status = 400;
};

template <typename T>
using CwResult = std::expected<T, CwError>;

CwError missing(const std::string& name) {
    return {"MissingParameter", "The parameter " + name + " is required."};
}
CwError invalid(const std::string& message) { return {"InvalidParameterValue", message}; }

// "2026-11-28T06:00:00Z", "2026-11-28T06:00:00.123+00:00", or epoch seconds.
std::optional<std::int64_t> parse_time(const std::string& s) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
        })) {
        // "." or "1.2.3" is no number, and one past year 3 million no time (std::stod threw, the cast overflowed)
        char* end = nullptr;
        double seconds = std::strtod(s.c_str(), &end);
        if (end != s.c_str() + s.size() || !std::isfinite(seconds) || seconds > 1e14)
            return std::nullopt;
        return static_cast<std::int64_t>(seconds * 1000);
    }
    std::tm tm{};
    int ms = 0;
    char rest[16] = {0};
    int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%15s", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, rest);
    if (n < 6) return std::nullopt;
    std::string tail = rest;
    if (!tail.empty() && tail[0] == '.') {
        std::size_t i = 1;
        std::string frac;
        while (i < tail.size() && std::isdigit(static_cast<unsigned char>(tail[i])))
            frac += tail[i++];
        frac = (frac + "000").substr(0, 3);
        ms = std::stoi(frac);
        tail = tail.substr(i);
    }
    if (!tail.empty() && tail != "Z" && tail != "+00:00" && tail != "+0000") return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

std::optional<std::int64_t> json_time(const json& j) {
    if (j.is_number()) {
        double seconds = j.get<double>();
        if (!std::isfinite(seconds) || std::fabs(seconds) > 1e14)
            return std::nullopt;  // NaN, or beyond year 3 million
        return static_cast<std::int64_t>(seconds * 1000);
    }
    if (j.is_string()) return parse_time(j.get<std::string>());
    return std::nullopt;
}

double statistic(const metrics::Datapoint& p, const std::string& stat) {
    if (stat == "Sum") return p.sum;
    if (stat == "SampleCount") return static_cast<double>(p.count);
    if (stat == "Average") return p.count ? p.sum / static_cast<double>(p.count) : 0;
    if (stat == "Minimum") return p.minimum;
    return p.maximum;  // Maximum
}

bool known_statistic(const std::string& s) {
    return s == "Sum" || s == "SampleCount" || s == "Average" || s == "Minimum" || s == "Maximum";
}

struct StatisticsRequest {
    std::string ns, name;
    metrics::Dimensions dims;
    std::int64_t start_ms = 0, end_ms = 0;
    int period = 60;
    std::vector<std::string> statistics;
};

CwResult<void> check(const StatisticsRequest& r) {
    if (r.period < 1 ||
        (r.period % 60 != 0 && r.period != 1 && r.period != 5 && r.period != 10 && r.period != 30))
        return std::unexpected(invalid("The parameter Period must be a multiple of 60."));
    if (r.end_ms <= r.start_ms)
        return std::unexpected(
            invalid("The parameter StartTime must be less than the parameter EndTime."));
    for (const auto& s : r.statistics)
        if (!known_statistic(s))
            return std::unexpected(
                invalid("The parameter Statistics.member." + s +
                        " must be one of: SampleCount, Average, Sum, Minimum, Maximum."));
    return {};
}

struct DataQuery {
    std::string id, label;
    std::string ns, name;
    metrics::Dimensions dims;
    int period = 60;
    std::string stat;
    bool return_data = true;
};

// ---- awsJson 1.0 and rpc-v2-cbor: the same JSON-shaped documents -----------------

// The error's __type: awsQueryCompatible services name the modeled exception.
std::string error_type(const CwError& e) {
    std::string type = e.code == "InvalidParameterValue" ? "InvalidParameterValueException"
                       : e.code == "MissingParameter"    ? "MissingRequiredParameterException"
                       : e.code == "InvalidParameterCombination"
                           ? "InvalidParameterCombinationException"
                           : e.code;
    return "com.amazonaws.cloudwatch#" + type;
}

http::Response document_error(const CwError& e, const RequestContext& ctx) {
    http::Response r;
    r.status = e.status;
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    // botocore takes the code before ';' from this header (awsQueryCompatible)
    r.headers.set("x-amzn-query-error", e.code + ";" + (e.status >= 500 ? "Receiver" : "Sender"));
    return r;
}

http::Response json_response(const json& body, const RequestContext& ctx) {
    http::Response r;
    r.headers.set("Content-Type", "application/x-amz-json-1.0");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = body.dump(-1, ' ', false,
                       json::error_handler_t::replace);  // names echo the request's bytes
    return r;
}

http::Response json_error(const CwError& e, const RequestContext& ctx) {
    http::Response r = document_error(e, ctx);
    r.headers.set("Content-Type", "application/x-amz-json-1.0");
    r.body = json{{"__type", error_type(e)}, {"message", e.message}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    return r;
}

// The output members of type Timestamp (Datapoint.Timestamp, MetricDataResult.Timestamps):
// epoch-second numbers in the documents, CBOR tag 1 on the wire.
const cbor::EncodeOptions& cbor_options() {
    static const cbor::EncodeOptions kOptions{{"Timestamp", "Timestamps"}};
    return kOptions;
}

http::Response cbor_response(const json& body, const RequestContext& ctx) {
    http::Response r;
    r.headers.set("Content-Type", "application/cbor");
    r.headers.set("smithy-protocol", "rpc-v2-cbor");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = cbor::encode(body, cbor_options());
    return r;
}

http::Response cbor_error(const CwError& e, const RequestContext& ctx) {
    http::Response r = document_error(e, ctx);
    r.headers.set("Content-Type", "application/cbor");
    r.headers.set("smithy-protocol", "rpc-v2-cbor");
    r.body = cbor::encode(json{{"__type", error_type(e)}, {"message", e.message}});
    return r;
}

// Smithy treats a null structure member as absent (botocore drops them too).
void drop_null_members(json& j) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end();) {
            if (it->is_null()) {
                it = j.erase(it);
            } else {
                drop_null_members(*it);
                ++it;
            }
        }
    } else if (j.is_array()) {
        for (auto& e : j) drop_null_members(e);
    }
}

CwResult<metrics::Dimensions> json_dimensions(const json& body, bool values_required = true) {
    metrics::Dimensions dims;
    if (!body.contains("Dimensions")) return dims;
    if (!body["Dimensions"].is_array())
        return std::unexpected(invalid("The parameter Dimensions must be a list."));
    for (const auto& d : body["Dimensions"]) {
        if (!d.is_object() || !d.contains("Name") || !d["Name"].is_string())
            return std::unexpected(missing("Dimensions.member.Name"));
        std::string value =
            d.contains("Value") && d["Value"].is_string() ? d["Value"].get<std::string>() : "";
        if (values_required && value.empty())
            return std::unexpected(missing("Dimensions.member.Value"));
        dims.emplace_back(d["Name"].get<std::string>(), value);
    }
    return dims;
}

json datapoint_json(const metrics::Datapoint& p, const std::vector<std::string>& stats,
                    const std::string& unit) {
    json out = {{"Timestamp", static_cast<double>(p.timestamp_ms) / 1000.0}};
    for (const auto& s : stats) out[s] = statistic(p, s);
    out["Unit"] = unit.empty() ? "None" : unit;
    return out;
}

// ---- query protocol -------------------------------------------------------------

std::string tag(const std::string& name, const std::string& value) {
    return "<" + name + ">" + xml_escape(value) + "</" + name + ">";
}

std::string number(double v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
}

http::Response xml_response(const std::string& action, const std::string& result,
                            const RequestContext& ctx) {
    http::Response r;
    r.headers.set("Content-Type", "text/xml");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = "<" + action + "Response xmlns=\"" + kXmlns + "\"><" + action + "Result>" + result +
             "</" + action + "Result><ResponseMetadata>" + tag("RequestId", ctx.request_id) +
             "</ResponseMetadata></" + action + "Response>";
    return r;
}

http::Response xml_error(const CwError& e, const RequestContext& ctx) {
    http::Response r;
    r.status = e.status;
    r.headers.set("Content-Type", "text/xml");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = std::string("<ErrorResponse xmlns=\"") + kXmlns + "\"><Error><Type>" +
             (e.status >= 500 ? "Receiver" : "Sender") + "</Type>" + tag("Code", e.code) +
             tag("Message", e.message) + "</Error>" + tag("RequestId", ctx.request_id) +
             "</ErrorResponse>";
    return r;
}

metrics::Dimensions form_dimensions(const std::map<std::string, std::string>& form,
                                    const std::string& prefix) {
    metrics::Dimensions dims;
    for (int i = 1;; ++i) {
        auto name = form.find(prefix + "Dimensions.member." + std::to_string(i) + ".Name");
        if (name == form.end()) break;
        auto value = form.find(prefix + "Dimensions.member." + std::to_string(i) + ".Value");
        dims.emplace_back(name->second, value == form.end() ? "" : value->second);
    }
    return dims;
}

std::vector<std::pair<std::int64_t, double>> run_query(const metrics::MetricsStore& store,
                                                       const control::Scope& scope,
                                                       const DataQuery& q, std::int64_t start,
                                                       std::int64_t end) {
    std::vector<std::pair<std::int64_t, double>> out;
    for (const auto& p : store.query(scope, q.ns, q.name, q.dims, start, end, q.period))
        out.emplace_back(p.timestamp_ms, statistic(p, q.stat));
    return out;
}

// ---- the operations, on the JSON-shaped request and response documents that
// awsJson 1.0 and rpc-v2-cbor share (timestamps: epoch-second numbers) ----------

std::string string_member(const json& body, const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

CwResult<json> get_metric_statistics(const metrics::MetricsStore& store,
                                     const control::Scope& scope, const json& body) {
    StatisticsRequest r;
    r.ns = string_member(body, "Namespace");
    r.name = string_member(body, "MetricName");
    if (r.ns.empty()) return std::unexpected(missing("Namespace"));
    if (r.name.empty()) return std::unexpected(missing("MetricName"));
    auto dims = json_dimensions(body);
    if (!dims) return std::unexpected(dims.error());
    r.dims = *dims;
    if (!body.contains("StartTime")) return std::unexpected(missing("StartTime"));
    if (!body.contains("EndTime")) return std::unexpected(missing("EndTime"));
    if (!body.contains("Period")) return std::unexpected(missing("Period"));
    auto start = json_time(body["StartTime"]), end = json_time(body["EndTime"]);
    if (!start || !end)
        return std::unexpected(invalid("The parameters StartTime and EndTime must be timestamps."));
    r.start_ms = *start;
    r.end_ms = *end;
    r.period = body["Period"].is_number_integer() ? body["Period"].get<int>() : 0;
    if (body.contains("Statistics") && body["Statistics"].is_array())
        for (const auto& s : body["Statistics"])
            if (s.is_string()) r.statistics.push_back(s.get<std::string>());
    if (r.statistics.empty())
        return std::unexpected(
            CwError{"InvalidParameterCombination",
                    "Must specify either Statistics or ExtendedStatistics, but not both."});
    if (auto ok = check(r); !ok) return std::unexpected(ok.error());
    std::string unit;
    json points = json::array();
    for (const auto& p :
         store.query(scope, r.ns, r.name, r.dims, r.start_ms, r.end_ms, r.period, &unit))
        points.push_back(datapoint_json(p, r.statistics, unit));
    return json{{"Label", r.name}, {"Datapoints", points}};
}

CwResult<json> get_metric_data(const metrics::MetricsStore& store, const control::Scope& scope,
                               const json& body) {
    if (!body.contains("MetricDataQueries") || !body["MetricDataQueries"].is_array())
        return std::unexpected(missing("MetricDataQueries"));
    if (!body.contains("StartTime")) return std::unexpected(missing("StartTime"));
    if (!body.contains("EndTime")) return std::unexpected(missing("EndTime"));
    auto start = json_time(body["StartTime"]), end = json_time(body["EndTime"]);
    if (!start || !end || *end <= *start)
        return std::unexpected(
            invalid("The parameter StartTime must be less than the parameter EndTime."));
    bool ascending = string_member(body, "ScanBy") == "TimestampAscending";
    json results = json::array();
    for (const auto& q : body["MetricDataQueries"]) {
        DataQuery d;
        d.id = q.value("Id", "");
        if (d.id.empty()) return std::unexpected(missing("MetricDataQueries.member.Id"));
        if (q.contains("Expression"))
            return std::unexpected(
                invalid("lamina does not evaluate metric math expressions yet (query " + d.id +
                        "): use MetricStat."));
        if (!q.contains("MetricStat") || !q["MetricStat"].is_object())
            return std::unexpected(missing("MetricDataQueries.member.MetricStat"));
        const json& ms = q["MetricStat"];
        const json metric = ms.value("Metric", json::object());
        d.ns = metric.value("Namespace", "");
        d.name = metric.value("MetricName", "");
        auto dims = json_dimensions(metric);
        if (!dims) return std::unexpected(dims.error());
        d.dims = *dims;
        if (ms.contains("Period") && !ms["Period"].is_number_integer())  // 1e119 read as an int: UB
            return std::unexpected(invalid(
                "A request parameter has the wrong type: MetricStat.Period must be an integer."));
        d.period = ms.value("Period", 60);
        d.stat = ms.value("Stat", "");
        if (!known_statistic(d.stat))
            return std::unexpected(invalid(
                "The value " + d.stat +
                " for parameter MetricDataQueries.member.MetricStat.Stat is not supported."));
        d.label = q.value("Label", d.name);
        d.return_data = q.value("ReturnData", true);
        if (!d.return_data) continue;
        auto points = run_query(store, scope, d, *start, *end);
        if (!ascending) std::reverse(points.begin(), points.end());
        json ts = json::array(), values = json::array();
        for (const auto& [t, v] : points) {
            ts.push_back(static_cast<double>(t) / 1000.0);
            values.push_back(v);
        }
        results.push_back({{"Id", d.id},
                           {"Label", d.label},
                           {"Timestamps", ts},
                           {"Values", values},
                           {"StatusCode", "Complete"}});
    }
    return json{{"MetricDataResults", results}, {"Messages", json::array()}};
}

CwResult<json> list_metrics(const metrics::MetricsStore& store, const control::Scope& scope,
                            const json& body) {
    auto dims = json_dimensions(body, false);
    if (!dims) return std::unexpected(dims.error());
    json out = json::array();
    for (const auto& s : store.list(scope, string_member(body, "Namespace"),
                                    string_member(body, "MetricName"), *dims)) {
        json d = json::array();
        for (const auto& [k, v] : s.dimensions) d.push_back({{"Name", k}, {"Value", v}});
        out.push_back({{"Namespace", s.ns}, {"MetricName", s.name}, {"Dimensions", d}});
    }
    return json{{"Metrics", out}};
}

// One operation on a request document (an object), for either document protocol.
CwResult<json> call(const metrics::MetricsStore& store, const control::Scope& scope,
                    const std::string& op, const json& body) {
    try {
        if (op == "GetMetricStatistics") return get_metric_statistics(store, scope, body);
        if (op == "GetMetricData") return get_metric_data(store, scope, body);
        if (op == "ListMetrics") return list_metrics(store, scope, body);
    } catch (const json::exception& e) {  // a member of the wrong type, read with value()
        return std::unexpected(
            invalid(std::string("A request parameter has the wrong type: ") + e.what()));
    }
    return std::unexpected(
        CwError{"InvalidAction",
                "lamina's CloudWatch emulation reads metrics only (GetMetricStatistics, "
                "GetMetricData, ListMetrics); " +
                    op + " is not supported.",
                400});
}

}  // namespace

CloudWatchApi::CloudWatchApi(metrics::MetricsStore& store) : store_(store) {}

bool CloudWatchApi::is_query_request(const RequestContext& ctx,
                                     const std::map<std::string, std::string>& form) {
    auto v = form.find("Version");
    return ctx.service == "monitoring" || (v != form.end() && v->second == "2010-08-01");
}

http::Response CloudWatchApi::handle_json(const RequestContext& ctx, const http::Request& req) {
    std::string op =
        req.headers.get("X-Amz-Target").substr(std::string(kCloudWatchTargetPrefix).size());
    json body = json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return json_error({"InvalidParameterValue", "The request body is not a JSON object."}, ctx);
    auto result = call(store_, ctx.scope, op, body);
    return result ? json_response(*result, ctx) : json_error(result.error(), ctx);
}

http::Response CloudWatchApi::handle_cbor(const RequestContext& ctx, const http::Request& req) {
    std::string op = req.path.substr(std::string_view(kCloudWatchCborPathPrefix).size());
    json body = json::object();
    if (!req.body.empty()) {
        auto decoded = cbor::decode(req.body);
        if (!decoded)
            return cbor_error(
                invalid("The request body is not valid CBOR: " + decoded.error().message), ctx);
        if (!decoded->is_object())
            return cbor_error(invalid("The request body is not a CBOR map."), ctx);
        body = std::move(*decoded);
        drop_null_members(body);
    }
    auto result = call(store_, ctx.scope, op, body);
    return result ? cbor_response(*result, ctx) : cbor_error(result.error(), ctx);
}

http::Response CloudWatchApi::handle_query(const RequestContext& ctx,
                                           const std::map<std::string, std::string>& form) {
    auto get = [&](const std::string& k) {
        auto it = form.find(k);
        return it == form.end() ? std::string() : it->second;
    };
    std::string action = get("Action");
    const control::Scope& scope = ctx.scope;
    if (action == "GetMetricStatistics") {
        StatisticsRequest r;
        r.ns = get("Namespace");
        r.name = get("MetricName");
        for (const char* k : {"Namespace", "MetricName", "StartTime", "EndTime", "Period"})
            if (get(k).empty()) return xml_error(missing(k), ctx);
        r.dims = form_dimensions(form, "");
        auto start = parse_time(get("StartTime")), end = parse_time(get("EndTime"));
        if (!start || !end)
            return xml_error(invalid("The parameters StartTime and EndTime must be timestamps."),
                             ctx);
        r.start_ms = *start;
        r.end_ms = *end;
        r.period = std::atoi(get("Period").c_str());
        for (int i = 1; !get("Statistics.member." + std::to_string(i)).empty(); ++i)
            r.statistics.push_back(get("Statistics.member." + std::to_string(i)));
        if (r.statistics.empty())
            return xml_error(
                {"InvalidParameterCombination",
                 "Must specify either Statistics or ExtendedStatistics, but not both."},
                ctx);
        if (auto ok = check(r); !ok) return xml_error(ok.error(), ctx);
        std::string unit, points;
        for (const auto& p :
             store_.query(scope, r.ns, r.name, r.dims, r.start_ms, r.end_ms, r.period, &unit)) {
            points += "<member>" + tag("Timestamp", format_iso8601(p.timestamp_ms));
            for (const auto& s : r.statistics) points += tag(s, number(statistic(p, s)));
            points += tag("Unit", unit.empty() ? "None" : unit) + "</member>";
        }
        return xml_response(action,
                            tag("Label", r.name) + "<Datapoints>" + points + "</Datapoints>", ctx);
    }
    if (action == "ListMetrics") {
        std::string out;
        for (const auto& s :
             store_.list(scope, get("Namespace"), get("MetricName"), form_dimensions(form, ""))) {
            out += "<member>" + tag("Namespace", s.ns) + tag("MetricName", s.name) + "<Dimensions>";
            for (const auto& [k, v] : s.dimensions)
                out += "<member>" + tag("Name", k) + tag("Value", v) + "</member>";
            out += "</Dimensions></member>";
        }
        return xml_response(action, "<Metrics>" + out + "</Metrics>", ctx);
    }
    if (action == "GetMetricData") {
        auto start = parse_time(get("StartTime")), end = parse_time(get("EndTime"));
        if (!start || !end || *end <= *start)
            return xml_error(
                invalid("The parameter StartTime must be less than the parameter EndTime."), ctx);
        bool ascending = get("ScanBy") == "TimestampAscending";
        std::string out;
        for (int i = 1; !get("MetricDataQueries.member." + std::to_string(i) + ".Id").empty();
             ++i) {
            std::string p = "MetricDataQueries.member." + std::to_string(i) + ".";
            DataQuery d;
            d.id = get(p + "Id");
            d.ns = get(p + "MetricStat.Metric.Namespace");
            d.name = get(p + "MetricStat.Metric.MetricName");
            d.dims = form_dimensions(form, p + "MetricStat.Metric.");
            d.period = std::max(1, std::atoi(get(p + "MetricStat.Period").c_str()));
            d.stat = get(p + "MetricStat.Stat");
            if (!known_statistic(d.stat))
                return xml_error(invalid("The value " + d.stat +
                                         " for parameter MetricDataQueries.member.MetricStat.Stat "
                                         "is not supported."),
                                 ctx);
            d.label = get(p + "Label").empty() ? d.name : get(p + "Label");
            if (get(p + "ReturnData") == "false") continue;
            auto points = run_query(store_, scope, d, *start, *end);
            if (!ascending) std::reverse(points.begin(), points.end());
            std::string ts, values;
            for (const auto& [t, v] : points) {
                ts += tag("member", format_iso8601(t));
                values += tag("member", number(v));
            }
            out += "<member>" + tag("Id", d.id) + tag("Label", d.label) + "<Timestamps>" + ts +
                   "</Timestamps><Values>" + values + "</Values>" + tag("StatusCode", "Complete") +
                   "</member>";
        }
        return xml_response(action, "<MetricDataResults>" + out + "</MetricDataResults><Messages/>",
                            ctx);
    }
    return xml_error({"InvalidAction",
                      "lamina's CloudWatch emulation reads metrics only (GetMetricStatistics, "
                      "GetMetricData, ListMetrics); " +
                          action + " is not supported.",
                      400},
                     ctx);
}

}  // namespace lamina::api
