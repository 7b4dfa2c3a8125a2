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
#include "lamina/exec/recent_invocations.hpp"
#include "lamina/http/body_stream.hpp"
#include "lamina/logs/log_store.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/sandbox/launch_spec.hpp"
#include "lamina/sandbox/launcher.hpp"
#include "lamina/sandbox/memory_cgroup.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::exec {

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
    std::chrono::milliseconds init_timeout{std::chrono::seconds(10)};
    // Provisioned environments initialise ahead of any invocation, with a
    // longer limit: this, or the function's Timeout if longer (AWS: 130 s).
    // An environment past it is stopped and the config marked FAILED.
    std::chrono::milliseconds provisioned_init_timeout{std::chrono::seconds(130)};
    std::string endpoint_url;  // AWS_ENDPOINT_URL given to functions (lamina itself)
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
    // Takes a response the function streams, as it comes (runtime::Invocation::on_stream).
    std::function<void(std::shared_ptr<http::BodySource>, std::string content_type)> on_stream;
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
    std::string init_type;   // the environment's: on-demand | provisioned-concurrency
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
    // Where cold starts run (a worker pool), so that invoke() may be called
    // from an I/O thread. Without one they run on the calling thread.
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
    Result<EnvPtr> start_environment(const InvokeRequest& req, const std::string& key,
                                     const std::string& init_type = "on-demand",
                                     const std::optional<DebugLaunch>& debug = std::nullopt);
    // What happens once an environment's process is gone.
    void on_process_exit(const EnvPtr& env, const sandbox::ExitStatus& status);
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
             const std::function<void(InvokeResult)>& done);
    void release(const EnvPtr& env);
    // Whether a folder the environment runs changed since it started (under mu_).
    bool stale(const Environment& env) const;
    void prune_dead();  // under mu_
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
    std::mutex exits_mu_;  // with exits_cv_: an environment's exit was handled
    std::condition_variable exits_cv_;
    // Debugged environments: one at a time per debug port (the one there, or
    // one starting), so a second invocation is throttled, not a second debuggee.
    struct DebugLane {
        EnvPtr env;
        bool starting = false;
    };
    std::map<int, DebugLane> debug_lanes_;  // by port, under mu_
};

}  // namespace lamina::exec
