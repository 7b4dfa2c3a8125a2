#pragma once
// The data plane: runs an invocation in an execution environment of the
// function version, starting one (cold start) when no idle one is warm.
// An environment is a sandboxed process speaking the Runtime API; it is
// reused for the same version, code and configuration only, killed on
// timeout, crash or init failure, and reaped after idling.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/names.hpp"
#include "lamina/exec/concurrency.hpp"
#include "lamina/exec/debug.hpp"
#include "lamina/exec/late_log.hpp"
#include "lamina/exec/recent_invocations.hpp"
#include "lamina/http/body_stream.hpp"
#include "lamina/logs/log_store.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/oci/unpack.hpp"
#include "lamina/sandbox/launch_spec.hpp"
#include "lamina/sandbox/launcher.hpp"
#include "lamina/sandbox/memory_cgroup.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::exec {

class SpareStarter;  // spare_starter.hpp

struct Environment;  // environment.hpp (private to exec)
struct Provisioned;  // a provisioned concurrency config's environments

struct ExecSettings {
    sandbox::Backend backend = sandbox::Backend::Process;
    std::filesystem::path bwrap = "/usr/bin/bwrap";
    std::filesystem::path runtimes_dir;   // lamina's bootstraps (python/, node/)
    std::filesystem::path work_dir;       // per-environment scratch (process backend /tmp)
    std::filesystem::path logs_dir;       // <logs>/<account>/<region>/<log group>/<stream>.log
    logs::LogStore* log_store = nullptr;  // also records every line there (the Logs API reads it)
    std::map<std::string, std::string> interpreters;  // runtime -> interpreter path
    std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
    // Spare environments (spare.cpp): at most this many, one per function
    // version, the least recently used let go first; 0 turns them off.
    int spare_environments = 0;
    // ...started once CreateFunction and its kin were quiet this long (spare_starter.hpp)
    std::chrono::milliseconds spare_quiet{50};
    std::chrono::milliseconds init_timeout{std::chrono::seconds(10)};
    // Provisioned environments initialise ahead of any invocation, with a
    // longer limit: this, or the function's Timeout if longer (AWS: 130 s).
    // An environment past it is stopped and the config marked FAILED.
    std::chrono::milliseconds provisioned_init_timeout{std::chrono::seconds(130)};
    std::string endpoint_url;  // AWS_ENDPOINT_URL given to functions (lamina itself)
    // container images' unpacked roots (<data dir>/images); empty: none
    std::filesystem::path images_dir;
    // uid, gid the environment's processes run as (set when lamina is root
    // and the backend is bubblewrap); also names them in the sandbox's /etc/passwd.
    std::optional<std::pair<unsigned, unsigned>> run_as;
    std::optional<sandbox::MemoryCgroups> memory;  // limits MemorySize where cgroups are writable
    // account -> (access key id, secret) given to its functions, when lamina
    // verifies signatures; otherwise functions get the account id as key
    std::map<std::string, std::pair<std::string, std::string>> account_keys;
    // serve --debug entries, and --debug-wait (debug.hpp; LAMINA_DEBUG_PORT needs none)
    std::vector<DebugTarget> debug;
    bool debug_wait = false;
};

struct InvokeRequest {
    control::Scope scope;
    std::string function_name;
    control::VersionConfig config;  // the resolved version
    std::string invoked_arn;        // as the caller named it
    std::string payload;
    std::optional<std::string> client_context;  // decoded JSON
    std::string request_id;
    std::string
        qualifier;  // the version or alias the caller named ("" unqualified): provisioned envs serve it
    std::optional<int> reserved_concurrency;  // the function's, for the concurrency controller
    std::int64_t reserved_total = 0;          // all reservations in the account and region
    int provisioned_total = 0;                // the function's provisioned concurrency
    // The X-Ray header the invocation carries to the runtime (Lambda-Runtime-
    // Trace-Id, with its Lineage); empty: a new one.
    std::string trace_header;
    // The tenant of a tenant-isolated function's invocation (X-Amz-Tenant-Id;
    // "" for other functions): it runs only in environments of that tenant,
    // and reaches the runtime as Lambda-Runtime-Aws-Tenant-Id.
    std::string tenant_id;
    // Takes a response the function streams, as it comes (runtime::Invocation::on_stream).
    std::function<void(std::shared_ptr<http::BodySource>, std::string content_type)> on_stream;
    // The caller sends no log lines with the answer (no LogType Tail): a warm
    // invocation's are formatted after it (InvokeResult::late_log), not before.
    bool log_after_answer = false;
};

struct InvokeResult {
    std::string payload;
    bool function_error = false;       // X-Amz-Function-Error: Unhandled
    std::string log;                   // this invocation's log lines, START..REPORT
    std::optional<Throttle> throttle;  // refused for capacity: nothing ran (429)
    double duration_ms = 0;            // the invoke phase, as REPORT's Duration
    bool streamed = false;   // the response went to on_stream; `payload` holds only an error
    std::string error_type;  // the runtime's Lambda-Runtime-Function-Error-Type, when it gave one
    bool cold = false;       // an environment was started for it (its log has the init)
    std::string init_type;   // the environment's: on-demand | provisioned-concurrency | snap-start
    // Refused with an AWS error instead of running (SnapStart: the snapshot is
    // not ready, a restore timed out, an after-restore hook failed). `payload`
    // then holds the same as a function error, for callers that have no error to answer.
    std::optional<Error> refused;
    // When the event was handed to the runtime and when its answer arrived
    // (steady clock; unset when the runtime never answered): with the
    // request's arrival they give lamina's own share of the invocation.
    std::chrono::steady_clock::time_point delivered{};
    std::chrono::steady_clock::time_point answered{};
    // Instead of `log` (left empty) with InvokeRequest::log_after_answer: its
    // lines, formatted when first asked for (at the latest right after `done`).
    std::shared_ptr<LateLog> late_log;
};

// SnapStart: a published version of a function with SnapStart ApplyOn
// PublishedVersions runs from a snapshot ($LATEST never does).
bool snap_start_on(const control::VersionConfig& config);

// A SnapStart version's snapshot, as its State shows it.
struct SnapshotStatus {
    std::string state = "Active";  // Pending | Active | Failed
    std::string reason;            // StateReason, StateReasonCode when not Active
    std::string reason_code;
    int pid = 0;  // the snapshot's runtime (host pid), while it runs
};

// What GetProvisionedConcurrencyConfig reports of one config.
struct ProvisionedStatus {
    int requested = 0;
    int allocated = 0;  // environments initialised and kept
    int available =
        0;  // of those, how many can take an invocation (all of them: lamina has no rate cap)
    std::string status = "IN_PROGRESS";  // IN_PROGRESS | READY | FAILED
    std::string reason;                  // StatusReason when FAILED
};

// Finds an interpreter for each managed runtime lamina runs (python3.x on
// /usr/bin, node on PATH), overridden by explicit `runtime=path` entries.
std::map<std::string, std::string> default_interpreters(
    const std::map<std::string, std::string>& overrides);

class Invoker {
public:
    // `concurrency` (may be null: no limits) admits every invocation.
    // Environments start through `launcher`; without one, through the
    // sandbox launcher that `settings` name (backend, bwrap, run_as, work_dir).
    Invoker(boost::asio::io_context& ioc, ExecSettings settings, store::LayerCache& cache,
            Clock& clock, IdSource& ids, ConcurrencyController* concurrency = nullptr,
            std::unique_ptr<sandbox::Launcher> launcher = nullptr);
    ~Invoker();

    // Runs the invocation; `done` is called exactly once, from any thread.
    // A warm invocation is handed to its environment on the calling thread;
    // a cold start runs where `offload` puts it (see set_offload).
    void invoke(InvokeRequest req, std::function<void(InvokeResult)> done);
    // Keeps `n` environments of `config` initialised ahead of any
    // invocation (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency) for
    // invocations that name `qualifier`; a changed `config` (an alias moved)
    // replaces them, n = 0 tears them down. Environments that die are replaced.
    void provision(const control::Scope& scope, const std::string& function,
                   const std::string& qualifier, const control::VersionConfig& config, int n);
    ProvisionedStatus provisioned_status(const control::Scope& scope, const std::string& function,
                                         const std::string& qualifier) const;
    // Spare environments (spare.cpp; ExecSettings::spare_environments): the
    // function version `req` names (its code and configuration, as Active now)
    // gets one started in the background, its sandbox and lamina's runtime up
    // and holding before any function code is loaded; the next cold start of
    // that version claims it and its init begins then. A spare of another
    // code or configuration of the same version is let go. Python and Node.js
    // only; never for functions with extensions, hot-reload folders, a
    // debugger, or a reserved concurrency of 0. Spares are no invocation's
    // and count toward no concurrency.
    void prepare(const InvokeRequest& req);
    // Lets go of the spares of a function (every version): it was deleted.
    void forget(const control::Scope& scope, const std::string& function);
    std::size_t spare_count_for_test() const;
    // Where cold starts run (a worker pool), so that invoke() may be called
    // from an I/O thread. Without one they run on the calling thread.
    // Where image functions' images are read from (lamina's registry); null: they cannot start.
    void set_image_source(const oci::ImageSource* source) { image_source_ = source; }
    void set_offload(std::function<void(std::function<void()>)> offload) {
        offload_ = std::move(offload);
    }
    // Where Invocations, Errors, Throttles, Duration, the concurrency and the
    // provisioned concurrency metrics are recorded (may be null).
    void set_metrics(metrics::MetricsStore* store) { metrics_ = store; }
    // Where every finished or throttled invocation is kept for the dashboard (may be null).
    void set_recent(RecentInvocations* recent) { recent_ = recent; }
    // Kills every environment.
    void shutdown();
    // Kills every environment and forgets provisioned configs, but keeps
    // serving (POST /_lamina/reset). An invocation in flight fails as if its
    // environment had died; a cold start in flight is not kept once done.
    void reset();
    // AWS_ENDPOINT_URL for functions, known once lamina listens.
    void set_endpoint_url(std::string url);
    // Hot reload: the files of `folder` changed. Environments that run it (as
    // their code or their /opt) are retired: idle ones now, busy ones once
    // their invocation is over, starting ones once they have served the
    // invocation that started them; new invocations start fresh ones.
    void folder_changed(const std::string& folder);
    std::size_t environment_count() const;
    // SnapStart (snapstart.cpp). The snapshot of a SnapStart version (see
    // snap_start_on): when it has none yet (just published, or lamina
    // restarted), one is taken in the background and it is Pending until then.
    SnapshotStatus snapshot(const control::Scope& scope, const std::string& function,
                            const control::VersionConfig& config);
    // The version's snapshot (every version's when `version` is empty) goes:
    // its runtime is killed (DeleteFunction).
    void drop_snapshots(const control::Scope& scope, const std::string& function,
                        const std::string& version = "");
    // Environments free for their next invocation (not provisioned ones).
    std::size_t idle_count_for_test() const {
        std::lock_guard lk(mu_);
        return idle_.size();
    }

private:
    using EnvPtr = std::shared_ptr<Environment>;
    using SlotPtr = std::shared_ptr<Slot>;
    std::string pool_key(const InvokeRequest& req) const;
    // Starts an environment of req's version (environment_start.cpp).
    // A container-image function's unpacked root (unpacked on its first
    // start), its architecture checked against the function's.
    Result<oci::ImageRoots::Root> image_root_of(const InvokeRequest& req);
    Result<EnvPtr> start_environment(const InvokeRequest& req, const std::string& key,
                                     const std::string& init_type = "on-demand",
                                     const std::optional<DebugLaunch>& debug = std::nullopt,
                                     bool spare = false,
                                     const std::function<void(Environment&)>& prepare = nullptr);
    // Its log stream opened, INIT_START logged and published: its init begins.
    void begin_init(Environment& env, const InvokeRequest& req, std::int64_t now);
    // SnapStart (snapstart.cpp): a restored environment of req's version, forked from its snapshot.
    struct Snapshot;
    Result<EnvPtr> restore_environment(const InvokeRequest& req, const std::string& key,
                                       const std::shared_ptr<Snapshot>& snap);
    void take_snapshot(const std::shared_ptr<Snapshot>& snap);
    void take_checkpoint(const std::shared_ptr<Snapshot>& snap, int pid,
                         const std::filesystem::path& criu);
    Result<EnvPtr> begin_restore(const InvokeRequest& req, const std::string& key,
                                 const std::string& tmp_seen, const std::string& sandbox_ip,
                                 const std::vector<std::string>& extensions, bool announce = true);
    // A restore's log stream opened and RESTORE_START logged and published.
    void announce_restore(Environment& env, const InvokeRequest& req, std::int64_t now);
    // A Python snapshot's restored environment, forked from its runtime; with
    // `parked`, made ready: held before its after-restore hooks until
    // claim_ready(), `parked` called once it is in its cgroup (snapstart.cpp).
    Result<EnvPtr> fork_restore(const InvokeRequest& req, const std::string& key,
                                const EnvPtr& zygote, int zygote_pid,
                                std::function<void(const EnvPtr&)> parked);
    void ready_python_restore(const std::shared_ptr<Snapshot>& snap,
                              std::function<void()> then = nullptr);
    void claim_ready(const EnvPtr& env, const InvokeRequest& req);
    // The Python restores made ready, taken from their snapshots (shutdown, reset).
    std::vector<EnvPtr> take_ready_environments();
    Result<EnvPtr> restore_checkpoint(const InvokeRequest& req, const std::string& key,
                                      const std::shared_ptr<Snapshot>& snap);
    // Makes a JVM snapshot's next `criu restore` ready ahead (snapstart.cpp),
    // and drops those made ready (at shutdown).
    void ready_restore(const std::shared_ptr<Snapshot>& snap);
    void drop_ready_restores();
    std::shared_ptr<Snapshot> find_snapshot(const InvokeRequest& req);
    // What happens once an environment's process is gone.
    void on_process_exit(const EnvPtr& env, const sandbox::ExitStatus& status);
    // Gives `env` the process just started for it, its exit handled at once
    // if it is gone already; when the start failed, removes the memory cgroup
    // made for it. The process's pid, or why it did not start.
    Result<int> adopt_started(const EnvPtr& env, Result<std::unique_ptr<sandbox::Process>> started);
    // Provisioned environments (provisioned_pool.cpp).
    void top_up(const std::shared_ptr<Provisioned>& pc);  // under mu_
    void start_provisioned(const std::shared_ptr<Provisioned>& pc, std::uint64_t generation);
    // Admission and dispatch of one invocation (invoke() without its metrics).
    void admit(InvokeRequest req, std::function<void(InvokeResult)> done);
    void start_and_run(InvokeRequest req, const std::string& key, SlotPtr slot,
                       const std::function<void(InvokeResult)>& done,
                       const std::optional<DebugLaunch>& debug = std::nullopt,
                       const EnvPtr& previous = nullptr);
    void run(InvokeRequest req, const EnvPtr& env, bool cold, SlotPtr slot,
             std::function<void(InvokeResult)> done);
    void release(const EnvPtr& env);
    // Whether a folder the environment runs changed since it started (under mu_).
    bool stale(const Environment& env) const;
    void prune_dead();  // under mu_
    void start_spare(const InvokeRequest& tmpl, const std::string& function, const std::string& key,
                     std::uint64_t generation);
    // The spare of `key`, taken out of spares_, or null (under mu_).
    EnvPtr take_spare(const std::string& key);
    // A spare taken for an invocation: its init begins now.
    void claim_spare(const EnvPtr& env, const InvokeRequest& req);
    // Counts one of the two events that free an environment after an
    // invocation (the runtime's answer, the extensions' acknowledgements).
    void settle(const EnvPtr& env, const std::shared_ptr<std::atomic<int>>& gate,
                std::chrono::steady_clock::time_point deadline);
    // Ends an environment: SHUTDOWN (spindown | timeout | failure) to its
    // extensions first, when any takes it, then SIGKILL.
    void retire(const EnvPtr& env, const std::string& reason);
    long peak_mb(const Environment& env) const;
    // SHUTDOWN to extensions (2 s at most), then kills `envs` and waits for their exits.
    void stop_environments(const std::vector<EnvPtr>& envs);

    boost::asio::io_context& ioc_;
    ExecSettings settings_;
    std::unique_ptr<sandbox::Launcher> launcher_;
    store::LayerCache& cache_;
    std::unique_ptr<oci::ImageRoots> images_;         // settings_.images_dir
    const oci::ImageSource* image_source_ = nullptr;  // lamina's image registry
    Clock& clock_;
    IdSource& ids_;
    mutable std::mutex mu_;
    std::multimap<std::string, EnvPtr> idle_;
    std::vector<EnvPtr> all_;
    bool stopping_ = false;
    std::uint64_t generation_ = 0;  // bumped by reset(): older environments are not kept
    std::function<void(std::function<void()>)> offload_;
    ConcurrencyController* concurrency_ = nullptr;
    metrics::MetricsStore* metrics_ = nullptr;
    RecentInvocations* recent_ = nullptr;
    std::map<std::string, std::shared_ptr<Provisioned>> provisioned_;  // scope/function/qualifier
    std::map<std::string, std::uint64_t> folder_changes_;  // hot-reload folder -> changes seen
    struct Spare {
        std::string function;  // account/region/name/version: one spare each
        std::string key;       // its pool key (code and configuration)
        EnvPtr env;            // null while it starts
    };
    std::list<Spare> spares_;  // most recently prepared or claimed first, under mu_
    std::unique_ptr<SpareStarter> spare_starter_;  // where spares are started
    std::mutex exits_mu_;  // with exits_cv_: an environment's exit was handled
    std::condition_variable exits_cv_;
    // Debugged environments: one at a time per debug port (the one there, or
    // one starting), so a second invocation is throttled, not a second debuggee.
    struct DebugLane {
        EnvPtr env;
        bool starting = false;
    };
    std::map<int, DebugLane> debug_lanes_;  // by port, under mu_
    std::map<std::string, std::shared_ptr<Snapshot>>
        snapshots_;  // scope/function/version, under mu_
};

}  // namespace lamina::exec
