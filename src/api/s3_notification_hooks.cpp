// How S3 bucket notifications reach Lambda functions (api::s3_notification_hooks).
#include <algorithm>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "lamina/api/event_hooks.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"

namespace lamina::api {

namespace {

using json = nlohmann::json;

// IAM's ArnLike/StringLike: '*' any run, '?' one character.
bool glob(std::string_view pattern, std::string_view text) {
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

// A string or an array of strings, any of which admits `value`.
bool any_admits(const json& v, const std::string& value, bool wildcards) {
    auto one = [&](const json& x) {
        if (!x.is_string()) return false;
        const auto& s = x.get_ref<const std::string&>();
        return wildcards ? glob(s, value) : s == value;
    };
    if (v.is_array()) return std::any_of(v.begin(), v.end(), one);
    return one(v);
}

bool admits_service(const json& principal, const std::string& service) {
    if (principal.is_string()) return principal.get<std::string>() == "*";
    if (!principal.is_object() || !principal.contains("Service")) return false;
    return any_admits(principal["Service"], service, false);
}

bool conditions_admit(const json& statement, const std::string& source_arn,
                      const std::string& source_account) {
    auto c = statement.find("Condition");
    if (c == statement.end()) return true;
    if (!c->is_object()) return false;
    for (const auto& [op, keys] : c->items()) {
        if (!keys.is_object()) return false;
        bool arn_op = op == "ArnLike" || op == "ArnEquals";
        bool string_op = op == "StringEquals" || op == "StringLike";
        for (const auto& [key, value] : keys.items()) {
            std::string k = ascii_lower(key);
            if (arn_op && k == "aws:sourcearn") {
                if (!any_admits(value, source_arn, op == "ArnLike")) return false;
            } else if (string_op && k == "aws:sourceaccount") {
                if (!any_admits(value, source_account, op == "StringLike")) return false;
            } else {
                return false;
            }
        }
    }
    return true;
}

// Whether the function's (or the version's or alias's) resource policy has an
// Allow of lambda:InvokeFunction for the service principal whose conditions,
// if any, are only AWS:SourceArn (ArnLike/ArnEquals) and AWS:SourceAccount
// (StringEquals/StringLike) admitting the source.
bool permits_service(const control::Registry& registry, const control::Scope& scope,
                     const control::FunctionRef& ref, const std::string& service,
                     const std::string& source_arn, const std::string& source_account) {
    auto policy = registry.get_policy(scope, ref);
    if (!policy) return false;
    return std::any_of(policy->statements.begin(), policy->statements.end(),
                       [&](const control::PolicyStatement& st) {
                           const json& s = st.statement;
                           if (s.value("Effect", "") != "Allow") return false;
                           std::string a = s.value("Action", "");
                           if (a != "lambda:InvokeFunction" && a != "lambda:*" && a != "*")
                               return false;
                           return admits_service(s.value("Principal", json()), service) &&
                                  conditions_admit(s, source_arn, source_account);
                       });
}

struct FunctionTarget {
    control::Scope scope;
    control::FunctionRef ref;
};

// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
std::optional<FunctionTarget> function_target(const std::string& arn) {
    auto parsed = control::parse_arn(arn);
    if (!parsed || parsed->service != "lambda" || !parsed->resource.starts_with("function:"))
        return std::nullopt;
    std::string rest = parsed->resource.substr(9);
    FunctionTarget t{{parsed->account, parsed->region}, {rest, std::nullopt}};
    if (auto colon = rest.find(':'); colon != std::string::npos) {
        t.ref.name = rest.substr(0, colon);
        t.ref.qualifier = rest.substr(colon + 1);
    }
    if (t.ref.name.empty() || (t.ref.qualifier && t.ref.qualifier->empty())) return std::nullopt;
    return t;
}

}  // namespace

s3::NotificationHooks s3_notification_hooks(control::Registry& registry, exec::EventQueue& events,
                                            sqs::Queues* queues, IdSource& ids,
                                            boost::asio::thread_pool& workers) {
    s3::NotificationHooks hooks;
    hooks.lambda_allows_s3 = [&registry](const std::string& function_arn,
                                         const std::string& bucket_arn,
                                         const std::string& bucket_account) {
        auto t = function_target(function_arn);
        return t && permits_service(registry, t->scope, t->ref, "s3.amazonaws.com", bucket_arn,
                                    bucket_account);
    };
    hooks.invoke_async = [&events, &ids, &workers](const std::string& function_arn,
                                                   const std::string& payload,
                                                   const std::string& trace_header) -> Status {
        auto t = function_target(function_arn);
        if (!t)
            return fail(ErrorCode::InvalidParameterValue, "not a function ARN: " + function_arn);
        exec::QueuedEvent e;
        e.id = ids.uuid();
        e.scope = t->scope;
        e.function = t->ref.name;
        e.qualifier = t->ref.qualifier.value_or("");
        e.payload = payload;
        e.trace_header = trace_header;
        boost::asio::post(workers, [&events, e = std::move(e), function_arn]() mutable {
            std::string id = e.id;
            if (auto st = events.enqueue(std::move(e)); !st)
                lamina::logger("api")->warn("s3.notify_failed target={} request_id={} error=\"{}\"",
                                            function_arn, id, st.error().message);
        });
        return {};
    };
    if (!queues) return hooks;
    hooks.queue_exists = [queues](const std::string& arn) {
        return queues->find_by_arn(arn).has_value();
    };
    hooks.send_to_queue = [queues, &workers](const std::string& arn, const std::string& body,
                                             const std::string& trace_header) -> Status {
        boost::asio::post(workers, [queues, arn, body, trace_header] {
            sqs::SendInput in;
            in.body = body;
            if (!trace_header.empty()) in.trace_header = trace_header;
            in.sender_id = "AIDAJDPLRKLG7UEXAMPLE";  // S3's service principal stands in
            if (auto sent = queues->send(arn, std::move(in)); !sent)
                lamina::logger("api")->warn("s3.notify_failed target={} error=\"{}\"", arn,
                                            sent.error().message);
        });
        return {};
    };
    return hooks;
}

}  // namespace lamina::api
