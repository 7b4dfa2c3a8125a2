#include "run_command.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "app.hpp"

extern char** environ;

namespace lamina::cli {

namespace {

std::map<std::string, std::string> current_environment() {
    std::map<std::string, std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string::npos) out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return out;
}

// Blocks `set` in this thread (and the threads it starts) while alive; what
// is still pending at the end (the terminal's Ctrl-C, which the child got
// too) is dropped, so that lamina exits with the child's status.
class BlockedSignals {
public:
    explicit BlockedSignals(const sigset_t& set) : set_(set) {
        ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    ~BlockedSignals() {
        timespec now{0, 0};
        while (::sigtimedwait(&set_, nullptr, &now) > 0) {
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

private:
    sigset_t set_;
    sigset_t old_;
};

// posix_spawnp with the child's signals as a shell leaves them: none blocked, defaults.
int spawn(const std::vector<std::string>& command, const std::map<std::string, std::string>& env,
          pid_t& pid) {
    std::vector<char*> argv;
    argv.reserve(command.size() + 1);
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_lines;
    env_lines.reserve(env.size());
    for (const auto& [k, v] : env) env_lines.push_back(k + "=" + v);
    std::vector<char*> envp;
    envp.reserve(env_lines.size() + 1);
    for (auto& l : env_lines) envp.push_back(l.data());
    envp.push_back(nullptr);
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    ::sigemptyset(&none);
    ::sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT})
        ::sigaddset(&defaults, sig);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &defaults);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    // posix_spawnp looks COMMAND up in the PATH lamina was given
    int rc = ::posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
    ::posix_spawnattr_destroy(&attr);
    return rc;
}

// Waits for `pid`; SIGINT and SIGTERM sent to lamina go on to it. A signal
// from the terminal (SI_KERNEL) reached the whole foreground group, the child too.
int wait_forwarding(pid_t pid, const sigset_t& set) {
    while (true) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return 0;
        siginfo_t info{};
        timespec tick{0, 200'000'000};  // SIGCHLD may have been another child's
        int sig = ::sigtimedwait(&set, &info, &tick);
        if ((sig == SIGINT || sig == SIGTERM) && info.si_code != SI_KERNEL) ::kill(pid, sig);
    }
}

}  // namespace

std::map<std::string, std::string> child_environment(std::map<std::string, std::string> env,
                                                     const std::string& endpoint,
                                                     const std::string& region) {
    auto set = [&env](const char* name) {
        auto it = env.find(name);
        return it != env.end() && !it->second.empty();
    };
    env["AWS_ENDPOINT_URL"] = endpoint;
    env["LAMINA_ENDPOINT"] = endpoint;
    if (!set("AWS_ACCESS_KEY_ID") && !set("AWS_SECRET_ACCESS_KEY")) {
        env["AWS_ACCESS_KEY_ID"] = "test";
        env["AWS_SECRET_ACCESS_KEY"] = "test";
    }
    if (!set("AWS_REGION") && !set("AWS_DEFAULT_REGION")) {
        env["AWS_REGION"] = region;
        env["AWS_DEFAULT_REGION"] = region;
    }
    return env;
}

int shell_status(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 1;
}

int run_command(const Config& config, const std::vector<std::string>& command) {
    // blocked before the App starts its threads, so that they all leave
    // these signals to this thread's sigtimedwait
    sigset_t set;
    ::sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD}) ::sigaddset(&set, sig);
    BlockedSignals blocked(set);
    int exit_code = 0;
    try {
        App app(config);
        if (int rc = app.start_background(); rc != 0) return rc;  // the deploy said why
        std::string host =
            config.host == "0.0.0.0" || config.host == "::" ? "127.0.0.1" : config.host;
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        std::string endpoint = "http://" + host + ":" + std::to_string(app.port());
        pid_t pid = 0;
        int rc =
            spawn(command, child_environment(current_environment(), endpoint, config.region), pid);
        if (rc != 0) {
            std::cerr << "lamina: " << command[0] << ": "
                      << (rc == ENOENT ? "command not found" : std::strerror(rc)) << "\n";
            exit_code = rc == ENOENT ? 127 : 126;
        } else {
            exit_code = shell_status(wait_forwarding(pid, set));
        }
        app.shutdown();  // every environment, then the temporary data directory with the App
    } catch (const StartupError& e) {
        std::cerr << "lamina: " << e.what() << "\n";
        return e.exit_code();
    }
    return exit_code;
}

}  // namespace lamina::cli
