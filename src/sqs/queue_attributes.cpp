// Queue attributes (names, defaults, ranges, FIFO-only names), message
// checks (body characters, sizes, message attributes, FIFO ids) and the
// MD5 digests SQS answers with.
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;

struct Range {
    const char* name;
    long lo, hi;
};
constexpr Range kRanges[] = {
    {"DelaySeconds", 0, 900},
    {"MaximumMessageSize", 1024, 1048576},
    {"MessageRetentionPeriod", 60, 1209600},
    {"ReceiveMessageWaitTimeSeconds", 0, 20},
    {"VisibilityTimeout", 0, 43200},
    {"KmsDataKeyReusePeriodSeconds", 60, 86400},
};

constexpr const char* kCommon[] = {"DelaySeconds",
                                   "MaximumMessageSize",
                                   "MessageRetentionPeriod",
                                   "Policy",
                                   "ReceiveMessageWaitTimeSeconds",
                                   "RedrivePolicy",
                                   "RedriveAllowPolicy",
                                   "VisibilityTimeout",
                                   "KmsMasterKeyId",
                                   "KmsDataKeyReusePeriodSeconds",
                                   "SqsManagedSseEnabled"};
constexpr const char* kFifoOnly[] = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                                     "FifoThroughputLimit"};

bool listed(const auto& list, const std::string& name) {
    return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

std::optional<long> parse_long(const std::string& s) {
    long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

Error invalid_value(const std::string& name) {
    return sqs_error(C::InvalidAttributeValue, "Invalid value for the parameter " + name + ".");
}

Status check_redrive(const std::string& value) {
    if (value.empty()) return {};
    auto bad = [&](const std::string& why) {
        return sqs_fail(
            C::InvalidParameterValue,
            "Value " + value + " for parameter RedrivePolicy is invalid. Reason: " + why);
    };
    nlohmann::json j = nlohmann::json::parse(value, nullptr, false);
    if (!j.is_object()) return bad("Redrive policy is not a valid JSON map.");
    auto arn = j.find("deadLetterTargetArn");
    if (arn == j.end() || !arn->is_string())
        return bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.");
    auto count = j.find("maxReceiveCount");
    if (count == j.end())
        return bad("Redrive policy does not contain mandatory attribute: maxReceiveCount.");
    std::optional<long> n;
    if (count->is_number_integer()) n = count->get<long>();
    if (count->is_string()) n = parse_long(count->get<std::string>());
    if (!n || *n < 1 || *n > 1000)
        return bad("Invalid value for maxReceiveCount: " + count->dump() +
                   ", valid values are from 1 to 1000 both inclusive.");
    return {};
}

Status check_value(const std::string& name, const std::string& value) {
    for (const auto& r : kRanges)
        if (name == r.name) {
            auto v = parse_long(value);
            if (!v || *v < r.lo || *v > r.hi) return std::unexpected(invalid_value(name));
            return {};
        }
    if (name == "FifoQueue" || name == "ContentBasedDeduplication" ||
        name == "SqsManagedSseEnabled") {
        if (value != "true" && value != "false") return std::unexpected(invalid_value(name));
    } else if (name == "DeduplicationScope") {
        if (value != "queue" && value != "messageGroup")
            return std::unexpected(invalid_value(name));
    } else if (name == "FifoThroughputLimit") {
        if (value != "perQueue" && value != "perMessageGroupId")
            return std::unexpected(invalid_value(name));
    } else if (name == "RedrivePolicy") {
        return check_redrive(value);
    } else if (name == "RedriveAllowPolicy" && !value.empty()) {
        auto j = nlohmann::json::parse(value, nullptr, false);
        auto perm = j.is_object() ? j.find("redrivePermission") : j.end();
        if (perm == j.end() || !perm->is_string() ||
            (*perm != "allowAll" && *perm != "denyAll" && *perm != "byQueue"))
            return sqs_fail(C::InvalidParameterValue,
                            "Value " + value +
                                " for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS "
                                "can't create the redrive allow policy, as it's in an unsupported "
                                "format.");
    }
    return {};
}

// Names allowed on this kind of queue; the FIFO-only ones on a standard queue are refused as AWS does.
Status check_names(bool fifo, const Attributes& given) {
    for (const auto& [name, value] : given) {
        if (listed(kCommon, name)) continue;
        if (listed(kFifoOnly, name)) {
            if (fifo) continue;
            if (name == "FifoQueue" || name == "ContentBasedDeduplication")
                return sqs_fail(C::InvalidAttributeName, "Unknown Attribute " + name + ".");
            return sqs_fail(C::InvalidAttributeName,
                            "You can specify the " + name + " only when FifoQueue is set to true.");
        }
        return sqs_fail(C::InvalidAttributeName, "Unknown Attribute " + name + ".");
    }
    for (const auto& [name, value] : given) LAMINA_CHECK(check_value(name, value));
    return {};
}

bool valid_name_chars(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

std::string normal_redrive(const std::string& value) {
    if (value.empty()) return value;
    auto j = nlohmann::json::parse(value);
    auto& n = j["maxReceiveCount"];
    if (n.is_string()) n = std::stol(n.get<std::string>());
    return j.dump();
}

std::string md5_hex(std::string_view bytes) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_md5(), nullptr);
    return to_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

void put_u32(std::string& out, std::size_t n) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((n >> static_cast<unsigned>(shift)) & 0xff));
}

// Allowed: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF (valid UTF-8 checked first).
std::optional<std::uint32_t> bad_character(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = c;
        std::size_t n = 1;
        if (c >= 0xf0) {
            cp = c & 0x07u;
            n = 4;
        } else if (c >= 0xe0) {
            cp = c & 0x0fu;
            n = 3;
        } else if (c >= 0xc0) {
            cp = c & 0x1fu;
            n = 2;
        }
        for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
        bool ok = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
                  (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
        if (!ok) return cp;
        i += n;
    }
    return std::nullopt;
}

std::string hex_cp(std::uint32_t cp) {
    static constexpr const char* kDigits = "0123456789ABCDEF";
    std::string h;
    do {
        h.insert(h.begin(), kDigits[cp & 0xfu]);
        cp >>= 4;
    } while (cp);
    return "#x" + h;
}

Status check_fifo_id(const char* param, const std::string& v) {
    bool ok = !v.empty() && v.size() <= 128 &&
              std::all_of(v.begin(), v.end(), [](char c) { return c >= '!' && c <= '~'; });
    if (ok) return {};
    return sqs_fail(C::InvalidParameterValue,
                    "Value " + v + " for parameter " + param + " is invalid. Reason: " + param +
                        " can only include alphanumeric and punctuation characters. 1 to 128 in "
                        "length.");
}

Status check_attributes(const MessageAttributes& attrs) {
    if (attrs.size() > 10)
        return sqs_fail(C::InvalidParameterValue, "Number of message attributes [" +
                                                      std::to_string(attrs.size()) +
                                                      "] exceeds the allowed maximum [10].");
    for (const auto& [name, v] : attrs) {
        if (name.empty() || name.size() > 256 || name.starts_with("AWS.") ||
            name.starts_with("Amazon.") || name.starts_with('.') || name.ends_with('.') ||
            name.find("..") != std::string::npos ||
            !std::all_of(name.begin(), name.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '.';
            }))
            return sqs_fail(C::InvalidParameterValue,
                            "Message (user) attribute name '" + name + "' is invalid.");
        const std::string& t = v.data_type;
        bool binary = t == "Binary" || t.starts_with("Binary.");
        bool text =
            t == "String" || t.starts_with("String.") || t == "Number" || t.starts_with("Number.");
        if (!binary && !text)
            return sqs_fail(C::InvalidParameterValue,
                            "The type of message (user) attribute '" + name +
                                "' is invalid. You must use only the following supported type "
                                "prefixes: Binary, Number, String.");
        if (text && (!v.string_value || v.string_value->empty()))
            return sqs_fail(C::InvalidParameterValue,
                            "Message (user) attribute '" + name +
                                "' must contain a non-empty value of type '" +
                                (t.starts_with("Number") ? "Number" : "String") + "'.");
        if (binary && (!v.binary_value || v.binary_value->empty()))
            return sqs_fail(C::InvalidParameterValue,
                            "Message (user) attribute '" + name +
                                "' must contain a non-empty value of type 'Binary'.");
        if (text && (!is_valid_utf8(*v.string_value) || bad_character(*v.string_value)))
            return sqs_fail(C::InvalidParameterValue,
                            "Message (user) attribute '" + name +
                                "' contains characters that are not allowed.");
        if (t.starts_with("Number")) {
            const std::string& s = *v.string_value;
            char* end = nullptr;
            (void)std::strtod(s.c_str(), &end);
            if (end != s.c_str() + s.size())
                return sqs_fail(
                    C::InvalidParameterValue,
                    "Can't cast the value of message (user) attribute '" + name + "' to a number.");
        }
    }
    return {};
}

}  // namespace

std::string md5_of_body(std::string_view body) { return md5_hex(body); }

std::string md5_of_attributes(const MessageAttributes& attributes) {
    std::string buf;
    for (const auto& [name, v] : attributes) {  // std::map: names in byte order
        put_u32(buf, name.size());
        buf += name;
        put_u32(buf, v.data_type.size());
        buf += v.data_type;
        const bool binary = v.data_type.starts_with("Binary");
        const std::string& value =
            binary ? v.binary_value.value_or("") : v.string_value.value_or("");
        buf.push_back(binary ? '\x02' : '\x01');
        put_u32(buf, value.size());
        buf += value;
    }
    return md5_hex(buf);
}

std::string queue_arn(const std::string& region, const std::string& account,
                      const std::string& name) {
    return "arn:aws:sqs:" + region + ":" + account + ":" + name;
}

Result<Attributes> creation_attributes(const std::string& name, const Attributes& given) {
    auto fifo_it = given.find("FifoQueue");
    const bool fifo = fifo_it != given.end() && fifo_it->second == "true";
    if (fifo) {
        std::string_view stem(name);
        if (!stem.ends_with(".fifo") || stem.size() > 80 ||
            !valid_name_chars(stem.substr(0, stem.size() - 5)) || stem.size() == 5)
            return sqs_fail(C::InvalidParameterValue,
                            "The name of a FIFO queue can only include alphanumeric characters, "
                            "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in "
                            "length.");
    } else if (name.empty() || name.size() > 80 || !valid_name_chars(name)) {
        return sqs_fail(C::InvalidParameterValue,
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to "
                        "80 in length");
    }
    LAMINA_CHECK(check_names(fifo, given));
    Attributes a = {{"DelaySeconds", "0"},
                    {"MaximumMessageSize", "1048576"},
                    {"MessageRetentionPeriod", "345600"},
                    {"ReceiveMessageWaitTimeSeconds", "0"},
                    {"VisibilityTimeout", "30"},
                    {"SqsManagedSseEnabled", "true"}};
    if (fifo) {
        a["FifoQueue"] = "true";
        a["ContentBasedDeduplication"] = "false";
        a["DeduplicationScope"] = "queue";
        a["FifoThroughputLimit"] = "perQueue";
    }
    if (given.contains("KmsMasterKeyId") && !given.contains("SqsManagedSseEnabled"))
        a["SqsManagedSseEnabled"] = "false";
    for (const auto& [k, v] : given) {
        if (k == "RedrivePolicy" || k == "KmsMasterKeyId" || k == "Policy" ||
            k == "RedriveAllowPolicy") {
            if (v.empty()) continue;
        }
        a[k] = k == "RedrivePolicy" ? normal_redrive(v) : v;
    }
    if (a.contains("KmsMasterKeyId") && !a.contains("KmsDataKeyReusePeriodSeconds"))
        a["KmsDataKeyReusePeriodSeconds"] = "300";
    return a;
}

Status check_settable(const Queue& q, const Attributes& given) {
    if (!q.info.fifo && given.contains("FifoQueue"))
        return sqs_fail(C::InvalidAttributeName, "Unknown Attribute FifoQueue.");
    if (q.info.fifo) {
        if (auto it = given.find("FifoQueue"); it != given.end() && it->second != "true")
            return sqs_fail(C::InvalidAttributeValue,
                            "Invalid value for the parameter FifoQueue. Reason: Modifying queue "
                            "type is not supported.");
    }
    return check_names(q.info.fifo, given);
}

void apply_attributes(Queue& q, const Attributes& given) {
    for (const auto& [k, v] : given) {
        if (v.empty() && (k == "RedrivePolicy" || k == "Policy" || k == "RedriveAllowPolicy" ||
                          k == "KmsMasterKeyId")) {
            q.attributes.erase(k);
            if (k == "KmsMasterKeyId") q.attributes.erase("KmsDataKeyReusePeriodSeconds");
            continue;
        }
        q.attributes[k] = k == "RedrivePolicy" ? normal_redrive(v) : v;
        if (k == "KmsMasterKeyId") {
            if (!given.contains("SqsManagedSseEnabled"))
                q.attributes["SqsManagedSseEnabled"] = "false";
            if (!q.attributes.contains("KmsDataKeyReusePeriodSeconds"))
                q.attributes["KmsDataKeyReusePeriodSeconds"] = "300";
        }
    }
    refresh_info(q);
}

void refresh_info(Queue& q) {
    auto num = [&](const char* name, int fallback) {
        auto it = q.attributes.find(name);
        if (it == q.attributes.end()) return fallback;
        return static_cast<int>(parse_long(it->second).value_or(fallback));
    };
    auto& i = q.info;
    i.fifo = q.attributes.contains("FifoQueue") && q.attributes.at("FifoQueue") == "true";
    i.visibility_timeout = num("VisibilityTimeout", 30);
    i.delay_seconds = num("DelaySeconds", 0);
    i.receive_wait_seconds = num("ReceiveMessageWaitTimeSeconds", 0);
    i.maximum_message_size = num("MaximumMessageSize", 1048576);
    i.retention_period = num("MessageRetentionPeriod", 345600);
    i.content_based_dedup = q.attributes.contains("ContentBasedDeduplication") &&
                            q.attributes.at("ContentBasedDeduplication") == "true";
    i.dead_letter_target_arn.reset();
    i.max_receive_count = 0;
    if (auto it = q.attributes.find("RedrivePolicy"); it != q.attributes.end()) {
        auto j = nlohmann::json::parse(it->second, nullptr, false);
        if (j.is_object()) {
            i.dead_letter_target_arn = j.value("deadLetterTargetArn", "");
            i.max_receive_count = j.value("maxReceiveCount", 0);
        }
    }
}

std::string queue_doc(const Queue& q) {
    nlohmann::json j = {{"name", q.info.name},      {"account", q.info.account},
                        {"region", q.info.region},  {"attributes", q.attributes},
                        {"tags", q.tags},           {"created", q.created_s},
                        {"modified", q.modified_s}, {"uid", q.uid}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<Queue>> queue_from_doc(const std::string& arn, const std::string& doc) {
    try {
        auto j = nlohmann::json::parse(doc);
        auto q = std::make_unique<Queue>();
        q->info.arn = arn;
        q->info.name = j.at("name").get<std::string>();
        q->info.account = j.at("account").get<std::string>();
        q->info.region = j.at("region").get<std::string>();
        q->attributes = j.at("attributes").get<Attributes>();
        q->tags = j.at("tags").get<Tags>();
        q->created_s = j.at("created").get<std::int64_t>();
        q->modified_s = j.at("modified").get<std::int64_t>();
        q->uid = j.at("uid").get<std::string>();
        refresh_info(*q);
        return q;
    } catch (const std::exception& e) {
        return fail(ErrorCode::Service, "sqs store: unreadable queue " + arn + ": " + e.what());
    }
}

std::size_t message_size(const SendInput& in) {
    std::size_t n = in.body.size();
    for (const auto& [name, v] : in.message_attributes)
        n += name.size() + v.data_type.size() + v.string_value.value_or("").size() +
             v.binary_value.value_or("").size();
    return n;
}

Status check_message(const Queue& q, const SendInput& in) {
    if (in.body.empty())
        return sqs_fail(C::MissingParameter, "The request must contain the parameter MessageBody.");
    if (!is_valid_utf8(in.body))
        return sqs_fail(C::InvalidMessageContents,
                        "Invalid binary character was found in the message body, the set of "
                        "allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD "
                        "| #x10000 to #x10FFFF");
    if (auto cp = bad_character(in.body))
        return sqs_fail(C::InvalidMessageContents,
                        "Invalid binary character '" + hex_cp(*cp) +
                            "' was found in the message body, the set of allowed characters is "
                            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to "
                            "#x10FFFF");
    LAMINA_CHECK(check_attributes(in.message_attributes));
    if (message_size(in) > static_cast<std::size_t>(q.info.maximum_message_size))
        return sqs_fail(
            C::InvalidParameterValue,
            "One or more parameters are invalid. Reason: Message must be shorter than " +
                std::to_string(q.info.maximum_message_size) + " bytes.");
    if (in.delay_seconds && (*in.delay_seconds < 0 || *in.delay_seconds > 900))
        return sqs_fail(C::InvalidParameterValue,
                        "Value " + std::to_string(*in.delay_seconds) +
                            " for parameter DelaySeconds is invalid. Reason: DelaySeconds must be "
                            ">= 0 and <= 900.");
    if (in.group_id) LAMINA_CHECK(check_fifo_id("MessageGroupId", *in.group_id));
    if (!q.info.fifo) {
        if (in.dedup_id)
            return sqs_fail(C::InvalidParameterValue,
                            "Value " + *in.dedup_id +
                                " for parameter MessageDeduplicationId is invalid. Reason: The "
                                "request include parameter that is not valid for this queue type.");
        return {};
    }
    if (in.delay_seconds && *in.delay_seconds != 0)
        return sqs_fail(C::InvalidParameterValue,
                        "Value " + std::to_string(*in.delay_seconds) +
                            " for parameter DelaySeconds is invalid. Reason: The request include "
                            "parameter that is not valid for this queue type.");
    if (!in.group_id)
        return sqs_fail(C::MissingParameter,
                        "The request must contain the parameter MessageGroupId.");
    if (in.dedup_id) LAMINA_CHECK(check_fifo_id("MessageDeduplicationId", *in.dedup_id));
    if (!in.dedup_id && !q.info.content_based_dedup)
        return sqs_fail(C::InvalidParameterValue,
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly");
    return {};
}

}  // namespace lamina::sqs
