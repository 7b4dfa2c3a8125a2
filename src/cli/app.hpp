#pragma once
// `lamina serve` as one object: the composition root. Its members are
// constructed in declaration order (stores, control plane, host findings,
// data plane, API, listener, traffic shifter) and destroyed in reverse, after
// one shutdown sequence, stop(), that the signal handler and the destructor share.

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lamina/api/service.hpp"
#include "lamina/api/sigv4.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/config.hpp"
#include "lamina/common/startup_findings.hpp"
#include "lamina/common/timer_floor.hpp"
#include "lamina/control/event_source_mappings.hpp"
#include "lamina/control/iam.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/control/stacks.hpp"
#include "lamina/esm/pollers.hpp"
#include "lamina/exec/concurrency.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/exec/folder_watcher.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/exec/recent_invocations.hpp"
#include "lamina/http/server.hpp"
#include "lamina/logs/live_tail.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/oci/registry.hpp"
#include "lamina/s3/object_source.hpp"
#include "lamina/s3/object_store.hpp"
#include "lamina/sam/api_client.hpp"
#include "lamina/sam/deployer.hpp"
#include "lamina/sam/traffic_shifter.hpp"
#include "lamina/sandbox/memory_cgroup.hpp"
#include "lamina/sqs/queues.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/document_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::cli {

// A fatal start-up problem: lamina prints "lamina: <what>" and exits with exit_code.
class StartupError : public std::runtime_error {
public:
    StartupError(int exit_code, const std::string& what)
        : std::runtime_error(what), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

private:
    int exit_code_;
};

// --run-as: "auto" -> AWS's sandbox user; "UID" or "UID:GID" (gid defaults to uid).
std::optional<std::pair<unsigned, unsigned>> parse_run_as(const std::string& v);

// Raises the soft limit on open descriptors to the hard one and returns it: lamina
// holds five per environment (its Runtime API's listener and connection, the output
// pipe twice, a pidfd) besides its clients' connections, so the usual soft 1024
// ends near 200 environments. Environments themselves still get 1024
// (sandbox::Process), as on AWS.
std::uint64_t raise_open_file_limit();

// A stack name from the template's folder ("examples/sam-app" -> "sam-app").
std::string default_stack_name(const std::filesystem::path& template_file);

// A deployment's skipped resources (as a warning) and its outputs.
void print_report(const sam::DeployReport& report,
                  const std::function<void(const std::string&)>& say,
                  const std::function<void(const std::string&)>& warn);

// The data directory, made (a temporary one with --ephemeral) and locked
// against a second lamina; a temporary one is removed when this goes.
class DataDir {
public:
    explicit DataDir(const Config& config);  // throws StartupError
    ~DataDir();
    DataDir(const DataDir&) = delete;
    DataDir& operator=(const DataDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    bool temporary_ = false;
    int lock_fd_ = -1;
};

class App {
public:
    // Opens and loads the stores, probes the host, builds the data plane and
    // the API, and binds the port. Throws StartupError; nothing runs yet.
    explicit App(const Config& config);
    // stop(), then every member in reverse order of construction.
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Deploys --template, announces the port, and serves until SIGINT or
    // SIGTERM. Returns the process exit code.
    int run();
    // lamina run: deploys --template, then serves on background threads,
    // without signal handling, until shutdown(). Returns 0, or the deploy's exit code.
    int start_background();
    // stop(), then joins the background threads. Idempotent.
    void shutdown();
    unsigned short port() const { return server_.port(); }

private:
    // The one shutdown sequence: the deploy watcher, the traffic shifter,
    // the listener, the event queue (queued events stay stored), the
    // environments (extensions get SHUTDOWN while the io threads still run),
    // then the io_context. Idempotent.
    void stop();
    // One io thread's loop: ioc_.run(), or with --io-spin-us a short poll
    // before each sleep. Returns once the io_context is stopped.
    void run_io();
    void load_state();
    void wire_service();
    void listen();
    int deploy_template();
    // POST /_lamina/reset: every module clears its own state; refused unless ephemeral.
    Result<nlohmann::json> reset();

    const Config config_;
    std::shared_ptr<spdlog::logger> log_;
    DataDir data_dir_;
    SystemClock clock_;
    RandomIdSource ids_;
    // stores and the control plane over them (loaded by load_state)
    std::unique_ptr<store::DocumentStore> docs_;
    store::BlobStore blobs_;
    control::LayerRegistry layers_;
    control::Registry registry_;
    control::IamRoles roles_;
    control::StackRecords stacks_;
    control::EventSourceMappings esms_;  // their pollers: pollers_
    store::LayerCache layer_cache_;
    // the image registry (/v2, ECR); image functions read it as an oci::ImageSource
    oci::Registry images_;
    std::unique_ptr<s3::ObjectStore> objects_;       // --s3 on
    std::unique_ptr<s3::ObjectSource> code_source_;  // where Code.S3Bucket/S3Key is read from
    std::unique_ptr<sqs::Queues> queues_;            // --sqs on; outlives the workers' long polls
    std::unique_ptr<logs::LogStore> logs_;           // functions' logs; outlives the invoker
    std::unique_ptr<logs::LiveTail> live_tail_;      // StartLiveTail's sessions, over logs_
    boost::asio::io_context ioc_;
    TimerFloor timer_floor_{ioc_, std::chrono::milliseconds(500)};  // started with the server
    boost::asio::thread_pool workers_;
    // what the host allows, found once
    Result<sandbox::MemoryCgroups> memory_;
    StartupFindings findings_;
    std::optional<api::CredentialStore> credentials_;  // --auth sigv4
    exec::ExecSettings exec_settings_;
    // the data plane
    metrics::MetricsStore metrics_;
    exec::ConcurrencyController concurrency_;
    exec::RecentInvocations recent_;  // the dashboard's last invocations, fed by the invoker
    exec::Invoker invoker_;
    // hot reload: watches the folders functions run live, retires their environments on a change
    exec::FolderWatcher hot_reload_;
    exec::EventQueue
        events_;  // async invocations; hooks from api::event_queue_hooks (wire_service)
    std::unique_ptr<esm::Pollers> pollers_;  // with queues_: SQS event source mappings
    // the API and its listener
    std::optional<sam::SigningKey> deploy_key_;  // what in-process deployments sign with
    api::Service service_;
    http::Server server_;
    sam::TrafficShifter shifter_;  // DeploymentPreference shifts, whoever deployed them
    // --template
    std::unique_ptr<sam::ApiClient> deploy_client_;
    std::unique_ptr<sam::Deployer> deployer_;
    sam::DeployOptions deploy_options_;
    std::jthread deploy_thread_;           // --watch
    std::vector<std::thread> io_threads_;  // start_background()
    bool stopped_ = false;
    std::mutex reset_mu_;  // one reset at a time
};

}  // namespace lamina::cli
