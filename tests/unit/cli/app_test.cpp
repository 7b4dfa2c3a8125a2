#include "cli/app.hpp"

#include <gtest/gtest.h>

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
