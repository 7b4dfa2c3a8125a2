#include "lamina/common/regex.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

using namespace lamina;

TEST(RegexFullMatch, MatchesUpToTheLimit) {
    static const std::regex kWord("[a-z]+");
    EXPECT_TRUE(regex_full_match("abc", kWord));
    EXPECT_FALSE(regex_full_match("ab c", kWord));
    std::smatch m;
    const std::string word = "abc";
    EXPECT_TRUE(regex_full_match(word, m, kWord));
    EXPECT_EQ(m[0].str(), "abc");
}

// The longest value matched must fit the stack of a worker thread (the
// default 8 MB) even in a debug build with AddressSanitizer.
TEST(RegexFullMatch, LongestValueFitsAWorkerThreadStack) {
    static const std::regex kWord("[a-z]+");
    bool at_limit = false, over = true;
    std::thread t([&] {
        at_limit = regex_full_match(std::string(kMaxRegexInput, 'a'), kWord);
        over = regex_full_match(std::string(kMaxRegexInput + 1, 'a'), kWord);
    });
    t.join();
    EXPECT_TRUE(at_limit);
    EXPECT_FALSE(over);
}
