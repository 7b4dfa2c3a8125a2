#include "lamina/sandbox/restored.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace lamina::sandbox {

namespace {

constexpr std::size_t kMaxPendingOutput = 1u << 20;

std::vector<int> children_of(int pid) {
    std::vector<int> out;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "children");
        int child = 0;
        while (in >> child) out.push_back(child);
    }
    return out;
}

// The last field of NSpid: the pid as its own namespace numbers it.
std::optional<int> ns_pid_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("NSpid:", 0) != 0) continue;
        std::istringstream fields(line.substr(6));
        int last = -1, v = 0;
        while (fields >> v) last = v;
        if (last >= 0) return last;
    }
    return std::nullopt;
}

}  // namespace

std::optional<int> host_pid_of(int ancestor, int ns_pid) {
    std::vector<int> to_visit{ancestor};
    for (std::size_t seen = 0; !to_visit.empty() && seen < 4096; ++seen) {
        int pid = to_visit.back();
        to_visit.pop_back();
        if (ns_pid_of(pid) == ns_pid) return pid;
        for (int child : children_of(pid)) to_visit.push_back(child);
    }
    return std::nullopt;
}

std::optional<ExitStatus> zombie_status(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return std::nullopt;
    // after the command's closing parenthesis: state is field 3, exit_code field 52
    auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    std::vector<std::string> f;
    while (fields >> field) f.push_back(field);
    if (f.empty() || f[0] != "Z" || f.size() < 50) return std::nullopt;
    int status = std::atoi(f.back().c_str());
    if (WIFSIGNALED(status)) return ExitStatus{0, WTERMSIG(status)};
    return ExitStatus{WEXITSTATUS(status), 0};
}

int open_output_fifo(const std::filesystem::path& path) {
    ::unlink(path.c_str());
    if (::mkfifo(path.c_str(), 0666) != 0) return -1;
    ::chmod(path.c_str(), 0666);  // whatever the umask: the sandbox's user writes it
    // read and write: lamina is a writer too, so reads never see end-of-file
    // before (or between) the restored process's writes
    return ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

namespace {

class RestoredProcess final : public Process {
public:
    RestoredProcess(boost::asio::io_context& ioc, int pid, int pidfd, int out_fd,
                    ExitHandler on_exit, std::function<void()> reap)
        : state_(std::make_shared<State>(ioc, pid, out_fd, std::move(on_exit), std::move(reap))) {
        state_->watch(pidfd);
    }
    ~RestoredProcess() override { state_->close(); }

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
    struct State : std::enable_shared_from_this<State> {
        State(boost::asio::io_context& ioc, int p, int out, ExitHandler exit_handler,
              std::function<void()> reap_fn)
            : pid(p),
              out_fd(out),
              pipe(ioc),
              exit_watch(ioc),
              on_exit(std::move(exit_handler)),
              reap(std::move(reap_fn)) {}
        const int pid;
        std::mutex mu;
        int out_fd;
        int pidfd = -1;
        std::string output;
        bool exited = false, killed = false;
        boost::asio::posix::stream_descriptor pipe;
        boost::asio::posix::stream_descriptor exit_watch;
        ExitHandler on_exit;
        std::function<void()> reap;

        void watch(int fd) {
            std::lock_guard lk(mu);
            pidfd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // kept for pidfd_send_signal
            exit_watch.assign(fd);
            exit_watch.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                  [self = shared_from_this()](const boost::system::error_code& ec) {
                                      if (!ec) self->on_exit_ready();
                                  });
            if (out_fd < 0) return;
            int dup = ::fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
            if (dup < 0) return;
            pipe.assign(dup);
            wait_output();
        }
        void wait_output() {  // under mu
            pipe.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                                if (ec) return;
                                std::lock_guard lk(self->mu);
                                bool open = self->read_available();
                                if (open && self->out_fd >= 0) self->wait_output();
                            });
        }
        // Reads what is there; false once the FIFO is closed. lamina holds it
        // open for writing too (O_RDWR), so it never reads end-of-file.
        bool read_available() {
            char buf[16384];
            while (out_fd >= 0) {
                ssize_t n = ::read(out_fd, buf, sizeof buf);
                if (n > 0) {
                    if (output.size() < kMaxPendingOutput)
                        output.append(buf, static_cast<std::size_t>(n));
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
                close_pipe();
            }
            return false;
        }
        void close_pipe() {
            if (out_fd < 0) return;
            boost::system::error_code ignored;
            pipe.close(ignored);
            ::close(out_fd);
            out_fd = -1;
        }
        void on_exit_ready() {
            ExitHandler handler;
            std::function<void()> reaper;
            ExitStatus status{0, 0};
            {
                std::lock_guard lk(mu);
                if (exited) return;
                exited = true;
                if (auto z = zombie_status(pid)) status = *z;
                if (killed) status = ExitStatus{0, SIGKILL};
                read_available();
                handler = std::move(on_exit);
                reaper = std::move(reap);
                boost::system::error_code ignored;
                exit_watch.close(ignored);
            }
            if (reaper) reaper();
            if (handler) handler(status);
        }
        void signal_kill() {  // under mu
            if (exited) return;
            killed = true;
            if (pidfd >= 0) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
            ::kill(-pid, SIGKILL);  // what it started (its own process group)
        }
        void kill() {
            std::lock_guard lk(mu);
            signal_kill();
        }
        void close() {
            std::lock_guard lk(mu);
            on_exit = nullptr;
            signal_kill();
            close_pipe();
            boost::system::error_code ignored;
            exit_watch.close(ignored);
            if (pidfd >= 0) ::close(pidfd);
            pidfd = -1;
        }
    };
    std::shared_ptr<State> state_;
};

}  // namespace

Result<std::unique_ptr<Process>> adopt_restored(boost::asio::io_context& ioc, int pid,
                                                int output_fd, ExitHandler on_exit,
                                                std::function<void()> reap) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        if (output_fd >= 0) ::close(output_fd);
        return fail(ErrorCode::Service, "pidfd_open of the restored environment " +
                                            std::to_string(pid) + ": " + std::strerror(errno));
    }
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    return std::unique_ptr<Process>(std::make_unique<RestoredProcess>(
        ioc, pid, pidfd, output_fd, std::move(on_exit), std::move(reap)));
}

}  // namespace lamina::sandbox
