#include "cli/app.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>

using namespace lamina::cli;

TEST(App, ParseRunAs) {
    EXPECT_EQ(parse_run_as("auto"), lamina::sandbox::kSandboxUser);
    EXPECT_EQ(parse_run_as("1000"), std::make_pair(1000u, 1000u));
    EXPECT_EQ(parse_run_as("1000:100"), std::make_pair(1000u, 100u));
    for (const char* bad : {"", "0", "x", "1000:", ":100", "1000:0", "-1", "12a"})
        EXPECT_FALSE(parse_run_as(bad)) << bad;
}

TEST(App, DefaultStackNameComesFromTheTemplateFolder) {
    EXPECT_EQ(default_stack_name("/src/examples/sam-app/template.yaml"), "sam-app");
    EXPECT_EQ(default_stack_name("/src/my_app.v2/template.yaml"), "myappv2");
    EXPECT_EQ(default_stack_name("/src/2024/template.yaml"), "lamina-2024");
}

TEST(App, RaisesTheSoftOpenFileLimitToTheHardOne) {
    struct rlimit was {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &was), 0);
    struct rlimit low = was;
    low.rlim_cur = std::min<rlim_t>(256, was.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    EXPECT_EQ(raise_open_file_limit(), was.rlim_max);
    struct rlimit now {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
    EXPECT_EQ(now.rlim_cur, was.rlim_max);
    EXPECT_EQ(now.rlim_max, was.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &was), 0);
}
