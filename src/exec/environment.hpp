#pragma once
// One execution environment of the data plane: its process (from the
// sandbox's Launcher), its Runtime API, its log stream, and where it is in
// its life (`State`, changed only through `transition`). Private to exec/.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/exec/concurrency.hpp"
#include "lamina/exec/late_log.hpp"
#include "lamina/logs/log_store.hpp"
#include "lamina/runtime/runtime_api.hpp"
#include "lamina/sandbox/process.hpp"

namespace lamina::exec {

// How start_environment says an image's entrypoint cannot start (what
// follows is the detail): the invocation then fails with
// Runtime.InvalidEntrypoint, as on AWS.
inline constexpr const char* kImageEntrypointError = "Runtime.InvalidEntrypoint: ";

// The life of an environment (the RIE's sandbox states, as lamina needs them).
enum class EnvState {
    Starting,         // the process runs its init; nothing assigned to it
    StartingInvoked,  // init still running, and a cold invocation waits for it
    Idle,             // initialised, free
    Busy,             // an invocation is in its hands
    Settling,         // the runtime answered; extensions still hold the invocation
    Retiring,         // SHUTDOWN sent to its extensions, or killed: takes nothing more
    Dead,             // its process is gone
};

enum class EnvEvent {
    Invoke,    // an invocation is handed to it
    InitDone,  // the runtime and every extension asked for their next event
    Answer,    // the runtime answered the invocation
    Settle,    // the invocation is over: the environment is free
    Retire,    // it is to end (idle, timeout, failure, config gone, lamina stopping)
    Exit,      // its process exited
};

const char* to_string(EnvState s);
const char* to_string(EnvEvent e);
// The one transition function: the next state, or nullopt when `event`
// cannot happen in `from` (the caller then leaves the state as it is).
std::optional<EnvState> transition(EnvState from, EnvEvent event);

// How an environment's process ended.
struct EnvExit {
    sandbox::ExitStatus status;
    bool out_of_memory = false;  // the kernel's OOM killer struck in its cgroup
};

// The byte lamina's extension launcher puts before each line an extension
// prints, so that its lines can be told from the function's (and stripped).
inline constexpr char kExtensionMark = '\x1e';

struct Provisioned;  // a provisioned concurrency config's environments (provisioned_pool.cpp)

struct Environment : std::enable_shared_from_this<Environment> {
    using Clk = std::chrono::steady_clock;

    // Fixed once started.
    std::string key;  // the pool it belongs to: version, code and configuration
    std::string version;
    std::string init_type;  // on-demand | provisioned-concurrency | snap-start
    bool restored = false;  // forked from a SnapStart snapshot (its init is a restore)
    // A restore made ready ahead (snapstart.cpp): its process forked and in
    // its cgroup, held at /restore/next until an invocation claims it (both
    // under mu; whichever comes second lets it go on).
    bool ready_parked = false, ready_claimed = false;
    std::string tmp_seen;  // its /tmp as it sees it (a snapshot's restored environments share it)
    // A SnapStart snapshot: the layers' extensions start in each restored
    // environment (this command), not in the snapshot (see snapstart.cpp).
    std::vector<std::string> restore_extensions, restore_launch;
    // A JVM's snapshot: the write end of its stdin (a restore's order arrives
    // on a restored copy's stdin; this end is never written), -1 otherwise.
    int checkpoint_stdin = -1;
    std::string sandbox_ip;        // what sandbox.localdomain stands for in it ("" when unknown)
    std::uint64_t generation = 0;  // the Invoker's generation when it was started
    // shutdown() or reset() is stopping it (SHUTDOWN to its extensions, then
    // the kill): a release meanwhile leaves it to them (under Invoker::mu_)
    bool being_stopped = false;
    std::string log_stream;
    std::filesystem::path log_file;
    std::string cgroup;  // its memory cgroup's name, when limits apply
    int peak_fd = -1;    // its cgroup's peak-use file, read after each invocation (closed with it)
    int memory_mb = 128;
    std::unique_ptr<runtime::RuntimeApi> api;
    Clk::time_point spawned_at;
    bool json_logs = false;  // LoggingConfig JSON: a function's JSON lines are objects in telemetry
    int debug_port = 0;      // runs under a debugger listening on 127.0.0.1:debug_port
    bool debug_wait = false;  // ... which waits for its client before the init
    // The hot-reload folders it runs, with the Invoker's count of changes of
    // each when it started: a later change makes it stale.
    std::vector<std::pair<std::string, std::uint64_t>> hot_folders;

    // Guarded by mu.
    mutable std::mutex mu;
    EnvState state = EnvState::Starting;
    Clk::time_point ready_at;
    std::int64_t ready_epoch_ms = 0;
    // Its init's part of the log not yet written: the platform.init* records
    // (JSON) and what it printed up to the end of init.
    std::string init_log;
    std::optional<runtime::Outcome> init_error;
    std::optional<EnvExit> exit;                // how its process ended, once it has
    std::unique_ptr<sandbox::Process> process;  // set once, right after launch
    // What happened before `process` was set: an exit the launcher reported
    // already, a kill asked for already (the Invoker acts on both then).
    std::optional<sandbox::ExitStatus> early_exit;
    bool kill_requested = false;
    bool exit_handled = false;  // on_process_exit is through: nothing refers to it any more
    std::function<void(const EnvExit&)> on_exit;  // set while an invocation runs
    std::function<void()> ready_hook;             // set by a cold invocation or a provisioned start
    std::function<void()> on_gone;                // once the process has exited (after on_exit)
    std::shared_ptr<boost::asio::steady_timer> idle_timer, shutdown_timer, settle_timer;
    std::shared_ptr<Slot> slot;  // the running invocation's concurrency, released when it is free
    std::weak_ptr<Provisioned> pc;
    std::uint64_t pc_generation = 0;

    ~Environment();

    // Applies `event`; returns whether it was a valid transition (under mu).
    bool apply(EnvEvent event);
    // The same, taking mu.
    bool fire(EnvEvent event) {
        std::lock_guard lk(mu);
        return apply(event);
    }
    bool initialised() const;  // past its init (under mu)
    bool dead() const {
        std::lock_guard lk(mu);
        return state == EnvState::Dead;
    }
    void release_slot();
    // Takes the launched process; true (with `exited` set) when its exit was
    // reported before, for the caller to handle now.
    bool adopt(std::unique_ptr<sandbox::Process> p, std::optional<sandbox::ExitStatus>& exited);
    void kill();
    // Everything the process printed since the last call, each line also
    // published to Telemetry/Logs API subscribers as a function record, or
    // an extension record for the lines lamina's extension launcher marked.
    std::string take_output();
    std::string take_init_log() {
        std::lock_guard lk(mu);
        return std::exchange(init_log, {});
    }
    long peak_rss_mb() const;

    // The log stream file (opened once, O_APPEND); closed when the process is gone.
    // With `store`, every text appended is also recorded there, line by line.
    void open_log(const std::filesystem::path& file, logs::LogStore* store = nullptr,
                  logs::Where where = {}, std::string group = {});
    void append_log(const std::string& text);
    // An invocation's lines, kept back while its answer is written (hold_log),
    // then appended (release_log); whatever this environment appends or closes
    // first appends them before, so the stream keeps its order.
    void hold_log(std::shared_ptr<LateLog> lines);
    void release_log();
    void close_log();

private:
    // Under log_mu_; `ticket`: the log store's expect() this text ends.
    void write_log(std::string text, std::uint64_t ticket = 0);
    void write_held();  // under log_mu_

    std::mutex log_mu_;
    std::shared_ptr<LateLog> held_log_;
    std::uint64_t held_ticket_ = 0;  // the log store's readers wait for held_log_
    int log_fd_ = -1;
    logs::LogStore* log_store_ = nullptr;
    logs::Where log_where_;
    std::string log_group_;
};

using EnvPtr = std::shared_ptr<Environment>;

struct ExecSettings;
struct InvokeRequest;
// Names the environment's log stream (<date>/[<version>]<id>)
// (environment_start.cpp).
void name_log_stream(Environment& env, const InvokeRequest& req, std::int64_t now, IdSource& ids);
// Names it and opens its file under the log group.
void open_log_stream(Environment& env, const ExecSettings& settings, const InvokeRequest& req,
                     std::int64_t now, IdSource& ids);
// Where memory cgroups are writable: the environment's group, limited to
// MemorySize, and its peak-use file; returns the cgroup.procs files its
// process writes itself into (none without a group).
std::vector<std::string> open_memory_group(Environment& env, const ExecSettings& settings,
                                           int memory_mb, IdSource& ids);

}  // namespace lamina::exec
