#include "lamina/control/names.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace lamina;
using namespace lamina::control;

namespace {

const Scope kScope{"123456789012", "us-east-1"};

// AWS's NamespacedFunctionName / FunctionName patterns as they appear in
// the recorded ValidationException messages.
const std::string kReadPatternText =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?)";
const std::string kCreatePatternText =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?)";
const std::string kQualifierPatternText = R"(\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+)";

Result<FunctionRef> read(const std::string& name,
                         std::optional<std::string> qualifier = std::nullopt) {
    return resolve_function_name(name, NameShape::Read, qualifier, kScope, "lambda:GetFunction");
}

Result<FunctionRef> create(const std::string& name) {
    return resolve_function_name(name, NameShape::Create, std::nullopt, kScope,
                                 "lambda:CreateFunction");
}

std::string pattern_item(const std::string& value, const std::string& field,
                         const std::string& pattern) {
    return "Value '" + value + "' at '" + field +
           "' failed to satisfy constraint: Member must satisfy regular expression pattern: " +
           pattern;
}

}  // namespace

TEST(FunctionNames, ExportedPatternsAreAwsPatternsVerbatim) {
    // The api layer quotes these back to clients; they must be AWS's text exactly.
    EXPECT_EQ(kReadNamePattern, kReadPatternText);
    EXPECT_EQ(kCreateNamePattern, kCreatePatternText);
    EXPECT_EQ(kQualifierPattern, kQualifierPatternText);
}

TEST(FunctionNames, ResolvesAllFourNameForms) {
    struct Case {
        std::string input, name;
        std::optional<std::string> qualifier;
    };
    const Case cases[] = {
        {"my-function", "my-function", std::nullopt},
        {"my-function:prod", "my-function", "prod"},
        {"my-function:7", "my-function", "7"},
        {"my-function:$LATEST", "my-function", "$LATEST"},
        {"123456789012:function:my-function", "my-function", std::nullopt},
        {"123456789012:function:my-function:prod", "my-function", "prod"},
        {"arn:aws:lambda:us-east-1:123456789012:function:my-function", "my-function", std::nullopt},
        {"arn:aws:lambda:us-east-1:123456789012:function:my-function:3", "my-function", "3"},
        {"arn:aws:lambda:us-east-1:123456789012:function:my_fn-2:$LATEST", "my_fn-2", "$LATEST"},
    };
    for (const auto& c : cases) {
        for (NameShape shape : {NameShape::Read, NameShape::Create}) {
            auto r =
                resolve_function_name(c.input, shape, std::nullopt, kScope, "lambda:GetFunction");
            ASSERT_TRUE(r.has_value()) << c.input << ": " << r.error().message;
            EXPECT_EQ(r->name, c.name) << c.input;
            EXPECT_EQ(r->qualifier, c.qualifier) << c.input;
        }
    }
}

TEST(FunctionNames, ReadShapeAllowsDotsAndLatestPublished) {
    auto dotted = read("my.function");
    ASSERT_TRUE(dotted.has_value());
    EXPECT_EQ(dotted->name, "my.function");
    auto published = read("my-function:$LATEST.PUBLISHED");
    ASSERT_TRUE(published.has_value());
    EXPECT_EQ(published->qualifier, "$LATEST.PUBLISHED");

    // CreateFunction's pattern has neither.
    auto bad = create("my.function");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::Validation);
}

TEST(FunctionNames, UnqualifiedShapeRejectsAQualifier) {
    auto ok = resolve_function_name("arn:aws:lambda:us-east-1:123456789012:function:f",
                                    NameShape::Unqualified, std::nullopt, kScope,
                                    "lambda:ListVersionsByFunction");
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->name, "f");
    EXPECT_FALSE(ok->qualifier.has_value());

    auto bad = resolve_function_name("f:1", NameShape::Unqualified, std::nullopt, kScope,
                                     "lambda:ListVersionsByFunction");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::Validation);
}

TEST(FunctionNames, QualifierParamFillsInOrMustMatch) {
    auto filled = read("my-function", "prod");
    ASSERT_TRUE(filled.has_value());
    EXPECT_EQ(filled->qualifier, "prod");

    auto same = read("my-function:1", "1");
    ASSERT_TRUE(same.has_value());
    EXPECT_EQ(same->qualifier, "1");

    auto mismatch = read("arn:aws:lambda:us-east-1:123456789012:function:my-function:1", "$LATEST");
    ASSERT_FALSE(mismatch.has_value());
    EXPECT_EQ(mismatch.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(
        mismatch.error().message,
        "The derived qualifier from the function name does not match the specified qualifier.");
}

TEST(FunctionNames, OtherRegionIsNotReachable) {
    auto r = read("arn:aws:lambda:eu-west-1:123456789012:function:my-function");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(r.error().message,
              "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
}

TEST(FunctionNames, OtherAccountIsAccessDenied) {
    auto r = read("arn:aws:lambda:us-east-1:111111111111:function:my-function:prod");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::AccessDenied);
    EXPECT_EQ(
        r.error().message,
        "User: arn:aws:iam::123456789012:root is not authorized to perform: lambda:GetFunction on "
        "resource: arn:aws:lambda:us-east-1:111111111111:function:my-function:prod because no "
        "resource-based policy allows the lambda:GetFunction action");

    auto partial = read("111111111111:function:my-function");
    ASSERT_FALSE(partial.has_value());
    EXPECT_EQ(partial.error().code, ErrorCode::AccessDenied);
}

TEST(FunctionNames, PatternFailuresQuoteAwsPatterns) {
    // Values from the recorded test_function_name_and_qualifier_validation runs.
    const std::string names[] = {
        "*",
        "my-function!",
        "invalid-account:function:my-function",
        "arn:aws:lambda:invalid-region:111111111111:function:my-function",
        "arn:aws:ec2:us-east-1:111111111111:instance:i-1234567890abcdef0",
        "arn:aws:lambda:us-east-1:111111111111:function:my-function:1:2",
        "function:my-function:$LATEST:extra",
        "arn:aws:lambda::111111111111:function:my-function",
        "arn:aws:lambda:us-east-1::function:my-function",
        "arn:aws:lambda:us-east-1:111111111111:function:my-function:$LATES",
    };
    for (const auto& v : names) {
        auto r = read(v);
        ASSERT_FALSE(r.has_value()) << v;
        EXPECT_EQ(r.error().code, ErrorCode::Validation) << v;
        EXPECT_EQ(r.error().message, "1 validation error detected: " +
                                         pattern_item(v, "functionName", kReadPatternText))
            << v;

        auto c = create(v);
        ASSERT_FALSE(c.has_value()) << v;
        EXPECT_EQ(c.error().code, ErrorCode::Validation) << v;
        EXPECT_EQ(c.error().message, "1 validation error detected: " +
                                         pattern_item(v, "functionName", kCreatePatternText))
            << v;
    }
}

TEST(FunctionNames, CharacterClassDoesNotContainARange) {
    // "[a-zA-Z0-9-_]" is '0'-'9', '-' and '_': characters between '9' and '_'
    // in ASCII (':', '=', '@', 'Z'+1..) must not be accepted.
    for (std::string v : {"a=b", "a@b", "a;b", "a?b", "a[b", "a^b", "a\\b", "a>b"}) {
        auto r = create(v);
        EXPECT_FALSE(r.has_value()) << v;
    }
    for (std::string v : {"a-b", "a_b", "A9"}) EXPECT_TRUE(create(v).has_value()) << v;
}

TEST(FunctionNames, InvalidQualifierParam) {
    auto r = read("my-function", "invalid!");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Validation);
    EXPECT_EQ(r.error().message, "1 validation error detected: " +
                                     pattern_item("invalid!", "qualifier", kQualifierPatternText));

    std::string long_q(129, 'a');
    auto too_long = read("my-function", long_q);
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(
        too_long.error().message,
        "1 validation error detected: Value '" + long_q +
            "' at 'qualifier' failed to satisfy constraint: Member must have length less than or "
            "equal to 128");

    auto empty = read("my-function", "");
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error().code, ErrorCode::Validation);
    EXPECT_NE(empty.error().message.find("Member must have length greater than or equal to 1"),
              std::string::npos);
}

TEST(FunctionNames, ReadOpsListTheQualifierErrorFirst) {
    std::string long_q(129, 'a');
    std::string name =
        "arn:aws:lambda:invalid-region:111111111111:function:my-function-" + std::string(170, 'a');
    auto r = read(name, long_q);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Validation);
    EXPECT_EQ(
        r.error().message,
        "2 validation errors detected: Value '" + long_q +
            "' at 'qualifier' failed to satisfy constraint: Member must have length less than or "
            "equal to 128; " +
            pattern_item(name, "functionName", kReadPatternText));
}

TEST(FunctionNames, CreateListsLengthBeforePattern) {
    std::string name =
        "arn:aws:lambda:invalid-region:111111111111:function:my-function" + std::string(170, 'a');
    auto r = create(name);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Validation);
    EXPECT_EQ(r.error().message, "2 validation errors detected: Value '" + name +
                                     "' at 'functionName' failed to satisfy constraint: Member "
                                     "must have length less than or "
                                     "equal to 140; " +
                                     pattern_item(name, "functionName", kCreatePatternText));
}

TEST(FunctionNames, CreateLengthAloneIsOneError) {
    std::string name = "my-function:" + std::string(129, 'a');  // 141 characters, pattern fine
    auto r = create(name);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "1 validation error detected: Value '" + name +
                                     "' at 'functionName' failed to satisfy constraint: Member "
                                     "must have length less than or "
                                     "equal to 140");
    // Read ops allow 256, so the same value is a valid (unknown) function.
    auto ok = read(name);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->name, "my-function");
}

TEST(FunctionNames, LowercaseLatestIsJustAnUnknownQualifierForReads) {
    auto r = read("arn:aws:lambda:us-east-1:123456789012:function:my-function", "$latest");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->qualifier, "$latest");

    auto c = create("arn:aws:lambda:us-east-1:123456789012:function:my-function:$latest");
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::Validation);
}

TEST(FunctionNames, ValidationErrorsJoinsItems) {
    ValidationErrors e;
    EXPECT_TRUE(e.empty());
    e.add_null("role");
    EXPECT_FALSE(e.empty());
    EXPECT_EQ(e.error().message,
              "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
              "Member must "
              "not be null");
    e.add("x", "handler", "C");
    auto err = e.error(ErrorCode::InvalidParameterValue);
    EXPECT_EQ(err.code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(err.message,
              "2 validation errors detected: Value null at 'role' failed to satisfy constraint: "
              "Member must "
              "not be null; Value 'x' at 'handler' failed to satisfy constraint: C");
}

TEST(FunctionNames, BuildsArns) {
    EXPECT_EQ(function_arn(kScope, "f"), "arn:aws:lambda:us-east-1:123456789012:function:f");
    EXPECT_EQ(qualified_arn(kScope, "f", "$LATEST"),
              "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST");
}

TEST(AliasNames, AcceptsAwsAliasPattern) {
    struct Case {
        std::string name;
        bool ok;
    };
    const Case cases[] = {
        {"prod", true},     {"Prod_2", true},
        {"a-b", true},      {"1a", true},
        {"a1", true},       {std::string(128, 'a'), true},
        {"", false},        {"123", false},
        {"0", false},       {"a.b", false},
        {"$LATEST", false}, {"a b", false},
        {"a:b", false},     {std::string(129, 'a'), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(is_valid_alias_name(c.name), c.ok) << "'" << c.name << "'";
}

TEST(VersionNumbers, OnlyPositiveDecimalIntegers) {
    struct Case {
        std::string q;
        bool ok;
    };
    const Case cases[] = {
        {"1", true},          {"42", true},
        {"9999999999", true}, {"0", false},
        {"01", false},        {"", false},
        {"$LATEST", false},   {"1a", false},
        {"-1", false},        {"12345678901", false},
    };
    for (const auto& c : cases) EXPECT_EQ(is_version_number(c.q), c.ok) << "'" << c.q << "'";
}

TEST(Arns, ParseSplitsFiveFieldsAndKeepsResourceColons) {
    auto p = parse_arn("arn:aws:lambda:us-east-1:123456789012:function:f:prod");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->partition, "aws");
    EXPECT_EQ(p->service, "lambda");
    EXPECT_EQ(p->region, "us-east-1");
    EXPECT_EQ(p->account, "123456789012");
    EXPECT_EQ(p->resource, "function:f:prod");

    auto iam = parse_arn("arn:aws:iam::123456789012:role/r");
    ASSERT_TRUE(iam.has_value());
    EXPECT_EQ(iam->region, "");
    EXPECT_EQ(iam->resource, "role/r");

    EXPECT_FALSE(parse_arn("arn:aws:lambda:us-east-1").has_value());
    EXPECT_FALSE(parse_arn("nra:aws:lambda:us-east-1:1:function:f").has_value());
    EXPECT_FALSE(parse_arn("").has_value());
}

// Found by tests/fuzz (fuzz_names_router): std::regex_match recursed once per
// character and a FunctionName of a few tens of kB overflowed the stack.
TEST(FunctionNames, HugeNameIsALengthErrorNotAStackOverflow) {
    std::string huge(1'000'000, 'a');
    auto r = read(huge);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Validation);
    EXPECT_NE(r.error().message.find("Member must have length less than or equal to 256"),
              std::string::npos);
    auto q = read("my-function", std::string(1'000'000, 'b'));
    ASSERT_FALSE(q.has_value());
    EXPECT_EQ(q.error().code, ErrorCode::Validation);
}

TEST(Names, AccessDeniedIsWordedAsAwsWordsIt) {
    auto with = access_denied("111122223333", "lambda:GetLayerVersion",
                              "arn:aws:lambda:us-east-1:123456789012:layer:l:1");
    EXPECT_EQ(with.code, ErrorCode::AccessDenied);
    EXPECT_EQ(with.message,
              "User: arn:aws:iam::111122223333:root is not authorized to perform: "
              "lambda:GetLayerVersion on resource: "
              "arn:aws:lambda:us-east-1:123456789012:layer:l:1 because no resource-based policy "
              "allows the "
              "lambda:GetLayerVersion action");
    auto without =
        access_denied("111122223333", "lambda:TagResource", "arn:x", PolicyClause::Absent);
    EXPECT_EQ(without.message,
              "User: arn:aws:iam::111122223333:root is not authorized to perform: "
              "lambda:TagResource on resource: "
              "arn:x");
}

TEST(Names, StatementIdIsOneToAHundredOfItsAlphabet) {
    ValidationErrors ok;
    check_statement_id(ok, std::string("sid-1_A"));
    check_statement_id(ok, std::string(100, 's'));
    EXPECT_TRUE(ok.empty());
    ValidationErrors bad;
    check_statement_id(bad, std::nullopt);
    check_statement_id(bad, std::string(101, 's'));
    check_statement_id(bad, std::string("a.b"));
    check_statement_id(bad, std::string());
    ASSERT_FALSE(bad.empty());
    auto m = bad.error().message;
    EXPECT_EQ(m.rfind("4 validation errors detected: Value null at 'statementId' failed to satisfy "
                      "constraint: "
                      "Member must not be null",
                      0),
              0u)
        << m;
    EXPECT_NE(m.find("Member must have length less than or equal to 100"), std::string::npos);
    EXPECT_NE(m.find("Value 'a.b' at 'statementId' failed to satisfy constraint: Member must "
                     "satisfy regular "
                     "expression pattern: ([a-zA-Z0-9-_]+)"),
              std::string::npos);
}

TEST(Names, ArnsAreBuiltInOnePlace) {
    EXPECT_EQ(function_arn(kScope, "f"), "arn:aws:lambda:us-east-1:123456789012:function:f");
    EXPECT_EQ(qualified_arn(kScope, "f", "live"),
              "arn:aws:lambda:us-east-1:123456789012:function:f:live");
    EXPECT_EQ(layer_arn(kScope, "l"), "arn:aws:lambda:us-east-1:123456789012:layer:l");
    EXPECT_EQ(layer_version_arn(kScope, "l", 7), "arn:aws:lambda:us-east-1:123456789012:layer:l:7");
    EXPECT_TRUE(is_plain_function_name("my-fn_1"));
    EXPECT_FALSE(is_plain_function_name(std::string(65, 'f')));
    EXPECT_FALSE(is_plain_function_name("arn:aws:lambda:us-east-1:123456789012:function:f"));
}

TEST(FunctionUrlNames, TheUrlCarriesThePortTheClientUsed) {
    const std::string id(32, 'a');
    EXPECT_EQ(function_url(id, "us-east-1", "127.0.0.1:9001"),
              "http://" + id + ".lambda-url.us-east-1.localhost:9001/");
    EXPECT_EQ(function_url(id, "eu-west-2", "localhost"),
              "http://" + id + ".lambda-url.eu-west-2.localhost/");
    EXPECT_EQ(function_url(id, "us-east-1", "[::1]:8080"),
              "http://" + id + ".lambda-url.us-east-1.localhost:8080/");
    EXPECT_EQ(function_url(id, "us-east-1", "[::1]"),
              "http://" + id + ".lambda-url.us-east-1.localhost/");
}

TEST(FunctionUrlNames, SplitHostPortHandlesIpv6NoPortAndBadPorts) {
    auto hp = [](std::string_view h) {
        auto r = split_host_port(h);
        return r.host + "|" + r.port;
    };
    EXPECT_EQ(hp("127.0.0.1:9001"), "127.0.0.1|9001");
    EXPECT_EQ(hp("localhost"), "localhost|");
    EXPECT_EQ(hp("[::1]:8080"), "[::1]|8080");
    EXPECT_EQ(hp("[::1]"), "[::1]|");
    EXPECT_EQ(hp("::1"), "::1|");  // an address as the server reports it: all host
    EXPECT_EQ(hp("fe80::1:2"), "fe80::1:2|");
    EXPECT_EQ(hp("h:abc"), "h|");  // a port that is no number is dropped
    EXPECT_EQ(hp("h:123456"), "h|");
    EXPECT_EQ(hp("h:"), "h|");
    EXPECT_EQ(hp(""), "|");
    const std::string id(32, 'a');
    EXPECT_EQ(function_url(id, "us-east-1", "127.0.0.1:x1"),
              "http://" + id + ".lambda-url.us-east-1.localhost/");
}

TEST(FunctionUrlNames, HostHeadersNamingAUrlGiveItsId) {
    const std::string id = "0123456789abcdef0123456789abcdef";
    EXPECT_EQ(url_id_from_host(id + ".lambda-url.us-east-1.localhost:9001"), id);
    EXPECT_EQ(url_id_from_host(id + ".lambda-url.us-east-1.localhost"), id);
    EXPECT_EQ(url_id_from_host(id + ".lambda-url.us-gov-west-1.on.aws"), id);
    // host names are case-insensitive; ids are lower case
    EXPECT_EQ(url_id_from_host("0123456789ABCDEF0123456789ABCDEF.Lambda-Url.us-east-1.LOCALHOST"),
              id);
    EXPECT_FALSE(url_id_from_host("127.0.0.1:9001"));
    EXPECT_FALSE(url_id_from_host("localhost:9001"));
    EXPECT_FALSE(url_id_from_host(id.substr(1) + ".lambda-url.us-east-1.localhost"));
    EXPECT_FALSE(url_id_from_host(id + ".lambda-url.us-east-1.example.com"));
    EXPECT_FALSE(url_id_from_host(id + ".lambda-url.us-east-1.localhost:9001/x"));
    EXPECT_FALSE(url_id_from_host(""));
}

TEST(FunctionUrlNames, TheUrlQualifierIsAnAliasNameOnly) {
    const std::string message =
        "1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "((?!^\\d+$)^[0-9a-zA-Z-_]+$)";
    ValidationErrors latest;
    check_url_qualifier(latest, "$LATEST");
    ASSERT_FALSE(latest.empty());
    EXPECT_EQ(latest.error().message, message);
    for (const char* bad : {"1", "42", "", "a.b"}) {
        ValidationErrors v;
        check_url_qualifier(v, bad);
        EXPECT_FALSE(v.empty()) << bad;
    }
    for (const char* good : {"live", "v1", "1a", "a-b_c"}) {
        ValidationErrors v;
        check_url_qualifier(v, good);
        EXPECT_TRUE(v.empty()) << good;
    }
}
