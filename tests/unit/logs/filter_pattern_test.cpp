#include "lamina/logs/filter_pattern.hpp"

#include <gtest/gtest.h>

using namespace lamina;
using namespace lamina::logs;

namespace {

bool match(const std::string& pattern, const std::string& message) {
    auto p = FilterPattern::parse(pattern);
    EXPECT_TRUE(p) << pattern;
    return p && p->matches(message);
}

bool invalid(const std::string& pattern) {
    auto p = FilterPattern::parse(pattern);
    if (p) return false;
    EXPECT_EQ(p.error().message, "Invalid filter pattern");
    EXPECT_EQ(p.error().code, ErrorCode::InvalidParameterValue);
    return true;
}

}  // namespace

TEST(FilterPattern, EmptyMatchesEverything) {
    EXPECT_TRUE(match("", "anything"));
    EXPECT_TRUE(match("   ", ""));
    EXPECT_TRUE(match("\"\"", "anything"));
}

TEST(FilterPattern, TermsAllMustOccurCaseSensitive) {
    EXPECT_TRUE(match("hello", "hello world"));
    EXPECT_TRUE(match("ERROR timeout", "ERROR: db timeout after 3s"));
    EXPECT_FALSE(match("ERROR timeout", "ERROR: refused"));
    EXPECT_FALSE(match("error", "ERROR"));
}

TEST(FilterPattern, QuotedPhrasesAlternativesAndExclusions) {
    EXPECT_TRUE(match("\"hello cruel\"", "hello cruela"));
    EXPECT_FALSE(match("\"hello cruel\"", "cruel hello"));
    EXPECT_TRUE(match("\"a \\\"b\\\"\"", "x a \"b\" y"));
    EXPECT_TRUE(match("?ERROR ?WARN", "WARN disk"));
    EXPECT_FALSE(match("?ERROR ?WARN", "INFO disk"));
    EXPECT_TRUE(match("ERROR -retry", "ERROR once"));
    EXPECT_FALSE(match("ERROR -retry", "ERROR retry 2"));
    EXPECT_FALSE(match("-\"health check\"", "GET health check"));
}

TEST(FilterPattern, JsonComparisons) {
    const std::string m =
        R"({"level":"ERROR","latency":250,"user":{"id":7,"tags":["a","b"]},"ok":false,"n":null})";
    EXPECT_TRUE(match(R"({ $.level = "ERROR" })", m));
    EXPECT_TRUE(match(R"({ $.level = ERROR })", m));
    EXPECT_TRUE(match(R"({ $.level = "ERR*" })", m));
    EXPECT_FALSE(match(R"({ $.level = "error" })", m));
    EXPECT_TRUE(match(R"({ $.level != "INFO" })", m));
    EXPECT_TRUE(match("{ $.latency > 100 }", m));
    EXPECT_TRUE(match("{ $.latency >= 250 && $.latency <= 250 }", m));
    EXPECT_FALSE(match("{ $.latency < 100 }", m));
    EXPECT_TRUE(match("{ $.latency = 250.0 }", m));
    EXPECT_TRUE(match("{ $.user.id = 7 }", m));
    EXPECT_TRUE(match(R"({ $.user.tags[1] = "b" })", m));
    EXPECT_TRUE(match(R"({ ($.level = "INFO" || $.latency > 200) && $.user.id = 7 })", m));
    EXPECT_FALSE(match(R"({ $.level = "INFO" || $.latency > 900 })", m));
    EXPECT_TRUE(match("{ $.ok IS FALSE }", m));
    EXPECT_TRUE(match("{ $.n IS NULL }", m));
    EXPECT_TRUE(match("{ $.missing NOT EXISTS }", m));
    EXPECT_TRUE(match("{ $.level EXISTS }", m));
    EXPECT_FALSE(match("{ $.missing = 1 }", m));
    EXPECT_FALSE(match(R"({ $.level = "ERROR" })", "level=ERROR (not JSON)"));
    EXPECT_FALSE(match(R"({ $.level = "ERROR" })", R"(["ERROR"])"));
}

TEST(FilterPattern, SpaceDelimited) {
    const std::string m =
        "127.0.0.1 frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 404 2326";
    EXPECT_TRUE(match("[ip, user, timestamp, request, status_code, bytes]", m));
    EXPECT_TRUE(match("[ip, user, ..., status_code=404, bytes>1000]", m));
    EXPECT_TRUE(match("[ip=127.0.0.*, ...]", m));
    EXPECT_TRUE(match("[..., status_code=4* || status_code=5*, bytes]", m));
    EXPECT_FALSE(match("[..., status_code=5*, bytes]", m));
    EXPECT_FALSE(match("[ip, user, ..., status_code!=404, bytes]", m));
    EXPECT_TRUE(match("[ip, user, timestamp, request=\"GET /apache*\", ...]", m));
    EXPECT_FALSE(match("[ip, user]", m));  // without "..." the field count must agree
}

TEST(FilterPattern, InvalidPatterns) {
    EXPECT_TRUE(invalid("\"unterminated"));
    EXPECT_TRUE(invalid("{ $.level = }"));
    EXPECT_TRUE(invalid("{ $.level = \"x\""));
    EXPECT_TRUE(invalid("{ level = 1 }"));
    EXPECT_TRUE(invalid("{ $.n > \"text\" }"));
    EXPECT_TRUE(invalid("{ $.a = 1 && }"));
    EXPECT_TRUE(invalid("{ ($.a = 1 }"));
    EXPECT_TRUE(invalid("[a, b"));
    EXPECT_TRUE(invalid("[a b]"));
    EXPECT_TRUE(invalid("[a,, b]"));
    EXPECT_TRUE(invalid("a=b"));
    EXPECT_TRUE(invalid("?"));
}

TEST(FilterPattern, RequiredSubstringsNarrowSearches) {
    auto p = FilterPattern::parse("ERROR \"db down\" ?x ?y -z");
    ASSERT_TRUE(p);
    std::vector<std::vector<std::string>> want = {{"ERROR"}, {"db down"}, {"x", "y"}};
    EXPECT_EQ(p->required(), want);
    auto j = FilterPattern::parse(R"({ $.level = "ERR*" && $.n > 1 })");
    ASSERT_TRUE(j);
    want = {{"ERR"}};
    EXPECT_EQ(j->required(), want);
    auto o = FilterPattern::parse(R"({ $.level = "ERROR" || $.n > 1 })");
    ASSERT_TRUE(o);
    EXPECT_TRUE(o->required().empty());
}

TEST(FilterPattern, GlobMatch) {
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_TRUE(glob_match("a*c", "abbbc"));
    EXPECT_FALSE(glob_match("a*c", "abbb"));
    EXPECT_TRUE(glob_match("*b*", "abc"));
    EXPECT_TRUE(glob_match("", ""));
    EXPECT_FALSE(glob_match("", "x"));
}
