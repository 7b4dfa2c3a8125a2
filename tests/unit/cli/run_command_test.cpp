#include "cli/run_command.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>

using namespace lamina::cli;

TEST(RunCommand, ChildEnvironmentAddsTheEndpointAndDefaultsOnlyWhatIsMissing) {
    auto env = child_environment({{"PATH", "/bin"}}, "http://127.0.0.1:5", "us-east-1");
    EXPECT_EQ(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:5");
    EXPECT_EQ(env["LAMINA_ENDPOINT"], "http://127.0.0.1:5");
    EXPECT_EQ(env["AWS_ACCESS_KEY_ID"], "test");
    EXPECT_EQ(env["AWS_SECRET_ACCESS_KEY"], "test");
    EXPECT_EQ(env["AWS_REGION"], "us-east-1");
    EXPECT_EQ(env["AWS_DEFAULT_REGION"], "us-east-1");
    EXPECT_EQ(env["PATH"], "/bin");

    auto kept = child_environment({{"AWS_ACCESS_KEY_ID", "k"},
                                   {"AWS_SECRET_ACCESS_KEY", "s"},
                                   {"AWS_DEFAULT_REGION", "eu-west-1"},
                                   {"AWS_ENDPOINT_URL", "http://elsewhere"}},
                                  "http://127.0.0.1:5", "us-east-1");
    EXPECT_EQ(kept["AWS_ACCESS_KEY_ID"], "k");
    EXPECT_EQ(kept["AWS_SECRET_ACCESS_KEY"], "s");
    EXPECT_EQ(kept["AWS_DEFAULT_REGION"], "eu-west-1");
    EXPECT_FALSE(kept.contains("AWS_REGION"));
    EXPECT_EQ(kept["AWS_ENDPOINT_URL"], "http://127.0.0.1:5");  // always lamina's
}

TEST(RunCommand, ShellStatus) {
    EXPECT_EQ(shell_status(0), 0);
    EXPECT_EQ(shell_status(3 << 8), 3);  // exited with 3
    EXPECT_EQ(shell_status(SIGTERM), 128 + SIGTERM);
    EXPECT_EQ(shell_status(SIGKILL), 128 + SIGKILL);
}
