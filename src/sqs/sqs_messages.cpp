// The message operations: SendMessage(Batch), ReceiveMessage (with long
// polling), DeleteMessageBatch, ChangeMessageVisibilityBatch.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <set>

#include "lamina/common/encoding.hpp"
#include "sqs_wire.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;
using nlohmann::json;

constexpr std::size_t kMaxBatchBytes = 1048576;

Result<MessageAttributes> message_attributes(const json& in, const char* name) {
    MessageAttributes out;
    auto it = in.find(name);
    if (it == in.end() || !it->is_object()) return out;
    for (const auto& [key, v] : it->items()) {
        MessageAttributeValue a;
        auto type = v.is_object() ? opt_string(v, "DataType") : std::nullopt;
        if (!type || type->empty())
            return sqs_fail(C::InvalidParameterValue, "The message attribute '" + key +
                                                          "' must contain non-empty message "
                                                          "attribute type.");
        a.data_type = *type;
        a.string_value = opt_string(v, "StringValue");
        if (auto b = opt_string(v, "BinaryValue")) {
            auto raw = base64_decode(*b);
            if (!raw)
                return sqs_fail(C::InvalidParameterValue,
                                "The message attribute '" + key +
                                    "' with type 'Binary' must use field 'Binary'.");
            a.binary_value = std::move(*raw);
        }
        out.emplace(key, std::move(a));
    }
    return out;
}

Result<SendInput> send_input(const SqsContext& ctx, const SqsApi::Call& call, const json& in) {
    SendInput s;
    s.body = opt_string(in, "MessageBody").value_or("");
    LAMINA_TRY(attrs, message_attributes(in, "MessageAttributes"));
    s.message_attributes = std::move(attrs);
    LAMINA_TRY(delay, opt_int(in, "DelaySeconds"));
    s.delay_seconds = delay;
    s.group_id = opt_string(in, "MessageGroupId");
    s.dedup_id = opt_string(in, "MessageDeduplicationId");
    LAMINA_TRY(system, message_attributes(in, "MessageSystemAttributes"));
    if (auto t = system.find("AWSTraceHeader"); t != system.end() && t->second.string_value)
        s.trace_header = t->second.string_value;
    else if (!call.trace_header.empty())
        s.trace_header = call.trace_header;
    s.sender_id = ctx.sender_id;
    return s;
}

json send_output(const SendResult& r) {
    json out = {{"MessageId", r.message_id}, {"MD5OfMessageBody", r.md5_of_body}};
    if (r.md5_of_message_attributes) out["MD5OfMessageAttributes"] = *r.md5_of_message_attributes;
    if (r.md5_of_message_system_attributes)
        out["MD5OfMessageSystemAttributes"] = *r.md5_of_message_system_attributes;
    if (r.sequence_number) out["SequenceNumber"] = *r.sequence_number;
    return out;
}

json failed_entry(const std::string& id, const Error& e) {
    const auto& shape = sqs_error_shape(e);
    return {{"Id", id},
            {"SenderFault", shape.sender},
            {"Code", shape.query_code},
            {"Message", e.message}};
}

bool valid_entry_id(const std::string& id) {
    return !id.empty() && id.size() <= 80 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

// The checks every batch gets first: entries present, at most 10, ids valid and distinct.
Result<json> batch_entries(const json& in, const char* entry_name) {
    auto it = in.find("Entries");
    json entries = it == in.end() || !it->is_array() ? json::array() : *it;
    if (entries.empty())
        return sqs_fail(C::EmptyBatchRequest, std::string("There should be at least one ") +
                                                  entry_name + " in the request.");
    if (entries.size() > 10)
        return sqs_fail(C::TooManyEntriesInBatchRequest,
                        "Maximum number of entries per request are 10. You have sent " +
                            std::to_string(entries.size()) + ".");
    std::set<std::string> seen;
    for (const auto& e : entries) {
        std::string id = e.is_object() ? opt_string(e, "Id").value_or("") : "";
        if (!valid_entry_id(id))
            return sqs_fail(C::InvalidBatchEntryId,
                            "A batch entry id can only contain alphanumeric characters, hyphens "
                            "and underscores. It can be at most 80 letters long.");
        if (!seen.insert(id).second)
            return sqs_fail(C::BatchEntryIdsNotDistinct, "Id " + id + " repeated.");
    }
    return entries;
}

bool selected(const std::vector<std::string>& names, const std::string& name) {
    for (const auto& n : names) {
        if (n == "All" || n == ".*" || n == name) return true;
        if (n.ends_with(".*") && name.starts_with(n.substr(0, n.size() - 1))) return true;
    }
    return false;
}

}  // namespace

Result<json> send_message(Queues& queues, const SqsContext& ctx, const SqsApi::Call& call) {
    LAMINA_TRY(arn, target_arn(ctx, call));
    LAMINA_TRY(in, send_input(ctx, call, call.in));
    LAMINA_TRY(r, queues.send(arn, std::move(in)));
    return send_output(r);
}

Result<json> send_message_batch(Queues& queues, const SqsContext& ctx, const SqsApi::Call& call) {
    LAMINA_TRY(arn, target_arn(ctx, call));
    auto info = queues.find_by_arn(arn);
    if (!info) return std::unexpected(no_such_queue());
    LAMINA_TRY(entries, batch_entries(call.in, "SendMessageBatchRequestEntry"));
    std::vector<SendInput> inputs;
    std::vector<std::string> ids;
    json failed = json::array();
    std::vector<std::size_t> at;  // entry index of each input
    std::size_t total = 0;
    for (const auto& e : entries) {
        auto s = send_input(ctx, call, e);
        std::string id = opt_string(e, "Id").value_or("");
        if (!s) {
            failed.push_back(failed_entry(id, s.error()));
            continue;
        }
        total += message_size(*s);
        if (info->fifo && !s->group_id)
            return sqs_fail(C::InvalidParameterValue,
                            "The request must contain the parameter MessageGroupId.");
        if (info->fifo && !s->dedup_id && !info->content_based_dedup)
            return sqs_fail(C::InvalidParameterValue,
                            "The queue should either have ContentBasedDeduplication enabled or "
                            "MessageDeduplicationId provided explicitly");
        ids.push_back(id);
        inputs.push_back(std::move(*s));
    }
    if (total > kMaxBatchBytes)
        return sqs_fail(C::BatchRequestTooLong,
                        "Batch requests cannot be longer than 1048576 bytes. You have sent " +
                            std::to_string(total) + " bytes.");
    LAMINA_TRY(results, queues.send_batch(arn, std::move(inputs)));
    json out = json::object();
    json ok = json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (!results[i]) {
            failed.push_back(failed_entry(ids[i], results[i].error()));
            continue;
        }
        json entry = send_output(*results[i]);
        entry["Id"] = ids[i];
        ok.push_back(std::move(entry));
    }
    out["Successful"] = std::move(ok);
    if (!failed.empty()) out["Failed"] = std::move(failed);
    return out;
}

Result<json> delete_message_batch(Queues& queues, const SqsContext& ctx, const SqsApi::Call& call) {
    LAMINA_TRY(arn, target_arn(ctx, call));
    if (!queues.find_by_arn(arn)) return std::unexpected(no_such_queue());
    LAMINA_TRY(entries, batch_entries(call.in, "DeleteMessageBatchRequestEntry"));
    std::vector<std::string> handles;
    for (const auto& e : entries) handles.push_back(opt_string(e, "ReceiptHandle").value_or(""));
    LAMINA_TRY(results, queues.delete_batch(arn, handles));
    json ok = json::array();
    json failed = json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
        std::string id = opt_string(entries[i], "Id").value_or("");
        if (results[i])
            ok.push_back({{"Id", id}});
        else
            failed.push_back(failed_entry(id, results[i].error()));
    }
    json out = {{"Successful", std::move(ok)}};
    if (!failed.empty()) out["Failed"] = std::move(failed);
    return out;
}

Result<json> change_visibility_batch(Queues& queues, const SqsContext& ctx,
                                     const SqsApi::Call& call) {
    LAMINA_TRY(arn, target_arn(ctx, call));
    if (!queues.find_by_arn(arn)) return std::unexpected(no_such_queue());
    LAMINA_TRY(entries, batch_entries(call.in, "ChangeMessageVisibilityBatchRequestEntry"));
    json ok = json::array();
    json failed = json::array();
    for (const auto& e : entries) {
        std::string id = opt_string(e, "Id").value_or("");
        auto seconds = opt_int(e, "VisibilityTimeout");
        Status st = !seconds
                        ? Status(std::unexpected(seconds.error()))
                        : queues.change_visibility(arn, opt_string(e, "ReceiptHandle").value_or(""),
                                                   seconds->value_or(0));
        if (st)
            ok.push_back({{"Id", id}});
        else
            failed.push_back(failed_entry(id, st.error()));
    }
    json out = {{"Successful", std::move(ok)}};
    if (!failed.empty()) out["Failed"] = std::move(failed);
    return out;
}

Result<ReceiveRequest> receive_request(Queues& queues, const SqsContext& ctx,
                                       const SqsApi::Call& call) {
    const json& in = call.in;
    ReceiveRequest r;
    LAMINA_TRY(arn, target_arn(ctx, call));
    r.arn = arn;
    LAMINA_TRY(max, opt_int(in, "MaxNumberOfMessages"));
    if (max && (*max < 1 || *max > 10))
        return sqs_fail(C::InvalidParameterValue,
                        "Value " + std::to_string(*max) +
                            " for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                            "between 1 and 10, if provided.");
    r.max = max.value_or(1);
    LAMINA_TRY(wait, opt_int(in, "WaitTimeSeconds"));
    if (wait && (*wait < 0 || *wait > 20))
        return sqs_fail(C::InvalidParameterValue,
                        "Value " + std::to_string(*wait) +
                            " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and "
                            "<= 20, if provided.");
    LAMINA_TRY(vt, opt_int(in, "VisibilityTimeout"));
    if (vt && (*vt < 0 || *vt > 43200))
        return sqs_fail(C::InvalidParameterValue,
                        "Value " + std::to_string(*vt) +
                            " for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 "
                            "and <= 43200, if provided.");
    r.visibility_timeout = vt;
    auto info = queues.find_by_arn(arn);
    if (!info) return std::unexpected(no_such_queue());
    r.wait_seconds = wait.value_or(info->receive_wait_seconds);
    r.system_names = string_list(in, "AttributeNames");
    for (auto& n : string_list(in, "MessageSystemAttributeNames")) r.system_names.push_back(n);
    r.attribute_names = string_list(in, "MessageAttributeNames");
    return r;
}

json receive_output(const ReceiveRequest& r, const std::vector<ReceivedMessage>& got) {
    json out = json::object();
    if (got.empty()) return out;
    json messages = json::array();
    for (const auto& m : got) {
        json j = {{"MessageId", m.message_id},
                  {"ReceiptHandle", m.receipt_handle},
                  {"MD5OfBody", m.md5_of_body},
                  {"Body", m.body}};
        json attrs = json::object();
        for (const auto& [k, v] : m.attributes)
            if (selected(r.system_names, k)) attrs[k] = v;
        if (!attrs.empty()) j["Attributes"] = std::move(attrs);
        MessageAttributes chosen;
        for (const auto& [k, v] : m.message_attributes)
            if (selected(r.attribute_names, k)) chosen.emplace(k, v);
        if (!chosen.empty()) {
            j["MD5OfMessageAttributes"] = md5_of_attributes(chosen);
            json ma = json::object();
            for (const auto& [k, v] : chosen) {
                json a = {{"DataType", v.data_type}};
                if (v.string_value) a["StringValue"] = *v.string_value;
                if (v.binary_value) a["BinaryValue"] = base64_encode(*v.binary_value);
                ma[k] = std::move(a);
            }
            j["MessageAttributes"] = std::move(ma);
        }
        messages.push_back(std::move(j));
    }
    out["Messages"] = std::move(messages);
    return out;
}

// ---- ReceiveMessage and its long poll ----

struct SqsApi::Poll : std::enable_shared_from_this<SqsApi::Poll> {
    Poll(Queues& q, const boost::asio::any_io_executor& ex, SqsContext c, Wire w, ReceiveRequest r,
         Done d)
        : queues(q),
          executor(ex),
          timer(ex),
          ctx(std::move(c)),
          wire(w),
          req(std::move(r)),
          done(std::move(d)) {}

    void start() {
        {
            std::lock_guard lk(mu);
            std::weak_ptr<Poll> weak = weak_from_this();
            watch = queues.watch(req.arn, [weak, ex = executor] {
                boost::asio::post(ex, [weak] {
                    if (auto p = weak.lock()) p->attempt(false);
                });
            });
            timer.expires_after(std::chrono::seconds(req.wait_seconds));
            timer.async_wait([self = shared_from_this()](const boost::system::error_code&) {
                self->attempt(true);
            });
        }
        attempt(false);  // a message sent before the watch began
    }

    // Receives; answers when something came, on an error, or when the wait is over.
    void attempt(bool last) {
        std::unique_lock lk(mu);
        if (finished) return;
        auto got = queues.receive(req.arn, req.max, req.visibility_timeout);
        if (got && got->empty() && !last) return;
        finished = true;
        auto w = std::move(watch);
        timer.cancel();
        lk.unlock();
        w.reset();
        if (!got) return done(error_answer(got.error(), wire, ctx.request_id));
        json out = receive_output(req, *got);
        done(wire == Wire::Json ? json_answer(out)
                                : xml_answer("ReceiveMessage", out, ctx.request_id));
    }

    Queues& queues;
    boost::asio::any_io_executor executor;
    boost::asio::steady_timer timer;
    SqsContext ctx;
    Wire wire;
    ReceiveRequest req;
    Done done;
    std::mutex mu;
    bool finished = false;
    std::unique_ptr<Queues::Watch> watch;
};

void SqsApi::receive(const SqsContext& ctx, const Call& call, Done done) {
    auto r = receive_request(queues_, ctx, call);
    if (!r) return done(error_answer(r.error(), call.wire, ctx.request_id));
    r->wait_seconds = std::min(r->wait_seconds, max_wait_seconds_);
    auto got = queues_.receive(r->arn, r->max, r->visibility_timeout);
    if (!got) return done(error_answer(got.error(), call.wire, ctx.request_id));
    if (!got->empty() || r->wait_seconds == 0) {
        json out = receive_output(*r, *got);
        return done(call.wire == Wire::Json ? json_answer(out)
                                            : xml_answer("ReceiveMessage", out, ctx.request_id));
    }
    auto poll =
        std::make_shared<Poll>(queues_, timers_, ctx, call.wire, std::move(*r), std::move(done));
    {
        std::lock_guard lk(polls_mu_);
        if (!stopped_) {
            std::erase_if(polls_, [](const std::weak_ptr<Poll>& p) { return p.expired(); });
            polls_.push_back(poll);
        }
    }
    poll->start();
    std::lock_guard lk(polls_mu_);
    if (stopped_) poll->attempt(true);
}

void SqsApi::stop() {
    std::vector<std::weak_ptr<Poll>> waiting;
    {
        std::lock_guard lk(polls_mu_);
        stopped_ = true;
        waiting.swap(polls_);
    }
    for (auto& weak : waiting)
        if (auto p = weak.lock()) p->attempt(true);
}

}  // namespace lamina::sqs
