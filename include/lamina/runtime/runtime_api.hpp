#pragma once
// The Lambda Runtime API (2018-06-01) as one execution environment sees it:
// a loopback listener whose address is given to the environment as
// AWS_LAMBDA_RUNTIME_API. The data plane hands it one invocation at a time;
// the runtime long-polls /invocation/next, then posts /response or /error;
// a response in streaming mode (chunked, with error trailers) is passed on
// piece by piece as it arrives.
// Status codes and error bodies for wrong ids and out-of-order calls follow
// AWS's runtime interface.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/http/body_stream.hpp"
#include "lamina/http/message.hpp"
#include "lamina/runtime/error_types.hpp"
#include "lamina/runtime/telemetry.hpp"

namespace lamina::runtime {

struct Invocation {
    std::string request_id;
    std::string payload;
    std::int64_t deadline_ms = 0;  // epoch ms
    std::string invoked_function_arn;
    std::string trace_id;
    std::optional<std::string> client_context;    // decoded JSON
    std::optional<std::string> cognito_identity;  // JSON
    std::string tenant_id;  // tenant isolation: Lambda-Runtime-Aws-Tenant-Id ("" none)
    // Set when the caller takes a streamed response as it comes
    // (InvokeWithResponseStream, RESPONSE_STREAM URLs): called once, when the
    // runtime starts posting in streaming mode, with the body as it arrives
    // and its Content-Type. Without it a streamed response is collected and
    // answered whole, as AWS does for Invoke.
    std::function<void(std::shared_ptr<http::BodySource>, std::string content_type)> on_stream;
};

struct Outcome {
    enum class Kind { Response, FunctionError, InitError } kind = Kind::Response;
    std::string body;
    std::string content_type;
    std::string error_type;                   // Lambda-Runtime-Function-Error-Type, when given
    std::optional<ErrorType> platform_error;  // set when the platform itself failed (Extension.*)
    bool streamed =
        false;  // the body went to Invocation::on_stream (`body` is empty but for errors)
    // lamina's own share of the invocation (steady clock): when the event was
    // handed to the runtime's /next answer, and when the head of the
    // runtime's answer had been read.
    std::chrono::steady_clock::time_point delivered{};
    std::chrono::steady_clock::time_point answered{};
};

// Largest response body the runtime may post (AWS: 6 MiB + 100 bytes).
inline constexpr std::size_t kMaxResponseBytes = 6291556;
// Largest response the runtime may stream (AWS: 200 MiB).
inline constexpr std::size_t kMaxStreamedBytes = 200 * 1024 * 1024;
// Most extensions one environment may register (AWS: 10).
inline constexpr std::size_t kMaxExtensions = 10;

// What the Extensions API's /register answers.
struct ExtensionIdentity {
    std::string function_name;
    std::string function_version;
    std::string handler;
    std::string account_id;  // only to extensions that accept the accountId feature
};

class RuntimeApi {
public:
    // Event and extension ids come from `ids` (which must outlive it).
    // Throws boost::system::system_error when it cannot listen (out of descriptors).
    RuntimeApi(boost::asio::io_context& ioc, IdSource& ids);
    // The same, the failure as an Error: what environment starts use, so that a
    // server out of descriptors fails that start instead of ending.
    static Result<std::unique_ptr<RuntimeApi>> open(boost::asio::io_context& ioc, IdSource& ids);
    ~RuntimeApi();
    RuntimeApi(const RuntimeApi&) = delete;
    RuntimeApi& operator=(const RuntimeApi&) = delete;

    // The environment's Telemetry/Logs API subscriptions: records published
    // there reach the extensions that subscribed (any thread).
    TelemetryHub& telemetry();

    // "127.0.0.1:<port>", the value of AWS_LAMBDA_RUNTIME_API.
    std::string address() const;

    // The external extensions started with the environment (the file names
    // in /opt/extensions): init is over only once each has registered and
    // asked for its next event, and the runtime has asked for its first
    // invocation. Call before the environment starts.
    void expect_extensions(std::vector<std::string> names, ExtensionIdentity identity);

    // Called once if init fails: the runtime's POST /runtime/init/error, an
    // extension's POST /extension/init/error, or an extension that exits
    // before init is over (Extension.Crash).
    void on_init_error(std::function<void(Outcome)> fn);
    // Called once when init is over (see expect_extensions).
    void on_ready(std::function<void()> fn);

    // SnapStart. A snapshot environment's runtime ends its init (and its
    // before-snapshot hooks) with GET /runtime/restore/next: `on_snapshot`
    // runs then, once, with the pid it gives (Lamina-Restore-Pid, as its
    // sandbox numbers it; 0 without). lamina answers that long poll with its own
    // instructions (Lamina-Restore-Fork: the Runtime API address of a new
    // environment, Lamina-Restore-Output: the FIFO its output goes to;
    // Lamina-Restore-Reap: collect exited children); the runtime forks and
    // polls again with Lamina-Restore-Child: the child's pid in its sandbox.
    // Call before the environment starts.
    void snapshot_mode(std::function<void(int)> on_snapshot);
    // Asks the snapshot's runtime to fork one restored environment; `done`
    // gets the child's pid as the sandbox sees it, or -1 when the snapshot's
    // runtime is gone. Called from any thread (so is `done`).
    // `extensions`: the command that starts the layers' extensions in it
    // (Lamina-Restore-Extensions, a JSON array; none when empty).
    void fork_restored(const std::string& address, const std::string& output,
                       std::vector<std::string> extensions, std::function<void(int)> done);
    // Asks the snapshot's runtime to collect its exited children (wait(2)).
    void reap_restored();
    // Tells the snapshot's runtime that lamina checkpoints its process now
    // (Lamina-Restore-Checkpoint: a JVM, checkpointed with criu, not forked):
    // it closes its connection and waits for a restore's order on its stdin.
    void order_checkpoint();
    // A restored environment's runtime calls GET /runtime/restore/next first:
    // while held, that call waits (lamina has not yet put the process in its
    // cgroup); released, it is answered. Not held by default.
    void hold_restore(bool held);

    // Queues one invocation; the runtime gets it from /next once init is over
    // and INVOKE-subscribed extensions get their INVOKE event with it. `done`
    // runs once with what the runtime posted; `settled` runs once after that,
    // when every such extension has asked for its next event again (the
    // environment is free). Refused while another invocation is in flight.
    Status invoke(Invocation inv, std::function<void(Outcome)> done,
                  std::function<void()> settled = nullptr);
    // Abandons the invocation in flight, if any (timeout, crash): a late
    // /response for it is refused as an unknown request id. Returns its
    // completion so the caller can answer it.
    std::function<void(Outcome)> abandon();
    // Whether the runtime has taken the invocation in hand (through /next).
    bool invocation_taken() const;

    // Sends SHUTDOWN (reason spindown | timeout | failure) to the extensions
    // subscribed to it, once the Telemetry/Logs records buffered were
    // delivered (up to 1 s); `acknowledged` runs once when each has asked for
    // its next event again or exited (or, without SHUTDOWN subscribers, once
    // the records went out). Returns false, without calling it, when neither
    // applies (the environment can be killed at once).
    bool shutdown(const std::string& reason, std::int64_t deadline_ms,
                  std::function<void()> acknowledged);
    // False once an extension failed after init (exit/error, or exited):
    // the environment must not take another invocation.
    bool healthy() const;
    std::size_t extension_count() const;

    // A spare environment, started ahead of any invocation: its lamina
    // bootstrap asks GET /2018-06-01/runtime/_lamina/spare/hold before it
    // imports any function code, and is answered once release() is called
    // (at once when it was already). Call hold() before the environment starts.
    void hold();
    void release();

    void stop();

    // One request as the listener hands it over, without a socket (fuzzing).
    void handle_for_test(http::Request req, http::Responder respond);

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace lamina::runtime
