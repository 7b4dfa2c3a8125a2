#include "lamina/exec/invoker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <thread>

#include "lamina/common/log.hpp"
#include "lamina/runtime/runtime_api.hpp"

extern char** environ;

namespace lamina::exec {

namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {

std::string find_executable(const std::vector<std::string>& candidates) {
    for (const auto& c : candidates)
        if (::access(c.c_str(), X_OK) == 0) return c;
    return {};
}

std::string format_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ms);
    return buf;
}

std::string error_json(const std::string& type, const std::string& message) {
    return "{\"errorType\":\"" + type + "\",\"errorMessage\":\"" + message + "\"}";
}

// An interpreter installed outside the system dirs the sandbox binds (a
// pyenv or nvm install): its prefix, the parent of its bin/, to bind read-only.
std::optional<fs::path> install_prefix(const std::string& interpreter) {
    std::error_code ec;
    fs::path real = fs::canonical(interpreter, ec);
    if (ec) return std::nullopt;
    for (const char* system : {"/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"})
        if (real.string().rfind(system, 0) == 0) return std::nullopt;
    fs::path prefix = real.parent_path().parent_path();
    if (prefix.empty() || prefix == prefix.root_path()) return std::nullopt;
    return prefix;
}

// The external extensions of an /opt view: executable files in
// /opt/extensions, by name (AWS starts each of them before the runtime).
std::vector<std::string> list_extensions(const fs::path& opt_dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(opt_dir / "extensions", ec)) {
        struct stat st {};
        if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
            names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// The sandbox's /etc/passwd and /etc/group: the host's, plus AWS's sandbox
// user, so that `id` and getpwuid() name it inside.
void write_identity_files(const fs::path& dir, std::pair<unsigned, unsigned> user) {
    auto extend = [&](const char* host, const std::string& id_field, const std::string& line, const char* name) {
        std::ifstream in(host);
        std::string out, l;
        bool present = false;
        while (std::getline(in, l)) {
            auto first = l.find(':'), second = l.find(':', first + 1), third = l.find(':', second + 1);
            if (third != std::string::npos && l.substr(second + 1, third - second - 1) == id_field) present = true;
            out += l + "\n";
        }
        if (!present) out += line + "\n";
        std::ofstream(dir / name, std::ios::trunc) << out;
    };
    std::string uid = std::to_string(user.first), gid = std::to_string(user.second);
    extend("/etc/passwd", uid, "sbx_user1051:x:" + uid + ":" + gid + "::/home/sbx_user1051:/sbin/nologin", "passwd");
    extend("/etc/group", gid, "sbx_user1051:x:" + gid + ":", "group");
}

long max_memory_mb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::max(1L, std::atol(line.c_str() + 6) / 1024);
    return 1;
}

}  // namespace

bool bubblewrap_works(const fs::path& bwrap, const std::optional<std::pair<unsigned, unsigned>>& run_as) {
    if (::access(bwrap.c_str(), X_OK) != 0) return false;
    sandbox::LaunchSpec spec;
    spec.code_dir = spec.opt_dir = spec.runtime_dir = "/usr/share";
    spec.tmp_size_mb = 1;
    spec.run_as = run_as;
    spec.command = {"/usr/bin/true"};
    auto argv = sandbox::launcher_argv(sandbox::Backend::Bubblewrap, spec, bwrap);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    char* envp[] = {nullptr};
    pid_t pid = ::fork();
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        ::execve(args[0], args.data(), envp);
        ::_exit(127);
    }
    if (pid < 0) return false;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void Invoker::set_endpoint_url(std::string url) {
    std::lock_guard lk(mu_);
    settings_.endpoint_url = std::move(url);
}

std::map<std::string, std::string> default_interpreters(const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> out;
    for (const char* v : {"3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}) {
        std::string exact = find_executable({std::string("/usr/bin/python") + v, std::string("/usr/local/bin/python") + v});
        std::string any = find_executable({"/usr/bin/python3", "/usr/local/bin/python3"});
        std::string chosen = exact.empty() ? any : exact;
        if (!chosen.empty()) out[std::string("python") + v] = chosen;
    }
    std::string node = find_executable({"/usr/bin/node", "/usr/local/bin/node"});
    if (!node.empty())
        for (const char* v : {"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"}) out[v] = node;
    for (const auto& [k, v] : overrides) out[k] = v;
    return out;
}

// One provisioned concurrency config's environments.
struct Invoker::Provisioned {
    control::Scope scope;
    std::string function, qualifier;
    control::VersionConfig config;
    int requested = 0;
    std::uint64_t generation = 0;  // bumped when the config changes: older environments are let go
    std::vector<EnvPtr> envs;      // alive: initialising or ready
    std::deque<EnvPtr> idle;       // ready and free
    int starting = 0;              // starts scheduled, not yet in envs
    bool failed = false;
    std::string reason;
};

struct Invoker::Environment : std::enable_shared_from_this<Environment> {
    std::string key;
    std::string version;
    std::string log_stream;
    fs::path log_file;  // this environment's log stream on disk
    std::string cgroup;  // its memory cgroup's name, when limits apply
    int memory_mb = 128;
    std::unique_ptr<runtime::RuntimeApi> api;
    pid_t pid = -1;
    std::int64_t started_ms = 0;
    std::mutex mu;
    std::string output;      // what the process printed since the last take
    bool dead = false;
    int exit_status = 0;
    bool ready = false;
    Clk::time_point spawned_at, ready_at;
    std::optional<runtime::Outcome> init_error;
    std::function<void(const std::string& reason)> on_exit;  // set while an invocation runs
    std::function<void()> ready_hook;                         // set by a cold invocation
    std::shared_ptr<boost::asio::steady_timer> idle_timer;
    std::shared_ptr<boost::asio::steady_timer> shutdown_timer;  // SHUTDOWN sent to extensions
    std::shared_ptr<boost::asio::steady_timer> settle_timer;    // extensions still hold an invocation
    std::shared_ptr<Slot> slot;  // the running invocation's concurrency, released when the environment is free
    std::weak_ptr<Provisioned> pc;      // set when a provisioned concurrency config keeps it
    std::uint64_t pc_generation = 0;
    std::function<void()> on_gone;      // called once the process has exited
    void release_slot() {
        std::shared_ptr<Slot> s;
        {
            std::lock_guard lk(mu);
            s = std::move(slot);
        }
    }

    int out_fd = -1;                     // read end of stdout/stderr, while open
    bool reader_done = false;            // the pipe reached end of file
    bool exit_handled = false;           // the process's exit was reported
    std::condition_variable cv;
    std::atomic<bool> reader_busy{false};  // the reader holds bytes not yet appended

    int log_fd = -1;  // the log stream file, opened once (O_APPEND)

    ~Environment() {
        if (log_fd >= 0) ::close(log_fd);
    }
    std::mutex log_mu;  // guards log_fd
    void append_log(const std::string& text) {
        std::lock_guard lk(log_mu);
        for (std::size_t done = 0; log_fd >= 0 && done < text.size();) {
            ssize_t n = ::write(log_fd, text.data() + done, text.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
    }
    // After the process is gone and its last words are written: no fd is
    // kept for an environment that will never log again.
    void close_log() {
        std::lock_guard lk(log_mu);
        if (log_fd >= 0) ::close(log_fd);
        log_fd = -1;
    }

    std::string take_output() {
        std::lock_guard lk(mu);
        return std::exchange(output, {});
    }
    // Waits (briefly) until what the process wrote before it answered is in
    // `output`: a print just before the response must be in this invoke's log.
    void drain_output() {
        for (int i = 0; i < 400; ++i) {
            int pending = 0;
            {
                std::lock_guard lk(mu);
                if (out_fd < 0 || ::ioctl(out_fd, FIONREAD, &pending) != 0) pending = 0;
            }
            if (pending == 0 && !reader_busy.load()) return;
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    void kill() {
        if (pid > 0) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
        }
    }
};

long Invoker::peak_mb(const Environment& env) const {
    if (settings_.memory && !env.cgroup.empty()) {
        std::int64_t bytes = settings_.memory->peak_bytes(env.cgroup);
        if (bytes > 0) return static_cast<long>((bytes + (1 << 20) - 1) >> 20);
    }
    return max_memory_mb(env.pid);
}

Invoker::Invoker(boost::asio::io_context& ioc, ExecSettings settings, store::LayerCache& cache, Clock& clock,
                 IdSource& ids, ConcurrencyController* concurrency)
    : ioc_(ioc), settings_(std::move(settings)), cache_(cache), clock_(clock), ids_(ids), concurrency_(concurrency) {
    if (settings_.run_as && !settings_.work_dir.empty()) write_identity_files(settings_.work_dir, *settings_.run_as);
}

Invoker::~Invoker() { shutdown(); }

std::string Invoker::pool_key(const InvokeRequest& r) const {
    return r.scope.account + "/" + r.scope.region + "/" + r.function_name + "/" + r.config.version + "/" +
           r.config.code_sha256 + "/" + std::to_string(r.config.last_modified_ms);
}

std::size_t Invoker::environment_count() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& e : all_)
        if (!e->dead) ++n;
    return n;
}

Result<Invoker::EnvPtr> Invoker::start_environment(const InvokeRequest& req, const std::string& key,
                                                   const std::string& init_type) {
    const auto& c = req.config;
    LAMINA_TRY(code_dir, cache_.ensure_extracted(c.code_blob));
    std::vector<std::string> layer_blobs;
    for (const auto& l : c.layers) layer_blobs.push_back(l.blob);
    LAMINA_TRY(opt_dir, cache_.assemble(layer_blobs));

    auto env = std::make_shared<Environment>();
    env->key = key;
    env->version = c.version;
    env->memory_mb = c.memory_size;
    std::int64_t now = clock_.now_ms();
    {
        std::string date = format_iso8601(now).substr(0, 10);
        for (auto& ch : date)
            if (ch == '-') ch = '/';
        env->log_stream = date + "/[" + c.version + "]" + ids_.hex(32);
    }
    if (!settings_.logs_dir.empty()) {
        // one file per stream, under its log group: /aws/lambda/<name>
        std::string group = c.log_group.empty() ? "/aws/lambda/" + req.function_name : c.log_group;
        std::string stream = env->log_stream;
        for (auto& ch : stream)
            if (ch == '/') ch = '-';
        fs::path dir = settings_.logs_dir / req.scope.account / req.scope.region / fs::path(group).relative_path();
        std::error_code mkdir_ec;
        fs::create_directories(dir, mkdir_ec);
        env->log_file = dir / (stream + ".log");
        env->log_fd = ::open(env->log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    env->api = std::make_unique<runtime::RuntimeApi>(ioc_);

    sandbox::LaunchSpec spec;
    spec.code_dir = code_dir;
    spec.opt_dir = opt_dir;
    spec.runtime_dir = settings_.runtimes_dir;
    spec.tmp_dir = settings_.work_dir / ("env-" + ids_.hex(12));
    spec.tmp_size_mb = c.ephemeral_storage;
    std::error_code ec;
    fs::create_directories(spec.tmp_dir, ec);
    auto paths = sandbox::paths_for(settings_.backend, spec);

    const std::string& rt = c.runtime;
    bool python = rt.rfind("python", 0) == 0, node = rt.rfind("nodejs", 0) == 0;
    bool provided = rt.rfind("provided", 0) == 0;
    if (python) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented, "lamina has no interpreter for " + rt +
                                                       ": start it with --runtime " + rt + "=/path/to/python3");
        spec.command = {it->second, "-S", "-u", paths.runtime_dir + "/python/bootstrap.py", "--opt", paths.opt};
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
    } else if (node) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented, "lamina has no Node.js for " + rt + ": start it with --runtime " + rt +
                                                       "=/path/to/node");
        spec.command = {it->second, paths.runtime_dir + "/node/bootstrap.js"};
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
    } else if (provided) {
        if (fs::exists(code_dir / "bootstrap"))
            spec.command = {paths.task_root + "/bootstrap"};
        else if (fs::exists(opt_dir / "bootstrap"))
            spec.command = {paths.opt + "/bootstrap"};
        else
            return fail(ErrorCode::InvalidRequestContent, "Runtime.InvalidEntrypoint");
    } else {
        return fail(ErrorCode::NotImplemented,
                    "lamina does not run " + rt + " functions yet (Python, Node.js and provided runtimes only).");
    }

    if (auto extensions = list_extensions(opt_dir); !extensions.empty()) {
        // extensions start first, then the launcher becomes the runtime
        spec.command.insert(spec.command.begin(), {"/bin/bash", paths.runtime_dir + "/extensions/launch.sh", paths.opt});
        env->api->expect_extensions(std::move(extensions),
                                    {req.function_name, c.version, c.handler, req.scope.account});
    }

    auto& e = spec.env;
    e["AWS_LAMBDA_FUNCTION_NAME"] = req.function_name;
    e["AWS_LAMBDA_FUNCTION_VERSION"] = c.version;
    e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(c.memory_size);
    e["AWS_LAMBDA_LOG_GROUP_NAME"] = c.log_group.empty() ? "/aws/lambda/" + req.function_name : c.log_group;
    e["AWS_LAMBDA_LOG_STREAM_NAME"] = env->log_stream;
    e["AWS_LAMBDA_RUNTIME_API"] = env->api->address();
    e["AWS_LAMBDA_INITIALIZATION_TYPE"] = init_type;
    e["LAMBDA_TASK_ROOT"] = paths.task_root;
    e["LAMBDA_RUNTIME_DIR"] = paths.runtime_dir;
    e["_HANDLER"] = c.handler;
    e["AWS_REGION"] = req.scope.region;
    e["AWS_DEFAULT_REGION"] = req.scope.region;
    if (!provided) e["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + rt;
    e["TZ"] = ":UTC";
    e["LANG"] = "en_US.UTF-8";
    e["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:" + paths.opt + "/bin";
    e["LD_LIBRARY_PATH"] = "/var/lang/lib:/lib64:/usr/lib64:" + paths.runtime_dir + ":" + paths.runtime_dir +
                           "/lib:" + paths.task_root + ":" + paths.task_root + "/lib:" + paths.opt + "/lib";
    if (python) e["PYTHONPATH"] = paths.runtime_dir;
    if (node) {
        std::string major = rt.substr(6, rt.find('.') - 6);  // nodejs20.x -> 20
        e["NODE_PATH"] = paths.opt + "/nodejs/node" + major + "/node_modules:" + paths.opt + "/nodejs/node_modules:" +
                         paths.runtime_dir + "/node_modules:" + paths.runtime_dir + ":" + paths.task_root;
    }
    // Credentials name the function's account: SDK calls made inside reach lamina in that account.
    e["AWS_ACCESS_KEY_ID"] = req.scope.account;
    e["AWS_SECRET_ACCESS_KEY"] = "lamina";
    if (auto keys = settings_.account_keys.find(req.scope.account); keys != settings_.account_keys.end()) {
        e["AWS_ACCESS_KEY_ID"] = keys->second.first;  // lamina verifies signatures: a real key of the account
        e["AWS_SECRET_ACCESS_KEY"] = keys->second.second;
    }
    e["AWS_SESSION_TOKEN"] = "lamina";
    e["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR";
    if (!settings_.endpoint_url.empty()) e["AWS_ENDPOINT_URL"] = settings_.endpoint_url;
    if (settings_.backend == sandbox::Backend::Process) e["TMPDIR"] = paths.tmp;
    if (c.environment)
        for (const auto& [k, v] : *c.environment) e[k] = v;

    if (settings_.backend == sandbox::Backend::Bubblewrap && settings_.run_as) {
        spec.run_as = settings_.run_as;
        for (const char* name : {"passwd", "group"})
            if (fs::exists(settings_.work_dir / name)) spec.etc_files[std::string("/etc/") + name] = settings_.work_dir / name;
    }
    auto argv = sandbox::launcher_argv(settings_.backend, spec, settings_.bwrap);
    std::vector<std::string> cgroup_procs;
    if (settings_.memory) {
        env->cgroup = "env-" + ids_.hex(12);
        auto procs = settings_.memory->create(env->cgroup, static_cast<std::int64_t>(c.memory_size) * 1024 * 1024);
        if (procs) cgroup_procs = *procs;
        else env->cgroup.clear();
    }
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail(ErrorCode::Service, "pipe failed");
    // Everything the child needs is prepared before fork: between fork and
    // exec it only makes async-signal-safe calls.
    std::vector<std::string> env_strings;
    if (settings_.backend == sandbox::Backend::Process)
        for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string chdir_to = settings_.backend == sandbox::Backend::Process ? spec.code_dir.string() : std::string("/");
    pid_t pid = ::fork();
    if (pid == 0) {
        for (const auto& procs : cgroup_procs) {  // join the environment's cgroups before anything runs
            int cg = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
            if (cg >= 0) {
                (void)!::write(cg, "0", 1);
                ::close(cg);
            }
        }
        // AWS's limit on open files per environment
        struct rlimit files {1024, 1024};
        ::setrlimit(RLIMIT_NOFILE, &files);
        ::setpgid(0, 0);
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(125);  // nothing it runs gains privileges
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::dup2(pipefd[1], 1);
        ::dup2(pipefd[1], 2);
        // Nothing else of lamina's crosses: not every descriptor it holds is
        // close-on-exec (Asio's sockets are not), and a function must never
        // reach a client's connection or another environment's Runtime API.
        if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
            for (int fd = 3; fd < 65536; ++fd) ::close(fd);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::chdir(chdir_to.c_str()) != 0) ::_exit(126);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    if (pid < 0) {
        ::close(pipefd[0]);
        return fail(ErrorCode::Service, std::string("cannot start ") + argv[0] + ": " + std::strerror(errno));
    }
    env->pid = pid;
    env->started_ms = now;
    env->spawned_at = Clk::now();
    std::weak_ptr<Environment> weak = env;
    env->api->on_ready([weak] {
        if (auto e = weak.lock()) {
            std::function<void()> hook;
            {
                std::lock_guard lk(e->mu);
                e->ready = true;
                e->ready_at = Clk::now();
                hook = std::move(e->ready_hook);
            }
            if (hook) hook();
        }
    });
    env->api->on_init_error([weak](runtime::Outcome o) {
        if (auto e = weak.lock()) {
            // a runtime exits after /init/error by itself; a failed extension
            // leaves the runtime waiting, so the environment is ended here
            bool extension = o.error_type.rfind("Extension.", 0) == 0;
            {
                std::lock_guard lk(e->mu);
                e->init_error = std::move(o);
            }
            if (extension) e->kill();
        }
    });
    // Output reader and exit waiter own the environment until the process is gone.
    env->out_fd = pipefd[0];
    std::thread([env, fd = pipefd[0]] {
        char buf[8192];
        // poll, then mark busy, then read: bytes are always either still in
        // the pipe or flagged as in hand (see drain_output)
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, -1) < 0 && errno == EINTR) continue;
            env->reader_busy = true;
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) {
                env->reader_busy = false;
                if (n < 0 && errno == EINTR) continue;
                break;
            }
            {
                std::lock_guard lk(env->mu);
                if (env->output.size() < (1u << 20)) env->output.append(buf, static_cast<std::size_t>(n));
            }
            env->reader_busy = false;
        }
        std::string rest;
        bool last = false;  // the waiter is done too: nothing will log again
        {
            std::lock_guard lk(env->mu);
            env->out_fd = -1;
            env->reader_done = true;
            last = env->exit_handled;
            if (last) rest = std::exchange(env->output, {});
        }
        env->cv.notify_all();
        ::close(fd);
        // what the environment printed after its last invocation (an
        // extension handling SHUTDOWN, say) still belongs in its log stream
        env->append_log(rest);
        if (last) env->close_log();
    }).detach();
    std::thread([env, memory = settings_.memory] {
        int status = 0;
        ::waitpid(env->pid, &status, 0);
        std::function<void(const std::string&)> on_exit;
        {
            std::unique_lock lk(env->mu);
            // its last words first (the pipe closes with the process, unless
            // a stray child of the process backend still holds it)
            env->cv.wait_for(lk, std::chrono::milliseconds(100), [&] { return env->reader_done; });
            env->dead = true;
            env->exit_status = status;
            on_exit = std::move(env->on_exit);
        }
        std::string reason = WIFSIGNALED(status) ? "signal: " + std::string(WTERMSIG(status) == SIGKILL ? "killed" : strsignal(WTERMSIG(status)))
                                                 : "exit status " + std::to_string(WEXITSTATUS(status));
        if (memory && !env->cgroup.empty() && memory->oom_killed(env->cgroup)) reason = "out of memory";
        if (on_exit) on_exit(reason);
        std::function<void()> gone;
        {
            std::lock_guard lk(env->mu);
            gone = std::move(env->on_gone);
        }
        if (gone) gone();
        std::string rest;
        bool last = false;  // the reader is done too: nothing will log again
        {
            std::lock_guard lk(env->mu);
            env->exit_handled = true;
            last = env->reader_done;
            rest = std::exchange(env->output, {});
        }
        env->append_log(rest);
        if (last) env->close_log();
        env->api->stop();
        if (memory && !env->cgroup.empty()) {
            for (int i = 0; i < 50 && std::filesystem::exists(memory->root() / env->cgroup); ++i) {
                memory->remove(env->cgroup);
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
    }).detach();
    logger("exec")->debug("exec.env_start function={} version={} pid={} backend={}", req.function_name, c.version,
                          pid, sandbox::to_string(settings_.backend));
    return env;
}

void Invoker::invoke(InvokeRequest req, std::function<void(InvokeResult)> done) {
    if (metrics_) {
        metrics::InvocationTarget target{req.scope, req.function_name, req.qualifier, req.config.version};
        done = [this, target, done = std::move(done)](InvokeResult r) {
            if (r.throttle) {
                metrics::record_lambda(metrics_, target, "Throttles", 1, "Count");
            } else {
                metrics::record_lambda(metrics_, target, "Invocations", 1, "Count");
                metrics::record_lambda(metrics_, target, "Errors", r.function_error ? 1 : 0, "Count");
                metrics::record_lambda(metrics_, target, "Duration", r.duration_ms, "Milliseconds");
            }
            done(std::move(r));
        };
    }
    admit(std::move(req), std::move(done));
}

void Invoker::admit(InvokeRequest req, std::function<void(InvokeResult)> done) {
    std::string key = pool_key(req);
    EnvPtr env;
    SlotPtr slot;
    metrics::InvocationTarget target{req.scope, req.function_name, req.qualifier, req.config.version};
    // what the metrics of this admission say, recorded once the lock is released
    std::optional<std::pair<int, int>> provisioned_busy;  // busy, allocated
    bool spillover = false;
    {
        std::lock_guard lk(mu_);
        if (stopping_) {
            done({error_json("Runtime.Unavailable", "lamina is shutting down"), true, "", std::nullopt});
            return;
        }
        bool provisioned = false;
        if (!req.qualifier.empty()) {
            // a provisioned environment of this qualifier takes it first, with no cold start
            auto pc = provisioned_.find(req.scope.account + "/" + req.scope.region + "/" + req.function_name + "/" +
                                        req.qualifier);
            if (pc != provisioned_.end()) {
                auto& idle = pc->second->idle;
                for (auto it = idle.begin(); it != idle.end(); ++it) {
                    if ((*it)->key != key) continue;  // a weighted alias drew the other version
                    std::lock_guard elk((*it)->mu);
                    if ((*it)->dead) continue;
                    env = *it;
                    idle.erase(it);
                    provisioned = true;
                    break;
                }
                int allocated = static_cast<int>(pc->second->envs.size());
                if (provisioned)
                    provisioned_busy = std::make_pair(allocated - static_cast<int>(idle.size()), allocated);
                else
                    spillover = true;
            }
        }
        if (provisioned && concurrency_) slot = std::make_shared<Slot>(concurrency_->acquire_provisioned(req.scope, req.function_name));
        auto range = idle_.equal_range(key);
        for (auto it = range.first; it != range.second && !env;) {
            std::lock_guard elk(it->second->mu);
            if (it->second->dead) {
                it = idle_.erase(it);
                continue;
            }
            env = it->second;
            break;
        }
        if (concurrency_ && !provisioned) {
            // admitted by the account's pools before anything runs; starting a
            // new environment also needs the scaling rate's leave
            auto admitted = concurrency_->acquire(Demand{req.scope, req.function_name, req.reserved_concurrency,
                                                         req.reserved_total, req.provisioned_total, env == nullptr});
            if (!admitted) {
                InvokeResult refused;
                refused.throttle = std::move(admitted.error());
                done(std::move(refused));
                return;
            }
            slot = std::make_shared<Slot>(std::move(*admitted));
        }
        if (env && !provisioned)
            for (auto it = range.first; it != range.second; ++it)
                if (it->second == env) {
                    idle_.erase(it);
                    break;
                }
    }
    if (metrics_) {
        if (concurrency_) {
            auto usage = concurrency_->usage(req.scope);
            metrics::record_lambda(metrics_, target, "ConcurrentExecutions",
                                   concurrency_->concurrent(req.scope, req.function_name), "Count", false);
            metrics_->record(req.scope, metrics::kLambdaNamespace, "ConcurrentExecutions", {}, usage.concurrent, "Count");
            metrics_->record(req.scope, metrics::kLambdaNamespace, "UnreservedConcurrentExecutions", {},
                             usage.unreserved_concurrent, "Count");
        }
        if (provisioned_busy) {
            auto [busy, allocated] = *provisioned_busy;
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencyInvocations", 1, "Count", false);
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrentExecutions", busy, "Count", false);
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencyUtilization",
                                   allocated ? static_cast<double>(busy) / allocated : 0.0, "None", false);
        } else if (spillover) {
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencySpilloverInvocations", 1, "Count", false);
        }
    }
    if (!env && offload_) {
        // a cold start extracts code, assembles /opt and forks: never on the
        // caller's (possibly I/O) thread
        offload_([this, req = std::move(req), key = std::move(key), slot, done = std::move(done)]() mutable {
            start_and_run(std::move(req), key, std::move(slot), std::move(done));
        });
        return;
    }
    if (!env) {
        start_and_run(std::move(req), key, std::move(slot), std::move(done));
        return;
    }
    run(std::move(req), env, false, std::move(slot), std::move(done));
}

void Invoker::prune_dead() {
    // environments whose process is gone and whose exit was handled: nothing
    // refers to them any more (their memory and log file are let go)
    std::erase_if(all_, [](const EnvPtr& e) {
        std::lock_guard lk(e->mu);
        return e->dead && e->exit_handled;
    });
}

void Invoker::start_and_run(InvokeRequest req, const std::string& key, SlotPtr slot,
                            std::function<void(InvokeResult)> done) {
    EnvPtr env;
    {
        auto started = start_environment(req, key);
        if (!started) {
            const auto& e = started.error();
            std::string type = e.message == "Runtime.InvalidEntrypoint" ? "Runtime.InvalidEntrypoint" : "Runtime.Unavailable";
            std::string message = e.message == "Runtime.InvalidEntrypoint"
                                      ? "RequestId: " + req.request_id + " Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
                                      : e.message;
            done({error_json(type, message), true, "", std::nullopt});
            return;
        }
        env = *started;
        std::lock_guard lk(mu_);
        prune_dead();
        all_.push_back(env);
    }
    run(std::move(req), env, true, std::move(slot), std::move(done));
}

void Invoker::run(InvokeRequest request, const EnvPtr& env, bool cold, SlotPtr slot, std::function<void(InvokeResult)> done) {
    auto shared_req = std::make_shared<InvokeRequest>(std::move(request));
    const InvokeRequest& req = *shared_req;
    if (env->idle_timer) env->idle_timer->cancel();
    {
        // the invocation's claim on capacity lasts while the environment is busy with it
        std::lock_guard lk(env->mu);
        env->slot = std::move(slot);
    }

    auto start = Clk::now();
    int timeout_s = req.config.timeout;
    std::string header = "START RequestId: " + req.request_id + " Version: " + req.config.version + "\n";
    // What the environment printed since its last invocation (its init so
    // far, or an extension between invocations) stays in its log stream; a
    // cold start's also leads this invocation's log.
    if (std::string before = env->take_output(); !before.empty()) {
        if (cold)
            header = before + header;
        else if (!env->log_file.empty())
            env->append_log(before);
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    // The environment is free once the runtime answered and every extension
    // acknowledged the invocation (both count the gate down to zero).
    auto gate = std::make_shared<std::atomic<int>>(2);
    auto deadline = Clk::now() + std::chrono::seconds(timeout_s);
    auto finish = [this, env, req_id = req.request_id, header, start, cold, finished, timer, done, gate, deadline,
                   memory = req.config.memory_size](std::string payload, bool error, bool reusable,
                                                    std::string status) {
        if (finished->exchange(true)) return;
        timer->cancel();
        double ms = std::chrono::duration<double, std::milli>(Clk::now() - start).count();
        double init_ms = 0;
        if (cold) {
            std::lock_guard lk(env->mu);
            if (env->ready) init_ms = std::chrono::duration<double, std::milli>(env->ready_at - env->spawned_at).count();
            ms = std::max(0.0, ms - init_ms);  // Duration is the invoke phase; init is reported apart
        }
        std::string report = "REPORT RequestId: " + req_id + "\tDuration: " + format_ms(ms) +
                             " ms\tBilled Duration: " + std::to_string(static_cast<long>(std::ceil(ms))) +
                             " ms\tMemory Size: " + std::to_string(memory) + " MB\tMax Memory Used: " +
                             std::to_string(peak_mb(*env)) + " MB\t";
        if (cold) report += "Init Duration: " + format_ms(init_ms) + " ms\t";
        if (!status.empty()) report += status;
        env->drain_output();
        std::string log = header + env->take_output() + "END RequestId: " + req_id + "\n" + report + "\n";
        env->append_log(log);
        if (reusable) {
            settle(env, gate, deadline);
        } else {
            retire(env, status == "Status: timeout" ? "timeout" : "failure");
        }
        InvokeResult result{std::move(payload), error, std::move(log)};
        result.duration_ms = ms;
        done(std::move(result));
    };

    {
        std::unique_lock lk(env->mu);
        // A warm environment that dies before its runtime took the invocation
        // (it exited right after its last answer, or while idle) does not fail
        // it: the invocation goes to a new environment, as AWS re-initialises.
        std::function<bool()> retry_elsewhere;
        if (!cold) {
            retry_elsewhere = [this, env, finished, timer, shared_req, done] {
                if (env->api->invocation_taken() || finished->exchange(true)) return false;
                timer->cancel();
                env->api->abandon();
                retire(env, "failure");
                admit(*shared_req, done);
                return true;
            };
        }
        env->on_exit = [env, finish, retry_elsewhere, req_id = req.request_id](const std::string& reason) {
            if (retry_elsewhere && retry_elsewhere()) return;
            runtime::Outcome init;
            bool had_init_error = false;
            {
                std::lock_guard elk(env->mu);
                if (env->init_error) {
                    init = *env->init_error;
                    had_init_error = true;
                }
            }
            env->api->abandon();
            if (had_init_error) {
                finish(init.body, true, false, "Status: error\tError Type: " + init.error_type);
                return;
            }
            if (reason == "out of memory") {
                finish(error_json("Runtime.OutOfMemory",
                                  "RequestId: " + req_id + " Error: Runtime exited with error: signal: killed"),
                       true, false, "Status: error\tError Type: Runtime.OutOfMemory");
                return;
            }
            finish(error_json("Runtime.ExitError", "RequestId: " + req_id + " Error: Runtime exited " +
                                                       (reason == "exit status 0" ? std::string("without providing a reason")
                                                                                  : "with error: " + reason)),
                   true, false, "Status: error\tError Type: Runtime.ExitError");
        };
        if (env->dead) {
            auto on_exit = std::move(env->on_exit);
            lk.unlock();
            on_exit("signal: killed");
            return;
        }
    }

    runtime::Invocation inv;
    inv.request_id = req.request_id;
    inv.payload = req.payload;
    inv.deadline_ms = clock_.now_ms() + static_cast<std::int64_t>(timeout_s) * 1000;
    inv.invoked_function_arn = req.invoked_arn;
    inv.trace_id = "Root=1-" + ids_.hex(8) + "-" + ids_.hex(24) + ";Parent=" + ids_.hex(16) + ";Sampled=0";
    inv.client_context = req.client_context;
    // The function's Timeout runs from the moment the runtime takes the event;
    // a cold environment first gets the init limit (10 s) to reach /next.
    auto on_timeout = [env, finish, req_id = req.request_id, timeout_s](const boost::system::error_code& ec) {
        if (ec) return;
        env->api->abandon();
        {
            std::lock_guard lk(env->mu);
            env->on_exit = nullptr;
            env->ready_hook = nullptr;
        }
        finish(error_json("Sandbox.Timedout", "RequestId: " + req_id + " Error: Task timed out after " +
                                                  format_ms(timeout_s) + " seconds"),
               true, false, "Status: timeout");
    };
    auto arm = [timer, on_timeout](std::chrono::milliseconds limit) {
        timer->expires_after(limit);
        timer->async_wait(on_timeout);
    };
    std::chrono::milliseconds function_limit = std::chrono::seconds(timeout_s);
    bool armed_now = true;
    if (cold) {
        std::lock_guard lk(env->mu);
        if (!env->ready) {
            env->ready_hook = [arm, function_limit] { arm(function_limit); };
            armed_now = false;
        }
    }
    arm(armed_now ? function_limit : std::chrono::duration_cast<std::chrono::milliseconds>(settings_.init_timeout));
    auto st = env->api->invoke(
        std::move(inv),
        [env, finish](runtime::Outcome o) {
            {
                std::lock_guard lk(env->mu);
                env->on_exit = nullptr;
            }
            bool error = o.kind != runtime::Outcome::Kind::Response;
            finish(std::move(o.body), error, true, "");
        },
        [this, env, gate, deadline] { settle(env, gate, deadline); });
    if (!st) finish(error_json("Runtime.Unavailable", st.error().message), true, false, "");
}

void Invoker::release(const EnvPtr& env) {
    env->release_slot();
    std::lock_guard lk(mu_);
    if (auto pc = env->pc.lock(); pc && env->pc_generation == pc->generation && !stopping_ &&
                                  std::find(pc->envs.begin(), pc->envs.end(), env) != pc->envs.end()) {
        pc->idle.push_back(env);  // kept warm for its config: never reaped for idling
        return;
    }
    if (stopping_) {
        env->kill();
        return;
    }
    idle_.emplace(env->key, env);
    if (!env->idle_timer) env->idle_timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    env->idle_timer->expires_after(settings_.idle_timeout);
    std::weak_ptr<Environment> weak = env;
    env->idle_timer->async_wait([this, weak](const boost::system::error_code& ec) {
        if (ec) return;
        auto e = weak.lock();
        if (!e) return;
        bool reaped = false;
        {
            std::lock_guard lk(mu_);
            for (auto it = idle_.begin(); it != idle_.end(); ++it)
                if (it->second == e) {
                    idle_.erase(it);
                    reaped = true;
                    break;
                }
        }
        if (reaped) retire(e, "spindown");
    });
}

void Invoker::settle(const EnvPtr& env, const std::shared_ptr<std::atomic<int>>& gate, Clk::time_point deadline) {
    int left = gate->fetch_sub(1) - 1;
    if (left == 1 && env->api->extension_count() == 0) {
        // nothing else holds the environment: it is free now, before the
        // caller hears the answer (a caller's next invocation finds it warm);
        // the Runtime API's own "settled" later finds the gate closed
        int expected = 1;
        if (gate->compare_exchange_strong(expected, -1000)) left = 0;
    }
    if (left == 1) {
        // the runtime answered first: extensions still hold the invocation;
        // they get what is left of the function's timeout, then the environment goes
        auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, deadline);
        {
            std::lock_guard lk(env->mu);
            env->settle_timer = timer;
        }
        std::weak_ptr<Environment> weak = env;
        timer->async_wait([this, weak, gate](const boost::system::error_code& ec) {
            if (ec) return;
            int expected = 1;
            if (!gate->compare_exchange_strong(expected, -1000)) return;  // settled meanwhile
            if (auto e = weak.lock()) {
                e->api->abandon();
                retire(e, "timeout");
            }
        });
        return;
    }
    if (left != 0) return;  // lost to the timeout above
    {
        std::lock_guard lk(env->mu);
        if (env->settle_timer) env->settle_timer->cancel();
        env->settle_timer.reset();
    }
    if (env->api->healthy())
        release(env);
    else
        retire(env, "failure");
}

void Invoker::retire(const EnvPtr& env, const std::string& reason) {
    env->release_slot();
    {
        std::lock_guard lk(env->mu);
        if (env->dead) return;
    }
    std::weak_ptr<Environment> weak = env;
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    // Extensions subscribed to SHUTDOWN get it and up to 2 s (AWS's budget
    // for external extensions); the rest of the environment is killed then.
    bool waiting = env->api->shutdown(reason, clock_.now_ms() + 2000, [weak, timer] {
        timer->cancel();
        if (auto e = weak.lock()) e->kill();
    });
    if (!waiting) {
        env->kill();
        return;
    }
    timer->expires_after(std::chrono::seconds(2));
    timer->async_wait([weak](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto e = weak.lock()) e->kill();
    });
    std::lock_guard lk(env->mu);
    env->shutdown_timer = timer;
}

void Invoker::provision(const control::Scope& scope, const std::string& function, const std::string& qualifier,
                        const control::VersionConfig& config, int n) {
    std::vector<EnvPtr> drop;
    std::string key = scope.account + "/" + scope.region + "/" + function + "/" + qualifier;
    {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        auto& pc = provisioned_[key];
        if (!pc) {
            pc = std::make_shared<Provisioned>();
            pc->scope = scope;
            pc->function = function;
            pc->qualifier = qualifier;
            pc->config = config;
        }
        bool changed = pc->config.version != config.version || pc->config.code_sha256 != config.code_sha256 ||
                       pc->config.last_modified_ms != config.last_modified_ms;
        if (changed || n == 0) {
            ++pc->generation;
            // idle ones go; busy ones finish their invocation and become on-demand environments
            drop.assign(pc->idle.begin(), pc->idle.end());
            for (auto& e : pc->envs) e->pc.reset();
            pc->envs.clear();
            pc->idle.clear();
            pc->starting = 0;
            pc->failed = false;
            pc->reason.clear();
        }
        pc->config = config;
        pc->requested = n;
        // fewer wanted: idle ones go now; busy ones finish as on-demand environments
        while (static_cast<int>(pc->envs.size()) > n) {
            EnvPtr victim = pc->idle.empty() ? pc->envs.back() : pc->idle.back();
            if (!pc->idle.empty()) {
                pc->idle.pop_back();
                drop.push_back(victim);
            }
            victim->pc.reset();
            pc->envs.erase(std::find(pc->envs.begin(), pc->envs.end(), victim));
        }
        if (n == 0)
            provisioned_.erase(key);
        else
            top_up(pc);
    }
    for (auto& e : drop) retire(e, "spindown");
}

void Invoker::top_up(const std::shared_ptr<Provisioned>& pc) {
    if (pc->failed || stopping_) return;
    for (int have = static_cast<int>(pc->envs.size()) + pc->starting; have < pc->requested; ++have) {
        ++pc->starting;
        auto start = [this, pc, generation = pc->generation] { start_provisioned(pc, generation); };
        if (offload_)
            offload_(start);
        else
            boost::asio::post(ioc_, start);
    }
}

void Invoker::start_provisioned(std::shared_ptr<Provisioned> pc, std::uint64_t generation) {
    InvokeRequest tmpl;
    {
        std::lock_guard lk(mu_);
        if (pc->generation != generation || stopping_) return;
        tmpl.scope = pc->scope;
        tmpl.function_name = pc->function;
        tmpl.config = pc->config;
    }
    auto started = start_environment(tmpl, pool_key(tmpl), "provisioned-concurrency");
    std::unique_lock lk(mu_);
    if (pc->generation == generation) --pc->starting;
    bool current = pc->generation == generation && !stopping_ &&
                   static_cast<int>(pc->envs.size()) < pc->requested;
    if (!started) {
        if (current) {
            pc->failed = true;
            pc->reason = started.error().message;
        }
        return;
    }
    EnvPtr env = *started;
    prune_dead();
    all_.push_back(env);
    if (!current) {
        lk.unlock();
        retire(env, "spindown");
        return;
    }
    env->pc = pc;
    env->pc_generation = generation;
    pc->envs.push_back(env);
    std::weak_ptr<Environment> weak = env;
    std::weak_ptr<Provisioned> weak_pc = pc;
    std::lock_guard elk(env->mu);
    auto ready = [this, weak, weak_pc] {
        auto e = weak.lock();
        if (!e) return;
        auto p = weak_pc.lock();
        bool kept = false;
        {
            std::lock_guard lk(mu_);
            if (p && std::find(p->envs.begin(), p->envs.end(), e) != p->envs.end()) {
                p->idle.push_back(e);
                kept = true;
            }
        }
        // let go while it initialised (config deleted, lowered or moved): nothing will use it
        if (!kept) retire(e, "spindown");
    };
    if (env->ready)
        pc->idle.push_back(env);
    else
        env->ready_hook = ready;
    env->on_gone = [this, weak, weak_pc] {
        auto e = weak.lock();
        auto p = weak_pc.lock();
        if (!e || !p) return;
        std::lock_guard lk(mu_);
        auto it = std::find(p->envs.begin(), p->envs.end(), e);
        if (it == p->envs.end()) return;
        p->envs.erase(it);
        p->idle.erase(std::remove(p->idle.begin(), p->idle.end(), e), p->idle.end());
        bool initialised;
        {
            std::lock_guard elk(e->mu);
            initialised = e->ready;
        }
        if (!initialised) {
            p->failed = true;
            p->reason = "FUNCTION_ERROR_INIT_FAILURE";
            return;
        }
        top_up(p);  // a provisioned environment that dies is replaced
    };
    if (env->ready) return;
    // Its init limit: past it the environment is stopped, and on_gone marks
    // the config FAILED as for an init that crashed.
    auto limit = std::max<std::chrono::milliseconds>(settings_.provisioned_init_timeout,
                                                     std::chrono::seconds(pc->config.timeout));
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, limit);
    timer->async_wait([weak, timer, limit, function = pc->function, qualifier = pc->qualifier](
                          const boost::system::error_code& ec) {
        if (ec) return;
        auto e = weak.lock();
        if (!e) return;
        {
            std::lock_guard lk(e->mu);
            if (e->ready || e->dead) return;
        }
        lamina::logger("exec")->warn("provisioned.init_timeout function={} qualifier={} limit_ms={}", function,
                                     qualifier, limit.count());
        e->kill();
    });
}

ProvisionedStatus Invoker::provisioned_status(const control::Scope& scope, const std::string& function,
                                              const std::string& qualifier) const {
    std::lock_guard lk(mu_);
    ProvisionedStatus out;
    auto it = provisioned_.find(scope.account + "/" + scope.region + "/" + function + "/" + qualifier);
    if (it == provisioned_.end()) return out;
    const auto& pc = *it->second;
    out.requested = pc.requested;
    int ready = 0;
    for (const auto& e : pc.envs) {
        std::lock_guard elk(e->mu);
        if (e->ready && !e->dead) ++ready;
    }
    out.allocated = std::min(ready, pc.requested);
    out.available = out.allocated;
    if (pc.failed) {
        out.status = "FAILED";
        out.reason = pc.reason;
    } else {
        out.status = out.allocated >= pc.requested ? "READY" : "IN_PROGRESS";
    }
    return out;
}

void Invoker::shutdown() {
    std::vector<EnvPtr> envs;
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        envs = all_;
        idle_.clear();
        provisioned_.clear();
    }
    // extensions subscribed to SHUTDOWN get it, and up to 2 s in all
    auto pending = std::make_shared<std::atomic<int>>(0);
    for (auto& e : envs) {
        if (e->idle_timer) e->idle_timer->cancel();
        {
            std::lock_guard lk(e->mu);
            if (e->dead) continue;
        }
        if (e->api->shutdown("spindown", clock_.now_ms() + 2000, [pending] { --*pending; })) ++*pending;
    }
    for (int i = 0; i < 200 && pending->load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (auto& e : envs) e->kill();
    // wait briefly for the waiters to see the processes go and finish with
    // them (their callbacks reach this invoker and the event queue)
    for (int i = 0; i < 200; ++i) {
        bool alive = false;
        for (auto& e : envs) {
            std::lock_guard lk(e->mu);
            if (!e->exit_handled) alive = true;
        }
        if (!alive) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lk(mu_);
    all_.clear();
    if (settings_.memory) settings_.memory->remove_all();
}

}  // namespace lamina::exec
