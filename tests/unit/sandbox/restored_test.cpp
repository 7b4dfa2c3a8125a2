#include "lamina/sandbox/restored.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace lamina::sandbox;

namespace {

bool is_zombie(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    return close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z';
}

}  // namespace

// A zygote's grandchild, found from the zygote's pid and the pid it was given
// (here no pid namespace: its own pid), as lamina finds a restored environment.
TEST(RestoredProcess, HostPidOfFindsADescendantByItsNamespacePid) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t zygote = ::fork();
    ASSERT_GE(zygote, 0);
    if (zygote == 0) {
        pid_t child = ::fork();
        if (child == 0) {
            ::pause();
            ::_exit(0);
        }
        (void)!::write(ready[1], &child, sizeof child);
        ::pause();
        ::_exit(0);
    }
    pid_t grandchild = 0;
    ASSERT_EQ(::read(ready[0], &grandchild, sizeof grandchild),
              static_cast<ssize_t>(sizeof grandchild));
    EXPECT_EQ(host_pid_of(::getpid(), grandchild), grandchild);
    EXPECT_EQ(host_pid_of(zygote, grandchild), grandchild);
    EXPECT_EQ(host_pid_of(zygote, zygote), zygote);  // no pid namespace: itself
    EXPECT_EQ(host_pid_of(zygote, 999999999), std::nullopt);
    ::kill(grandchild, SIGKILL);
    ::kill(zygote, SIGKILL);
    int status;
    ::waitpid(zygote, &status, 0);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST(RestoredProcess, ZombieStatusReadsTheExitOfAProcessNotYetReaped) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(7);
    for (int i = 0; i < 200 && !is_zombie(child); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto st = zombie_status(child);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, (ExitStatus{7, 0}));
    int status;
    ::waitpid(child, &status, 0);
    EXPECT_EQ(zombie_status(child), std::nullopt);  // reaped: nothing to read
}

TEST(RestoredProcess, OutputFifoReadsNothingBeforeAWriterAndWhatItWrites) {
    auto dir =
        std::filesystem::temp_directory_path() / ("lamina-fifo-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    int fd = open_output_fifo(dir / "out");
    ASSERT_GE(fd, 0);
    char buf[16];
    EXPECT_EQ(::read(fd, buf, sizeof buf), -1);  // EAGAIN, never end-of-file
    std::ofstream(dir / "out") << "hello";
    EXPECT_EQ(::read(fd, buf, sizeof buf), 5);
    ::close(fd);
    std::filesystem::remove_all(dir);
}
