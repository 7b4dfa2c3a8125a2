// FilterCriteria: the EventBridge pattern language as Lambda applies it to
// SQS records, against AWS's recorded answers (aws-recorded
// test_lambda_integration_sqs: test_sqs_event_filter[*],
// test_sqs_invalid_event_filter[*]) and the Lambda and EventBridge guides.
#include "lamina/esm/filter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace lamina;
using namespace lamina::esm;
using nlohmann::json;

namespace {

// An SQS record as the poller builds it (lambda-semantics-2 §4.4).
json record(const std::string& body) {
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
            {"dataType", "String"}}}}},
        {"md5OfMessageAttributes", nullptr},
        {"md5OfBody", "e4e68fb7bd0e697a0ae8f1bb342846b3"},
        {"eventSource", "aws:sqs"},
        {"eventSourceARN", "arn:aws:sqs:us-east-1:123456789012:my-queue"},
        {"awsRegion", "us-east-1"},
    };
}

json json_record(const json& body) { return record(body.dump()); }

FilterCriteria criteria(const std::vector<std::string>& patterns) {
    auto r = FilterCriteria::parse(patterns);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? *r : FilterCriteria{};
}

FilterCriteria criteria(const json& pattern) { return criteria(std::vector{pattern.dump()}); }

// Whether `pattern` (as JSON) passes a record whose body is `body` serialised.
bool passes(const json& pattern, const json& body) {
    return criteria(pattern).matches(json_record(body));
}

void expect_invalid(const std::string& pattern) {
    auto r = FilterCriteria::parse({pattern});
    ASSERT_FALSE(r.has_value()) << pattern;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue) << pattern;
    EXPECT_EQ(r.error().message, "Invalid filter pattern definition.") << pattern;
}

}  // namespace

// ---- the recorded cases ----------------------------------------------------

// test_sqs_event_filter[*]: each filter, the message that reached the function
// and the one that did not (the test's item_not_matching).
TEST(FilterCriteria, RecordedEventFilterCases) {
    struct Case {
        const char* name;
        json pattern;
        json matching;
        json not_matching;
    };
    const std::vector<Case> cases = {
        {"single",
         {{"body", {{"testItem", {"test24"}}}}},
         {{"testItem", "test24"}},
         {{"testItem", "tesWER"}}},
        {"or",
         {{"body", {{"testItem", {"test24", "test45"}}}}},
         {{"testItem", "test45"}},
         {{"testItem", "WERTD"}}},
        {"and",
         {{"body", {{"testItem", {"test24", "test45"}}, {"test2", {"go"}}}}},
         {{"testItem", "test45"}, {"test2", "go"}},
         {{"testItem", "test67"}, {"test2", "go"}}},
        {"exists",
         {{"body", {{"test2", {{{"exists", true}}}}}}},
         {{"test2", "7411"}},
         {{"test5", "74545"}}},
        {"numeric-bigger",
         {{"body", {{"my-number", {{{"numeric", {">", 100}}}}}}}},
         {{"my-number", 101}},
         {{"my-number", 100}}},
        {"numeric-smaller",
         {{"body", {{"test2", {{{"numeric", {"<", 100}}}}}}}},
         {{"test2", 93}},
         {{"test2", 105}}},
        {"numeric-range",
         {{"body", {{"test2", {{{"numeric", {">=", 100, "<", 200}}}}}}}},
         {{"test2", 105}},
         {{"test2", 200}}},
        {"numeric-range-bottom",
         {{"body", {{"my-number", {{{"numeric", {">=", 100, "<", 200}}}}}}}},
         {{"my-number", 100}},
         {{"my-number", 99}}},
        {"prefix",
         {{"body", {{"test2", {{{"prefix", "us-1"}}}}}}},
         {{"test2", "us-1-48454"}},
         {{"test2", "eu-wert"}}},
        {"prefix-yes",
         {{"body", {{"my-key", {{{"prefix", "yes"}}}}}}},
         {{"my-key", "yes-value"}},
         {{"my-key", "no-value"}}},
        {"and-two-keys",
         {{"body",
           {{"my-key-one", {"other-filter", "my-value-one"}}, {"my-key-two", {"my-value-two"}}}}},
         {{"my-key-one", "my-value-one"}, {"my-key-two", "my-value-two"}},
         {{"my-key-one", "my-value-one"}, {"my-key-two", "other"}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_TRUE(passes(c.pattern, c.matching));
        EXPECT_FALSE(passes(c.pattern, c.not_matching));
    }
}

// numeric (bigger): the message that did not pass was the plain string
// "this is a test string" (dropped: a JSON pattern against a plain body).
TEST(FilterCriteria, RecordedNumericFilterDropsPlainString) {
    auto f = criteria(json{{"body", {{"test2", {{{"numeric", {">", 100}}}}}}}});
    EXPECT_TRUE(f.matches(json_record({{"test2", 105}})));
    EXPECT_FALSE(f.matches(record("this is a test string")));
}

// valid-json-filter: a plain message against a JSON body pattern is dropped;
// the JSON one passes.
TEST(FilterCriteria, RecordedValidJsonFilter) {
    auto f = criteria(json{{"body", {{"my-key", {"my-value"}}}}});
    EXPECT_TRUE(f.matches(json_record({{"my-key", "my-value"}})));
    EXPECT_FALSE(f.matches(record("this is a plain string")));
    EXPECT_FALSE(f.matches(record("my-value")));
}

// test_sqs_invalid_event_filter[*]: None (sent as "null"), "simple string",
// {"eventSource": "aws:sqs"}, {"eventSource": []}.
TEST(FilterCriteria, RecordedInvalidPatterns) {
    expect_invalid("null");
    expect_invalid("simple string");
    expect_invalid(R"({"eventSource": "aws:sqs"})");
    expect_invalid(R"({"eventSource": []})");
}

// ---- the SQS body rule ------------------------------------------------------

TEST(FilterCriteria, BodyRuleAllFourCombinations) {
    const json object_pattern = {{"body", {{"k", {"v"}}}}};
    const json list_pattern = {{"body", {"hello"}}};
    // JSON body + object pattern: matched on content
    EXPECT_TRUE(criteria(object_pattern).matches(json_record({{"k", "v"}})));
    EXPECT_FALSE(criteria(object_pattern).matches(json_record({{"k", "w"}})));
    // plain body + object pattern: dropped
    EXPECT_FALSE(criteria(object_pattern).matches(record("k v")));
    // plain body + value list: the raw string
    EXPECT_TRUE(criteria(list_pattern).matches(record("hello")));
    EXPECT_FALSE(criteria(list_pattern).matches(record("hello there")));
    // JSON body + value list: dropped, even when the text would match
    EXPECT_FALSE(criteria(json{{"body", {"{\"k\":\"v\"}"}}}).matches(record(R"({"k":"v"})")));
    EXPECT_FALSE(criteria(json{{"body", {{{"prefix", "{"}}}}}).matches(record(R"({"k":"v"})")));
    // a JSON scalar body counts as JSON
    EXPECT_FALSE(criteria(json{{"body", {"123"}}}).matches(record("123")));
}

TEST(FilterCriteria, BodyValueListTakesOperators) {
    EXPECT_TRUE(criteria(json{{"body", {{{"prefix", "ORDER-"}}}}}).matches(record("ORDER-17")));
    EXPECT_FALSE(criteria(json{{"body", {{{"prefix", "ORDER-"}}}}}).matches(record("order-17")));
    EXPECT_TRUE(criteria(json{{"body", {{{"suffix", ".png"}}}}}).matches(record("a.png")));
    EXPECT_TRUE(
        criteria(json{{"body", {{{"equals-ignore-case", "HELLO"}}}}}).matches(record("hello")));
    EXPECT_TRUE(criteria(json{{"body", {{{"anything-but", "x"}}}}}).matches(record("y")));
    EXPECT_TRUE(criteria(json{{"body", {""}}}).matches(record("")));  // "" is not JSON
}

TEST(FilterCriteria, PatternWithoutBodyIgnoresIt) {
    auto f = criteria(json{{"eventSource", {"aws:sqs"}}});
    EXPECT_TRUE(f.matches(record("plain")));
    EXPECT_TRUE(f.matches(json_record({{"k", "v"}})));
    EXPECT_FALSE(criteria(json{{"eventSource", {"aws:kinesis"}}}).matches(record("plain")));
}

TEST(FilterCriteria, BodyNestedFieldsAndArrays) {
    const json body = {{"order", {{"items", {{{"sku", "A1"}}, {{"sku", "B2"}}}}, {"total", 12.5}}}};
    EXPECT_TRUE(passes({{"body", {{"order", {{"items", {{"sku", {"B2"}}}}}}}}}, body));
    EXPECT_FALSE(passes({{"body", {{"order", {{"items", {{"sku", {"C3"}}}}}}}}}, body));
    EXPECT_TRUE(passes({{"body", {{"order", {{"total", {{{"numeric", {">", 10}}}}}}}}}}, body));
    // a JSON array body: any element object may match
    EXPECT_TRUE(passes({{"body", {{"k", {"v"}}}}}, json::array({{{"k", "x"}}, {{"k", "v"}}})));
}

// ---- value lists and operators ---------------------------------------------

TEST(FilterCriteria, ExactValuesStringsNumbersBooleansNull) {
    EXPECT_TRUE(passes({{"body", {{"a", {"x"}}}}}, {{"a", "x"}}));
    EXPECT_FALSE(passes({{"body", {{"a", {"x"}}}}}, {{"a", "X"}}));  // case-sensitive
    EXPECT_TRUE(passes({{"body", {{"a", {5}}}}}, {{"a", 5.0}}));     // numbers by value
    EXPECT_FALSE(passes({{"body", {{"a", {5}}}}}, {{"a", "5"}}));    // not a string
    EXPECT_FALSE(passes({{"body", {{"a", {"5"}}}}}, {{"a", 5}}));
    EXPECT_TRUE(passes({{"body", {{"a", {true}}}}}, {{"a", true}}));
    EXPECT_FALSE(passes({{"body", {{"a", {true}}}}}, {{"a", "true"}}));
    EXPECT_TRUE(passes({{"body", {{"a", {nullptr}}}}}, {{"a", nullptr}}));
    EXPECT_FALSE(passes({{"body", {{"a", {nullptr}}}}}, {{"b", 1}}));  // missing is not null
    EXPECT_FALSE(passes({{"body", {{"a", {nullptr}}}}}, {{"a", ""}}));
    EXPECT_TRUE(passes({{"body", {{"a", {""}}}}}, {{"a", ""}}));
    EXPECT_FALSE(passes({{"body", {{"a", {""}}}}}, {{"a", nullptr}}));
}

TEST(FilterCriteria, PrefixSuffixEqualsIgnoreCase) {
    EXPECT_TRUE(passes({{"body", {{"r", {{{"prefix", "us-"}}}}}}}, {{"r", "us-east-1"}}));
    EXPECT_FALSE(passes({{"body", {{"r", {{{"prefix", "us-"}}}}}}}, {{"r", "eu-west-1"}}));
    EXPECT_FALSE(passes({{"body", {{"r", {{{"prefix", "1"}}}}}}}, {{"r", 12}}));  // strings only
    EXPECT_TRUE(passes({{"body", {{"f", {{{"suffix", ".png"}}}}}}}, {{"f", "a.png"}}));
    EXPECT_FALSE(passes({{"body", {{"f", {{{"suffix", ".png"}}}}}}}, {{"f", "a.PNG"}}));
    EXPECT_TRUE(passes({{"body", {{"s", {{{"equals-ignore-case", "AlPhA"}}}}}}}, {{"s", "aLpHa"}}));
    EXPECT_FALSE(
        passes({{"body", {{"s", {{{"equals-ignore-case", "alpha"}}}}}}}, {{"s", "alphabet"}}));
}

TEST(FilterCriteria, AnythingBut) {
    const auto ab = [](const json& arg) {
        return json{{"body", {{"s", {{{"anything-but", arg}}}}}}};
    };
    EXPECT_TRUE(passes(ab("init"), {{"s", "running"}}));
    EXPECT_FALSE(passes(ab("init"), {{"s", "init"}}));
    EXPECT_FALSE(passes(ab("init"), {{"t", "x"}}));  // needs a value
    EXPECT_TRUE(passes(ab(json::array({"a", "b"})), {{"s", "c"}}));
    EXPECT_FALSE(passes(ab(json::array({"a", "b"})), {{"s", "b"}}));
    EXPECT_TRUE(passes(ab(json::array({1, 2})), {{"s", 3}}));
    EXPECT_FALSE(passes(ab(json::array({1, 2})), {{"s", 2.0}}));
    EXPECT_TRUE(passes(ab({{"prefix", "us-"}}), {{"s", "eu-west-1"}}));
    EXPECT_FALSE(passes(ab({{"prefix", "us-"}}), {{"s", "us-east-1"}}));
    EXPECT_TRUE(passes(ab({{"suffix", ".png"}}), {{"s", "a.jpg"}}));
    EXPECT_FALSE(passes(ab({{"suffix", ".png"}}), {{"s", "a.png"}}));
    EXPECT_FALSE(passes(ab({{"equals-ignore-case", "INIT"}}), {{"s", "Init"}}));
    EXPECT_TRUE(passes(ab({{"equals-ignore-case", json::array({"a", "B"})}}), {{"s", "c"}}));
    EXPECT_FALSE(passes(ab({{"equals-ignore-case", json::array({"a", "B"})}}), {{"s", "b"}}));
}

TEST(FilterCriteria, NumericOperatorsAndRanges) {
    const auto num = [](const json& arg) { return json{{"body", {{"n", {{{"numeric", arg}}}}}}}; };
    EXPECT_TRUE(passes(num({"=", 5}), {{"n", 5}}));
    EXPECT_TRUE(passes(num({"=", 5}), {{"n", 5.0}}));
    EXPECT_FALSE(passes(num({"=", 5}), {{"n", 5.5}}));
    EXPECT_TRUE(passes(num({"<=", 5}), {{"n", 5}}));
    EXPECT_FALSE(passes(num({"<", 5}), {{"n", 5}}));
    EXPECT_TRUE(passes(num({">=", 5}), {{"n", 5}}));
    EXPECT_FALSE(passes(num({">", 5}), {{"n", 5}}));
    EXPECT_TRUE(passes(num({">", 0, "<=", 5}), {{"n", 5}}));
    EXPECT_FALSE(passes(num({">", 0, "<=", 5}), {{"n", 0}}));
    EXPECT_TRUE(passes(num({">", -1.5, "<", 1e3}), {{"n", -1}}));
    EXPECT_FALSE(passes(num({">", 100}), {{"n", "105"}}));  // a string is not a number
    EXPECT_FALSE(passes(num({">", 100}), {{"m", 105}}));
}

TEST(FilterCriteria, Exists) {
    const auto ex = [](bool b) { return json{{"body", {{"k", {{{"exists", b}}}}}}}; };
    EXPECT_TRUE(passes(ex(true), {{"k", "v"}}));
    EXPECT_TRUE(passes(ex(true), {{"k", nullptr}}));
    EXPECT_FALSE(passes(ex(true), {{"j", "v"}}));
    EXPECT_FALSE(passes(ex(true), {{"k", json::array()}}));  // no values
    EXPECT_FALSE(passes(ex(true), {{"k", {{"x", 1}}}}));     // leaves only
    EXPECT_TRUE(passes(ex(false), {{"j", "v"}}));
    EXPECT_FALSE(passes(ex(false), {{"k", "v"}}));
    // nested under a missing object
    EXPECT_TRUE(passes({{"body", {{"a", {{"b", {{{"exists", false}}}}}}}}}, {{"x", 1}}));
}

TEST(FilterCriteria, ValueListIsOrAndKeysAreAnd) {
    const json p = {{"body", {{"a", {"x", {{"prefix", "y"}}, 3}}, {"b", {"z"}}}}};
    EXPECT_TRUE(passes(p, {{"a", "x"}, {"b", "z"}}));
    EXPECT_TRUE(passes(p, {{"a", "yes"}, {"b", "z"}}));
    EXPECT_TRUE(passes(p, {{"a", 3}, {"b", "z"}}));
    EXPECT_FALSE(passes(p, {{"a", "x"}, {"b", "q"}}));
    EXPECT_FALSE(passes(p, {{"a", "x"}}));
}

TEST(FilterCriteria, ArraysInDataMatchAnyElement) {
    EXPECT_TRUE(passes({{"body", {{"tags", {"red"}}}}}, {{"tags", {"blue", "red"}}}));
    EXPECT_FALSE(passes({{"body", {{"tags", {"green"}}}}}, {{"tags", {"blue", "red"}}}));
    EXPECT_TRUE(passes({{"body", {{"n", {{{"numeric", {">", 5}}}}}}}}, {{"n", {1, 9}}}));
    const json nested_arrays = json::array({json::array({"a"}), json::array({"x"})});
    EXPECT_TRUE(passes({{"body", {{"tags", {"x"}}}}}, {{"tags", nested_arrays}}));
}

TEST(FilterCriteria, OrAtAnyLevel) {
    const json top = {{"$or", {{{"body", {{"a", {"1"}}}}}, {{"body", {{"b", {"2"}}}}}}}};
    EXPECT_TRUE(passes(top, {{"a", "1"}}));
    EXPECT_TRUE(passes(top, {{"b", "2"}}));
    EXPECT_FALSE(passes(top, {{"a", "2"}}));
    // the body rule applies inside a top-level $or too
    EXPECT_FALSE(criteria(top).matches(record("plain")));

    const json nested = {
        {"body",
         {{"kind", {"order"}}, {"$or", {{{"n", {{{"numeric", {">", 10}}}}}}, {{"vip", {true}}}}}}}};
    EXPECT_TRUE(passes(nested, {{"kind", "order"}, {"n", 11}}));
    EXPECT_TRUE(passes(nested, {{"kind", "order"}, {"n", 1}, {"vip", true}}));
    EXPECT_FALSE(passes(nested, {{"kind", "order"}, {"n", 1}}));
    EXPECT_FALSE(passes(nested, {{"kind", "other"}, {"n", 11}}));
}

TEST(FilterCriteria, RecordFieldsAndNestedObjects) {
    auto f =
        criteria(json{{"attributes", {{"ApproximateReceiveCount", {"1"}}}},
                      {"messageAttributes", {{"Author", {{"stringValue", {"John Grisham"}}}}}}});
    EXPECT_TRUE(f.matches(record("x")));
    auto g = criteria(json{{"messageAttributes", {{"Author", {{"stringValue", {"Nobody"}}}}}}});
    EXPECT_FALSE(g.matches(record("x")));
    EXPECT_TRUE(criteria(json{{"md5OfMessageAttributes", {nullptr}}}).matches(record("x")));
}

TEST(FilterCriteria, FiltersAreOred) {
    auto f =
        criteria(std::vector<std::string>{R"({"body":{"a":["1"]}})", R"({"body":{"b":["2"]}})"});
    EXPECT_TRUE(f.matches(json_record({{"a", "1"}})));
    EXPECT_TRUE(f.matches(json_record({{"b", "2"}})));
    EXPECT_FALSE(f.matches(json_record({{"c", "3"}})));
    EXPECT_FALSE(f.empty());
}

TEST(FilterCriteria, NoFiltersPassEverything) {
    auto f = criteria(std::vector<std::string>{});
    EXPECT_TRUE(f.empty());
    EXPECT_TRUE(f.matches(record("anything")));
    EXPECT_TRUE(FilterCriteria{}.matches(json::object()));
}

TEST(FilterCriteria, DuplicateKeysLastWins) {
    auto f = criteria(std::vector<std::string>{R"({"body":{"a":["1"],"a":["2"]}})"});
    EXPECT_TRUE(f.matches(json_record({{"a", "2"}})));
    EXPECT_FALSE(f.matches(json_record({{"a", "1"}})));
}

TEST(FilterCriteria, CopiesShareTheCompiledPatterns) {
    FilterCriteria copy = criteria(json{{"body", {{"a", {"1"}}}}});
    FilterCriteria other = copy;
    EXPECT_TRUE(other.matches(json_record({{"a", "1"}})));
}

// ---- invalid patterns and limits --------------------------------------------

TEST(FilterCriteria, InvalidShapes) {
    for (const char* p : {
             "", "[]", "{}", "42", R"("body")", R"({"body":{}})", R"({"body":null})",
             R"({"body":1})", R"({"body":[["x"]]})", R"({"body":{"a":[]}})",
             R"({"body":{"a":"x"}})",
             R"({"body":{"a":["x"]})",  // truncated JSON
         }) {
        expect_invalid(p);
    }
}

TEST(FilterCriteria, InvalidOperators) {
    for (const char* p : {
             R"({"a":[{"unknown":"x"}]})",
             R"({"a":[{}]})",
             R"({"a":[{"prefix":"x","suffix":"y"}]})",
             R"({"a":[{"prefix":1}]})",
             R"({"a":[{"suffix":null}]})",
             R"({"a":[{"equals-ignore-case":["x"]}]})",
             R"({"a":[{"exists":"true"}]})",
             R"({"a":[{"wildcard":"*x"}]})",
             R"({"a":[{"numeric":">"}]})",
             R"({"a":[{"numeric":[">"]}]})",
             R"({"a":[{"numeric":["!=",1]}]})",
             R"({"a":[{"numeric":[">","1"]}]})",
             R"({"a":[{"numeric":["<",1,">",0]}]})",
             R"({"a":[{"numeric":[">",5,"<",5]}]})",
             R"({"a":[{"numeric":[">",1,"<",2,"<",3]}]})",
             R"({"a":[{"numeric":["=",1,"<",2]}]})",
             R"({"a":[{"anything-but":[]}]})",
             R"({"a":[{"anything-but":["x",1]}]})",
             R"({"a":[{"anything-but":null}]})",
             R"({"a":[{"anything-but":true}]})",
             R"({"a":[{"anything-but":{"prefix":""}}]})",
             R"({"a":[{"anything-but":{"wildcard":"x"}}]})",
             R"({"a":[{"anything-but":{"equals-ignore-case":[1]}}]})",
             R"({"$or":[{"a":["1"]}]})",
             R"({"$or":{"a":["1"]}})",
             R"({"$or":[{"a":["1"]},"b"]})",
             R"({"$or":[{"a":["1"]},{}]})",
             R"({"$or":[{"a":["1"]},{"prefix":["x"]}]})",
         }) {
        expect_invalid(p);
    }
}

TEST(FilterCriteria, OneInvalidFilterRefusesAll) {
    auto r = FilterCriteria::parse({R"({"a":["1"]})", "null"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Invalid filter pattern definition.");
}

TEST(FilterCriteria, AtMostFiveFilters) {
    const std::string p = R"({"a":["1"]})";
    EXPECT_TRUE(FilterCriteria::parse(std::vector<std::string>(5, p)));
    auto r = FilterCriteria::parse(std::vector<std::string>(6, p));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
}

TEST(FilterCriteria, PatternLengthIsTheModelConstraint) {
    // exactly 4096 characters passes; 4097 is the model's ValidationException
    const std::string head = R"({"a":[")";
    const std::string tail = R"("]})";
    std::string ok = head + std::string(kMaxPatternLength - head.size() - tail.size(), 'x') + tail;
    ASSERT_EQ(ok.size(), 4096U);
    EXPECT_TRUE(FilterCriteria::parse({ok}));
    std::string long_one = head + std::string(4097 - head.size() - tail.size(), 'x') + tail;
    auto r = FilterCriteria::parse({R"({"a":["1"]})", long_one});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::Validation);
    EXPECT_EQ(r.error().message,
              "1 validation error detected: Value '" + long_one +
                  "' at 'filterCriteria.filters.2.member.pattern' failed to satisfy constraint: "
                  "Member must have length less than or equal to 4096");
    // characters, not bytes: 4096 two-byte characters fit
    std::string wide = head;
    while (wide.size() < 2 * (kMaxPatternLength - head.size() - tail.size()) + head.size()) {
        wide += "\xc3\xa9";  // é
    }
    EXPECT_TRUE(FilterCriteria::parse({wide + tail}));
}
