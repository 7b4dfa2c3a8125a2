// StartLiveTail: validated as AWS does, then answered with an event stream
// (application/vnd.amazon.eventstream): initial-response, sessionStart, then
// a sessionUpdate from the hub about every second until the client leaves,
// the session times out (SessionTimeoutException) or lamina stops.

#include <algorithm>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "lamina/api/logs_api.hpp"
#include "lamina/common/eventstream.hpp"
#include "lamina/http/body_stream.hpp"
#include "lamina/logs/filter_pattern.hpp"
#include "lamina/logs/logs_error.hpp"

namespace lamina::api {

namespace {

using json = nlohmann::json;
using logs::logs_fail;
using logs::LogsErrorCode;

constexpr std::size_t kMaxGroups = 10;
constexpr std::size_t kMaxStreams = 100;
constexpr std::size_t kMaxIdentifier = 2048;
constexpr std::size_t kMaxName = 512;
constexpr std::size_t kMaxPattern = 1024;

std::unexpected<Error> bad(std::string message) {
    return logs_fail(LogsErrorCode::InvalidParameter, std::move(message));
}

std::string constraint(const std::string& value, const std::string& field,
                       const std::string& rule) {
    return "1 validation error detected: Value " + value + " at '" + field +
           "' failed to satisfy constraint: " + rule;
}

// An optional list of strings of 1..max members (AWS's min 1 for lists it takes).
Result<std::optional<std::vector<std::string>>> string_list(const json& in, const char* key,
                                                            std::size_t max) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return std::optional<std::vector<std::string>>();
    if (!it->is_array()) return bad(std::string("Invalid value for ") + key);
    std::vector<std::string> out;
    for (const auto& v : *it) {
        if (!v.is_string()) return bad(std::string("Invalid value for ") + key);
        out.push_back(v.get<std::string>());
    }
    if (out.empty())
        return bad(constraint("'[]'", key, "Member must have length greater than or equal to 1"));
    if (out.size() > max)
        return bad(
            constraint("'[...]'", key,
                       "Member must have length less than or equal to " + std::to_string(max)));
    return std::optional<std::vector<std::string>>(std::move(out));
}

bool identifier_chars(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("_#+=/:,.@-").find(c) != std::string_view::npos;
    });
}

Status check_stream_names(const std::vector<std::string>& names, const char* field) {
    for (const auto& n : names) {
        if (n.empty() || n.size() > kMaxName)
            return bad(constraint("'" + n + "'", std::string(field) + ".member",
                                  "Member must have length between 1 and 512"));
        if (n.find_first_of(":*") != std::string::npos)
            return bad(constraint("'" + n + "'", std::string(field) + ".member",
                                  "Member must satisfy regular expression pattern: [^:*]*"));
    }
    return {};
}

// The group an identifier (a name or an ARN in this account and region) names.
Result<std::string> group_named(const logs::Where& w, const std::string& id) {
    if (id.empty() || id.size() > kMaxIdentifier)
        return bad(constraint("'" + id + "'", "logGroupIdentifiers.member",
                              "Member must have length between 1 and 2048"));
    if (!identifier_chars(id))
        return bad(constraint("'" + id + "'", "logGroupIdentifiers.member",
                              "Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*"));
    if (!id.starts_with("arn:")) return id;
    if (id.ends_with("*")) return bad("LogGroupIdentifier ARN cannot end with '*': " + id);
    std::string head = "arn:aws:logs:" + w.region + ":" + w.account + ":log-group:";
    if (!id.starts_with(head) || id.size() == head.size())
        return std::unexpected(logs::no_such_group());
    return id.substr(head.size());
}

std::string frame(const std::string& type, const json& body) {
    return eventstream_message(
        {{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}},
        body.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string exception_frame(const std::string& type, const std::string& message) {
    return eventstream_message({{":exception-type", type},
                                {":content-type", "application/json"},
                                {":message-type", "exception"}},
                               json{{"message", message}}.dump());
}

std::string update_frame(const logs::TailUpdate& u) {
    json results = json::array();
    for (const auto& e : u.events)
        results.push_back({{"logStreamName", e.stream},
                           {"logGroupIdentifier", e.group_identifier},
                           {"message", e.message},
                           {"timestamp", e.timestamp},
                           {"ingestionTime", e.ingestion_time}});
    return frame("sessionUpdate", json{{"sessionMetadata", {{"sampled", u.sampled}}},
                                       {"sessionResults", std::move(results)}});
}

// A session's end of the pipe: an update waits for none; one that finds the
// client behind is dropped, and the next says it was sampled.
struct Feed : std::enable_shared_from_this<Feed> {
    std::shared_ptr<http::BodyPipe> pipe = std::make_shared<http::BodyPipe>();
    std::mutex mu;
    bool behind = false, dropped = false;

    bool update(logs::TailUpdate u) {
        if (pipe->cancelled()) return false;
        {
            std::lock_guard lk(mu);
            if (behind) {
                dropped = true;
                return true;
            }
            behind = true;
            if (std::exchange(dropped, false)) u.sampled = true;
        }
        pipe->write(update_frame(u), [weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                std::lock_guard lk(self->mu);
                self->behind = false;
            }
        });
        return true;
    }
};

}  // namespace

Result<http::Response> LogsApi::start_live_tail(const RequestContext& ctx,
                                                const http::Request& req) {
    logs::Where w{ctx.scope.account, ctx.scope.region};
    json in = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (in.is_discarded() || !in.is_object())
        return logs_fail(LogsErrorCode::Validation,
                         "Start of structure or map found where not expected.");
    LAMINA_TRY(ids, string_list(in, "logGroupIdentifiers", kMaxGroups));
    if (!ids) return bad(constraint("null", "logGroupIdentifiers", "Member must not be null"));
    LAMINA_TRY(names, string_list(in, "logStreamNames", kMaxStreams));
    LAMINA_TRY(prefixes, string_list(in, "logStreamNamePrefixes", kMaxStreams));
    if (names && prefixes)
        return bad("logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.");
    if ((names || prefixes) && ids->size() != 1)
        return bad(std::string(names ? "logStreamNames" : "logStreamNamePrefixes") +
                   " can only be specified when logGroupIdentifiers has a single log group.");
    if (names) LAMINA_CHECK(check_stream_names(*names, "logStreamNames"));
    if (prefixes) LAMINA_CHECK(check_stream_names(*prefixes, "logStreamNamePrefixes"));
    std::optional<std::string> pattern_text;
    if (auto it = in.find("logEventFilterPattern"); it != in.end() && !it->is_null()) {
        if (!it->is_string()) return bad("Invalid value for logEventFilterPattern");
        pattern_text = it->get<std::string>();
        if (pattern_text->size() > kMaxPattern)
            return bad(constraint("'" + *pattern_text + "'", "logEventFilterPattern",
                                  "Member must have length less than or equal to 1024"));
    }
    auto pattern = logs::FilterPattern::parse(pattern_text.value_or(""));
    if (!pattern) return bad("Invalid filter pattern");

    logs::TailFilter filter;
    filter.where = w;
    for (const auto& id : *ids) {
        LAMINA_TRY(name, group_named(w, id));
        LAMINA_TRY(info, store_.group(w, name));  // ResourceNotFoundException when missing
        filter.groups.push_back({name, w.account + ":" + info.name});
    }
    filter.streams = names.value_or(std::vector<std::string>{});
    filter.prefixes = prefixes.value_or(std::vector<std::string>{});
    filter.pattern = std::move(*pattern);

    json start = {{"requestId", ctx.request_id},
                  {"sessionId", ctx.request_id},
                  {"logGroupIdentifiers", *ids}};
    if (names) start["logStreamNames"] = *names;
    if (prefixes) start["logStreamNamePrefixes"] = *prefixes;
    start["logEventFilterPattern"] = pattern_text.value_or("");

    auto feed = std::make_shared<Feed>();
    feed->pipe->write(frame("initial-response", json::object()), [] {});
    feed->pipe->write(frame("sessionStart", start), [] {});
    logs::TailSink sink;
    sink.update = [feed](logs::TailUpdate u) { return feed->update(std::move(u)); };
    sink.end = [feed](logs::TailEnd why) {
        if (why == logs::TailEnd::Timeout)
            feed->pipe->write(
                exception_frame("SessionTimeoutException", "Session timed out after 3 hours."),
                [] {});
        feed->pipe->finish();
    };
    if (!tail_->start(std::move(filter), std::move(sink)))
        return logs_fail(LogsErrorCode::ServiceUnavailable, "lamina is shutting down.");

    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/vnd.amazon.eventstream");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.stream = feed->pipe;
    return r;
}

}  // namespace lamina::api
