// The Telemetry and Logs APIs' pure parts: subscription validation, the
// records' shapes, and the per-subscription buffer.

#include <cmath>

#include "lamina/common/clock.hpp"
#include "lamina/runtime/telemetry.hpp"

namespace lamina::runtime {

namespace {

using records::Json;

SubscribeError invalid(std::string message) {
    return SubscribeError{400, "ValidationError", std::move(message)};
}

// ms rounded to three places, as a JSON number
double ms3(double ms) { return std::round(ms * 1000.0) / 1000.0; }

Json tracing(const std::string& trace_id) {
    // the span id is the trace header's Parent, when it names one
    Json t;
    if (auto p = trace_id.find("Parent="); p != std::string::npos)
        t["spanId"] = trace_id.substr(p + 7, trace_id.find(';', p) - (p + 7));
    t["type"] = "X-Amzn-Trace-Id";
    t["value"] = trace_id;
    return t;
}

// An integer buffering setting within [lo, hi], or its default when absent.
std::optional<SubscribeError> bounded(const nlohmann::json& b, const char* key, long lo, long hi,
                                      auto& out) {
    auto it = b.find(key);
    if (it == b.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<long>() < lo || it->get<long>() > hi)
        return invalid(std::string("buffering.") + key + " must be an integer between " +
                       std::to_string(lo) + " and " + std::to_string(hi));
    out = static_cast<std::remove_reference_t<decltype(out)>>(it->get<long>());
    return std::nullopt;
}

}  // namespace

std::expected<Subscription, SubscribeError> parse_subscription(TelemetryApi api,
                                                               std::string_view body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::unexpected(invalid("The request body must be a JSON object"));
    Subscription s;
    s.api = api;
    const bool telemetry = api == TelemetryApi::Telemetry;
    const std::vector<std::string> versions =
        telemetry ? std::vector<std::string>{"2022-07-01", "2022-12-13", "2025-01-29"}
                  : std::vector<std::string>{"2020-08-15", "2021-03-18"};
    if (auto v = j.find("schemaVersion"); v != j.end()) {
        // (compared as a string: clang finds no string == json for std::find)
        if (!v->is_string() || std::find(versions.begin(), versions.end(),
                                         v->get_ref<const std::string&>()) == versions.end())
            return std::unexpected(
                invalid("schemaVersion must be one of " + nlohmann::json(versions).dump()));
        s.schema_version = v->get<std::string>();
    } else if (telemetry) {
        return std::unexpected(invalid("schemaVersion is required"));
    } else {
        s.schema_version = versions.front();
    }
    auto d = j.find("destination");
    if (d == j.end() || !d->is_object())
        return std::unexpected(
            invalid("destination is required: {\"protocol\": \"HTTP\", \"URI\": ...}"));
    auto protocol = d->find("protocol");
    if (protocol == d->end() || !protocol->is_string() ||
        (*protocol != "HTTP" && *protocol != "TCP"))
        return std::unexpected(invalid("destination.protocol must be HTTP or TCP"));
    if (*protocol == "TCP")
        return std::unexpected(
            invalid("destination.protocol TCP is not emulated by lamina: subscribe with HTTP"));
    auto uri = d->find("URI");
    if (uri == d->end() || !uri->is_string())
        return std::unexpected(invalid("destination.URI is required"));
    std::string u = *uri;
    const std::string scheme = "http://";
    std::string lower = u;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind(scheme, 0) != 0)
        return std::unexpected(
            invalid("destination.URI must be an http:// URI of sandbox.localdomain (HTTPS is not "
                    "supported)"));
    std::size_t host_end = u.find_first_of(":/?", scheme.size());
    std::string host = lower.substr(scheme.size(), host_end - scheme.size());
    if (host != "sandbox.localdomain" && host != "sandbox")
        return std::unexpected(
            invalid("destination.URI must name the host sandbox.localdomain, not " + host));
    if (host_end == std::string::npos || u[host_end] != ':')
        return std::unexpected(invalid("destination.URI must name a port"));
    std::size_t port_end = u.find_first_of("/?", host_end + 1);
    std::string port = u.substr(host_end + 1, port_end - host_end - 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stol(port) < 1 ||
        std::stol(port) > 65535)
        return std::unexpected(invalid("destination.URI has an invalid port: " + port));
    s.port = static_cast<std::uint16_t>(std::stol(port));
    if (s.port == 9001)
        return std::unexpected(
            invalid("destination.URI cannot use port 9001: it is reserved for the Runtime API"));
    if (port_end != std::string::npos) s.target = u.substr(port_end);
    if (s.target.empty() || s.target[0] != '/') s.target = "/" + s.target;
    auto types = j.find("types");
    if (types == j.end() || !types->is_array() || types->empty())
        return std::unexpected(
            invalid("types must be a non-empty list of platform, function, extension"));
    for (const auto& t : *types) {
        RecordKind k;
        if (t == "platform")
            k = RecordKind::Platform;
        else if (t == "function")
            k = RecordKind::Function;
        else if (t == "extension")
            k = RecordKind::Extension;
        else
            return std::unexpected(
                invalid("Unknown type " + t.dump() + ": expected platform, function or extension"));
        if (!(s.kinds & static_cast<unsigned>(k))) s.types.push_back(t);
        s.kinds |= static_cast<unsigned>(k);
    }
    if (auto b = j.find("buffering"); b != j.end()) {
        if (!b->is_object()) return std::unexpected(invalid("buffering must be an object"));
        if (auto e = bounded(*b, "maxItems", telemetry ? 25 : 1000, 10000, s.buffering.max_items))
            return std::unexpected(*e);
        if (auto e = bounded(*b, "maxBytes", 262144, 1048576, s.buffering.max_bytes))
            return std::unexpected(*e);
        if (auto e = bounded(*b, "timeoutMs", 25, 30000, s.buffering.timeout_ms))
            return std::unexpected(*e);
    }
    return s;
}

namespace records {

Json event(std::int64_t epoch_ms, std::string_view type, Json record) {
    Json e;
    e["time"] = format_iso8601_ms(epoch_ms);
    e["type"] = type;
    e["record"] = std::move(record);
    return e;
}

Json init_start(std::int64_t ms, const std::string& init_type) {
    return event(ms, "platform.initStart", {{"initializationType", init_type}, {"phase", "init"}});
}

Json init_runtime_done(std::int64_t ms, const std::string& init_type, const std::string& status,
                       const std::string& error_type) {
    Json r{{"initializationType", init_type}, {"phase", "init"}, {"status", status}};
    if (!error_type.empty()) r["errorType"] = error_type;
    return event(ms, "platform.initRuntimeDone", std::move(r));
}

Json init_report(std::int64_t ms, const std::string& init_type, const std::string& status,
                 const std::string& error_type, double duration_ms) {
    Json r{{"initializationType", init_type}, {"phase", "init"}, {"status", status}};
    if (!error_type.empty()) r["errorType"] = error_type;
    r["metrics"] = Json{{"durationMs", ms3(duration_ms)}};
    return event(ms, "platform.initReport", std::move(r));
}

Json start(std::int64_t ms, const std::string& request_id, const std::string& version,
           const std::string& trace_id) {
    Json r{{"requestId", request_id}, {"version", version}};
    if (!trace_id.empty()) r["tracing"] = tracing(trace_id);
    return event(ms, "platform.start", std::move(r));
}

Json restore_start(std::int64_t ms, const RestoreStart& r) {
    Json rec{{"functionName", r.function_name}, {"functionVersion", r.function_version}};
    if (!r.instance_id.empty()) rec["instanceId"] = r.instance_id;
    if (r.instance_max_memory > 0) rec["instanceMaxMemory"] = r.instance_max_memory;
    if (!r.runtime_version.empty()) rec["runtimeVersion"] = r.runtime_version;
    if (!r.runtime_version_arn.empty()) rec["runtimeVersionArn"] = r.runtime_version_arn;
    return event(ms, "platform.restoreStart", std::move(rec));
}

Json restore_runtime_done(std::int64_t ms, const std::string& status,
                          const std::string& error_type) {
    Json r{{"status", status}};
    if (!error_type.empty()) r["errorType"] = error_type;
    return event(ms, "platform.restoreRuntimeDone", std::move(r));
}

Json restore_report(std::int64_t ms, const std::string& status, const std::string& error_type,
                    double duration_ms) {
    Json r{{"status", status}};
    if (!error_type.empty()) r["errorType"] = error_type;
    r["metrics"] = Json{{"durationMs", ms3(duration_ms)}};
    return event(ms, "platform.restoreReport", std::move(r));
}

Json runtime_done(std::int64_t ms, const Invoke& inv) {
    Json r{{"requestId", inv.request_id}, {"status", inv.status}};
    if (!inv.error_type.empty()) r["errorType"] = inv.error_type;
    r["metrics"] =
        Json{{"durationMs", ms3(inv.duration_ms)}, {"producedBytes", inv.produced_bytes}};
    if (!inv.trace_id.empty()) r["tracing"] = tracing(inv.trace_id);
    return event(ms, "platform.runtimeDone", std::move(r));
}

Json report(std::int64_t ms, const Invoke& inv) {
    Json metrics;
    metrics["durationMs"] = std::round(inv.duration_ms * 100.0) / 100.0;
    metrics["billedDurationMs"] = inv.billed_ms;
    metrics["memorySizeMB"] = inv.memory_mb;
    metrics["maxMemoryUsedMB"] = inv.max_memory_mb;
    if (inv.init_ms) metrics["initDurationMs"] = std::round(*inv.init_ms * 100.0) / 100.0;
    if (inv.restore_ms) metrics["restoreDurationMs"] = std::round(*inv.restore_ms * 100.0) / 100.0;
    Json r;
    r["requestId"] = inv.request_id;
    r["metrics"] = std::move(metrics);
    r["status"] = inv.status;
    if (!inv.error_type.empty()) r["errorType"] = inv.error_type;
    if (!inv.trace_id.empty()) r["tracing"] = tracing(inv.trace_id);
    return event(ms, "platform.report", std::move(r));
}

Json extension(std::int64_t ms, const std::string& name, const std::vector<std::string>& events) {
    return event(ms, "platform.extension",
                 {{"name", name}, {"state", "Ready"}, {"events", events}});
}

Json telemetry_subscription(std::int64_t ms, const std::string& name,
                            const std::vector<std::string>& types) {
    return event(ms, "platform.telemetrySubscription",
                 {{"name", name}, {"state", "Subscribed"}, {"types", types}});
}

Json logs_dropped(std::int64_t ms, std::size_t records, std::size_t bytes) {
    return event(ms, "platform.logsDropped",
                 {{"droppedBytes", bytes},
                  {"droppedRecords", records},
                  {"reason",
                   "Consumer seems to have fallen behind as it has not acknowledged "
                   "receipt of logs."}});
}

Json line(std::int64_t ms, RecordKind kind, std::string_view text, bool json) {
    const char* type = kind == RecordKind::Extension ? "extension" : "function";
    if (json && text.find_first_not_of(" \t") != std::string_view::npos &&
        text[text.find_first_not_of(" \t")] == '{') {
        auto parsed = Json::parse(text, nullptr, false);
        if (parsed.is_object()) return event(ms, type, std::move(parsed));
    }
    return event(ms, type, std::string(text));
}

std::vector<Json> to_logs_api(const Json& e) {
    const auto& type = e["type"].get_ref<const std::string&>();
    const Json& r = e["record"];
    auto same = [&](const char* t, Json rec) {
        Json out = e;
        out["type"] = t;
        out["record"] = std::move(rec);
        return out;
    };
    if (type == "function" || type == "extension")
        return {same(type.c_str(), r.is_string() ? r : Json(r.dump()))};
    if (type == "platform.start")
        return {same("platform.start", {{"requestId", r["requestId"]}, {"version", r["version"]}})};
    if (type == "platform.runtimeDone")
        return {
            same("platform.runtimeDone", {{"requestId", r["requestId"]}, {"status", r["status"]}}),
            same("platform.end", {{"requestId", r["requestId"]}})};
    if (type == "platform.report") {
        Json metrics = r["metrics"];
        return {same("platform.report",
                     {{"requestId", r["requestId"]}, {"metrics", std::move(metrics)}})};
    }
    if (type == "platform.extension" || type == "platform.logsDropped") return {e};
    if (type == "platform.telemetrySubscription") return {same("platform.logsSubscription", r)};
    return {};  // the init and restore records are the Telemetry API's only
}

}  // namespace records

bool TelemetryBuffer::push(std::string event) {
    // room for four batches: past that the subscriber is not keeping up
    if (items_.size() >= 4 * b_.max_items || bytes_ >= 4 * b_.max_bytes) {
        dropped(1, event.size());
        return false;
    }
    bytes_ += event.size();
    items_.push_back(std::move(event));
    return true;
}

void TelemetryBuffer::dropped(std::size_t records, std::size_t bytes) {
    dropped_records_ += records;
    dropped_bytes_ += bytes;
}

std::string TelemetryBuffer::take_batch(std::int64_t now_ms, std::size_t* count) {
    if (items_.empty() && dropped_records_ == 0) return {};
    std::string out = "[";
    std::size_t n = 0, bytes = 0;
    bool dropped = dropped_records_ > 0;  // reported first, on top of the batch's records
    if (dropped) {
        out += records::logs_dropped(now_ms, dropped_records_, dropped_bytes_).dump();
        dropped_records_ = dropped_bytes_ = 0;
    }
    while (!items_.empty() && n < b_.max_items) {
        const std::string& next = items_.front();
        if (n > 0 && bytes + next.size() + 1 > b_.max_bytes) break;
        if (n > 0 || dropped) out += ',';
        out += next;
        bytes += next.size() + 1;
        bytes_ -= next.size();
        items_.pop_front();
        ++n;
    }
    out += ']';
    if (count) *count = n + (dropped ? 1 : 0);
    return out;
}

}  // namespace lamina::runtime
