#include "lamina/sandbox/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "lamina/sandbox/launcher.hpp"

namespace sandbox = lamina::sandbox;
using namespace std::chrono_literals;

namespace {

// Real host processes, watched on an io_context run by one thread.
class Process : public ::testing::Test {
protected:
    void SetUp() override {
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    std::unique_ptr<sandbox::Process> start(std::vector<std::string> argv,
                                            std::promise<sandbox::ExitStatus>& exited,
                                            std::vector<std::string> env = {}) {
        sandbox::SpawnSpec spec;
        spec.argv = std::move(argv);
        spec.env = std::move(env);
        auto p =
            sandbox::spawn(ioc_, spec, [&exited](sandbox::ExitStatus st) { exited.set_value(st); });
        EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
        return p ? std::move(*p) : nullptr;
    }
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(ioc_);
    std::thread thread_;
};

TEST_F(Process, ReportsItsExitAndEverythingItPrinted) {
    std::promise<sandbox::ExitStatus> exited;
    auto p = start({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}, exited);
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), (sandbox::ExitStatus{7, 0}));
    EXPECT_EQ(p->take_output(), "out\nerr\n");
    EXPECT_EQ(p->take_output(), "") << "output is taken once";
}

TEST_F(Process, OutputWrittenBeforeATakeIsInIt) {
    // The child writes, then signals through a file that it has: whatever it
    // wrote before must be in the very next take, with no waiting.
    std::promise<sandbox::ExitStatus> exited;
    std::string flag = ::testing::TempDir() + "lamina-proc-flag-" + std::to_string(::getpid());
    std::remove(flag.c_str());
    auto p = start({"/bin/sh", "-c", "printf 'line before\\n'; : > " + flag + "; sleep 5"}, exited);
    for (int i = 0; i < 500 && ::access(flag.c_str(), F_OK) != 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(p->take_output(), "line before\n");
    p->kill();
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get().signal, SIGKILL);
    std::remove(flag.c_str());
}

TEST_F(Process, ReadsTheStdinGivenElseDevNull) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ASSERT_EQ(::write(fds[1], "order\n", 6), 6);
    ::close(fds[1]);
    sandbox::SpawnSpec spec;
    spec.argv = {"/bin/cat"};
    spec.stdin_fd = fds[0];
    std::promise<sandbox::ExitStatus> exited;
    auto p =
        sandbox::spawn(ioc_, spec, [&exited](sandbox::ExitStatus st) { exited.set_value(st); });
    ::close(fds[0]);
    ASSERT_TRUE(p.has_value());
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ((*p)->take_output(), "order\n");

    std::promise<sandbox::ExitStatus> exited2;
    auto q = start({"/bin/cat"}, exited2);  // no stdin given: /dev/null, at its end at once
    auto f2 = exited2.get_future();
    ASSERT_EQ(f2.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(q->take_output(), "");
}

TEST_F(Process, GetsExactlyTheEnvironmentGiven) {
    std::promise<sandbox::ExitStatus> exited;
    auto p = start({"/usr/bin/env"}, exited, {"ONLY=this"});
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(p->take_output(), "ONLY=this\n");
}

TEST_F(Process, InheritsNoDescriptorOfLamina) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    // descriptors that are not close-on-exec, like Asio's sockets, high enough
    // not to be mistaken for one ls opens itself
    int fds[2] = {::fcntl(pipe_fds[0], F_DUPFD, 200), ::fcntl(pipe_fds[1], F_DUPFD, 200)};
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::promise<sandbox::ExitStatus> exited;
    auto p = start({"/bin/sh", "-c", "ls /proc/self/fd"}, exited);
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    // 0, 1, 2 and the descriptor ls itself opens to read the folder
    std::string out = p->take_output();
    EXPECT_EQ(out.find(std::to_string(fds[0]) + "\n"), std::string::npos) << out;
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_F(Process, DestroyingItKillsTheProcessGroup) {
    std::promise<sandbox::ExitStatus> exited;
    auto p = start({"/bin/sh", "-c", "sleep 30 & sleep 30"}, exited);
    int pid = p->pid();
    ASSERT_GT(pid, 0);
    p.reset();
    EXPECT_NE(::kill(pid, 0), 0) << "killed and reaped with its owner";
    // its children too: killed at once, but reaped by whoever adopted them
    // (init or a subreaper), which can take a moment on a busy machine
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (::kill(-pid, 0) == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_NE(::kill(-pid, 0), 0) << "its children too";
}

TEST_F(Process, AMissingExecutableExitsWith127) {
    std::promise<sandbox::ExitStatus> exited;
    auto p = start({"/nonexistent/binary"}, exited);
    auto f = exited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), (sandbox::ExitStatus{127, 0}));
}

TEST(Launcher, RunToEndReportsTheStatus) {
    sandbox::SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "exit 4"};
    spec.capture_output = false;
    auto r = sandbox::run_to_end(spec);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, 4);
}

TEST(Launcher, PrivateRunIsTheGivenFolderForTheChildOnly) {
    if (::geteuid() != 0) GTEST_SKIP() << "a mount namespace needs root";
    auto dir = std::filesystem::temp_directory_path() /
               ("lamina-private-run-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "marker") << "x";
    sandbox::SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "test -e /run/marker"};
    spec.capture_output = false;
    spec.private_run = dir;
    auto r = sandbox::run_to_end(spec);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, 0);
    // the host's /run is left as it was
    EXPECT_FALSE(std::filesystem::exists("/run/marker"));
    std::filesystem::remove_all(dir);
}

}  // namespace
