#include "lamina/exec/invoker.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/runtime/error_types.hpp"
#include "lamina/runtime/runtime_api.hpp"
#include "platform_log.hpp"
#include "provisioned_pool.hpp"
#include "spare_starter.hpp"

namespace lamina::exec {

namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {

InvokeResult platform_failure(const runtime::PlatformError& e) {
    return {e.payload(), true, "", std::nullopt};
}

// An invocation refused with an AWS error (SnapStart's): nothing ran.
InvokeResult refusal(Error e) {
    InvokeResult r;
    r.payload =
        nlohmann::json{
            {"errorMessage", e.message},
            {"errorType", e.code == ErrorCode::SnapStartNotReady  ? "SnapStartNotReadyException"
                          : e.code == ErrorCode::SnapStartTimeout ? "SnapStartTimeoutException"
                          : e.code == ErrorCode::SnapStart        ? "SnapStartException"
                                                                  : "ResourceConflictException"}}
            .dump();
    r.function_error = true;
    r.refused = std::move(e);
    return r;
}

// How an invocation ended, for its REPORT line and for its environment.
struct Ending {
    bool reusable = true;                   // the runtime answered: the environment may serve again
    std::string report_status;              // REPORT's status part ("Status: timeout", ...)
    const char* retire_reason = "failure";  // SHUTDOWN's reason when not reusable
    bool streamed = false;                  // the response went to the request's on_stream
    std::string error_type;                 // the runtime's error type, when it gave one
    Clk::time_point delivered{};            // runtime::Outcome's: lamina's own share
    Clk::time_point answered{};
    std::optional<Error> refused;  // answered as an AWS error (SnapStart's)
    static Ending failed(std::string status, const char* reason = "failure") {
        return Ending{false, std::move(status), reason};
    }
};

// A debugged invocation's time limit: `left` runs down only while no
// debugger client is connected to `port`, looked at once a second.
void count_down_detached(const std::shared_ptr<boost::asio::steady_timer>& timer,
                         Clk::duration left, Clk::time_point last, int port,
                         const std::function<void(const boost::system::error_code&)>& on_timeout) {
    timer->expires_after(std::min<Clk::duration>(left, std::chrono::seconds(1)));
    timer->async_wait([timer, left, last, port, on_timeout](const boost::system::error_code& ec) {
        if (ec) return;
        auto now = Clk::now();
        auto rest = client_connected(port) ? left : left - (now - last);
        if (rest <= Clk::duration::zero()) {
            on_timeout(ec);
            return;
        }
        count_down_detached(timer, rest, now, port, on_timeout);
    });
}

}  // namespace

void Invoker::set_endpoint_url(std::string url) {
    std::lock_guard lk(mu_);
    settings_.endpoint_url = std::move(url);
}

namespace {
// REPORT's Max Memory Used: the memory cgroup's peak in MB (rounded up), or,
// without one (bytes <= 0), the process's own peak RSS.
long peak_mb_of(std::int64_t bytes, const Environment& env) {
    return bytes > 0 ? static_cast<long>((bytes + (1 << 20) - 1) >> 20) : env.peak_rss_mb();
}
}  // namespace

long Invoker::peak_mb(const Environment& env) const {
    std::int64_t bytes = 0;
    if (settings_.memory && !env.cgroup.empty())
        bytes = env.peak_fd >= 0 ? sandbox::MemoryCgroups::peak_bytes_at(env.peak_fd)
                                 : settings_.memory->peak_bytes(env.cgroup);
    return peak_mb_of(bytes, env);
}

Invoker::Invoker(boost::asio::io_context& ioc, ExecSettings settings, store::LayerCache& cache,
                 Clock& clock, IdSource& ids, ConcurrencyController* concurrency,
                 std::unique_ptr<sandbox::Launcher> launcher)
    : ioc_(ioc),
      settings_(std::move(settings)),
      launcher_(std::move(launcher)),
      cache_(cache),
      clock_(clock),
      ids_(ids),
      concurrency_(concurrency),
      spare_starter_(std::make_unique<SpareStarter>(settings_.spare_quiet)) {
    if (!launcher_) {
        launcher_ = sandbox::make_launcher(
            ioc_,
            {settings_.backend, settings_.bwrap,
             settings_.backend == sandbox::Backend::Bubblewrap ? settings_.run_as : std::nullopt,
             settings_.work_dir});
    }
    if (!settings_.images_dir.empty()) {
        images_ = std::make_unique<oci::ImageRoots>(settings_.images_dir);
        images_->clean_temporaries();
    }
}

Invoker::~Invoker() { shutdown(); }

std::string Invoker::pool_key(const InvokeRequest& r) const {
    return r.scope.account + "/" + r.scope.region + "/" + r.function_name + "/" + r.config.version +
           "/" + r.config.code_sha256 + "/" + std::to_string(r.config.last_modified_ms);
}

std::size_t Invoker::environment_count() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& e : all_)
        if (!e->dead()) ++n;
    return n;
}

namespace {

// A function error's type as the function gave it (the payload's errorType,
// e.g. "ValueError"), else the runtime's header ("Unhandled").
std::string error_type_of(const InvokeResult& r) {
    if (!r.streamed && !r.payload.empty() && r.payload.front() == '{') {
        auto j = nlohmann::json::parse(r.payload, nullptr, false);
        if (j.is_object())
            if (auto it = j.find("errorType"); it != j.end() && it->is_string() && !it->empty())
                return it->get<std::string>();
    }
    return r.error_type;
}

}  // namespace

void Invoker::invoke(InvokeRequest req, std::function<void(InvokeResult)> done) {
    if (recent_) {
        InvocationRecord rec{req.scope, req.request_id, req.function_name, req.qualifier,
                             req.config.version};
        rec.started_ms = clock_.now_ms();
        rec.payload_in = req.payload.size();
        // recorded once the caller has its answer (done may write it to its socket)
        done = [this, recent = recent_, rec = std::move(rec),
                done = std::move(done)](InvokeResult r) mutable {
            rec.at_ms = clock_.now_ms();
            rec.duration_ms = r.duration_ms;
            rec.cold = r.cold;
            rec.init_type = r.init_type;
            rec.payload_out = r.streamed ? 0 : r.payload.size();
            rec.status = r.throttle ? "Throttled" : r.function_error ? "Error" : "Success";
            rec.error_type = r.throttle         ? r.throttle->reason
                             : r.function_error ? error_type_of(r)
                                                : r.error_type;
            rec.log = r.log;
            auto late = r.late_log;
            done(std::move(r));
            if (late) rec.log = late->text();
            recent->record(std::move(rec));
        };
    }
    if (metrics_) {
        metrics::InvocationTarget target{req.scope, req.function_name, req.qualifier,
                                         req.config.version};
        // recorded once the caller has its answer, as above
        done = [metrics = metrics_, target, done = std::move(done)](InvokeResult r) {
            const bool throttled = r.throttle.has_value(), failed = r.function_error;
            const double duration_ms = r.duration_ms;
            done(std::move(r));
            if (throttled) {
                metrics::record_lambda(metrics, target, "Throttles", 1, "Count");
            } else {
                metrics::record_lambda(metrics, target, "Invocations", 1, "Count");
                metrics::record_lambda(metrics, target, "Errors", failed ? 1 : 0, "Count");
                metrics::record_lambda(metrics, target, "Duration", duration_ms, "Milliseconds");
            }
        };
    }
    admit(std::move(req), std::move(done));
}

namespace {

// A spare for the next cold start of req's version (prepare()), once the cold
// start has its answer (its start competes with no init), then `done`: after
// `done` the caller may let the invoker go, so nothing of it is touched then.
std::function<void(InvokeResult)> then_prepare(Invoker& invoker, const InvokeRequest& req,
                                               std::function<void(InvokeResult)> done) {
    InvokeRequest tmpl;  // what prepare() reads: no payload, no caller
    tmpl.scope = req.scope;
    tmpl.function_name = req.function_name;
    tmpl.config = req.config;
    tmpl.qualifier = req.qualifier;
    tmpl.reserved_concurrency = req.reserved_concurrency;
    return [&invoker, tmpl = std::move(tmpl), done = std::move(done)](InvokeResult r) {
        invoker.prepare(tmpl);
        done(std::move(r));
    };
}

}  // namespace

void Invoker::admit(InvokeRequest req, std::function<void(InvokeResult)> done) {
    if (snap_start_on(req.config)) {
        // a SnapStart version runs once its snapshot is taken
        SnapshotStatus snap = snapshot(req.scope, req.function_name, req.config);
        if (snap.state != "Active") {
            Error e = snap.state == "Pending"
                          ? Error{ErrorCode::SnapStartNotReady,
                                  "Lambda is initializing your function. It will be ready to "
                                  "invoke once your function state becomes ACTIVE."}
                          : Error{ErrorCode::ResourceConflict,
                                  "The operation cannot be performed at this time. The function "
                                  "is currently in the following state: Failed"};
            done(refusal(std::move(e)));
            return;
        }
    }
    std::string key = pool_key(req);
    auto debug_or = debug_launch_for(settings_.debug, settings_.debug_wait, req.function_name,
                                     req.qualifier, req.config);
    if (!debug_or) {
        done(platform_failure(runtime::unavailable(debug_or.error().message)));
        return;
    }
    const std::optional<DebugLaunch> debug = *debug_or;
    // a debugged environment serves only invocations debugged on the same port
    if (debug) key += "/debug:" + std::to_string(debug->port) + (debug->wait ? ":wait" : "");
    // Tenant isolation: an environment serves the one tenant it started for,
    // never another (nor an invocation without a tenant). Last in the key, after
    // a newline no tenant id can hold, so no tenant id can pose as another key.
    if (!req.tenant_id.empty()) key += "\ntenant:" + req.tenant_id;
    EnvPtr env, previous;
    SlotPtr slot;
    bool claimed = false;  // a spare environment: a cold start all the same
    metrics::InvocationTarget target{req.scope, req.function_name, req.qualifier,
                                     req.config.version};
    // what the metrics of this admission say, recorded once the lock is released
    std::optional<std::pair<int, int>> provisioned_busy;  // busy, allocated
    bool spillover = false;
    {
        std::lock_guard lk(mu_);
        if (stopping_) {
            done(platform_failure(runtime::unavailable("lamina is shutting down")));
            return;
        }
        bool provisioned = false;
        if (!req.qualifier.empty() && !debug) {  // provisioned environments are never debugged
            // a provisioned environment of this qualifier takes it first, with no cold start
            auto pc = provisioned_.find(req.scope.account + "/" + req.scope.region + "/" +
                                        req.function_name + "/" + req.qualifier);
            if (pc != provisioned_.end()) {
                auto& idle = pc->second->idle;
                for (auto it = idle.begin(); it != idle.end(); ++it) {
                    if ((*it)->key != key) continue;  // a weighted alias drew the other version
                    if ((*it)->dead()) continue;
                    env = *it;
                    idle.erase(it);
                    provisioned = true;
                    break;
                }
                int allocated = static_cast<int>(pc->second->envs.size());
                if (provisioned)
                    provisioned_busy =
                        std::make_pair(allocated - static_cast<int>(idle.size()), allocated);
                else
                    spillover = true;
            }
        }
        if (provisioned && concurrency_)
            slot = std::make_shared<Slot>(
                concurrency_->acquire_provisioned(req.scope, req.function_name));
        auto range = idle_.equal_range(key);
        for (auto it = range.first; it != range.second && !env;) {
            if (it->second->dead()) {
                it = idle_.erase(it);
                continue;
            }
            env = it->second;
            break;
        }
        if (!env && !req.tenant_id.empty()) {
            // AWS keeps at most 2,500 tenant environments (active or idle) per
            // 1,000 of the function's concurrency; a new tenant beyond that is throttled
            const long limit = req.reserved_concurrency ? *req.reserved_concurrency
                               : concurrency_ ? concurrency_->settings().quota.account_limit
                                              : CapacityQuota{}.account_limit;
            const std::string prefix =
                req.scope.account + "/" + req.scope.region + "/" + req.function_name + "/";
            long tenants = 0;
            for (const auto& e : all_)
                if (e->key.starts_with(prefix) && e->key.find("\ntenant:") != std::string::npos &&
                    !e->dead())
                    ++tenants;
            if (tenants >= limit * 5 / 2) {
                InvokeResult refused;
                refused.throttle = Throttle{"TenantEnvironmentLimitExceeded"};
                done(std::move(refused));
                return;
            }
        }
        if (debug && !env) {
            // one debugged environment per port: while it starts or runs an
            // invocation, another is throttled as a reserved concurrency of 1 is
            auto& lane = debug_lanes_[debug->port];
            std::optional<EnvState> state;
            if (lane.env) {
                std::lock_guard elk(lane.env->mu);
                state = lane.env->state;
            }
            if (lane.starting || state == EnvState::Starting ||
                state == EnvState::StartingInvoked || state == EnvState::Busy ||
                state == EnvState::Settling) {
                InvokeResult refused;
                refused.throttle = Throttle{"ReservedFunctionConcurrentInvocationLimitExceeded"};
                done(std::move(refused));
                return;
            }
        }
        if (concurrency_ && !provisioned) {
            // admitted by the account's pools before anything runs; starting a
            // new environment also needs the scaling rate's leave
            auto admitted = concurrency_->acquire(
                Demand{req.scope, req.function_name, req.reserved_concurrency, req.reserved_total,
                       req.provisioned_total, env == nullptr});
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
        if (!env && !debug) {
            env = take_spare(key);  // a cold start, with its sandbox and runtime already up
            claimed = env != nullptr;
        }
        if (debug && !env) {
            // an idle one of other code or settings (or one on its way out)
            // goes first: the new one starts once it has let go of the port
            auto& lane = debug_lanes_[debug->port];
            if (lane.env && !lane.env->dead()) {
                previous = lane.env;
                for (auto it = idle_.begin(); it != idle_.end(); ++it)
                    if (it->second == previous) {
                        idle_.erase(it);
                        break;
                    }
            }
            lane.env.reset();
            lane.starting = true;
        }
    }
    if (metrics_) {
        if (concurrency_) {
            // the concurrency at admission, recorded once the caller has its answer
            auto usage = concurrency_->usage(req.scope);
            done = [metrics = metrics_, target, usage,
                    of_function = concurrency_->concurrent(req.scope, req.function_name),
                    done = std::move(done)](InvokeResult r) {
                done(std::move(r));
                metrics::record_lambda(metrics, target, "ConcurrentExecutions", of_function,
                                       "Count", false);
                metrics->record(target.scope, metrics::kLambdaNamespace, "ConcurrentExecutions", {},
                                usage.concurrent, "Count");
                metrics->record(target.scope, metrics::kLambdaNamespace,
                                "UnreservedConcurrentExecutions", {}, usage.unreserved_concurrent,
                                "Count");
            };
        }
        if (provisioned_busy) {
            auto [busy, allocated] = *provisioned_busy;
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencyInvocations", 1,
                                   "Count", false);
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrentExecutions", busy,
                                   "Count", false);
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencyUtilization",
                                   allocated ? static_cast<double>(busy) / allocated : 0.0, "None",
                                   false);
        } else if (spillover) {
            metrics::record_lambda(metrics_, target, "ProvisionedConcurrencySpilloverInvocations",
                                   1, "Count", false);
        }
    }
    if (claimed) {
        claim_spare(env, req);
        // the continuation reads req before run() takes it
        auto answered = then_prepare(*this, req, std::move(done));
        run(std::move(req), env, true, std::move(slot), std::move(answered));
        return;
    }
    if (!env && offload_) {
        // a cold start extracts code, assembles /opt and forks: never on the
        // caller's (possibly I/O) thread
        offload_([this, req = std::move(req), key = std::move(key), slot, done = std::move(done),
                  debug, previous]() mutable {
            start_and_run(std::move(req), key, std::move(slot), done, debug, previous);
        });
        return;
    }
    if (!env) {
        start_and_run(std::move(req), key, std::move(slot), done, debug, previous);
        return;
    }
    run(std::move(req), env, false, std::move(slot), std::move(done));
}

void Invoker::prune_dead() {
    // environments whose process is gone and whose exit was handled: nothing
    // refers to them any more (their memory and log file are let go)
    std::erase_if(all_, [](const EnvPtr& e) {
        std::lock_guard lk(e->mu);
        return e->state == EnvState::Dead && e->exit_handled;
    });
}

void Invoker::start_and_run(InvokeRequest req, const std::string& key, SlotPtr slot,
                            const std::function<void(InvokeResult)>& done,
                            const std::optional<DebugLaunch>& debug, const EnvPtr& previous) {
    EnvPtr env;
    {
        std::uint64_t generation;
        {
            std::lock_guard lk(mu_);
            generation = generation_;
        }
        Result<EnvPtr> started = fail(ErrorCode::Service, "");
        if (debug) {
            if (previous) {
                // the environment that holds the port ends first (up to 5 s)
                retire(previous, "spindown");
                std::unique_lock lk(exits_mu_);
                exits_cv_.wait_for(lk, std::chrono::seconds(5), [&] {
                    std::lock_guard elk(previous->mu);
                    return previous->exit_handled;
                });
            }
            auto free = check_port_free(debug->port);
            // what the old environment started (debugpy's adapter) may outlive it
            // for a moment: its sandbox's pid namespace is torn down after it
            for (int i = 0; previous && !free && i < 40; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                free = check_port_free(debug->port);
            }
            if (free)
                started = start_environment(req, key, "on-demand", debug);
            else
                started = fail(free.error().code, free.error().message + ": free it or choose " +
                                                      "another port for " + debug->source);
            std::lock_guard lk(mu_);
            auto& lane = debug_lanes_[debug->port];
            lane.starting = false;
            if (started) lane.env = *started;
        } else if (snap_start_on(req.config)) {
            auto snap = find_snapshot(req);
            started = snap ? restore_environment(req, key, snap)
                           : fail(ErrorCode::Service, "the version's snapshot is gone");
        } else {
            started = start_environment(req, key);
        }
        if (!started) {
            const auto& e = started.error();
            bool no_bootstrap = runtime::parse_error_type(e.message) ==
                                runtime::ErrorType::RuntimeInvalidEntrypoint;
            if (e.message.rfind(kImageEntrypointError, 0) == 0) {
                done(platform_failure(runtime::PlatformError{
                    runtime::ErrorType::RuntimeInvalidEntrypoint,
                    "RequestId: " + req.request_id + " Error: " +
                        e.message.substr(std::string_view(kImageEntrypointError).size())}));
                return;
            }
            done(platform_failure(no_bootstrap ? runtime::invalid_entrypoint(req.request_id)
                                               : runtime::unavailable(e.message)));
            return;
        }
        env = *started;
        env->generation = generation;
        std::lock_guard lk(mu_);
        prune_dead();
        all_.push_back(env);
    }
    if (!debug) {
        auto answer = then_prepare(*this, req, done);
        run(std::move(req), env, true, std::move(slot), std::move(answer));
        return;
    }
    run(std::move(req), env, true, std::move(slot), done);
}

void Invoker::run(InvokeRequest request, const EnvPtr& env, bool cold, SlotPtr slot,
                  std::function<void(InvokeResult)> done) {
    auto shared_req = std::make_shared<InvokeRequest>(std::move(request));
    const InvokeRequest& req = *shared_req;
    if (env->idle_timer) env->idle_timer->cancel();
    {
        // the invocation's claim on capacity lasts while the environment is busy with it
        std::lock_guard lk(env->mu);
        env->slot = std::move(slot);
        env->apply(EnvEvent::Invoke);  // a dead one is answered below
    }

    auto start = Clk::now();
    int timeout_s = req.config.timeout;
    PlatformLog plog(req.config, req.tenant_id);  // LoggingConfig: Text lines or JSON records
    const std::int64_t start_ms = clock_.now_ms();
    std::string header;
    // What the environment printed since its last invocation (its init so
    // far, or an extension between invocations) stays in its log stream; a
    // cold start's also leads this invocation's log.
    if (std::string before = env->take_init_log() + plog.application(env->take_output());
        !before.empty()) {
        if (cold)
            header = std::move(before);
        else if (!env->log_file.empty())
            env->append_log(before);
    }
    const std::string trace_id = !req.trace_header.empty()
                                     ? req.trace_header
                                     : "Root=1-" + ids_.hex(8) + "-" + ids_.hex(24) +
                                           ";Parent=" + ids_.hex(16) + ";Sampled=0";
    auto finished = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    // The environment is free once the runtime answered and every extension
    // acknowledged the invocation (both count the gate down to zero).
    auto gate = std::make_shared<std::atomic<int>>(2);
    auto deadline = Clk::now() + std::chrono::seconds(timeout_s);
    // The caller's continuation and `finish` are shared by the paths that may
    // end the invocation (the answer, the timeout, the exit, a retry): one copy
    // each, not a deep copy of their captures per path.
    auto shared_done = std::make_shared<const std::function<void(InvokeResult)>>(std::move(done));
    auto finish_once = [this, env, req_id = req.request_id, header = std::move(header), start, cold,
                        finished, timer, done = shared_done, gate, deadline, plog = std::move(plog),
                        memory = req.config.memory_size, start_ms, trace_id,
                        version = req.config.version, log_after = req.log_after_answer](
                           std::string payload, bool error, const Ending& ending) {
        if (finished->exchange(true)) return;
        timer->cancel();
        double ms = std::chrono::duration<double, std::milli>(Clk::now() - start).count();
        double init_ms = 0;
        if (cold) {
            std::lock_guard lk(env->mu);
            if (env->initialised())
                init_ms = std::chrono::duration<double, std::milli>(env->ready_at - env->spawned_at)
                              .count();
            ms = std::max(0.0,
                          ms - init_ms);  // Duration is the invoke phase; init is reported apart
        }
        PlatformLog::Report report{req_id,
                                   ms,
                                   static_cast<long>(std::ceil(ms)),
                                   memory,
                                   0,  // Max Memory Used: below
                                   cold ? std::optional<double>(init_ms) : std::nullopt,
                                   ending.report_status};
        if (env->restored) std::swap(report.init_ms, report.restore_ms);  // Restore Duration
        std::int64_t began = start_ms;
        {
            std::lock_guard lk(env->mu);
            began = std::max(began, env->ready_epoch_ms);
        }
        // What the lines hold of the environment is taken now: once it is settled
        // its next invocation may begin. A cold start's init (its records, what it
        // printed) leads the invocation's.
        auto& telemetry = env->api->telemetry();
        if (telemetry.any())  // before the function's own records (take_output tells them)
            telemetry.publish(
                runtime::RecordKind::Platform,
                plog.tagged(runtime::records::start(began, req_id, version, trace_id)));
        std::string before = header + env->take_init_log();
        std::string output = env->take_output();
        std::int64_t now = clock_.now_ms();
        // A warm answer's caller gets it before its lines are formatted (with the
        // peak read from the environment's memory cgroup) and written: see
        // InvokeRequest::log_after_answer. Telemetry's records are told first.
        const bool in_cgroup = settings_.memory && !env->cgroup.empty();
        const bool later = log_after && ending.reusable && !telemetry.any() &&
                           !(in_cgroup && env->peak_fd < 0);  // (peak_mb's other ways)
        if (!later) report.max_memory_mb = peak_mb(*env);
        if (telemetry.any()) {
            auto inv = PlatformLog::invoke_record(report);
            inv.trace_id = trace_id;
            inv.produced_bytes = error ? 0 : payload.size();
            telemetry.publish(runtime::RecordKind::Platform,
                              runtime::records::runtime_done(now, inv));
            telemetry.publish(runtime::RecordKind::Platform,
                              plog.tagged(runtime::records::report(now, inv)));
        }
        auto lines = std::make_shared<LateLog>(
            [plog, report, before = std::move(before), output = std::move(output), began, now,
             version, later, peak_fd = in_cgroup ? env->peak_fd : -1, e = env.get()]() mutable {
                if (later)  // as peak_mb() reads it (the environment outlives this: see below)
                    report.max_memory_mb = peak_mb_of(
                        peak_fd >= 0 ? sandbox::MemoryCgroups::peak_bytes_at(peak_fd) : 0, *e);
                return before + plog.start(report.request_id, version, began) +
                       plog.application(std::move(output)) + plog.end(report, now);
            });
        // A reusable environment's lines are written once the answer is (below): the
        // caller's socket first. They stay ahead of whatever it logs next (hold_log).
        if (ending.reusable)
            env->hold_log(lines);
        else
            env->append_log(lines->text());
        if (ending.reusable) {
            env->fire(EnvEvent::Answer);
            settle(env, gate, deadline);
        } else {
            retire(env, ending.retire_reason);
        }
        InvokeResult result{std::move(payload), error, later ? std::string() : lines->text()};
        if (later) result.late_log = lines;
        result.refused = ending.refused;
        result.duration_ms = ms;
        result.streamed = ending.streamed;
        result.error_type = ending.error_type;
        result.cold = cold;
        result.init_type = env->init_type;
        result.delivered = ending.delivered;
        result.answered = ending.answered;
        (*done)(std::move(result));
        // At the latest here `lines` are formatted (the recent ring may have asked
        // already): while this holds the environment.
        if (ending.reusable) env->release_log();
    };
    auto finish = std::make_shared<const decltype(finish_once)>(std::move(finish_once));

    {
        std::unique_lock lk(env->mu);
        // A warm environment that dies before its runtime took the invocation
        // (it exited right after its last answer, or while idle) does not fail
        // it: the invocation goes to a new environment, as AWS re-initialises.
        std::function<bool()> retry_elsewhere;
        if (!cold) {
            retry_elsewhere = [this, env, finished, timer, shared_req, done = shared_done] {
                if (env->api->invocation_taken() || finished->exchange(true)) return false;
                timer->cancel();
                env->api->abandon();
                retire(env, "failure");
                admit(*shared_req, *done);
                return true;
            };
        }
        env->on_exit = [env, finish, retry_elsewhere,
                        req_id = req.request_id](const EnvExit& exit) {
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
                auto ending = Ending::failed("Status: error\tError Type: " + init.error_type);
                if (env->restored && init.error_type == "Runtime.AfterRestoreError")
                    // an after-restore hook failed: AWS answers SnapStartException
                    ending.refused = Error{ErrorCode::SnapStart,
                                           "The afterRestore() runtime hook encountered an error. "
                                           "For more information, check the Amazon CloudWatch "
                                           "logs."};
                (*finish)(init.body, true, ending);
                return;
            }
            auto failure = exit.out_of_memory
                               ? runtime::out_of_memory(req_id)
                               : runtime::exit_error(req_id, exit.status.code, exit.status.signal);
            (*finish)(failure.payload(), true, Ending::failed(failure.report_status()));
        };
        if (env->state == EnvState::Dead) {  // it died before this invocation reached it
            auto on_exit = std::move(env->on_exit);
            EnvExit exit = env->exit.value_or(EnvExit{sandbox::ExitStatus{0, SIGKILL}, false});
            lk.unlock();
            on_exit(exit);
            return;
        }
    }

    runtime::Invocation inv;
    inv.request_id = req.request_id;
    inv.payload = req.payload;
    inv.deadline_ms = clock_.now_ms() + static_cast<std::int64_t>(timeout_s) * 1000;
    inv.invoked_function_arn = req.invoked_arn;
    inv.trace_id = trace_id;
    inv.client_context = req.client_context;
    inv.tenant_id = req.tenant_id;
    inv.on_stream = req.on_stream;
    // The function's Timeout runs from the moment the runtime takes the event;
    // a cold environment first gets the init limit (10 s) to reach /next.
    auto on_timeout = [env, finish, req_id = req.request_id,
                       timeout_s](const boost::system::error_code& ec) {
        if (ec) return;
        env->api->abandon();
        {
            std::lock_guard lk(env->mu);
            env->on_exit = nullptr;
            env->ready_hook = nullptr;
        }
        auto failure = runtime::timed_out(req_id, timeout_s);
        auto ending = Ending::failed(failure.report_status(), "timeout");
        {
            std::lock_guard lk(env->mu);
            if (env->restored && !env->initialised())  // the restore itself took too long
                ending.refused = Error{ErrorCode::SnapStartTimeout,
                                       "Lambda couldn't restore the snapshot within the timeout "
                                       "limit."};
        }
        (*finish)(failure.payload(), true, ending);
    };
    const int debug_port = env->debug_port;
    auto arm = [timer, on_timeout, debug_port](std::chrono::milliseconds limit) {
        if (debug_port) {  // the limit runs only while no debugger is connected
            count_down_detached(timer, limit, Clk::now(), debug_port, on_timeout);
            return;
        }
        timer->expires_after(limit);
        timer->async_wait(on_timeout);
    };
    std::chrono::milliseconds function_limit = std::chrono::seconds(timeout_s);
    bool armed_now = true;
    if (cold) {
        std::lock_guard lk(env->mu);
        if (!env->initialised()) {
            env->ready_hook = [arm, function_limit] { arm(function_limit); };
            armed_now = false;
        }
    }
    // a runtime waiting for its debugger (--debug-wait) has no init limit
    if (armed_now || !env->debug_wait)
        arm(armed_now
                ? function_limit
                : std::chrono::duration_cast<std::chrono::milliseconds>(settings_.init_timeout));
    auto st = env->api->invoke(
        std::move(inv),
        [env, finish](runtime::Outcome o) {
            {
                std::lock_guard lk(env->mu);
                env->on_exit = nullptr;
            }
            bool error = o.kind != runtime::Outcome::Kind::Response;
            Ending ending;
            ending.streamed = o.streamed;
            ending.error_type = std::move(o.error_type);
            ending.delivered = o.delivered;
            ending.answered = o.answered;
            (*finish)(std::move(o.body), error, ending);
        },
        [this, env, gate, deadline] { settle(env, gate, deadline); });
    if (!st)
        (*finish)(runtime::unavailable(st.error().message).payload(), true, Ending::failed(""));
}

}  // namespace lamina::exec
