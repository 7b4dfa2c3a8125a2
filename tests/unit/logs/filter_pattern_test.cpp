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

TEST(FilterPattern, RegexTerms) {
    EXPECT_TRUE(match("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST"));
    EXPECT_TRUE(match("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
    EXPECT_TRUE(match(R"(%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%)", "from 10.0.12.7 port 80"));
    EXPECT_FALSE(match(R"(%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%)", "from 10.0.x.7"));
    EXPECT_TRUE(match("%[Ee]rror|[Ff]ail%", "disk fail"));
    EXPECT_FALSE(match("%[Ee]rror|[Ff]ail%", "ERROR"));
    EXPECT_TRUE(match("%^[hc]at%", "cat on a mat"));
    EXPECT_FALSE(match("%^[hc]at%", "a cat"));
    EXPECT_TRUE(match("%[hc]at$%", "a hat"));
    EXPECT_TRUE(match("%colou?r%", "color"));
    EXPECT_TRUE(match("%a{3,5}%", "baaab"));
    EXPECT_FALSE(match("%a{3,5}%", "baab"));
    EXPECT_TRUE(match("%[^0-9]+=%", "key=1"));
    // terms mixed with regexes, alternatives and exclusions
    EXPECT_TRUE(match("ERROR %code=5\\d\\d%", "ERROR code=503"));
    EXPECT_FALSE(match("ERROR %code=5\\d\\d%", "ERROR code=404"));
    EXPECT_TRUE(match("?%^WARN% ?timeout", "db timeout"));
    EXPECT_FALSE(match("INFO -%id=\\d+%", "INFO id=42"));
}

TEST(FilterPattern, RegexValuesInJsonAndSpaceDelimited) {
    const std::string j = R"({"eventType":"UpdateTrail","latency":250,"tags":["x1","y22"]})";
    EXPECT_TRUE(match("{ $.eventType = %^Update% }", j));
    EXPECT_FALSE(match("{ $.eventType = %^Delete% }", j));
    EXPECT_TRUE(match("{ $.eventType != %^Delete% }", j));
    EXPECT_TRUE(match("{ $.latency = %^2\\d\\d$% }", j));
    EXPECT_TRUE(match("{ $.tags[*] = %^y\\d{2}$% }", j));
    const std::string s = "127.0.0.1 frank 404 2326";
    EXPECT_TRUE(match("[ip=%^127\\.%, user, status=%^4\\d\\d$%, bytes]", s));
    EXPECT_FALSE(match("[ip=%^10\\.%, ...]", s));
    EXPECT_TRUE(match("[ip, user!=%^bob$%, ...]", s));
}

TEST(FilterPattern, JsonArraySelectors) {
    const std::string m =
        R"({"items":[{"id":1,"name":"a"},{"id":2,"name":"b","tags":["hot"]}],"n":[null,3]})";
    EXPECT_TRUE(match("{ $.items[0].id = 1 }", m));
    EXPECT_TRUE(match(R"({ $.items[1].name = "b" })", m));
    EXPECT_FALSE(match(R"({ $.items[0].name = "b" })", m));
    EXPECT_TRUE(match(R"({ $.items[*].name = "b" })", m));
    EXPECT_FALSE(match(R"({ $.items[*].name = "c" })", m));
    EXPECT_TRUE(match("{ $.items[*].id > 1 }", m));
    EXPECT_TRUE(match(R"({ $.items[*].tags[0] = "hot" })", m));
    EXPECT_TRUE(match("{ $.items[*].tags EXISTS }", m));
    EXPECT_TRUE(match("{ $.items[*].missing NOT EXISTS }", m));
    EXPECT_FALSE(match("{ $.items[*].id NOT EXISTS }", m));
    EXPECT_TRUE(match("{ $.n[*] IS NULL }", m));
    EXPECT_TRUE(match("{ $.n[5] NOT EXISTS }", m));
    EXPECT_TRUE(match(R"({ $.items[*].name = "*" })", m));
}

TEST(FilterPattern, InvalidRegexes) {
    EXPECT_TRUE(invalid("%(a)%"));         // no groups
    EXPECT_TRUE(invalid("%something!%"));  // '!' is not in AWS's set
    EXPECT_TRUE(invalid("%abc"));          // unterminated
    EXPECT_TRUE(invalid("%%"));
    EXPECT_TRUE(invalid("%a**%"));
    EXPECT_TRUE(invalid("%*a%"));
    EXPECT_TRUE(invalid("%[z-a]%"));
    EXPECT_TRUE(invalid("%[abc%"));
    EXPECT_TRUE(invalid("%a{5,3}%"));
    EXPECT_TRUE(invalid("%a{1000}%"));
    EXPECT_TRUE(invalid("%é%"));          // single-byte characters only
    EXPECT_TRUE(invalid("%a% %b% %c%"));  // at most two regexes
    EXPECT_TRUE(invalid("{ $.a = %x% || $.b = %y% || $.c = %z% }"));
    EXPECT_TRUE(invalid("[a=%x%, b=%y%, c=%z%]"));
    EXPECT_TRUE(invalid("{ $.a > %1% }"));  // numeric comparisons take numbers
    EXPECT_TRUE(invalid("{ $.a[*x] = 1 }"));
    EXPECT_TRUE(match("%a% %b%", "a b"));  // two are fine
}

TEST(FilterPattern, RegexesGiveNoRequiredSubstrings) {
    auto p = FilterPattern::parse("ERROR %x\\d+%");
    ASSERT_TRUE(p);
    std::vector<std::vector<std::string>> want = {{"ERROR"}};
    EXPECT_EQ(p->required(), want);
    auto a = FilterPattern::parse("?ERROR ?%^WARN%");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->required().empty());
    auto j = FilterPattern::parse("{ $.a = %abc% }");
    ASSERT_TRUE(j);
    EXPECT_TRUE(j->required().empty());
}
