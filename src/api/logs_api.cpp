#include "lamina/api/logs_api.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "lamina/logs/filter_pattern.hpp"
#include "lamina/logs/logs_error.hpp"

namespace lamina::api {

namespace {

using json = nlohmann::json;
using logs::logs_fail;
using logs::LogsErrorCode;

constexpr const char* kContentType = "application/x-amz-json-1.1";
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kTooOldMs = 14 * kDayMs;
constexpr std::int64_t kTooNewMs = 2 * 3'600'000;
constexpr std::size_t kMaxBatchBytes = 1'048'576;
constexpr std::size_t kEventOverhead = 26;
constexpr std::size_t kMaxBatchEvents = 10'000;
constexpr int kRetentionDays[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                  365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

std::unexpected<Error> bad(std::string message) {
    return logs_fail(LogsErrorCode::InvalidParameter, std::move(message));
}

std::unexpected<Error> bad_token() { return bad("The specified nextToken is invalid."); }

std::string validation(const std::string& value, const std::string& field,
                       const std::string& constraint) {
    return "1 validation error detected: Value " + value + " at '" + field +
           "' failed to satisfy constraint: " + constraint;
}

// The request body as an object (an empty body is {}).
Result<json> body_of(const http::Request& req) {
    if (req.body.empty()) return json::object();
    auto j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return logs_fail(LogsErrorCode::Validation,
                         "Start of structure or map found where not expected.");
    return j;
}

Result<std::optional<std::string>> opt_string(const json& in, const char* key) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return std::optional<std::string>();
    if (!it->is_string()) return bad(std::string("Invalid value for ") + key);
    return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> need_string(const json& in, const char* key) {
    LAMINA_TRY(v, opt_string(in, key));
    if (!v) return bad(validation("null", key, "Member must not be null"));
    return std::move(*v);
}

Result<std::optional<std::int64_t>> opt_int(const json& in, const char* key) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return std::optional<std::int64_t>();
    if (!it->is_number_integer()) return bad(std::string("Invalid value for ") + key);
    return std::optional<std::int64_t>(it->get<std::int64_t>());
}

Result<bool> opt_bool(const json& in, const char* key) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return false;
    if (!it->is_boolean()) return bad(std::string("Invalid value for ") + key);
    return it->get<bool>();
}

Result<int> limit_of(const json& in, int maximum, int dflt) {
    LAMINA_TRY(v, opt_int(in, "limit"));
    if (!v) return dflt;
    if (*v < 1)
        return bad(validation("'" + std::to_string(*v) + "'", "limit",
                              "Member must have value greater than or equal to 1"));
    if (*v > maximum)
        return bad(
            validation("'" + std::to_string(*v) + "'", "limit",
                       "Member must have value less than or equal to " + std::to_string(maximum)));
    return static_cast<int>(*v);
}

bool group_chars(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
               c == '/' || c == '#';
    });
}

Status check_group_name(const std::string& name, const char* field = "logGroupName") {
    if (name.size() > 512)
        return bad(
            "Invalid LogGroup or LogStream, both must have length less than or equal to 512.");
    if (name.empty())
        return bad(validation("''", field, "Member must have length greater than or equal to 1"));
    if (!group_chars(name))
        return bad(
            validation("'" + name + "'", field,
                       "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"));
    return {};
}

Status check_stream_name(const std::string& name) {
    if (name.size() > 512)
        return bad(
            "Invalid LogGroup or LogStream, both must have length less than or equal to 512.");
    if (name.empty())
        return bad(validation("''", "logStreamName",
                              "Member must have length greater than or equal to 1"));
    if (name.find_first_of(":*") != std::string::npos)
        return bad(validation("'" + name + "'", "logStreamName",
                              "Member must satisfy regular expression pattern: [^:*]*"));
    return {};
}

std::string group_arn(const logs::Where& w, const std::string& name) {
    return "arn:aws:logs:" + w.region + ":" + w.account + ":log-group:" + name;
}

// A log group ARN (with or without ":*") in the caller's account and region -> its name.
std::optional<std::string> name_from_arn(const logs::Where& w, std::string arn) {
    std::string head = group_arn(w, "");
    if (!arn.starts_with(head)) return std::nullopt;
    if (arn.ends_with(":*")) arn.resize(arn.size() - 2);
    return arn.substr(head.size());
}

// logGroupName or logGroupIdentifier (a name or an ARN), one of them required.
Result<std::string> group_of(const logs::Where& w, const json& in) {
    LAMINA_TRY(name, opt_string(in, "logGroupName"));
    LAMINA_TRY(id, opt_string(in, "logGroupIdentifier"));
    if (name && id)
        return logs_fail(LogsErrorCode::Validation,
                         "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
    if (id) {
        std::string n = *id;
        if (n.starts_with("arn:")) {
            auto parsed = name_from_arn(w, n);
            if (!parsed) return std::unexpected(logs::no_such_group());
            n = *parsed;
        }
        LAMINA_CHECK(check_group_name(n, "logGroupIdentifier"));
        return n;
    }
    if (!name) return bad(validation("null", "logGroupName", "Member must not be null"));
    LAMINA_CHECK(check_group_name(*name));
    return std::move(*name);
}

std::string pad(std::int64_t v, int width) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "%0*lld", width,
                  static_cast<long long>(std::max<std::int64_t>(v, 0)));
    return buf;
}

// Positions as tokens: "<kind>/" + 16 zeros + 20-digit timestamp + 20-digit id (56 digits, as AWS's).
std::string cursor_token(char kind, const logs::Cursor& c) {
    return std::string(1, kind) + "/" + pad(0, 16) + pad(c.timestamp, 20) + pad(c.id, 20);
}

std::optional<logs::Cursor> parse_cursor(const std::string& token, char kind) {
    std::string t = token;
    if (t.ends_with("/s")) t.resize(t.size() - 2);
    if (t.size() != 58 || t[0] != kind || t[1] != '/') return std::nullopt;
    for (std::size_t i = 2; i < t.size(); ++i)
        if (t[i] < '0' || t[i] > '9') return std::nullopt;
    if (t.substr(2, 16) != pad(0, 16)) return std::nullopt;
    std::string ts = t.substr(18, 20), id = t.substr(38, 20);
    if (ts > "09223372036854775807" || id > "09223372036854775807") return std::nullopt;
    return logs::Cursor{std::stoll(ts), std::stoll(id)};
}

std::string event_id(const logs::Event& e) { return pad(e.timestamp, 20) + pad(e.id, 36); }

// Offsets into a listing: "o/<digits>".
Result<std::int64_t> offset_of(const json& in) {
    LAMINA_TRY(token, opt_string(in, "nextToken"));
    if (!token) return std::int64_t{0};
    const std::string& t = *token;
    if (t.size() < 3 || t.size() > 14 || !t.starts_with("o/") ||
        !std::all_of(t.begin() + 2, t.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return bad_token();
    return std::stoll(t.substr(2));
}

Result<logs::Tags> tags_of(const json& in, const char* key) {
    logs::Tags out;
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return out;
    if (!it->is_object()) return bad(std::string("Invalid value for ") + key);
    for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) return bad(std::string("Invalid value for ") + key);
        out[k] = v.get<std::string>();
    }
    return out;
}

Result<std::vector<std::string>> strings_of(const json& in, const char* key) {
    std::vector<std::string> out;
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return out;
    if (!it->is_array()) return bad(std::string("Invalid value for ") + key);
    for (const auto& v : *it) {
        if (!v.is_string()) return bad(std::string("Invalid value for ") + key);
        out.push_back(v.get<std::string>());
    }
    return out;
}

class Handler {
public:
    Handler(logs::LogStore& store, Clock& clock, logs::Where w)
        : store_(store), clock_(clock), w_(std::move(w)) {}

    Result<json> run(const std::string& op, const json& in) {
        using Fn = Result<json> (Handler::*)(const json&);
        static const std::map<std::string, Fn> kOps = {
            {"CreateLogGroup", &Handler::create_group},
            {"DeleteLogGroup", &Handler::delete_group},
            {"DescribeLogGroups", &Handler::describe_groups},
            {"CreateLogStream", &Handler::create_stream},
            {"DeleteLogStream", &Handler::delete_stream},
            {"DescribeLogStreams", &Handler::describe_streams},
            {"PutLogEvents", &Handler::put_events},
            {"GetLogEvents", &Handler::get_events},
            {"FilterLogEvents", &Handler::filter_events},
            {"PutRetentionPolicy", &Handler::put_retention},
            {"DeleteRetentionPolicy", &Handler::delete_retention},
            {"TagResource", &Handler::tag_resource},
            {"UntagResource", &Handler::untag_resource},
            {"ListTagsForResource", &Handler::list_tags_for_resource},
            {"TagLogGroup", &Handler::tag_group},
            {"UntagLogGroup", &Handler::untag_group},
            {"ListTagsLogGroup", &Handler::list_tags_group},
        };
        auto it = kOps.find(op);
        if (it == kOps.end())
            return logs_fail(LogsErrorCode::NotImplemented,
                             "lamina does not emulate the CloudWatch Logs operation " + op + ".");
        return (this->*(it->second))(in);
    }

private:
    Result<json> create_group(const json& in) {
        LAMINA_TRY(name, need_string(in, "logGroupName"));
        LAMINA_CHECK(check_group_name(name));
        LAMINA_TRY(tags, tags_of(in, "tags"));
        LAMINA_TRY(cls, opt_string(in, "logGroupClass"));
        if (cls && *cls != "STANDARD" && *cls != "INFREQUENT_ACCESS" && *cls != "DELIVERY")
            return bad(validation(
                "'" + *cls + "'", "logGroupClass",
                "Member must satisfy enum value set: [DELIVERY, STANDARD, INFREQUENT_ACCESS]"));
        LAMINA_CHECK(store_.create_group(w_, name, tags));
        return json::object();
    }

    Result<json> delete_group(const json& in) {
        LAMINA_TRY(name, group_of(w_, in));
        LAMINA_CHECK(store_.delete_group(w_, name));
        return json::object();
    }

    Result<json> describe_groups(const json& in) {
        LAMINA_TRY(prefix, opt_string(in, "logGroupNamePrefix"));
        LAMINA_TRY(pattern, opt_string(in, "logGroupNamePattern"));
        if (prefix && pattern)
            return bad(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                "parameters.");
        if (prefix && !prefix->empty())
            LAMINA_CHECK(check_group_name(*prefix, "logGroupNamePrefix"));
        if (pattern && !group_chars(*pattern))
            return bad(validation(
                "'" + *pattern + "'", "logGroupNamePattern",
                "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]*"));
        LAMINA_TRY(limit, limit_of(in, 50, 50));
        LAMINA_TRY(offset, offset_of(in));
        LAMINA_TRY(list,
                   store_.groups(w_, prefix.value_or(""), pattern.value_or(""), offset, limit + 1));
        json out = {{"logGroups", json::array()}};
        for (std::size_t i = 0; i < list.size() && i < static_cast<std::size_t>(limit); ++i) {
            const auto& g = list[i];
            json j = {{"logGroupName", g.name},      {"creationTime", g.creation_time},
                      {"metricFilterCount", 0},      {"arn", group_arn(w_, g.name) + ":*"},
                      {"logGroupClass", "STANDARD"}, {"logGroupArn", group_arn(w_, g.name)}};
            if (!pattern) {
                j["storedBytes"] = g.stored_bytes;
                j["deletionProtectionEnabled"] = false;
            }
            if (g.retention_days) j["retentionInDays"] = *g.retention_days;
            out["logGroups"].push_back(std::move(j));
        }
        if (list.size() > static_cast<std::size_t>(limit))
            out["nextToken"] = "o/" + std::to_string(offset + limit);
        return out;
    }

    Result<json> create_stream(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(name, need_string(in, "logStreamName"));
        LAMINA_CHECK(check_stream_name(name));
        LAMINA_CHECK(store_.create_stream(w_, group, name));
        return json::object();
    }

    Result<json> delete_stream(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(name, need_string(in, "logStreamName"));
        LAMINA_CHECK(check_stream_name(name));
        LAMINA_CHECK(store_.delete_stream(w_, group, name));
        return json::object();
    }

    Result<json> describe_streams(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(prefix, opt_string(in, "logStreamNamePrefix"));
        LAMINA_TRY(order, opt_string(in, "orderBy"));
        LAMINA_TRY(descending, opt_bool(in, "descending"));
        bool by_time = false;
        if (order) {
            if (*order == "LastEventTime")
                by_time = true;
            else if (*order != "LogStreamName")
                return bad(validation(
                    "'" + *order + "'", "orderBy",
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]"));
        }
        if (by_time && prefix)
            return bad("Cannot order by LastEventTime with a logStreamNamePrefix.");
        LAMINA_TRY(limit, limit_of(in, 50, 50));
        LAMINA_TRY(offset, offset_of(in));
        LAMINA_TRY(list, store_.streams(w_, group, prefix.value_or(""), by_time, descending, offset,
                                        limit + 1));
        json out = {{"logStreams", json::array()}};
        for (std::size_t i = 0; i < list.size() && i < static_cast<std::size_t>(limit); ++i) {
            const auto& s = list[i];
            json j = {{"logStreamName", s.name},
                      {"creationTime", s.creation_time},
                      {"arn", group_arn(w_, group) + ":log-stream:" + s.name},
                      {"storedBytes", 0}};
            if (s.first_event) j["firstEventTimestamp"] = *s.first_event;
            if (s.last_event) j["lastEventTimestamp"] = *s.last_event;
            if (s.last_ingestion) {
                j["lastIngestionTime"] = *s.last_ingestion;
                j["uploadSequenceToken"] = pad(*s.last_ingestion, 56);
            }
            out["logStreams"].push_back(std::move(j));
        }
        if (list.size() > static_cast<std::size_t>(limit))
            out["nextToken"] = "o/" + std::to_string(offset + limit);
        return out;
    }

    Result<json> put_events(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(stream, need_string(in, "logStreamName"));
        LAMINA_CHECK(check_stream_name(stream));
        auto it = in.find("logEvents");
        if (it == in.end() || it->is_null())
            return bad(validation("null", "logEvents", "Member must not be null"));
        if (!it->is_array()) return bad("Invalid value for logEvents");
        if (it->empty())
            return bad(validation("'[]'", "logEvents",
                                  "Member must have length greater than or equal to 1"));
        if (it->size() > kMaxBatchEvents)
            return bad(validation("'[...]'", "logEvents",
                                  "Member must have length less than or equal to 10000"));
        std::vector<logs::InputEvent> events;
        std::size_t bytes = 0;
        for (const auto& e : *it) {
            if (!e.is_object()) return bad("Invalid value for logEvents");
            LAMINA_TRY(ts, opt_int(e, "timestamp"));
            LAMINA_TRY(message, opt_string(e, "message"));
            if (!ts)
                return bad(
                    validation("null", "logEvents.member.timestamp", "Member must not be null"));
            if (!message)
                return bad(
                    validation("null", "logEvents.member.message", "Member must not be null"));
            if (message->empty())
                return bad(validation("''", "logEvents.member.message",
                                      "Member must have length greater than or equal to 1"));
            if (*ts < 0)
                return bad(validation("'" + std::to_string(*ts) + "'", "logEvents.member.timestamp",
                                      "Member must have value greater than or equal to 0"));
            bytes += message->size() + kEventOverhead;
            events.push_back({*ts, std::move(*message)});
        }
        if (bytes > kMaxBatchBytes)
            return bad("Upload too large: " + std::to_string(bytes) + " bytes exceeds limit of " +
                       std::to_string(kMaxBatchBytes));
        for (std::size_t i = 1; i < events.size(); ++i)
            if (events[i].timestamp < events[i - 1].timestamp)
                return bad(
                    "Log events in a single PutLogEvents request must be in chronological order.");
        if (events.back().timestamp - events.front().timestamp > kDayMs)
            return bad(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 "
                "hours.");
        LAMINA_TRY(info, store_.group(w_, group));
        std::int64_t now = clock_.now_ms();
        std::int64_t too_old = now - kTooOldMs;
        std::int64_t expired =
            info.retention_days ? now - *info.retention_days * kDayMs : INT64_MIN;
        std::int64_t too_new = now + kTooNewMs;
        json rejected = json::object();
        std::vector<logs::InputEvent> kept;
        for (std::size_t i = 0; i < events.size(); ++i) {
            auto& e = events[i];
            if (e.timestamp < too_old)
                rejected["tooOldLogEventEndIndex"] = i;
            else if (e.timestamp < expired)
                rejected["expiredLogEventEndIndex"] = i;
            else if (e.timestamp > too_new) {
                if (!rejected.contains("tooNewLogEventStartIndex"))
                    rejected["tooNewLogEventStartIndex"] = i;
            } else
                kept.push_back(std::move(e));
        }
        LAMINA_CHECK(store_.put_events(w_, group, stream, kept));
        json out = {{"nextSequenceToken", pad(now, 56)}};
        if (!rejected.empty()) out["rejectedLogEventsInfo"] = std::move(rejected);
        return out;
    }

    Result<json> get_events(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(stream, need_string(in, "logStreamName"));
        LAMINA_CHECK(check_stream_name(stream));
        LAMINA_TRY(start, opt_int(in, "startTime"));
        LAMINA_TRY(end, opt_int(in, "endTime"));
        LAMINA_TRY(head, opt_bool(in, "startFromHead"));
        LAMINA_TRY(limit, limit_of(in, 10000, 10000));
        LAMINA_TRY(token, opt_string(in, "nextToken"));
        logs::GetQuery q;
        q.start_time = start;
        q.end_time = end;
        q.limit = limit;
        q.newest = !head;
        std::optional<logs::Cursor> from;
        bool backward = false;
        if (token) {
            if (auto f = parse_cursor(*token, 'f')) {
                q.after = from = f;
                q.newest = false;
            } else if (auto b = parse_cursor(*token, 'b')) {
                q.before = from = b;
                q.newest = true;
                backward = true;
            } else {
                return bad_token();
            }
        }
        LAMINA_TRY(events, store_.get_events(w_, group, stream, q));
        json out = {{"events", json::array()}};
        for (const auto& e : events)
            out["events"].push_back({{"timestamp", e.timestamp},
                                     {"message", e.message},
                                     {"ingestionTime", e.ingestion_time}});
        logs::Cursor none{0, 0};
        if (!events.empty()) {
            out["nextForwardToken"] =
                cursor_token('f', {events.back().timestamp, events.back().id});
            out["nextBackwardToken"] =
                cursor_token('b', {events.front().timestamp, events.front().id});
        } else if (token) {
            // nothing more this way: the token given comes back (paginators stop on it)
            out["nextForwardToken"] = backward ? cursor_token('f', *from) : *token;
            out["nextBackwardToken"] = backward ? *token : cursor_token('b', *from);
        } else {
            out["nextForwardToken"] = cursor_token('f', none);
            out["nextBackwardToken"] = cursor_token('b', none);
        }
        return out;
    }

    Result<json> filter_events(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(names, strings_of(in, "logStreamNames"));
        LAMINA_TRY(prefix, opt_string(in, "logStreamNamePrefix"));
        if (!names.empty() && prefix)
            return bad("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
        if (names.size() > 100)
            return bad(validation("'[...]'", "logStreamNames",
                                  "Member must have length less than or equal to 100"));
        LAMINA_TRY(start, opt_int(in, "startTime"));
        LAMINA_TRY(end, opt_int(in, "endTime"));
        LAMINA_TRY(pattern_text, opt_string(in, "filterPattern"));
        if (pattern_text && pattern_text->size() > 1024)
            return bad(validation("'" + *pattern_text + "'", "filterPattern",
                                  "Member must have length less than or equal to 1024"));
        LAMINA_TRY(limit, limit_of(in, 10000, 10000));
        LAMINA_TRY(token, opt_string(in, "nextToken"));
        auto parsed = logs::FilterPattern::parse(pattern_text.value_or(""));
        if (!parsed) return bad("Invalid filter pattern");
        logs::FilterQuery q;
        q.streams = names;
        q.stream_prefix = prefix;
        q.start_time = start;
        q.end_time = end;
        q.pattern = &*parsed;
        q.limit = limit;
        if (token) {
            auto c = parse_cursor(*token, 'F');
            if (!c) return bad_token();
            q.after = c;
        }
        LAMINA_TRY(found, store_.filter_events(w_, group, q));
        json out = {{"events", json::array()}, {"searchedLogStreams", json::array()}};
        for (const auto& e : found.events)
            out["events"].push_back({{"logStreamName", e.stream},
                                     {"timestamp", e.timestamp},
                                     {"message", e.message},
                                     {"ingestionTime", e.ingestion_time},
                                     {"eventId", event_id(e)}});
        for (const auto& n : names)
            out["searchedLogStreams"].push_back(
                {{"logStreamName", n}, {"searchedCompletely", !found.next}});
        if (found.next) out["nextToken"] = cursor_token('F', *found.next);
        return out;
    }

    Result<json> put_retention(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(days, opt_int(in, "retentionInDays"));
        if (!days) return bad(validation("null", "retentionInDays", "Member must not be null"));
        if (std::find(std::begin(kRetentionDays), std::end(kRetentionDays), *days) ==
            std::end(kRetentionDays))
            return bad(validation(
                "'" + std::to_string(*days) + "'", "retentionInDays",
                "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
                "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"));
        LAMINA_CHECK(store_.set_retention(w_, group, static_cast<int>(*days)));
        return json::object();
    }

    Result<json> delete_retention(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_CHECK(store_.set_retention(w_, group, std::nullopt));
        return json::object();
    }

    Result<std::string> arn_group(const json& in) {
        LAMINA_TRY(arn, need_string(in, "resourceArn"));
        auto name = name_from_arn(w_, arn);
        if (!name) return std::unexpected(logs::no_such_group());
        return std::move(*name);
    }

    Result<json> tag_resource(const json& in) {
        LAMINA_TRY(group, arn_group(in));
        LAMINA_TRY(tags, tags_of(in, "tags"));
        LAMINA_CHECK(store_.set_tags(w_, group, tags, {}));
        return json::object();
    }

    Result<json> untag_resource(const json& in) {
        LAMINA_TRY(group, arn_group(in));
        LAMINA_TRY(keys, strings_of(in, "tagKeys"));
        LAMINA_CHECK(store_.set_tags(w_, group, {}, keys));
        return json::object();
    }

    Result<json> list_tags_for_resource(const json& in) {
        LAMINA_TRY(group, arn_group(in));
        LAMINA_TRY(tags, store_.tags(w_, group));
        return json{{"tags", tags}};
    }

    Result<json> tag_group(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(tags, tags_of(in, "tags"));
        LAMINA_CHECK(store_.set_tags(w_, group, tags, {}));
        return json::object();
    }

    Result<json> untag_group(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(keys, strings_of(in, "tags"));
        LAMINA_CHECK(store_.set_tags(w_, group, {}, keys));
        return json::object();
    }

    Result<json> list_tags_group(const json& in) {
        LAMINA_TRY(group, group_of(w_, in));
        LAMINA_TRY(tags, store_.tags(w_, group));
        return json{{"tags", tags}};
    }

    logs::LogStore& store_;
    Clock& clock_;
    logs::Where w_;
};

http::Response respond(unsigned status, const json& body, const std::string& request_id) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", kContentType);
    r.headers.set("x-amzn-RequestId", request_id);
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

}  // namespace

http::Response LogsApi::handle(const RequestContext& ctx, const std::string& operation,
                               const http::Request& req) {
    logs::Where w{ctx.scope.account, ctx.scope.region};
    std::optional<Error> streamed;  // why StartLiveTail did not start
    if (operation == "StartLiveTail" && tail_) {
        auto r = start_live_tail(ctx, req);
        if (r) return std::move(*r);
        streamed = r.error();
    }
    auto result = [&]() -> Result<json> {
        if (streamed) return std::unexpected(*streamed);
        LAMINA_TRY(in, body_of(req));
        return Handler(store_, clock_, w).run(operation, in);
    }();
    if (result) return respond(200, *result, ctx.request_id);
    const auto& shape = logs::logs_error_shape(result.error());
    auto r =
        respond(shape.status, json{{"__type", shape.type}, {"message", result.error().message}},
                ctx.request_id);
    r.headers.set("x-amzn-ErrorType", shape.type);
    return r;
}

}  // namespace lamina::api
