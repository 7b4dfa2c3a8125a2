// SnapStart: a published version's snapshot is a paused, initialised runtime
// process (the zygote: started with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start,
// it ran its init and before-snapshot hooks and waits in
// /runtime/restore/next); each restored environment is forked from it, so
// every restore starts from the same memory image, as AWS restores one
// Firecracker snapshot. See docs/architecture.md "SnapStart".

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/runtime/error_types.hpp"
#include "lamina/sandbox/checkpoint.hpp"
#include "lamina/sandbox/restored.hpp"
#include "platform_log.hpp"
#include "snapshot.hpp"

namespace lamina::exec {

namespace fs = std::filesystem;

bool snap_start_on(const control::VersionConfig& config) {
    return config.snap_start_apply_on == "PublishedVersions" && config.version != "$LATEST";
}

namespace {

std::string snapshot_id(const control::Scope& scope, const std::string& function,
                        const std::string& version) {
    return scope.account + "/" + scope.region + "/" + function + "/" + version;
}

std::string format_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ms);
    return buf;
}

// What the Process seam holds for a restore that never happened (the
// snapshot's runtime could not fork): gone already.
class GoneProcess final : public sandbox::Process {
public:
    int pid() const override { return -1; }
    void kill() override {}
    std::string take_output() override { return {}; }
    long peak_rss_mb() const override { return 1; }
};

// AWS's Runtime Version as RESTORE_START names it: python3.12 -> python:3.12
std::string runtime_version_name(const std::string& runtime) {
    for (const char* family : {"python", "nodejs", "java", "ruby", "dotnet"}) {
        std::string f(family);
        if (runtime.rfind(f, 0) == 0) return f + ":" + runtime.substr(f.size());
    }
    return runtime;
}

}  // namespace

SnapshotStatus Invoker::snapshot(const control::Scope& scope, const std::string& function,
                                 const control::VersionConfig& config) {
    std::shared_ptr<Snapshot> snap;
    bool start = false;
    EnvPtr replaced_ready;  // the replaced snapshot's restore made ready
    {
        std::lock_guard lk(mu_);
        if (stopping_) return SnapshotStatus{"Pending", "", "", 0};
        std::string id = snapshot_id(scope, function, config.version);
        auto it = snapshots_.find(id);
        if (it == snapshots_.end() || it->second->config.code_sha256 != config.code_sha256 ||
            it->second->config.last_modified_ms != config.last_modified_ms) {
            snap = std::make_shared<Snapshot>();
            snap->id = id;
            snap->scope = scope;
            snap->function = function;
            snap->config = config;
            if (it != snapshots_.end()) {
                std::lock_guard slk(it->second->mu);
                it->second->dropped = true;
                if (it->second->zygote) it->second->zygote->kill();
                remove_images(it->second->dir);
                it->second->ready.reset();
                replaced_ready = std::exchange(it->second->ready_env, nullptr);
            }
            snapshots_[id] = snap;
            start = true;
        } else {
            snap = it->second;
        }
    }
    if (replaced_ready) retire(replaced_ready, "spindown");
    if (start) {
        if (offload_)
            offload_([this, snap] { take_snapshot(snap); });
        else
            take_snapshot(snap);
    }
    std::lock_guard lk(snap->mu);
    return snap->status;
}

std::shared_ptr<Invoker::Snapshot> Invoker::find_snapshot(const InvokeRequest& req) {
    std::lock_guard lk(mu_);
    auto it = snapshots_.find(snapshot_id(req.scope, req.function_name, req.config.version));
    return it == snapshots_.end() ? nullptr : it->second;
}

void Invoker::drop_snapshots(const control::Scope& scope, const std::string& function,
                             const std::string& version) {
    std::vector<std::shared_ptr<Snapshot>> gone;
    {
        std::lock_guard lk(mu_);
        std::string prefix = snapshot_id(scope, function, version);
        for (auto it = snapshots_.begin(); it != snapshots_.end();) {
            bool match = version.empty() ? it->first.rfind(prefix, 0) == 0 : it->first == prefix;
            if (match) {
                gone.push_back(it->second);
                it = snapshots_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& snap : gone) {
        EnvPtr zygote, ready;
        {
            std::lock_guard lk(snap->mu);
            snap->dropped = true;
            zygote = snap->zygote;
            remove_images(snap->dir);
            snap->ready.reset();
            ready = std::exchange(snap->ready_env, nullptr);
        }
        if (ready) retire(ready, "spindown");
        if (zygote) {
            logger("exec")->debug("exec.snapshot_drop id={} pid={}", snap->id, snap->status.pid);
            zygote->kill();
        }
    }
}

void Invoker::take_snapshot(const std::shared_ptr<Snapshot>& snap) {
    InvokeRequest req;
    req.scope = snap->scope;
    req.function_name = snap->function;
    req.config = snap->config;
    std::weak_ptr<Snapshot> weak_snap = snap;
    auto fail_snapshot = [weak_snap](const std::string& code, const std::string& reason) {
        if (auto s = weak_snap.lock()) {
            std::lock_guard lk(s->mu);
            if (s->status.state != "Pending") return;
            s->status = SnapshotStatus{"Failed", reason, code, 0};
        }
    };
    const PlatformLog plog(req.config);
    std::optional<fs::path> criu;
    if (req.config.runtime.rfind("java", 0) == 0) {
        if (launcher_->backend() != sandbox::Backend::Bubblewrap) {
            fail_snapshot("InternalError",
                          "lamina takes a Java function's snapshot with criu, inside its "
                          "bubblewrap sandbox: the process backend has none");
            return;
        }
        criu = sandbox::find_criu();
        if (!criu) {
            fail_snapshot("InternalError",
                          "lamina takes a Java function's snapshot with criu, which is not "
                          "installed on this machine (apt-get install criu)");
            return;
        }
        std::lock_guard lk(snap->mu);
        snap->jvm = true;
    }
    auto prepare = [this, weak_snap, plog, criu](Environment& env) {
        std::weak_ptr<Environment> weak_env = env.shared_from_this();
        if (auto s = weak_snap.lock()) {
            // known before its runtime can reach /restore/next: the version's
            // first restore is made ready from it then
            std::lock_guard lk(s->mu);
            s->zygote = env.shared_from_this();
        }
        // the runtime called /runtime/restore/next: the snapshot is taken
        env.api->snapshot_mode([this, weak_snap, weak_env, plog, criu](int ns_pid) {
            auto s = weak_snap.lock();
            auto e = weak_env.lock();
            if (!s || !e) return;
            // the runtime's host pid (the launched process may be bubblewrap, its ancestor)
            int launched = 0;
            {
                std::lock_guard lk(e->mu);
                if (e->process) launched = e->process->pid();
            }
            std::optional<int> runtime_pid =
                launched > 0 && ns_pid > 0 ? sandbox::host_pid_of(launched, ns_pid) : std::nullopt;
            double ms =
                std::chrono::duration<double, std::milli>(Environment::Clk::now() - e->spawned_at)
                    .count();
            std::string log = e->take_init_log() + plog.application(e->take_output());
            if (plog.json())
                log += plog.init_done("snap-start", ms, clock_.now_ms());
            else
                log += "INIT_REPORT Init Duration: " + format_ms(ms) + " ms\n";
            e->append_log(log);
            if (criu && runtime_pid) {
                // a JVM: checkpointed now, off the I/O thread (criu takes a while)
                {
                    std::lock_guard lk(s->mu);
                    s->checkpointing = true;
                    s->status.pid = *runtime_pid;
                    s->sandbox_ip = e->sandbox_ip;
                    s->restore_extensions = e->restore_extensions;
                    s->restore_launch = e->restore_launch;
                }
                e->api->order_checkpoint();
                auto work = [this, s, pid = *runtime_pid, criu] { take_checkpoint(s, pid, *criu); };
                if (offload_)
                    offload_(std::move(work));
                else
                    std::thread(std::move(work)).detach();
                return;
            }
            if (!runtime_pid) {
                std::lock_guard lk(s->mu);
                s->status =
                    SnapshotStatus{"Failed", "lamina could not find the snapshot's runtime process",
                                   "InternalError", 0};
                return;
            }
            {
                std::lock_guard lk(s->mu);
                s->status.pid = *runtime_pid;
            }
            // Active once its first restore is made ready, so that an invocation
            // as soon as it is finds one; or after 2 s whatever becomes of it
            auto done = std::make_shared<std::atomic<bool>>(false);
            auto activate = [s, done] {
                if (done->exchange(true)) return;
                std::lock_guard lk(s->mu);
                if (s->status.state == "Pending") s->status.state = "Active";
            };
            auto limit = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::seconds(2));
            limit->async_wait([limit, activate](const boost::system::error_code&) { activate(); });
            auto ready = [this, s, activate, limit] {
                ready_python_restore(s, [activate, limit] {
                    activate();
                    limit->cancel();
                });
            };
            if (offload_)
                offload_(std::move(ready));
            else
                ready();
        });
    };
    auto started =
        start_environment(req, "snapshot:" + snap->id, "snap-start", std::nullopt, false, prepare);
    if (!started) {
        fail_snapshot("FunctionError", started.error().message);
        return;
    }
    EnvPtr env = *started;
    std::weak_ptr<Environment> weak_env = env;
    bool dropped = false;
    {
        std::lock_guard lk(snap->mu);  // snap->zygote: set by `prepare`, before it ran
        if (snap->status.pid == 0 && env->process) snap->status.pid = env->process->pid();
        dropped = snap->dropped;
    }
    {
        std::lock_guard lk(mu_);
        prune_dead();
        all_.push_back(env);
    }
    if (dropped) env->kill();
    // its end: a failed init (or before-snapshot hook) fails the version; a
    // snapshot that dies later is forgotten (the next use takes another)
    std::function<void()> gone_now;
    {
        std::lock_guard lk(env->mu);
        env->on_gone = [this, weak_snap, weak_env, plog] {
            auto s = weak_snap.lock();
            auto e = weak_env.lock();
            if (!s || !e) return;
            std::optional<runtime::Outcome> init_error;
            std::optional<EnvExit> exit;
            {
                std::lock_guard lk(e->mu);
                init_error = e->init_error;
                exit = e->exit;
            }
            std::string log = e->take_init_log() + plog.application(e->take_output());
            bool pending = false;
            bool checkpointed = false;
            {
                std::lock_guard lk(s->mu);
                checkpointed = s->checkpointing;  // criu ended it: the snapshot is its images
                if (checkpointed) s->zygote.reset();
            }
            if (checkpointed) {
                e->append_log(log);
                return;
            }
            {
                std::lock_guard lk(s->mu);
                pending = s->status.state == "Pending";
                if (pending) {
                    std::string type = init_error ? init_error->error_type : "Runtime.ExitError";
                    std::string reason =
                        init_error ? type + ": " + init_error->body
                        : exit && exit->status.signal
                            ? "The snapshot's runtime was killed (signal " +
                                  std::to_string(exit->status.signal) + ") during init"
                            : "The snapshot's runtime exited during init (exit status " +
                                  std::to_string(exit ? exit->status.code : 0) + ")";
                    s->status = SnapshotStatus{
                        "Failed", reason, "FunctionError." + std::string("RuntimeInitError"), 0};
                    if (!plog.json())
                        log += "INIT_REPORT Init Duration: " +
                               format_ms(std::chrono::duration<double, std::milli>(
                                             Environment::Clk::now() - e->spawned_at)
                                             .count()) +
                               " ms\tPhase: init\tStatus: error\tError Type: " + type + "\n";
                }
                s->zygote.reset();
                s->status.pid = 0;
            }
            e->append_log(log);
            if (!pending) {
                std::lock_guard lk(mu_);
                auto it = snapshots_.find(s->id);
                if (it != snapshots_.end() && it->second == s) snapshots_.erase(it);
            }
        };
        // it died before the hook was in place: on_process_exit has run (its hooks taken)
        if (env->state == EnvState::Dead) gone_now = std::move(env->on_gone);
    }
    if (gone_now) gone_now();
    // the snapshot's init has the provisioned limit (AWS allows a long init here)
    auto timer = std::make_shared<boost::asio::steady_timer>(
        ioc_, std::max(settings_.provisioned_init_timeout,
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::seconds(req.config.timeout))));
    timer->async_wait(
        [timer, weak_snap, weak_env, fail_snapshot](const boost::system::error_code& ec) {
            if (ec) return;
            auto s = weak_snap.lock();
            auto e = weak_env.lock();
            if (!s || !e) return;
            bool pending;
            {
                std::lock_guard lk(s->mu);
                pending = s->status.state == "Pending";
            }
            if (!pending) return;
            fail_snapshot("FunctionError.InitTimeout",
                          "The snapshot's init did not finish within its time limit");
            e->kill();
        });
    logger("exec")->debug("exec.snapshot_start id={} pid={}", snap->id, snap->status.pid);
}

// What every restored environment has, however it is restored: its log
// stream, Runtime API, RESTORE_START and the restore's records.
void Invoker::announce_restore(Environment& env, const InvokeRequest& req, std::int64_t now) {
    const auto& c = req.config;
    open_log_stream(env, settings_, req, now, ids_);
    const PlatformLog plog(c);
    // the restore takes the place of the init: RESTORE_START, platform.restoreStart
    const runtime::records::RestoreStart restore_start{req.function_name,
                                                       c.version,
                                                       ids_.uuid(),
                                                       c.memory_size,
                                                       runtime_version_name(c.runtime),
                                                       c.runtime_version_arn};
    std::string line = plog.json()
                           ? plog.restore_start(restore_start, now)
                           : "RESTORE_START Runtime Version: " + runtime_version_name(c.runtime) +
                                 "\tRuntime Version ARN: " + c.runtime_version_arn + "\n";
    {
        std::lock_guard lk(env.mu);
        env.init_log = std::move(line) + env.init_log;
    }
    env.api->telemetry().publish(runtime::RecordKind::Platform,
                                 runtime::records::restore_start(now, restore_start));
}

Result<EnvPtr> Invoker::begin_restore(const InvokeRequest& req, const std::string& key,
                                      const std::string& tmp_seen, const std::string& sandbox_ip,
                                      const std::vector<std::string>& extensions, bool announce) {
    const auto& c = req.config;
    auto env = std::make_shared<Environment>();
    env->key = key;
    env->version = c.version;
    env->init_type = "snap-start";
    env->restored = true;
    env->memory_mb = c.memory_size;
    env->tmp_seen = tmp_seen;
    LAMINA_TRY(api, runtime::RuntimeApi::open(ioc_, ids_));
    env->api = std::move(api);
    env->json_logs = c.log_format == "JSON";
    const PlatformLog plog(c);
    // a restore made ready ahead is announced when an invocation claims it
    if (announce) announce_restore(*env, req, clock_.now_ms());
    if (!sandbox_ip.empty()) env->api->telemetry().set_host(sandbox_ip);
    // the layers' extensions start anew in each restored environment (see start_environment)
    if (!extensions.empty())
        env->api->expect_extensions(extensions,
                                    {req.function_name, c.version, c.handler, req.scope.account});

    std::weak_ptr<Environment> weak = env;
    env->api->on_ready([this, weak, plog] {
        auto e = weak.lock();
        if (!e) return;
        std::function<void()> hook;
        double ms = 0;
        {
            std::lock_guard lk(e->mu);
            e->apply(EnvEvent::InitDone);
            hook = std::move(e->ready_hook);
            ms = std::chrono::duration<double, std::milli>(e->ready_at - e->spawned_at).count();
        }
        std::int64_t at = clock_.now_ms();
        std::string restore = plog.application(e->take_output());
        if (plog.json())
            restore += plog.restore_done("success", "", ms, at);
        else
            restore += "RESTORE_REPORT Restore Duration: " + format_ms(ms) + " ms\n";
        auto& telemetry = e->api->telemetry();
        telemetry.publish(runtime::RecordKind::Platform,
                          runtime::records::restore_runtime_done(at, "success", ""));
        telemetry.publish(runtime::RecordKind::Platform,
                          runtime::records::restore_report(at, "success", "", ms));
        {
            std::lock_guard lk(e->mu);
            e->init_log += restore;
            e->ready_epoch_ms = at;
        }
        if (hook) hook();
    });
    env->api->on_init_error([this, weak, plog](runtime::Outcome o) {
        auto e = weak.lock();
        if (!e) return;
        // the restore failed (an after-restore hook, an extension): its records say so
        std::int64_t at = clock_.now_ms();
        double ms =
            std::chrono::duration<double, std::milli>(Environment::Clk::now() - e->spawned_at)
                .count();
        auto& telemetry = e->api->telemetry();
        telemetry.publish(runtime::RecordKind::Platform,
                          runtime::records::restore_runtime_done(at, "failure", o.error_type));
        telemetry.publish(runtime::RecordKind::Platform,
                          runtime::records::restore_report(at, "failure", o.error_type, ms));
        std::string records = plog.restore_done("failure", o.error_type, ms, at);
        // a runtime exits after /restore/error by itself; a failed extension does not
        bool extension = o.platform_error && runtime::is_extension_error(*o.platform_error);
        {
            std::lock_guard lk(e->mu);
            e->init_log += records;
            e->init_error = std::move(o);
        }
        if (extension) e->kill();
    });
    return env;
}

Result<EnvPtr> Invoker::restore_environment(const InvokeRequest& req, const std::string& key,
                                            const std::shared_ptr<Snapshot>& snap) {
    EnvPtr zygote;
    int zygote_pid = 0;
    bool jvm = false;
    {
        std::lock_guard lk(snap->mu);
        jvm = snap->jvm;
        zygote = snap->zygote;
        zygote_pid = snap->status.pid;
    }
    if (jvm) return restore_checkpoint(req, key, snap);
    if (!zygote || zygote_pid <= 0)
        return fail(ErrorCode::Service, "the version's snapshot is not running");
    EnvPtr ready;
    {
        std::lock_guard lk(snap->mu);
        if (snap->ready_env && snap->ready_env->key == key && !snap->ready_env->dead())
            ready = std::exchange(snap->ready_env, nullptr);
    }
    // the next restore made ready meanwhile, off this thread
    auto refill = [this, snap] { ready_python_restore(snap); };
    if (ready) {
        claim_ready(ready, req);
        if (offload_) offload_(refill);
        return ready;
    }
    auto env = fork_restore(req, key, zygote, zygote_pid, nullptr);
    if (env && offload_) offload_(refill);
    return env;
}

// The fork of a restored environment from the snapshot's runtime: its
// Runtime API, output FIFO and memory cgroup made here, the fork ordered
// through the snapshot's /restore/next, the child moved into the cgroup
// once it is there. The child waits at its own /restore/next until then (or,
// made `ready` ahead, until an invocation claims it too).
Result<EnvPtr> Invoker::fork_restore(const InvokeRequest& req, const std::string& key,
                                     const EnvPtr& zygote, int zygote_pid,
                                     std::function<void(const EnvPtr&)> parked) {
    const bool ready = static_cast<bool>(parked);
    LAMINA_TRY(env, begin_restore(req, key, zygote->tmp_seen, zygote->sandbox_ip,
                                  zygote->restore_extensions, !ready));
    const auto& c = req.config;
    // its output: a FIFO in the snapshot's /tmp (the only place both see),
    // reached from here through the runtime's root (/proc/<pid>/root)
    std::string fifo = ".lamina-restore-" + ids_.hex(12);
    fs::path fifo_host =
        "/proc/" + std::to_string(zygote_pid) + "/root" + zygote->tmp_seen + "/" + fifo;
    int out_fd = sandbox::open_output_fifo(fifo_host);
    if (out_fd < 0)
        return fail(ErrorCode::Service,
                    "cannot make the restored environment's output FIFO " + fifo_host.string());
    std::vector<std::string> cgroup_procs = open_memory_group(*env, settings_, c.memory_size, ids_);
    std::weak_ptr<Environment> weak = env;
    env->api->hold_restore(true);               // until its process is in its cgroup and held here
    env->spawned_at = Environment::Clk::now();  // a ready one's: from its claim
    std::weak_ptr<Environment> weak_zygote = zygote;
    // a restore made ready is held by its order until the fork is reported;
    // an invocation's by the invocation
    auto forked = [this, weak, keep = ready ? env : nullptr, weak_zygote, zygote_pid, out_fd,
                   fifo_host, cgroup_procs, ready, parked = std::move(parked)](int ns_pid) {
        auto e = keep ? keep : weak.lock();
        if (!e) {
            ::close(out_fd);
            ::unlink(fifo_host.c_str());
            return;
        }
        std::optional<int> host =
            ns_pid > 0 ? sandbox::host_pid_of(zygote_pid, ns_pid) : std::nullopt;
        Result<std::unique_ptr<sandbox::Process>> process =
            fail(ErrorCode::Service,
                 ns_pid > 0 ? "the restored environment's process is not there"
                            : "the snapshot's runtime could not fork a restored environment");
        if (host) {
            for (const auto& procs : cgroup_procs) {  // MemorySize holds per environment
                std::ofstream join(procs);
                join << *host;
            }
            process = sandbox::adopt_restored(
                ioc_, *host, out_fd,
                [this, weak, fifo_host](sandbox::ExitStatus st) {
                    ::unlink(fifo_host.c_str());
                    if (auto env = weak.lock()) on_process_exit(env, st);
                },
                [weak_zygote] {
                    if (auto z = weak_zygote.lock()) z->api->reap_restored();
                });
        } else {
            ::close(out_fd);
            ::unlink(fifo_host.c_str());
        }
        std::optional<sandbox::ExitStatus> exited;
        if (!process) {
            {
                std::lock_guard lk(e->mu);
                runtime::Outcome o;
                o.kind = runtime::Outcome::Kind::InitError;
                auto failure = runtime::unavailable(process.error().message);
                o.body = failure.payload();
                o.error_type = runtime::to_string(failure.type);
                e->init_error = std::move(o);
            }
            e->adopt(std::make_unique<GoneProcess>(), exited);
            on_process_exit(e, sandbox::ExitStatus{0, SIGKILL});
            if (parked) parked(e);  // dead: not made ready after all
            return;
        }
        if (e->adopt(std::move(*process), exited)) on_process_exit(e, *exited);
        bool release = true;
        if (ready) {
            std::lock_guard lk(e->mu);
            e->ready_parked = true;
            release = e->ready_claimed;
        }
        if (release) e->api->hold_restore(false);
        logger("exec")->debug("exec.env_restore pid={} sandbox_pid={}", *host, ns_pid);
        if (parked) parked(e);
    };
    // the fork is reported on an io thread; the move into the memory cgroup
    // waits there for an RCU grace period (5-16 ms on a cgroup-v1 host), so it
    // is made on the offload thread, the io thread free meanwhile
    zygote->api->fork_restored(env->api->address(), zygote->tmp_seen + "/" + fifo,
                               zygote->restore_launch,
                               [this, forked = std::move(forked)](int ns_pid) {
                                   if (offload_)
                                       offload_([forked, ns_pid] { forked(ns_pid); });
                                   else
                                       forked(ns_pid);
                               });
    return env;
}

// A restored environment made ready ahead, claimed by an invocation: its
// restore begins now (RESTORE_START, Restore Duration from here), and its
// process, once in its cgroup, goes on to the after-restore hooks.
void Invoker::claim_ready(const EnvPtr& env, const InvokeRequest& req) {
    announce_restore(*env, req, clock_.now_ms());
    bool release = false;
    {
        std::lock_guard lk(env->mu);
        env->spawned_at = Environment::Clk::now();
        env->ready_claimed = true;
        release = env->ready_parked;
    }
    if (release) env->api->hold_restore(false);
    logger("exec")->debug("exec.restore_claimed function={} version={}", req.function_name,
                          req.config.version);
}

// The next restored environment of a Python snapshot, made ready while no
// invocation waits for it: the fork and the move into a new memory cgroup
// (which waits for an RCU grace period, 5-16 ms on a cgroup-v1 host) happen
// now; its after-restore hooks and everything after run once it is claimed.
// It is offered to invocations once in its cgroup; `then` runs once it is,
// or once none is to be made.
void Invoker::ready_python_restore(const std::shared_ptr<Snapshot>& snap,
                                   std::function<void()> then) {
    EnvPtr zygote;
    int zygote_pid = 0;
    InvokeRequest tmpl;  // what a restore is made from: no payload, no caller
    {
        std::lock_guard lk(snap->mu);
        if (snap->dropped || snap->jvm || snap->ready_env || snap->readying_env || !snap->zygote ||
            snap->status.pid <= 0) {
            if (then) then();
            return;
        }
        snap->readying_env = true;
        zygote = snap->zygote;
        zygote_pid = snap->status.pid;
        tmpl.scope = snap->scope;
        tmpl.function_name = snap->function;
        tmpl.config = snap->config;
    }
    auto offer = [this, snap, then](const EnvPtr& env) {
        EnvPtr unwanted;
        {
            std::lock_guard lk(mu_);
            std::lock_guard slk(snap->mu);
            snap->readying_env = false;
            if (!stopping_ && !snap->dropped && !env->dead())
                snap->ready_env = env;
            else
                unwanted = env;
        }
        if (unwanted) retire(unwanted, "spindown");
        if (then) then();
    };
    auto env = fork_restore(tmpl, pool_key(tmpl), zygote, zygote_pid, offer);
    if (env) return;
    logger("exec")->debug("exec.restore_not_ready id={} reason=\"{}\"", snap->id,
                          env.error().message);
    {
        std::lock_guard lk(snap->mu);
        snap->readying_env = false;
    }
    if (then) then();
}

std::vector<Invoker::EnvPtr> Invoker::take_ready_environments() {
    std::vector<EnvPtr> ready;
    std::lock_guard lk(mu_);
    for (auto& [id, snap] : snapshots_) {
        std::lock_guard slk(snap->mu);
        if (snap->ready_env) ready.push_back(std::exchange(snap->ready_env, nullptr));
    }
    return ready;
}

}  // namespace lamina::exec
