#include "lamina/sandbox/process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

namespace lamina::sandbox {

namespace {

// What one environment keeps of its output between two takes (the rest is
// dropped, as a runaway printer must not exhaust lamina's memory).
constexpr std::size_t kMaxPendingOutput = 1u << 20;

ExitStatus decode(int status) {
    if (WIFSIGNALED(status)) return {0, WTERMSIG(status)};
    return {WEXITSTATUS(status), 0};
}

// The child's side of spawn(): only async-signal-safe calls until exec.
[[noreturn]] void exec_child(const std::vector<std::string>& cgroup_procs, int max_open_files,
                             int in_fd, int out_fd, const char* working_dir, const char* run,
                             char* const* argv, char* const* envp) {
    for (const auto& procs : cgroup_procs) {  // join the environment's cgroups before anything runs
        int cg = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (cg >= 0) {
            (void)!::write(cg, "0", 1);
            ::close(cg);
        }
    }
    // its own /run: bound here rather than by unshare(1) and mount(8), whose
    // starts cost a restore some 3 ms (more on a busy host)
    if (run && ::unshare(CLONE_NEWNS) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
        (void)::mount(run, "/run", nullptr, MS_BIND, nullptr);
    struct rlimit files {
        static_cast<rlim_t>(max_open_files), static_cast<rlim_t>(max_open_files)
    };
    ::setrlimit(RLIMIT_NOFILE, &files);
    ::setpgid(0, 0);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        ::_exit(125);  // nothing it runs gains privileges
    int devnull = ::open("/dev/null", O_RDWR);
    if (in_fd >= 0)
        ::dup2(in_fd, 0);
    else if (devnull >= 0)
        ::dup2(devnull, 0);
    int out = out_fd >= 0 ? out_fd : devnull;
    ::dup2(out, 1);
    ::dup2(out, 2);
    // Nothing else of lamina's crosses: not every descriptor it holds is
    // close-on-exec (Asio's sockets are not), and a function must never
    // reach a client's connection or another environment's Runtime API.
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir(working_dir) != 0) ::_exit(126);
    ::execve(argv[0], argv, envp);
    ::_exit(127);
}

// Forks the child; the parent gets its pid (or -1 with errno set).
pid_t fork_exec(const SpawnSpec& spec, int out_write_end) {
    // Everything the child needs is prepared before fork.
    std::vector<std::string> argv_copy = spec.argv, env_copy = spec.env;
    std::vector<char*> args, envp;
    for (auto& a : argv_copy) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string dir = spec.working_dir.string(), run = spec.private_run.string();
    pid_t pid = ::fork();
    if (pid == 0)
        exec_child(spec.cgroup_procs, spec.max_open_files, spec.stdin_fd, out_write_end,
                   dir.c_str(), run.empty() ? nullptr : run.c_str(), args.data(), envp.data());
    return pid;
}

class HostProcess final : public Process {
public:
    HostProcess(boost::asio::io_context& ioc, pid_t pid, int pidfd, int out_fd, ExitHandler on_exit)
        : state_(std::make_shared<State>(ioc, pid, out_fd, std::move(on_exit))) {
        state_->watch(pidfd);
    }
    ~HostProcess() override { state_->close(); }

    int pid() const override { return state_->pid; }
    void kill() override { state_->kill(); }
    std::string take_output() override {
        std::lock_guard lk(state_->mu);
        state_->read_available();
        return std::exchange(state_->output, {});
    }
    long peak_rss_mb() const override {
        std::ifstream in("/proc/" + std::to_string(state_->pid) + "/status");
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("VmHWM:", 0) == 0)
                return std::max(1L, std::atol(line.c_str() + 6) / 1024);
        return 1;
    }

private:
    // Shared with the pending waits: they may complete after the Process is
    // gone. One mutex guards everything, the Asio descriptors included (they
    // are touched from the io_context and from the owner's threads).
    struct State : std::enable_shared_from_this<State> {
        State(boost::asio::io_context& ioc, pid_t p, int out, ExitHandler exit_handler)
            : pid(p), out_fd(out), pipe(ioc), exit_watch(ioc), on_exit(std::move(exit_handler)) {}

        const pid_t pid;
        std::mutex mu;
        int out_fd;  // the read end of the output pipe (non-blocking), -1 once closed
        std::string output;
        bool reaped = false;
        boost::asio::posix::stream_descriptor pipe;        // readiness of out_fd (a duplicate)
        boost::asio::posix::stream_descriptor exit_watch;  // the pidfd
        ExitHandler on_exit;

        void watch(int pidfd) {
            std::lock_guard lk(mu);
            exit_watch.assign(pidfd);
            wait_exit();
            if (out_fd < 0) return;
            int dup = ::fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
            if (dup < 0) return;  // output is then read only when taken
            pipe.assign(dup);
            wait_output();
        }
        void wait_output() {  // under mu
            pipe.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                                if (ec) return;
                                std::lock_guard lk(self->mu);
                                self->read_available();
                                if (self->out_fd >= 0) self->wait_output();
                            });
        }
        void wait_exit() {  // under mu
            exit_watch.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                  [self = shared_from_this()](const boost::system::error_code& ec) {
                                      if (!ec) self->on_exit_ready();
                                  });
        }
        // Reads what is in the pipe now (under mu): bytes are always either
        // still in the pipe or in `output`.
        void read_available() {
            char buf[16384];
            while (out_fd >= 0) {
                ssize_t n = ::read(out_fd, buf, sizeof buf);
                if (n > 0) {
                    if (output.size() < kMaxPendingOutput)
                        output.append(buf, static_cast<std::size_t>(n));
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
                close_pipe();  // end of file (or an error): the writers are gone
            }
        }
        void close_pipe() {  // under mu
            if (out_fd < 0) return;
            boost::system::error_code ignored;
            pipe.close(ignored);
            ::close(out_fd);
            out_fd = -1;
        }
        void on_exit_ready() {
            int status = 0;
            ExitHandler handler;
            {
                std::lock_guard lk(mu);
                if (reaped) return;
                pid_t r;
                do r = ::waitpid(pid, &status, WNOHANG);
                while (r < 0 && errno == EINTR);
                if (r == 0) {  // not yet: wait again
                    wait_exit();
                    return;
                }
                reaped = true;
                // its last words: what it wrote is in the pipe by now (a stray
                // child may still hold the pipe: only what is there is read)
                read_available();
                handler = std::move(on_exit);
                boost::system::error_code ignored;
                exit_watch.close(ignored);
            }
            if (handler) handler(decode(status));
        }
        void kill() {
            std::lock_guard lk(mu);
            if (reaped) return;
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
        }
        // The owner is gone: nothing more is reported, and the process does
        // not outlive it (killed and reaped here).
        void close() {
            bool reap = false;
            {
                std::lock_guard lk(mu);
                on_exit = nullptr;
                close_pipe();
                boost::system::error_code ignored;
                exit_watch.close(ignored);
                if (!reaped) {
                    ::kill(-pid, SIGKILL);
                    ::kill(pid, SIGKILL);
                    reaped = reap = true;
                }
            }
            int status;
            if (reap)
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
        }
    };
    std::shared_ptr<State> state_;
};

}  // namespace

Result<std::unique_ptr<Process>> spawn(boost::asio::io_context& ioc, const SpawnSpec& spec,
                                       ExitHandler on_exit) {
    if (spec.argv.empty()) return fail(ErrorCode::Service, "spawn: no command");
    int pipefd[2] = {-1, -1};
    if (spec.capture_output && ::pipe2(pipefd, O_CLOEXEC) != 0)
        return fail(ErrorCode::Service, std::string("pipe failed: ") + std::strerror(errno));
    pid_t pid = fork_exec(spec, pipefd[1]);
    int fork_errno = errno;
    if (pipefd[1] >= 0) ::close(pipefd[1]);
    if (pid < 0) {
        if (pipefd[0] >= 0) ::close(pipefd[0]);
        return fail(ErrorCode::Service,
                    "cannot start " + spec.argv[0] + ": " + std::strerror(fork_errno));
    }
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        int err = errno;
        ::kill(pid, SIGKILL);
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (pipefd[0] >= 0) ::close(pipefd[0]);
        return fail(ErrorCode::Service,
                    std::string("pidfd_open failed (lamina needs Linux 5.3 or later): ") +
                        std::strerror(err));
    }
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    if (pipefd[0] >= 0) ::fcntl(pipefd[0], F_SETFL, ::fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
    return std::unique_ptr<Process>(
        std::make_unique<HostProcess>(ioc, pid, pidfd, pipefd[0], std::move(on_exit)));
}

Result<ExitStatus> run_to_end(const SpawnSpec& spec) {
    if (spec.argv.empty()) return fail(ErrorCode::Service, "spawn: no command");
    pid_t pid = fork_exec(spec, -1);
    if (pid < 0)
        return fail(ErrorCode::Service,
                    "cannot start " + spec.argv[0] + ": " + std::strerror(errno));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return fail(ErrorCode::Service, std::string("waitpid: ") + std::strerror(errno));
    return decode(status);
}

}  // namespace lamina::sandbox
