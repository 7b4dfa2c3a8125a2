// The Extensions API (2020-01-01) and the Logs / Telemetry subscriptions of
// one environment: registration, subscriptions, and an extension's exit.

#include <nlohmann/json.hpp>
#include <string>

#include "runtime_api_state.hpp"

namespace lamina::runtime {

using namespace runtime_api_detail;

// PUT /2022-07-01/telemetry, PUT /2020-08-15/logs: one API per extension.
http::Response RuntimeApi::State::subscribe(TelemetryApi api, const http::Request& req) {
    auto ext = find_extension(req);
    if (!ext) return extension_id_error(req);
    if (ext->subscribed && *ext->subscribed != api)
        return api_error(400, "ValidationError",
                         "Extension " + ext->name + " is subscribed to the " +
                             (api == TelemetryApi::Logs ? "Telemetry" : "Logs") +
                             " API already: an extension cannot use both the Logs and the "
                             "Telemetry API");
    auto sub = parse_subscription(api, req.body);
    if (!sub) return api_error(sub.error().status, sub.error().type, sub.error().message);
    ext->subscribed = api;
    telemetry.subscribe(req.headers.get("Lambda-Extension-Identifier"), ext->name, std::move(*sub));
    http::Response r;
    r.headers.set("Content-Type", "text/plain");
    r.body = "OK";
    return r;
}

Extension* RuntimeApi::State::find_extension(const http::Request& req) {
    const std::string* id = req.headers.find("Lambda-Extension-Identifier");
    if (!id) return nullptr;
    auto it = extensions.find(*id);
    return it == extensions.end() ? nullptr : &it->second;
}

http::Response RuntimeApi::State::extension_id_error(const http::Request& req) {
    if (!req.headers.find("Lambda-Extension-Identifier"))
        return api_error(403, "Extension.MissingExtensionIdentifier",
                         "Missing Lambda-Extension-Identifier header");
    return api_error(
        403, "Extension.UnknownExtensionIdentifier",
        "Unknown extension identifier " + req.headers.get("Lambda-Extension-Identifier"));
}

http::Response RuntimeApi::State::register_extension(const http::Request& req) {
    std::string name = req.headers.get("Lambda-Extension-Name");
    if (name.empty())
        return api_error(403, "Extension.InvalidExtensionName",
                         "Missing Lambda-Extension-Name header");
    if (ready || init_failed)
        return api_error(403, "Extension.RegistrationClosed",
                         "Registration is closed: the environment's init phase is over");
    if (extensions.size() >= kMaxExtensions)
        return api_error(403, "Extension.TooManyExtensions", "Extension limit (10) reached");
    nlohmann::json body =
        nlohmann::json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return api_error(400, "InvalidRequest",
                         "The request body must be a JSON object: {\"events\": [...]}");
    Extension ext;
    ext.name = name;
    ext.external = expected.count(name) > 0;
    for (const auto& [id, other] : extensions)
        if (other.name == name && !other.gone)
            return api_error(409, "Extension.AlreadyRegistered",
                             "Extension " + name + " is already registered");
    if (body.contains("events")) {
        if (!body["events"].is_array())
            return api_error(400, "InvalidRequest", "events must be a list");
        for (const auto& ev : body["events"]) {
            std::string type = ev.is_string() ? ev.get<std::string>() : std::string();
            if (type == "INVOKE" || type == "SHUTDOWN") ext.events.push_back(type);
            if (type == "INVOKE") {
                ext.invoke_events = true;
            } else if (type == "SHUTDOWN") {
                if (!ext.external)
                    return api_error(400, "Extension.InvalidEventType",
                                     "Internal extensions cannot register for the SHUTDOWN event");
                ext.shutdown_events = true;
            } else {
                return api_error(400, "Extension.InvalidEventType",
                                 "Unknown event type " + (ev.is_string() ? type : ev.dump()) +
                                     ": expected INVOKE or SHUTDOWN");
            }
        }
    }
    expected.erase(name);
    std::string id = ids.uuid();
    nlohmann::json out = {{"functionName", identity.function_name},
                          {"functionVersion", identity.function_version},
                          {"handler", identity.handler}};
    if (req.headers.get("Lambda-Extension-Accept-Feature").find("accountId") != std::string::npos)
        out["accountId"] = identity.account_id;
    extensions.emplace(id, std::move(ext));
    http::Response r;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("Lambda-Extension-Identifier", id);
    r.body = out.dump();
    return r;
}

void RuntimeApi::State::extension_exited(const std::string& name, const std::string& status,
                                         Deferred& later) {
    bool registered = false;
    for (auto& [id, ext] : extensions) {
        if (ext.name != name || ext.gone) continue;
        registered = true;
        ext.gone = true;
        ext.busy = false;
        if (ext.waiting)
            later.emplace_back([r = std::move(*ext.waiting)] {
                r(api_error(500, "InternalServerError", "The extension exited"));
            });
        ext.waiting.reset();
    }
    bool was_expected = expected.erase(name) > 0;
    if (!ready && (was_expected || registered)) {
        Outcome o;
        o.kind = Outcome::Kind::InitError;
        PlatformError failure{
            ErrorType::ExtensionCrash,
            "Extension " + name + " exited during init with " +
                (status.empty() ? std::string("an unknown status") : "exit status " + status)};
        o.error_type = to_string(failure.type);
        o.platform_error = failure.type;
        o.body = failure.payload();
        fail_init(std::move(o), later);
    } else if (ready && registered && !shutdown_ack) {
        broken = true;  // an extension that dies after init resets the environment
    }
}

}  // namespace lamina::runtime
