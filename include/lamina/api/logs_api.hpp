#pragma once
// The CloudWatch Logs API on lamina's endpoint (awsJson 1.1,
// X-Amz-Target: Logs_20140328.<Op>): log groups, streams, events, filter
// patterns, retention and tags over logs::LogStore, where functions' output
// is kept. Answers and errors as AWS shapes them (client errors are 400).

#include <string>

#include "lamina/api/request_context.hpp"
#include "lamina/http/message.hpp"
#include "lamina/logs/log_store.hpp"

namespace lamina::api {

inline constexpr const char* kLogsTargetPrefix = "Logs_20140328.";

class LogsApi {
public:
    LogsApi(logs::LogStore& store, Clock& clock) : store_(store), clock_(clock) {}

    http::Response handle(const RequestContext& ctx, const std::string& operation,
                          const http::Request& req);

private:
    logs::LogStore& store_;
    Clock& clock_;
};

}  // namespace lamina::api
