#pragma once
// Private to sqs: reading both protocols into the JSON input shape and
// rendering answers and errors in the request's protocol.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lamina/http/message.hpp"
#include "lamina/sqs/sqs_api.hpp"
#include "lamina/sqs/sqs_error.hpp"

namespace lamina::sqs {

struct SqsApi::Call {
    std::string op;
    nlohmann::json in;  // the JSON protocol's input shape
    Wire wire = Wire::Json;
    std::string path;          // the request's path ("/" or a queue URL's)
    std::string trace_header;  // X-Amzn-Trace-Id
};

// Form and query parameters of a query request, as the JSON input shape
// (Attribute.N.Name/Value -> Attributes, MessageAttribute.N -> MessageAttributes,
// *RequestEntry.N -> Entries, AttributeName.N -> AttributeNames, ...).
nlohmann::json query_input(const std::string& op, const std::map<std::string, std::string>& params);

http::Response json_answer(const nlohmann::json& out);
http::Response xml_answer(const std::string& op, const nlohmann::json& out,
                          const std::string& request_id);
http::Response error_answer(const Error& e, Wire wire, const std::string& request_id);

// Input members (sqs_api.cpp). Strings may come as JSON strings; numbers as
// JSON numbers or (query) digit strings.
std::optional<std::string> opt_string(const nlohmann::json& in, const char* name);
Result<std::string> need_string(const nlohmann::json& in, const char* name);
Result<std::optional<int>> opt_int(const nlohmann::json& in, const char* name);
std::vector<std::string> string_list(const nlohmann::json& in, const char* name);
std::map<std::string, std::string> string_map(const nlohmann::json& in, const char* name);
// "http://<host>/<account>/<name>"
std::string queue_url(const SqsContext& ctx, const QueueInfo& q);
// The ARN a request's QueueUrl (or, for the query protocol, its path) names.
Result<std::string> target_arn(const SqsContext& ctx, const SqsApi::Call& call);

// Message operations (sqs_messages.cpp).
Result<nlohmann::json> send_message(Queues& queues, const SqsContext& ctx,
                                    const SqsApi::Call& call);
Result<nlohmann::json> send_message_batch(Queues& queues, const SqsContext& ctx,
                                          const SqsApi::Call& call);
Result<nlohmann::json> delete_message_batch(Queues& queues, const SqsContext& ctx,
                                            const SqsApi::Call& call);
Result<nlohmann::json> change_visibility_batch(Queues& queues, const SqsContext& ctx,
                                               const SqsApi::Call& call);
// ReceiveMessage's parsed input.
struct ReceiveRequest {
    std::string arn;
    int max = 1;
    std::optional<int> visibility_timeout;
    int wait_seconds = 0;
    std::vector<std::string> system_names, attribute_names;
};
Result<ReceiveRequest> receive_request(Queues& queues, const SqsContext& ctx,
                                       const SqsApi::Call& call);
nlohmann::json receive_output(const ReceiveRequest& r, const std::vector<ReceivedMessage>& got);

}  // namespace lamina::sqs
