// Lambda event-filtering patterns (src/esm/filter.cpp): FilterCriteria::parse
// over arbitrary pattern text, then matches() against SQS records.
//
// Input: sections separated by a line "=====". A section starting "body:"
// is the body of one more record to match (the rest of it, as is); every
// other section is one Pattern string.
// Checked beyond the sanitizers: a refusal is one of parse's three errors; a
// parsed FilterCriteria is empty exactly when there are no patterns, answers
// the same through a copy, and matches a record exactly when one
// of its filters parsed alone does (filters are OR-ed).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_request.hpp"
#include "lamina/esm/filter.hpp"

namespace {

using namespace lamina;
using nlohmann::json;

using fuzz::finding;

std::string text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

constexpr std::string_view kBodyTag = "body:";

json sqs_record(const std::string& body) {
    return json{
        {"messageId", "059f36b4-87a3-44ab-83d2-661975830a7d"},
        {"receiptHandle", "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"},
        {"body", body},
        {"attributes",
         {{"ApproximateReceiveCount", "1"},
          {"SentTimestamp", "1545082649183"},
          {"SenderId", "AIDAIENQZJOLO23YVJ4VO"},
          {"ApproximateFirstReceiveTimestamp", "1545082649185"}}},
        {"messageAttributes",
         {{"Author",
           {{"stringValue", "John Grisham"},
            {"stringListValues", json::array()},
            {"binaryListValues", json::array()},
            {"dataType", "String"}}},
          {"WeeksOn", {{"stringValue", "6"}, {"dataType", "Number"}}}}},
        {"md5OfMessageAttributes", nullptr},
        {"md5OfBody", "e4e68fb7bd0e697a0ae8f1bb342846b3"},
        {"eventSource", "aws:sqs"},
        {"eventSourceARN", "arn:aws:sqs:us-east-1:123456789012:my-queue"},
        {"awsRegion", "us-east-1"},
    };
}

// Bodies of every shape the body rule tells apart, and nested data.
const std::vector<json>& fixed_records() {
    static const std::vector<json> records = [] {
        std::vector<json> r;
        for (
            const char* body : {
                R"({"testItem":"test24","test2":105,"my-key":"my-value"})",
                R"({"order":{"items":[{"sku":"A1","n":1},{"sku":"B2","n":2.5}],"vip":true,"note":null}})",
                R"([{"k":"v"},{"k":["x",[1,2]]}])",
                R"("a JSON string")",
                "123",
                "this is a test string",
                "",
                "{not json",
            }) {
            r.push_back(sqs_record(body));
        }
        json no_body = sqs_record("");
        no_body.erase("body");
        r.push_back(no_body);
        json object_body = sqs_record("");
        object_body["body"] = json{{"k", "v"}};  // already parsed: matched as a plain field
        r.push_back(object_body);
        return r;
    }();
    return records;
}

void check_error(const Error& e, const std::vector<std::string>& patterns) {
    bool too_long = false;
    for (const auto& p : patterns) too_long = too_long || p.size() > esm::kMaxPatternLength;
    if (e.code == ErrorCode::Validation) {
        if (!too_long) finding("a ValidationException without a pattern over the limit", e.message);
        return;
    }
    if (e.code != ErrorCode::InvalidParameterValue) finding("unexpected error code", e.message);
    if (e.message != esm::kInvalidPatternMessage && patterns.size() <= esm::kMaxFilters) {
        finding("unexpected refusal", e.message);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> patterns;
    std::vector<json> extra;  // at most 6 more records: bounded work per input
    while (true) {
        auto sep = in.find(fuzz::kRequestSeparator);
        std::string_view section = in.substr(0, sep);
        if (!section.starts_with(kBodyTag)) {
            patterns.emplace_back(section);
        } else if (extra.size() < 6) {
            extra.push_back(sqs_record(std::string(section.substr(kBodyTag.size()))));
        }
        if (sep == std::string_view::npos) break;
        in.remove_prefix(sep + fuzz::kRequestSeparator.size());
    }
    std::vector<const json*> records;
    for (const json& r : fixed_records()) records.push_back(&r);
    for (const json& r : extra) records.push_back(&r);

    auto parsed = esm::FilterCriteria::parse(patterns);
    if (!parsed) {
        check_error(parsed.error(), patterns);
        return 0;
    }
    const esm::FilterCriteria& criteria = *parsed;
    if (criteria.empty() != patterns.empty())
        finding("empty() disagrees", std::to_string(patterns.size()));
    std::vector<esm::FilterCriteria> singles;
    for (const auto& p : patterns) {
        auto one = esm::FilterCriteria::parse({p});
        if (!one) finding("a filter of a valid set refused alone", p);
        singles.push_back(std::move(*one));
    }
    const esm::FilterCriteria copy = criteria;
    for (const json* r : records) {
        const json& record = *r;
        const bool m = criteria.matches(record);
        // a copy shares the compiled patterns: this also checks matches() is repeatable
        if (m != copy.matches(record)) finding("a copy matches differently", text(record));
        bool any = singles.empty();
        for (const auto& s : singles) any = any || s.matches(record);
        if (m != any) finding("filters are not OR-ed", text(record));
    }
    return 0;
}
