#pragma once
// The CloudWatch Logs API on lamina's endpoint (awsJson 1.1,
// X-Amz-Target: Logs_20140328.<Op>): log groups, streams, events, filter
// patterns, retention and tags over logs::LogStore, where functions' output
// is kept, and StartLiveTail's event stream over logs::LiveTail. Answers and
// errors as AWS shapes them (client errors are 400).

#include <string>

#include "lamina/api/request_context.hpp"
#include "lamina/http/message.hpp"
#include "lamina/logs/live_tail.hpp"
#include "lamina/logs/log_store.hpp"

namespace lamina::api {

inline constexpr const char* kLogsTargetPrefix = "Logs_20140328.";

class LogsApi {
public:
    LogsApi(logs::LogStore& store, Clock& clock, logs::LiveTail* tail = nullptr)
        : store_(store), clock_(clock), tail_(tail) {}

    http::Response handle(const RequestContext& ctx, const std::string& operation,
                          const http::Request& req);

private:
    // StartLiveTail (logs_live_tail.cpp): an event stream that lasts the session.
    Result<http::Response> start_live_tail(const RequestContext& ctx, const http::Request& req);

    logs::LogStore& store_;
    Clock& clock_;
    logs::LiveTail* tail_;
};

}  // namespace lamina::api
