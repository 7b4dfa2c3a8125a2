#include "lamina/sandbox/checkpoint.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace lamina::sandbox;

namespace {

std::size_t find_seq(const std::vector<std::string>& argv, std::vector<std::string> seq) {
    auto it = std::search(argv.begin(), argv.end(), seq.begin(), seq.end());
    return it == argv.end() ? std::string::npos : static_cast<std::size_t>(it - argv.begin());
}

Checkpoint image() {
    Checkpoint c;
    c.dir = "/data/snapshots/ab/images";
    c.root = "/data/snapshots/ab/root";
    c.stdin_pipe = "pipe:[101]";
    c.output_pipe = "pipe:[102]";
    return c;
}

}  // namespace

TEST(Checkpoint, RestoreGivesTheRestoringCriusStdinAndOutputToTheRuntime) {
    auto argv = restore_argv("/usr/sbin/criu", image(), "/data/snapshots/ab/restore.log");
    ASSERT_GE(argv.size(), 2u);
    EXPECT_EQ(argv[0], "/usr/sbin/criu");
    EXPECT_EQ(argv[1], "restore");
    EXPECT_NE(find_seq(argv, {"-D", "/data/snapshots/ab/images"}), std::string::npos);
    EXPECT_NE(find_seq(argv, {"--root", "/data/snapshots/ab/root"}), std::string::npos);
    EXPECT_NE(find_seq(argv, {"--inherit-fd", "fd[0]:pipe:[101]"}), std::string::npos);
    EXPECT_NE(find_seq(argv, {"--inherit-fd", "fd[1]:pipe:[102]"}), std::string::npos);
    // the environment's memory cgroup (criu's own) is kept, not the snapshot's
    EXPECT_NE(std::find(argv.begin(), argv.end(), "--manage-cgroups=ignore"), argv.end());
    // never detached: criu stays the restored runtime's parent, lamina's child
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "-d"), argv.end());
}
