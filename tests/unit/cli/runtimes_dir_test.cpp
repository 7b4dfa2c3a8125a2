#include "cli/runtimes_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using lamina::cli::resolve_runtimes_dir;

TEST(RuntimesDir, GivenDirectoryWins) {
    auto r = resolve_runtimes_dir("/somewhere/runtimes");
    EXPECT_EQ(r.path, "/somewhere/runtimes");
    EXPECT_EQ(r.source, "--runtimes-dir");
}

TEST(RuntimesDir, DefaultIsInstalledLayoutOrSourceTree) {
    auto r = resolve_runtimes_dir({});
    ASSERT_TRUE(r.source == "installed" || r.source == "source tree") << r.source;
    EXPECT_TRUE(r.path.is_absolute()) << r.path;
    if (r.source == "installed") {
        EXPECT_TRUE(std::filesystem::is_directory(r.path)) << r.path;
    }
}
