// SnapStart on a JVM (see snapstart.cpp): a version's snapshot is a criu
// checkpoint of its initialised runtime, and each new environment a `criu
// restore` of it. See docs/architecture.md "SnapStart".

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/runtime/error_types.hpp"
#include "lamina/sandbox/checkpoint.hpp"
#include "snapshot.hpp"

namespace lamina::exec {

namespace {

// How long a ready restore's shell may take to stop itself.
constexpr std::chrono::seconds kReadyWait{5};

// Whether `pid` is stopped (state T): a ReadyRestore's shell waiting.
bool stopped(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T';
}

const fs::path& kernel_facts() {
    static const fs::path facts = sandbox::kernel_facts_dir();
    return facts;
}

}  // namespace

// A JVM's snapshot: its zygote, told to wait on its stdin, is checkpointed
// with criu (which ends it); the version is Active once the images are there.
void Invoker::take_checkpoint(const std::shared_ptr<Snapshot>& snap, int pid,
                              const fs::path& criu) {
    fs::path dir = settings_.work_dir / "snapshots" / ids_.hex(16);
    auto image = sandbox::checkpoint(criu, settings_.runtimes_dir / "criu" / "maps-shim.so", pid,
                                     dir, std::chrono::seconds(10));
    EnvPtr zygote;
    bool taken = false;
    {
        std::lock_guard lk(snap->mu);
        zygote = snap->zygote;
        if (snap->dropped) {
            remove_images(dir);
        } else if (image) {
            snap->image = *image;
            snap->dir = dir;
            snap->status.pid = 0;
            taken = true;
        } else {
            remove_images(dir);
            if (snap->status.state == "Pending")
                snap->status = SnapshotStatus{"Failed", image.error().message, "InternalError", 0};
        }
    }
    if (!image && zygote) zygote->kill();  // criu lets it run on when it fails
    logger("exec")->debug("exec.snapshot_checkpoint id={} ok={} dir={}", snap->id,
                          static_cast<bool>(image), dir.string());
    if (!taken) return;
    // its first restore made ready before the version is Active, so that an
    // invoke as soon as it is finds one
    ready_restore(snap);
    std::lock_guard lk(snap->mu);
    if (snap->status.state == "Pending" && !snap->dropped) snap->status.state = "Active";
}

void Invoker::ready_restore(const std::shared_ptr<Snapshot>& snap) {
    std::optional<sandbox::Checkpoint> image;
    fs::path dir;
    int memory_mb = 0;
    {
        std::lock_guard lk(snap->mu);
        if (snap->dropped || !snap->image || snap->ready || snap->readying) return;
        snap->readying = true;
        image = snap->image;
        dir = snap->dir;
        memory_mb = snap->config.memory_size;
    }
    auto ready = std::make_shared<ReadyRestore>();
    auto keep = [this, &snap, &ready] {
        std::lock_guard lk(mu_);
        std::lock_guard slk(snap->mu);
        snap->readying = false;
        if (!stopping_ && !snap->dropped && ready->process) snap->ready = std::move(ready);
    };
    auto criu = sandbox::find_criu();
    if (!criu) return keep();
    sandbox::SpawnSpec spec;
    if (settings_.memory) {
        ready->memory = &*settings_.memory;
        ready->cgroup = "env-" + ids_.hex(12);
        auto procs = settings_.memory->create(ready->cgroup,
                                              static_cast<std::int64_t>(memory_mb) * 1024 * 1024);
        if (procs)
            spec.cgroup_procs = *procs;
        else
            ready->cgroup.clear();
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return keep();
    ready->order_fd = fds[1];
    ready->log = dir / ("restore-" + ids_.hex(12) + ".log");  // criu's, while it runs
    spec.argv = {"/bin/sh", "-c", "kill -STOP $$ && exec \"$@\"", "sh"};
    for (auto& arg : sandbox::restore_argv(*criu, *image, ready->log))
        spec.argv.push_back(std::move(arg));
    spec.env = sandbox::criu_environment(settings_.runtimes_dir / "criu" / "maps-shim.so");
    spec.stdin_fd = fds[0];
    spec.max_open_files = 65536;  // criu's own; the runtime's limit is restored from the image
    spec.private_run = kernel_facts();  // criu's kernel facts, kept between restores
    auto process = sandbox::spawn(ioc_, spec, [exit = ready->exit](sandbox::ExitStatus st) {
        sandbox::ExitHandler handler;
        {
            std::lock_guard lk(exit->mu);
            if (!exit->handler) {
                exit->ended = st;
                return;
            }
            handler = std::move(exit->handler);
        }
        handler(st);
    });
    ready->order_read_fd = fds[0];  // held until the order is written: never a SIGPIPE
    if (process) {
        // until the shell has stopped itself (or ended): then it is ready; one
        // that has not within kReadyWait is let go (the invoke restores the slow way)
        const auto until = std::chrono::steady_clock::now() + kReadyWait;
        bool settled = false;
        while (!settled && std::chrono::steady_clock::now() < until) {
            siginfo_t info{};
            int rc = ::waitid(P_PID, static_cast<id_t>((*process)->pid()), &info,
                              WSTOPPED | WEXITED | WNOWAIT | WNOHANG);
            settled = rc == 0 && info.si_pid != 0;
            if (rc < 0 && errno != EINTR) break;
            if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (settled)
            ready->process = std::move(*process);
        else
            (*process)->kill();
    }
    keep();  // or, dropped meanwhile, killed here (its cgroup removed)
}

void Invoker::drop_ready_restores() {
    std::vector<std::shared_ptr<ReadyRestore>> gone;
    {
        std::lock_guard lk(mu_);
        for (auto& [id, snap] : snapshots_) {
            std::lock_guard slk(snap->mu);
            if (snap->ready) gone.push_back(std::exchange(snap->ready, nullptr));
        }
    }
    gone.clear();  // killed, their cgroups removed
}

// A new environment of a JVM's snapshot: `criu restore` of its images, in the
// environment's memory cgroup; the restored runtime reads its order (its
// Runtime API, the extensions to start) from its stdin, a pipe holding it.
Result<EnvPtr> Invoker::restore_checkpoint(const InvokeRequest& req, const std::string& key,
                                           const std::shared_ptr<Snapshot>& snap) {
    std::optional<sandbox::Checkpoint> image;
    std::string sandbox_ip;
    std::vector<std::string> extensions, launch;
    fs::path dir;
    {
        std::lock_guard lk(snap->mu);
        image = snap->image;
        sandbox_ip = snap->sandbox_ip;
        extensions = snap->restore_extensions;
        launch = snap->restore_launch;
        dir = snap->dir;
    }
    if (!image) return fail(ErrorCode::Service, "the version's snapshot has not been taken");
    auto criu = sandbox::find_criu();
    if (!criu) return fail(ErrorCode::Service, "criu is no longer installed");
    LAMINA_TRY(env, begin_restore(req, key, "/tmp", sandbox_ip, extensions));
    nlohmann::json order = {
        {"address", env->api->address()},
        {"extensions", extensions.empty() ? std::vector<std::string>{} : launch}};
    std::string line = order.dump() + "\n";
    std::weak_ptr<Environment> weak = env;
    // criu's end: when it could not restore (this kernel, this criu), its log says why
    auto on_exit = [this, weak](const fs::path& log) {
        return [this, weak, log](sandbox::ExitStatus st) {
            auto e = weak.lock();
            if (e && (st.code != 0 || st.signal != 0)) {
                std::string errors = sandbox::criu_errors(log);
                std::lock_guard lk(e->mu);
                if (!e->initialised() && !e->init_error && !errors.empty()) {
                    runtime::Outcome o;
                    o.kind = runtime::Outcome::Kind::InitError;
                    auto failure = runtime::unavailable(
                        "criu could not restore the version's snapshot: " + errors);
                    o.body = failure.payload();
                    o.error_type = runtime::to_string(failure.type);
                    e->init_error = std::move(o);
                }
            }
            std::error_code ec;
            fs::remove(log, ec);
            if (e) on_process_exit(e, st);
        };
    };
    std::shared_ptr<ReadyRestore> ready;
    {
        std::lock_guard lk(snap->mu);
        if (snap->ready && stopped(snap->ready->process->pid()))
            ready = std::exchange(snap->ready, nullptr);
    }
    if (ready) {
        // its order first (far below a pipe's capacity), then criu runs
        bool written =
            ::write(ready->order_fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        ::close(std::exchange(ready->order_fd, -1));
        ::close(std::exchange(ready->order_read_fd, -1));
        bool alive = false;
        if (written) {
            std::lock_guard lk(ready->exit->mu);
            alive = !ready->exit->ended;
            if (alive) {
                ready->claimed = true;
                env->cgroup = ready->cgroup;
                if (settings_.memory && !env->cgroup.empty())
                    env->peak_fd = settings_.memory->open_peak(env->cgroup);
                ready->exit->handler = on_exit(ready->log);
            }
        }
        if (alive) {
            auto again = [this, snap] { ready_restore(snap); };
            env->spawned_at = Environment::Clk::now();
            ::kill(ready->process->pid(), SIGCONT);
            std::unique_ptr<sandbox::Process> process = std::move(ready->process);
            if (offload_) offload_(std::move(again));  // never on the invoke's own thread
            LAMINA_TRY(pid, adopt_started(env, std::move(process)));
            logger("exec")->debug("exec.env_restore criu_pid={} images={} ready=true", pid,
                                  image->dir.string());
            return env;
        }
        ready.reset();  // gone before it was claimed: a restore started here instead
    }
    if (offload_) offload_([this, snap] { ready_restore(snap); });  // for the next one
    std::vector<std::string> cgroup_procs =
        open_memory_group(*env, settings_, req.config.memory_size, ids_);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return fail(ErrorCode::Service, "pipe failed for a restored environment's stdin");
    // far below a pipe's capacity: written whole before criu starts
    bool written = ::write(fds[1], line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fds[1]);
    if (!written) {
        ::close(fds[0]);
        return fail(ErrorCode::Service, "cannot write a restored environment's order");
    }
    sandbox::SpawnSpec spec;
    fs::path log = dir / ("restore-" + ids_.hex(12) + ".log");  // criu's, while it runs
    spec.argv = sandbox::restore_argv(*criu, *image, log);
    spec.private_run = kernel_facts();  // criu's kernel facts, kept between restores
    spec.env = sandbox::criu_environment(settings_.runtimes_dir / "criu" / "maps-shim.so");
    spec.cgroup_procs = std::move(cgroup_procs);
    spec.stdin_fd = fds[0];
    spec.max_open_files = 65536;  // criu's own; the runtime's limit is restored from the image
    env->spawned_at = Environment::Clk::now();
    auto process = sandbox::spawn(ioc_, spec, on_exit(log));
    ::close(fds[0]);
    LAMINA_TRY(pid, adopt_started(env, std::move(process)));
    logger("exec")->debug("exec.env_restore criu_pid={} images={}", pid, image->dir.string());
    return env;
}

}  // namespace lamina::exec
