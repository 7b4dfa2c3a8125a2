#include "lamina/logs/log_regex.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using lamina::logs::LogRegex;

namespace {

bool finds(const std::string& re, const std::string& text) {
    auto r = LogRegex::parse(re);
    EXPECT_TRUE(r) << re;
    return r && r->search(text);
}

}  // namespace

TEST(LogRegex, OperatorsOfAwsSubset) {
    EXPECT_TRUE(finds("abc", "xxabcxx"));
    EXPECT_TRUE(finds("a.c", "abc"));
    EXPECT_FALSE(finds("a.c", "a\nc"));
    EXPECT_TRUE(finds("ab*c", "ac"));
    EXPECT_TRUE(finds("ab+c", "abbbc"));
    EXPECT_FALSE(finds("ab+c", "ac"));
    EXPECT_TRUE(finds("ab?c", "abc"));
    EXPECT_TRUE(finds("a{2}", "aa"));
    EXPECT_FALSE(finds("^a{2}$", "aaa"));
    EXPECT_TRUE(finds("^a{2,}$", "aaaa"));
    EXPECT_TRUE(finds("[a-c]x", "bx"));
    EXPECT_FALSE(finds("[^a-c]x", "bx"));
    EXPECT_TRUE(finds("\\w+@\\w+", "mail bob@host"));
    EXPECT_TRUE(finds("\\s\\S", "a b"));
    EXPECT_TRUE(finds("\\D\\d", "x1"));
    EXPECT_TRUE(finds("x\\.y", "x.y"));
    EXPECT_FALSE(finds("x\\.y", "xzy"));
    EXPECT_TRUE(finds("[\\d_]+$", "id_12"));
    EXPECT_TRUE(finds("^$", ""));
    EXPECT_TRUE(finds("key=\\d+;|other", "a other"));
    EXPECT_TRUE(finds("a:b/c#d@e,f-g", "a:b/c#d@e,f-g"));
}

TEST(LogRegex, RefusesWhatAwsRefuses) {
    for (const char* bad : {"(a)", "a|(b)", "a!", "a b", "*a", "a++", "a{2", "a{x}", "[]", "[a",
                            "a^b", "a$b", "\\q", "", "a|", "\xc3\xa9", "a{1,2}{3}"})
        EXPECT_FALSE(LogRegex::parse(bad)) << bad;
}

TEST(LogRegex, LinearOnPathologicalPatterns) {
    // (a*)*b-style blowups backtrack exponentially in a backtracking matcher
    auto r = LogRegex::parse("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    ASSERT_TRUE(r);
    std::string text(200'000, 'a');
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(r->search(text));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    // expansions past the bound are refused, not spelled out
    EXPECT_FALSE(LogRegex::parse("a{200}b{200}c{200}"));
}
