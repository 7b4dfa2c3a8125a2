#include "lamina/sqs/sqs_api.hpp"

#include <algorithm>
#include <charconv>

#include "lamina/common/encoding.hpp"
#include "sqs_wire.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;
using nlohmann::json;

constexpr const char* kEmulated[] = {"CreateQueue",
                                     "GetQueueUrl",
                                     "ListQueues",
                                     "GetQueueAttributes",
                                     "SetQueueAttributes",
                                     "DeleteQueue",
                                     "PurgeQueue",
                                     "SendMessage",
                                     "SendMessageBatch",
                                     "ReceiveMessage",
                                     "DeleteMessage",
                                     "DeleteMessageBatch",
                                     "ChangeMessageVisibility",
                                     "ChangeMessageVisibilityBatch",
                                     "TagQueue",
                                     "UntagQueue",
                                     "ListQueueTags",
                                     "ListDeadLetterSourceQueues"};
// Known to SQS, answered UnsupportedOperation naming them.
constexpr const char* kNotEmulated[] = {"AddPermission", "RemovePermission", "StartMessageMoveTask",
                                        "CancelMessageMoveTask", "ListMessageMoveTasks"};

bool listed(const auto& list, std::string_view op) {
    return std::find(std::begin(list), std::end(list), op) != std::end(list);
}

Error missing(const char* name) {
    return sqs_error(C::MissingParameter,
                     std::string("The request must contain the parameter ") + name + ".");
}

std::map<std::string, std::string> form_params(const http::Request& req) {
    std::map<std::string, std::string> out;
    auto add = [&](std::string_view pair) {
        if (pair.empty()) return;
        auto eq = pair.find('=');
        auto k = url_decode(pair.substr(0, eq), true);
        auto v = url_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (k && v) out.emplace(std::move(*k), std::move(*v));
    };
    if (req.headers.get("Content-Type").find("application/x-www-form-urlencoded") !=
        std::string::npos) {
        std::string_view body(req.body);
        while (!body.empty()) {
            auto amp = body.find('&');
            add(body.substr(0, amp));
            if (amp == std::string_view::npos) break;
            body.remove_prefix(amp + 1);
        }
    }
    for (const auto& [k, v] : req.query) out.emplace(k, v);
    return out;
}

// NextToken: the name after which the next page starts, base64-encoded.
struct Page {
    std::size_t max = 1000;
    std::string after;
};

Result<Page> page_of(const json& in) {
    Page p;
    LAMINA_TRY(max, opt_int(in, "MaxResults"));
    if (max) {
        if (*max < 1 || *max > 1000)
            return sqs_fail(C::InvalidParameterValue,
                            "Value " + std::to_string(*max) +
                                " for parameter MaxResults is invalid. Reason: MaxResults must be "
                                "an integer between 1 and 1000.");
        p.max = static_cast<std::size_t>(*max);
    }
    if (auto token = opt_string(in, "NextToken"); token && !token->empty()) {
        auto after = base64_decode(*token);
        if (!after) return sqs_fail(C::InvalidParameterValue, "Invalid NextToken value.");
        p.after = *after;
    }
    return p;
}

// Fills `key` with the URLs of one page, and NextToken when a MaxResults page has more.
void paginate(json& out, const char* key, const std::vector<QueueInfo>& all, const Page& p,
              bool max_given, const SqsContext& ctx) {
    json urls = json::array();
    std::string last;
    bool more = false;
    for (const auto& q : all) {
        if (!p.after.empty() && q.name <= p.after) continue;
        if (urls.size() == p.max) {
            more = true;
            break;
        }
        urls.push_back(queue_url(ctx, q));
        last = q.name;
    }
    if (more && max_given) out["NextToken"] = base64_encode(last);
    if (!urls.empty() || std::string_view(key) == "queueUrls") out[key] = std::move(urls);
}

}  // namespace

// ---- input helpers ----

std::optional<std::string> opt_string(const json& in, const char* name) {
    auto it = in.find(name);
    if (it == in.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

Result<std::string> need_string(const json& in, const char* name) {
    auto v = opt_string(in, name);
    if (!v) return std::unexpected(missing(name));
    return *v;
}

Result<std::optional<int>> opt_int(const json& in, const char* name) {
    auto it = in.find(name);
    if (it == in.end() || it->is_null()) return std::optional<int>();
    if (it->is_number_integer()) {
        auto v = it->get<long long>();
        if (v >= INT32_MIN && v <= INT32_MAX) return std::optional<int>(static_cast<int>(v));
    }
    if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        int v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc() && p == s.data() + s.size() && !s.empty())
            return std::optional<int>(v);
    }
    std::string shown = it->is_string() ? it->get<std::string>() : it->dump();
    return sqs_fail(C::InvalidParameterValue, "Value " + shown + " for parameter " + name +
                                                  " is invalid. Reason: must be an integer.");
}

std::vector<std::string> string_list(const json& in, const char* name) {
    std::vector<std::string> out;
    auto it = in.find(name);
    if (it == in.end()) return out;
    if (it->is_string()) out.push_back(it->get<std::string>());
    if (it->is_array())
        for (const auto& e : *it)
            if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
}

std::map<std::string, std::string> string_map(const json& in, const char* name) {
    std::map<std::string, std::string> out;
    auto it = in.find(name);
    if (it == in.end() || !it->is_object()) return out;
    for (const auto& [k, v] : it->items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
    return out;
}

std::string queue_url(const SqsContext& ctx, const QueueInfo& q) {
    return "http://" + (ctx.host.empty() ? std::string("localhost") : ctx.host) + "/" + q.account +
           "/" + q.name;
}

Result<std::string> target_arn(const SqsContext& ctx, const SqsApi::Call& call) {
    std::string path;
    if (auto url = opt_string(call.in, "QueueUrl")) {
        std::string_view u(*url);
        if (auto scheme = u.find("://"); scheme != std::string_view::npos) {
            u.remove_prefix(scheme + 3);
            auto slash = u.find('/');
            u = slash == std::string_view::npos ? std::string_view() : u.substr(slash);
        }
        path = std::string(u);
    } else if (SqsApi::is_queue_path(call.path)) {
        path = call.path;
    } else {
        return std::unexpected(missing("QueueUrl"));
    }
    while (path.ends_with('/')) path.pop_back();
    auto slash = path.find('/', 1);
    if (path.size() < 2 || path[0] != '/' || slash == std::string::npos ||
        path.find('/', slash + 1) != std::string::npos)
        return std::unexpected(no_such_queue());
    std::string account = path.substr(1, slash - 1);
    std::string name = url_decode(path.substr(slash + 1)).value_or("");
    return queue_arn(ctx.region, account, name);
}

// ---- SqsApi ----

SqsApi::SqsApi(Queues& queues, boost::asio::any_io_executor timers)
    : queues_(queues), timers_(std::move(timers)) {}

bool SqsApi::is_action(std::string_view action) {
    return listed(kEmulated, action) || listed(kNotEmulated, action);
}

bool SqsApi::is_queue_path(std::string_view path) {
    if (path.size() < 15 || path[0] != '/' || path[13] != '/') return false;
    for (std::size_t i = 1; i < 13; ++i)
        if (path[i] < '0' || path[i] > '9') return false;
    std::string_view name = path.substr(14);
    if (name.ends_with('/')) name.remove_suffix(1);
    return !name.empty() && name.find('/') == std::string_view::npos;
}

void SqsApi::handle(const SqsContext& ctx, const http::Request& req, Wire wire, Done done) {
    Call call;
    call.wire = wire;
    call.path = req.path;
    call.trace_header = req.headers.get("X-Amzn-Trace-Id");
    auto refuse = [&](const Error& e) { done(error_answer(e, wire, ctx.request_id)); };
    if (wire == Wire::Json) {
        std::string target = req.headers.get("X-Amz-Target");
        call.op = target.starts_with(kTargetPrefix)
                      ? target.substr(std::string_view(kTargetPrefix).size())
                      : target;
        call.in = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
        if (!call.in.is_object())
            return refuse(
                sqs_error(C::InvalidParameterValue, "The request body is not valid JSON."));
    } else {
        auto params = form_params(req);
        auto action = params.find("Action");
        call.op = action == params.end() ? "" : action->second;
        call.in = query_input(call.op, params);
        if (is_queue_path(call.path) && (call.op == "CreateQueue" || call.op == "ListQueues"))
            return refuse(sqs_error(C::InvalidAction,
                                    "The action " + call.op + " is not valid for this endpoint."));
    }
    if (listed(kNotEmulated, call.op))
        return refuse(sqs_error(C::UnsupportedOperation,
                                "lamina does not emulate the SQS operation " + call.op + "."));
    if (!listed(kEmulated, call.op))
        return refuse(sqs_error(C::InvalidAction,
                                "The action " + call.op + " is not valid for this endpoint."));
    if (call.op == "ReceiveMessage") return receive(ctx, call, std::move(done));
    auto out = run(ctx, call);
    if (!out) return refuse(out.error());
    done(wire == Wire::Json ? json_answer(*out) : xml_answer(call.op, *out, ctx.request_id));
}

Result<json> SqsApi::run(const SqsContext& ctx, const Call& call) {
    const json& in = call.in;
    const std::string& op = call.op;
    json out = json::object();
    if (op == "CreateQueue") {
        LAMINA_TRY(name, need_string(in, "QueueName"));
        LAMINA_TRY(q, queues_.create_queue(ctx.account, ctx.region, name,
                                           string_map(in, "Attributes"), string_map(in, "tags")));
        out["QueueUrl"] = queue_url(ctx, q);
        return out;
    }
    if (op == "GetQueueUrl") {
        LAMINA_TRY(name, need_string(in, "QueueName"));
        std::string account = opt_string(in, "QueueOwnerAWSAccountId").value_or(ctx.account);
        auto q = queues_.find(account, ctx.region, name);
        if (!q) return std::unexpected(no_such_queue());
        out["QueueUrl"] = queue_url(ctx, *q);
        return out;
    }
    if (op == "ListQueues") {
        LAMINA_TRY(page, page_of(in));
        auto all = queues_.list_queues(ctx.account, ctx.region,
                                       opt_string(in, "QueueNamePrefix").value_or(""));
        paginate(out, "QueueUrls", all, page, in.contains("MaxResults"), ctx);
        return out;
    }
    if (op == "ListDeadLetterSourceQueues") {
        LAMINA_TRY(arn, target_arn(ctx, call));
        LAMINA_TRY(page, page_of(in));
        LAMINA_TRY(all, queues_.dead_letter_sources(arn));
        paginate(out, "queueUrls", all, page, in.contains("MaxResults"), ctx);
        return out;
    }
    LAMINA_TRY(arn, target_arn(ctx, call));
    if (op == "GetQueueAttributes") {
        auto names = string_list(in, "AttributeNames");
        LAMINA_TRY(attrs, queues_.get_attributes(arn, names));
        if (!attrs.empty()) out["Attributes"] = attrs;
        return out;
    }
    if (op == "SetQueueAttributes") {
        LAMINA_CHECK(queues_.set_attributes(arn, string_map(in, "Attributes")));
        return out;
    }
    if (op == "DeleteQueue") {
        LAMINA_CHECK(queues_.delete_queue(arn));
        return out;
    }
    if (op == "PurgeQueue") {
        LAMINA_CHECK(queues_.purge(arn));
        return out;
    }
    if (op == "TagQueue") {
        LAMINA_CHECK(queues_.tag(arn, string_map(in, "Tags")));
        return out;
    }
    if (op == "UntagQueue") {
        LAMINA_CHECK(queues_.untag(arn, string_list(in, "TagKeys")));
        return out;
    }
    if (op == "ListQueueTags") {
        LAMINA_TRY(tags, queues_.tags(arn));
        if (!tags.empty()) out["Tags"] = tags;
        return out;
    }
    if (op == "DeleteMessage") {
        if (!queues_.find_by_arn(arn)) return std::unexpected(no_such_queue());
        LAMINA_TRY(handle, need_string(in, "ReceiptHandle"));
        LAMINA_CHECK(queues_.delete_message(arn, handle));
        return out;
    }
    if (op == "ChangeMessageVisibility") {
        if (!queues_.find_by_arn(arn)) return std::unexpected(no_such_queue());
        LAMINA_TRY(handle, need_string(in, "ReceiptHandle"));
        LAMINA_TRY(seconds, opt_int(in, "VisibilityTimeout"));
        if (!seconds) return std::unexpected(missing("VisibilityTimeout"));
        LAMINA_CHECK(queues_.change_visibility(arn, handle, *seconds));
        return out;
    }
    if (op == "SendMessage") return send_message(queues_, ctx, call);
    if (op == "SendMessageBatch") return send_message_batch(queues_, ctx, call);
    if (op == "DeleteMessageBatch") return delete_message_batch(queues_, ctx, call);
    if (op == "ChangeMessageVisibilityBatch") return change_visibility_batch(queues_, ctx, call);
    return sqs_fail(C::InvalidAction, "The action " + op + " is not valid for this endpoint.");
}

}  // namespace lamina::sqs
