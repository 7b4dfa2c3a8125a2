#include "sqs_wire.hpp"

#include <algorithm>

#include "lamina/common/encoding.hpp"

namespace lamina::sqs {

namespace {

bool all_digits(const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Objects whose keys are all list indexes ("1", "2") become arrays, in index order.
nlohmann::json listify(nlohmann::json j) {
    if (!j.is_object()) return j;
    bool indexed = !j.empty();
    for (auto& [k, v] : j.items()) {
        v = listify(std::move(v));
        if (!all_digits(k) || k.size() > 6) indexed = false;
    }
    if (!indexed) return j;
    std::vector<std::pair<long, nlohmann::json>> items;
    for (auto& [k, v] : j.items()) items.emplace_back(std::stol(k), std::move(v));
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    nlohmann::json arr = nlohmann::json::array();
    for (auto& [i, v] : items) arr.push_back(std::move(v));
    return arr;
}

nlohmann::json as_list(const nlohmann::json& j) {
    if (j.is_array()) return j;
    return nlohmann::json::array({j});
}

nlohmann::json pairs_to_map(const nlohmann::json& list, const char* key, const char* value) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& e : as_list(list))
        if (e.is_object() && e.contains(key) && e[key].is_string())
            m[e[key].get<std::string>()] = e.value(value, nlohmann::json(""));
    return m;
}

// Renames the query's flattened members to the JSON protocol's.
void normalise(const std::string& op, nlohmann::json& in) {
    if (!in.is_object()) return;
    auto move = [&](const char* from, const char* to, auto convert) {
        auto it = in.find(from);
        if (it == in.end()) return;
        nlohmann::json v = convert(*it);
        in.erase(from);
        in[to] = std::move(v);
    };
    auto list = [](const nlohmann::json& j) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& e : as_list(j)) out.push_back(e);
        return out;
    };
    move("Attribute", "Attributes",
         [](const nlohmann::json& j) { return pairs_to_map(j, "Name", "Value"); });
    move("Tag", op == "CreateQueue" ? "tags" : "Tags",
         [](const nlohmann::json& j) { return pairs_to_map(j, "Key", "Value"); });
    move("TagKey", "TagKeys", list);
    move("AttributeName", "AttributeNames", list);
    move("MessageAttributeName", "MessageAttributeNames", list);
    move("MessageSystemAttributeName", "MessageSystemAttributeNames", list);
    auto attrs = [](const nlohmann::json& j) {
        nlohmann::json m = nlohmann::json::object();
        for (const auto& e : as_list(j))
            if (e.is_object() && e.contains("Name") && e["Name"].is_string())
                m[e["Name"].get<std::string>()] = e.value("Value", nlohmann::json::object());
        return m;
    };
    move("MessageAttribute", "MessageAttributes", attrs);
    move("MessageSystemAttribute", "MessageSystemAttributes", attrs);
    for (const char* entry : {"SendMessageBatchRequestEntry", "DeleteMessageBatchRequestEntry",
                              "ChangeMessageVisibilityBatchRequestEntry"})
        move(entry, "Entries", [&](const nlohmann::json& j) {
            nlohmann::json out = nlohmann::json::array();
            for (auto e : as_list(j)) {
                normalise(op, e);
                out.push_back(std::move(e));
            }
            return out;
        });
}

std::string xml_text(std::string_view s) {
    std::string out = xml_escape(s);
    std::string::size_type at = 0;
    while ((at = out.find('\r', at)) != std::string::npos) out.replace(at, 1, "&#xD;");
    return out;
}

std::string scalar(const nlohmann::json& v) {
    if (v.is_string()) return xml_text(v.get<std::string>());
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return v.dump();
}

void element(std::string& out, const std::string& name, const std::string& text) {
    out += "<" + name + ">" + text + "</" + name + ">";
}

void members(std::string& out, const std::string& op, const nlohmann::json& obj);

void member(std::string& out, const std::string& op, const std::string& key,
            const nlohmann::json& v) {
    if (key == "Attributes") {
        for (const auto& [k, val] : v.items()) {
            out += "<Attribute>";
            element(out, "Name", xml_text(k));
            element(out, "Value", scalar(val));
            out += "</Attribute>";
        }
    } else if (key == "Tags") {
        for (const auto& [k, val] : v.items()) {
            out += "<Tag>";
            element(out, "Key", xml_text(k));
            element(out, "Value", scalar(val));
            out += "</Tag>";
        }
    } else if (key == "MessageAttributes") {
        for (const auto& [k, val] : v.items()) {
            out += "<MessageAttribute>";
            element(out, "Name", xml_text(k));
            out += "<Value>";
            for (const char* f : {"StringValue", "BinaryValue", "DataType"})
                if (val.contains(f)) element(out, f, scalar(val[f]));
            out += "</Value></MessageAttribute>";
        }
    } else if (key == "QueueUrls" || key == "queueUrls") {
        for (const auto& u : v) element(out, "QueueUrl", scalar(u));
    } else if (v.is_array()) {
        std::string tag = key == "Messages"     ? "Message"
                          : key == "Successful" ? op + "ResultEntry"
                          : key == "Failed"     ? "BatchResultErrorEntry"
                                                : key;
        for (const auto& e : v) {
            out += "<" + tag + ">";
            members(out, op, e);
            out += "</" + tag + ">";
        }
    } else if (v.is_object()) {
        out += "<" + key + ">";
        members(out, op, v);
        out += "</" + key + ">";
    } else {
        element(out, key, scalar(v));
    }
}

void members(std::string& out, const std::string& op, const nlohmann::json& obj) {
    for (const auto& [k, v] : obj.items()) member(out, op, k, v);
}

}  // namespace

nlohmann::json query_input(const std::string& op,
                           const std::map<std::string, std::string>& params) {
    nlohmann::json in = nlohmann::json::object();
    for (const auto& [key, value] : params) {
        if (key == "Action" || key == "Version" || key.starts_with("X-Amz-") ||
            key.starts_with("AWSAccessKeyId") || key == "Signature" || key == "SignatureMethod" ||
            key == "SignatureVersion" || key == "Timestamp" || key == "Expires")
            continue;
        nlohmann::json* at = &in;
        std::string::size_type from = 0;
        bool ok = true;
        for (;;) {
            auto dot = key.find('.', from);
            std::string part = key.substr(from, dot == std::string::npos ? dot : dot - from);
            if (part.empty() || !(at->is_object() || at->is_null())) {
                ok = false;
                break;
            }
            at = &(*at)[part];
            if (dot == std::string::npos) break;
            if (!at->is_null() && !at->is_object()) {
                ok = false;
                break;
            }
            from = dot + 1;
        }
        if (ok && (at->is_null() || at->is_string())) *at = value;
    }
    in = listify(std::move(in));
    normalise(op, in);
    return in;
}

http::Response json_answer(const nlohmann::json& out) {
    http::Response r;
    r.headers.set("Content-Type", "application/x-amz-json-1.0");
    r.body = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

http::Response xml_answer(const std::string& op, const nlohmann::json& out,
                          const std::string& request_id) {
    http::Response r;
    r.headers.set("Content-Type", "text/xml");
    std::string body = "<?xml version=\"1.0\"?><" + op + "Response xmlns=\"" + kXmlns + "\">";
    static constexpr const char* kNoResult[] = {
        "DeleteMessage",           "DeleteQueue", "PurgeQueue", "SetQueueAttributes",
        "ChangeMessageVisibility", "TagQueue",    "UntagQueue"};
    bool none = std::find_if(std::begin(kNoResult), std::end(kNoResult),
                             [&](const char* n) { return op == n; }) != std::end(kNoResult);
    if (!none) {
        std::string inner;
        members(inner, op, out);
        body += inner.empty() ? "<" + op + "Result/>"
                              : "<" + op + "Result>" + inner + "</" + op + "Result>";
    }
    body += "<ResponseMetadata><RequestId>" + request_id + "</RequestId></ResponseMetadata></" +
            op + "Response>";
    r.body = std::move(body);
    return r;
}

http::Response error_answer(const Error& e, Wire wire, const std::string& request_id) {
    const SqsErrorShape& shape = sqs_error_shape(e);
    http::Response r;
    r.status = shape.status;
    r.headers.set("x-amzn-RequestId", request_id);
    const char* fault = shape.sender ? "Sender" : "Receiver";
    if (wire == Wire::Json) {
        r.headers.set("Content-Type", "application/x-amz-json-1.0");
        r.headers.set("x-amzn-query-error", std::string(shape.query_code) + ";" + fault);
        nlohmann::json body = {{"__type", std::string("com.amazonaws.sqs#") + shape.type},
                               {"message", e.message}};
        r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return r;
    }
    std::string message = e.message;
    if (shape.code == SqsErrorCode::QueueDoesNotExist && message.ends_with("exist."))
        message = message.substr(0, message.size() - 1) + " for this wsdl version.";
    r.headers.set("Content-Type", "text/xml");
    r.body = std::string("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"") + kXmlns +
             "\"><Error><Type>" + fault + "</Type><Code>" + shape.query_code + "</Code><Message>" +
             xml_text(message) + "</Message><Detail/></Error><RequestId>" + request_id +
             "</RequestId></ErrorResponse>";
    return r;
}

}  // namespace lamina::sqs
