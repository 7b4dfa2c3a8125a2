// ApplicationLogLevel on a function's JSON log (exec/platform_log): which
// printed lines Lambda keeps.
#include <gtest/gtest.h>

#include "exec/platform_log.hpp"

using namespace lamina;
using namespace lamina::exec;

namespace {

PlatformLog json_log(const char* application_level) {
    control::VersionConfig c;
    c.log_format = "JSON";
    c.application_log_level = application_level;
    return PlatformLog(c);
}

}  // namespace

TEST(ApplicationLogLevel, KeepsLinesAtOrAboveTheLevel) {
    const std::string in =
        "{\"timestamp\":\"t\",\"level\":\"DEBUG\",\"message\":\"d\"}\n"
        "{\"timestamp\":\"t\",\"level\":\"WARN\",\"message\":\"w\"}\n"
        "{\"level\":\"ERROR\",\"nested\":{\"level\":\"DEBUG\"},\"message\":\"e\"}\n"
        "{\"level\":\"CRITICAL\"}\n";
    EXPECT_EQ(json_log("WARN").application(in),
              "{\"timestamp\":\"t\",\"level\":\"WARN\",\"message\":\"w\"}\n"
              "{\"level\":\"ERROR\",\"nested\":{\"level\":\"DEBUG\"},\"message\":\"e\"}\n"
              "{\"level\":\"CRITICAL\"}\n");
    EXPECT_EQ(json_log("FATAL").application(in), "{\"level\":\"CRITICAL\"}\n");
}

TEST(ApplicationLogLevel, LinesWithoutAStringLevelAreInfo) {
    // plain text, invalid JSON, a nested level only, a level that is not a
    // string, an unknown level name: INFO, kept at INFO and dropped at WARN
    const std::string in =
        "plain line\n"
        "{\"level\":\"ERROR\"\n"
        "{\"a\":{\"level\":\"ERROR\"}}\n"
        "{\"level\":5}\n"
        "{\"level\":[\"ERROR\"]}\n"
        "{\"level\":\"LOUD\"}\n"
        "  {\"level\":\"ERROR\"} trailing\n";
    EXPECT_EQ(json_log("INFO").application(in), in);
    EXPECT_EQ(json_log("WARN").application(in), "");
}

TEST(ApplicationLogLevel, TheLastLevelKeyCounts) {
    EXPECT_EQ(json_log("WARN").application("{\"level\":\"ERROR\",\"level\":\"DEBUG\"}\n"), "");
    EXPECT_EQ(json_log("WARN").application("{\"level\":\"DEBUG\",\"level\":\"ERROR\"}\n"),
              "{\"level\":\"DEBUG\",\"level\":\"ERROR\"}\n");
    EXPECT_EQ(json_log("WARN").application("{\"level\":\"ERROR\",\"level\":null}\n"), "");
}

TEST(ApplicationLogLevel, LeadingSpaceAndALastLineWithoutNewline) {
    EXPECT_EQ(json_log("ERROR").application(" \t{\"level\":\"ERROR\"}\n{\"level\":\"INFO\"}"),
              " \t{\"level\":\"ERROR\"}\n");
    EXPECT_EQ(json_log("ERROR").application("{\"level\":\"error\"}"), "{\"level\":\"error\"}");
}

TEST(ApplicationLogLevel, TextFormatKeepsEverything) {
    control::VersionConfig c;
    const std::string in = "{\"level\":\"DEBUG\"}\nx\n";
    EXPECT_EQ(PlatformLog(c).application(in), in);
}

TEST(ApplicationLogLevel, AKeySpelledWithEscapesIsRead) {
    EXPECT_EQ(json_log("WARN").application("{\"lev\\u0065l\":\"DEBUG\"}\n"), "");
    EXPECT_EQ(json_log("WARN").application("{\"lev\\u0065l\":\"ERROR\"}\n"),
              "{\"lev\\u0065l\":\"ERROR\"}\n");
}
