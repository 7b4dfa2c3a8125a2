#include "app.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <vector>

#include "lamina/api/event_hooks.hpp"
#include "lamina/common/thread_name.hpp"
#include "lamina/common/version.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/s3/s3_client.hpp"
#include "lamina/sandbox/launch_spec.hpp"
#include "runtimes_dir.hpp"

namespace lamina::cli {

namespace fs = std::filesystem;

namespace {

template <class T>
T must(Result<T> r, const std::string& what = "") {
    if (!r) throw StartupError(1, what + r.error().message);
    return std::move(*r);
}

void must(Status st, const std::string& what = "") {
    if (!st) throw StartupError(1, what + st.error().message);
}

// An ephemeral server's data directory is removed when it stops: nothing to sync.
store::Durability durability(const Config& config) {
    if (config.ephemeral) return store::Durability::Temporary;
    return config.durable_commits ? store::Durability::PowerLoss : store::Durability::Crash;
}

std::unique_ptr<s3::ObjectStore> make_object_store(const Config& config, const fs::path& data_dir,
                                                   Clock& clock, IdSource& ids) {
    if (!config.s3) return nullptr;
    return std::make_unique<s3::ObjectStore>(data_dir / "s3", clock, ids);
}

std::unique_ptr<sqs::Queues> make_queues(const Config& config, const fs::path& data_dir,
                                         Clock& clock, IdSource& ids) {
    if (!config.sqs) return nullptr;
    auto queues = sqs::Queues::open(data_dir / "sqs.sqlite", durability(config), clock, ids);
    if (!queues) throw StartupError(1, "cannot open the SQS store: " + queues.error().message);
    return std::move(*queues);
}

std::unique_ptr<logs::LogStore> make_log_store(const Config& config, const fs::path& data_dir,
                                               Clock& clock) {
    auto store = logs::LogStore::open(data_dir / "logs.sqlite", data_dir / "logs", clock,
                                      durability(config));
    if (!store) throw StartupError(1, "cannot open the logs store: " + store.error().message);
    return std::move(*store);
}

std::unique_ptr<s3::ObjectSource> make_code_source(const Config& config, s3::ObjectStore* objects,
                                                   spdlog::logger& log) {
    if (!config.s3_endpoint.empty()) {  // checked when the flags were parsed
        log.info("s3.code_source endpoint={}", config.s3_endpoint);
        return std::make_unique<s3::RemoteObjectSource>(
            *s3::parse_endpoint(config.s3_endpoint),
            s3::RemoteCredentials{config.s3_access_key_id, config.s3_secret_access_key,
                                  config.s3_session_token},
            config.region);
    }
    if (objects) return std::make_unique<s3::LocalObjectSource>(*objects);
    return nullptr;
}

// Which backend runs functions, as whom, with which limits and runtimes.
StartupFindings find_on_host(const Config& config, const Result<sandbox::MemoryCgroups>& memory) {
    StartupFindings f;
    const fs::path bwrap = exec::ExecSettings{}.bwrap;
    const fs::path probe_cache = sandbox::default_probe_cache_file();
    std::optional<std::pair<unsigned, unsigned>> wanted;
    if (::geteuid() == 0 && config.run_as != "root")
        wanted = parse_run_as(config.run_as);  // checked when parsed
    if (config.sandbox == "process") {
        f.sandbox = "process";
        f.sandbox_reason = "--sandbox process";
    } else if (sandbox::bubblewrap_works_cached(bwrap, wanted, probe_cache)) {
        f.sandbox = "bubblewrap";
        f.sandbox_reason = "bubblewrap can create namespaces";
        f.bubblewrap_works = true;
        f.run_as = wanted;
    } else if (wanted && sandbox::bubblewrap_works_cached(bwrap, std::nullopt, probe_cache)) {
        f.sandbox = "bubblewrap";
        f.sandbox_reason =
            "bubblewrap can create namespaces, but not start functions as the --run-as user";
        f.bubblewrap_works = true;
        f.run_as_refused = wanted->first;
    } else if (config.sandbox == "bubblewrap") {
        std::ostringstream what;
        what << "--sandbox bubblewrap: " << bwrap
             << " cannot create namespaces here (install bubblewrap, or allow user namespaces)";
        throw StartupError(1, what.str());
    } else {
        f.sandbox = "process";
        f.sandbox_reason = "bubblewrap cannot create namespaces here";
        f.bubblewrap_works = false;
    }
    if (f.run_as)
        f.sandbox_user = std::to_string(f.run_as->first) + ":" + std::to_string(f.run_as->second);
    else
        f.sandbox_user = ::geteuid() == 0 ? "root" : std::to_string(::geteuid());
    if (memory) {
        f.memory_limits = true;
        f.memory_cgroup = memory->v2() ? "v2" : "v1";
        f.memory_cgroup_root = memory->root();
        f.process_limits = memory->limits_processes();
    } else {
        f.memory_limits_reason = memory.error().message;
    }
    auto runtimes = resolve_runtimes_dir(config.runtimes_dir);
    f.runtimes_dir = runtimes.path;
    f.runtimes_dir_source = runtimes.source;
    f.interpreters = exec::default_interpreters(config.runtimes);
    return f;
}

void log_findings(const StartupFindings& f, spdlog::logger& log) {
    if (f.run_as_refused)
        log.warn(
            "sandbox.user fallback=root reason=\"cannot start functions as uid {} (is "
            "/usr/bin/setpriv there?)\" "
            "note=\"functions run as root with every capability dropped\"",
            *f.run_as_refused);
    if (f.bubblewrap_works == false)
        log.warn(
            "sandbox.fallback backend=process reason=\"bubblewrap cannot create namespaces here\" "
            "note=\"functions run as plain processes with no isolation\"");
    if (f.memory_limits) {
        log.info("sandbox.memory_limits cgroup={} root={} process_limit={}", f.memory_cgroup,
                 f.memory_cgroup_root.string(), f.process_limits ? 1024 : 0);
        if (!f.process_limits)
            log.warn(
                "sandbox.process_limits enabled=false note=\"no writable pids cgroup: a fork bomb "
                "in a "
                "function is not contained\"");
    } else {
        log.warn(
            "sandbox.memory_limits enabled=false reason=\"{}\" note=\"MemorySize is not enforced\"",
            f.memory_limits_reason);
    }
    for (const auto& [rt, path] : f.interpreters)
        log.info("runtime.interpreter runtime={} path={}", rt, path);
    log.info("runtime.dir path={} source=\"{}\"", f.runtimes_dir.string(), f.runtimes_dir_source);
    log.info("sandbox.backend backend={} user={} bubblewrap={} reason=\"{}\"", f.sandbox,
             f.sandbox_user,
             !f.bubblewrap_works   ? "untried"
             : *f.bubblewrap_works ? "works"
                                   : "fails",
             f.sandbox_reason);
}

std::optional<api::CredentialStore> load_credentials(const Config& config, spdlog::logger& log) {
    if (config.auth != "sigv4") return std::nullopt;
    auto loaded =
        api::load_credentials(config.credentials_file);  // --credentials is checked when parsed
    if (!loaded) throw StartupError(2, loaded.error().message);
    std::set<std::string> accounts;
    for (const auto& [key, cred] : *loaded) accounts.insert(cred.account_id);
    log.info("auth.sigv4 keys={} accounts={}", loaded->size(), accounts.size());
    return std::move(*loaded);
}

exec::ExecSettings make_exec_settings(const Config& config, const fs::path& data_dir,
                                      const StartupFindings& f,
                                      const Result<sandbox::MemoryCgroups>& memory,
                                      const std::optional<api::CredentialStore>& credentials,
                                      logs::LogStore* log_store) {
    exec::ExecSettings s;
    s.backend =
        f.sandbox == "bubblewrap" ? sandbox::Backend::Bubblewrap : sandbox::Backend::Process;
    s.run_as = f.run_as;
    s.runtimes_dir = f.runtimes_dir;
    s.work_dir = data_dir / "environments";
    s.logs_dir = data_dir / "logs";
    s.images_dir = data_dir / "images";
    s.log_store = log_store;
    // environments of an earlier run are gone with their processes
    std::error_code ec;
    fs::remove_all(s.work_dir, ec);
    fs::create_directories(s.work_dir, ec);
    s.interpreters = f.interpreters;
    s.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
    s.spare_environments = config.spare_environments;
    for (const auto& d : config.debug)
        if (auto target = exec::parse_debug_target(d)) s.debug.push_back(*target);  // checked
    s.debug_wait = config.debug_wait;
    s.provisioned_init_timeout = std::chrono::seconds(config.provisioned_init_timeout_s);
    if (memory) s.memory = *memory;
    if (credentials)
        for (const auto& [key, cred] : *credentials)
            s.account_keys.emplace(cred.account_id, std::make_pair(key, cred.secret_access_key));
    return s;
}

exec::CapacitySettings capacity_settings(const Config& config) {
    exec::CapacitySettings c;
    c.quota = config.quota;
    c.scaling = config.scaling == "regional-burst" ? exec::ScalingModel::RegionalBurst
                                                   : exec::ScalingModel::PerFunction;
    c.scaling_per_function = config.scaling_per_function;
    c.burst = config.burst > 0 ? config.burst : exec::default_burst_for_region(config.region);
    c.burst_per_minute = config.burst_per_minute;
    return c;
}

void log_capacity(const exec::CapacitySettings& c, spdlog::logger& log) {
    if (c.scaling == exec::ScalingModel::PerFunction)
        log.info(
            "concurrency account_limit={} min_unreserved={} scaling=per-function "
            "new_environments_per_10s={}",
            c.quota.account_limit, c.quota.min_unreserved, c.scaling_per_function);
    else
        log.info(
            "concurrency account_limit={} min_unreserved={} scaling=regional-burst burst={} "
            "per_minute={}",
            c.quota.account_limit, c.quota.min_unreserved, c.burst, c.burst_per_minute);
}

exec::EventQueueSettings queue_settings(const Config& config) {
    exec::EventQueueSettings q;
    q.retry_delay =
        std::chrono::milliseconds(static_cast<std::int64_t>(config.async_retry_delay_s * 1000));
    return q;
}

// The key in-process deployments sign with under --auth sigv4: one of --account-id's.
std::optional<sam::SigningKey> deployment_key(
    const std::optional<api::CredentialStore>& credentials, const std::string& account_id) {
    std::optional<sam::SigningKey> key;
    if (credentials)
        for (const auto& [id, cred] : *credentials)
            if (!key || cred.account_id == account_id)
                key = sam::SigningKey{id, cred.secret_access_key};
    return key;
}

http::ServerOptions server_options(const Config& config, api::Service& service) {
    http::ServerOptions opt;
    opt.host = config.host;
    opt.port = config.port;
    opt.body_policy = [&service](const http::RequestHead& h) { return service.body_policy(h); };
    if (config.stream_shaping) opt.stream_shaping.bytes_per_second = 2.0 * 1024 * 1024;
    opt.transport_error = [&service](unsigned status, const std::string& what) {
        return service.transport_error(status, what);
    };
    return opt;
}

// Each traffic-shift step is signed for the stack's account.
sam::TrafficShifter::KeyFor shift_keys(const exec::ExecSettings& settings, bool signed_auth) {
    return [account_keys = settings.account_keys,
            signed_auth](const std::string& account) -> std::optional<sam::SigningKey> {
        if (!signed_auth)
            return sam::SigningKey{account, "lamina"};  // a 12-digit key id names the account
        auto it = account_keys.find(account);
        if (it == account_keys.end()) return std::nullopt;
        return sam::SigningKey{it->second.first, it->second.second};
    };
}

}  // namespace

std::optional<std::pair<unsigned, unsigned>> parse_run_as(const std::string& v) {
    if (v == "auto") return sandbox::kSandboxUser;
    auto number = [](std::string_view s) -> std::optional<unsigned> {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n == 0)
            return std::nullopt;
        return n;
    };
    auto colon = v.find(':');
    auto uid = number(std::string_view(v).substr(0, colon));
    auto gid = colon == std::string::npos ? uid : number(std::string_view(v).substr(colon + 1));
    if (!uid || !gid) return std::nullopt;
    return std::make_pair(*uid, *gid);
}

std::string default_stack_name(const fs::path& template_file) {
    std::string dir = fs::absolute(template_file).parent_path().filename().string();
    std::string out;
    for (char c : dir)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') out += c;
    if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "lamina-" + out;
    if (out.size() > 128) out.resize(128);
    return out;
}

void print_report(const sam::DeployReport& report,
                  const std::function<void(const std::string&)>& say,
                  const std::function<void(const std::string&)>& warn) {
    if (!report.skipped.empty()) {
        std::string list;
        for (const auto& s : report.skipped) list += (list.empty() ? "" : ", ") + s;
        warn("not emulated by lamina, skipped: " + list);
    }
    for (const auto& [k, v] : report.outputs) say("output   " + k + " = " + v);
    for (const auto& [k, v] : report.function_urls) say("url      " + k + " = " + v);
}

DataDir::DataDir(const Config& config) : path_(config.data_dir), temporary_(config.ephemeral) {
    if (temporary_) {
        std::string tmpl = (fs::temp_directory_path() / "lamina-XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw StartupError(1, "cannot create a temporary data directory");
        path_ = tmpl;
    }
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) {
        std::ostringstream what;
        what << "cannot create data directory " << path_ << ": " << ec.message();
        throw StartupError(1, what.str());
    }
    // One server per data directory: a second one would serve stale state and
    // remove the first one's environments at start-up.
    lock_fd_ = ::open((path_ / "lamina.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        if (lock_fd_ >= 0) {
            char buf[32] = {};
            if (::pread(lock_fd_, buf, sizeof buf - 1, 0) > 0)
                holder = std::string(buf, std::strcspn(buf, "\n"));
            ::close(lock_fd_);
        }
        throw StartupError(1, "the data directory " + path_.string() +
                                  " is in use by another lamina" +
                                  (holder.empty() ? std::string() : " (pid " + holder + ")"));
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
        // the lock holds without the pid in it
    }
}

DataDir::~DataDir() {
    std::error_code ec;
    if (temporary_) fs::remove_all(path_, ec);
    ::close(lock_fd_);
}

std::uint64_t raise_open_file_limit() {
    struct rlimit files {};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
    if (files.rlim_cur < files.rlim_max) {
        struct rlimit raised = files;
        raised.rlim_cur = files.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
    }
    return files.rlim_cur;
}

App::App(const Config& config)
    : config_(config),
      log_(spdlog::get("main")),
      data_dir_(config_),
      docs_(
          must(store::DocumentStore::open(data_dir_.path() / "registry.db", durability(config_)))),
      blobs_(data_dir_.path() / "blobs", durability(config_)),
      layers_(*docs_, clock_, ids_),
      registry_(*docs_, clock_, ids_, &layers_),
      roles_(*docs_, clock_, ids_),
      stacks_(*docs_),
      esms_(*docs_, registry_, clock_, ids_),
      layer_cache_(data_dir_.path(), blobs_, control::kMaxUnzippedCode),
      images_(*docs_, blobs_, clock_, ids_,
              oci::Registry::Options{data_dir_.path() / "oci-uploads", durability(config_)}),
      objects_(make_object_store(config_, data_dir_.path(), clock_, ids_)),
      code_source_(make_code_source(config_, objects_.get(), *log_)),
      queues_(make_queues(config_, data_dir_.path(), clock_, ids_)),
      logs_(make_log_store(config_, data_dir_.path(), clock_)),
      live_tail_(logs_ ? std::make_unique<logs::LiveTail>(*logs_, clock_, logs::LiveTail::Options{})
                       : nullptr),
      ioc_(config_.io_threads),
      workers_(static_cast<std::size_t>(config_.worker_threads)),
      memory_(sandbox::MemoryCgroups::detect()),
      findings_(find_on_host(config_, memory_)),
      credentials_(load_credentials(config_, *log_)),
      exec_settings_(make_exec_settings(config_, data_dir_.path(), findings_, memory_, credentials_,
                                        logs_.get())),
      metrics_(clock_),
      concurrency_(capacity_settings(config_), clock_),
      invoker_(ioc_, exec_settings_, layer_cache_, clock_, ids_, &concurrency_),
      hot_reload_([this](const std::string& folder) { invoker_.folder_changed(folder); }),
      events_(ioc_, *docs_, invoker_, clock_, ids_, queue_settings(config_)),
      pollers_(queues_ ? std::make_unique<esm::Pollers>(
                             ioc_, *queues_, invoker_, ids_,
                             api::esm_poller_hooks(registry_, ids_, &metrics_))
                       : nullptr),
      deploy_key_(deployment_key(credentials_, config_.account_id)),
      service_(config_, findings_, registry_, layers_, layer_cache_, roles_, blobs_, ids_, workers_,
               &invoker_, &events_, &metrics_, objects_.get(), code_source_.get(), queues_.get()),
      server_(ioc_, server_options(config_, service_),
              [this](http::Request req, http::Responder respond) {
                  service_.handle(std::move(req), std::move(respond));
              }),
      shifter_(service_, shift_keys(exec_settings_, config_.auth == "sigv4"), docs_.get(), clock_) {
    try {
        log_->debug("open_files limit={}", raise_open_file_limit());
        log_findings(findings_, *log_);
        log_capacity(concurrency_.settings(), *log_);
        for (const auto& d : exec_settings_.debug)
            log_->info("debug function={} qualifier={} listen=127.0.0.1:{} wait={}", d.function,
                       d.qualifier.empty() ? "*" : d.qualifier, d.port, exec_settings_.debug_wait);
        // every function's hot-reload folders, from the registry's load on
        registry_.set_folder_observer(
            [this](const std::string& function, std::set<std::string> folders) {
                hot_reload_.set(function, std::move(folders));
            });
        load_state();
        wire_service();
        listen();
    } catch (...) {
        stop();  // the destructor does not run when the constructor throws
        workers_.join();
        throw;
    }
}

// Loads what the data directory holds; blobs and extracted trees that
// nothing references (an upload cut short by a crash, a deleted function's
// code) are removed.
void App::load_state() {
    must(blobs_.init());
    must(layers_.load(), "cannot load layers: ");
    must(registry_.load(), "cannot load the registry: ");
    registry_.judge_runtimes(
        config_.runtime_deprecations == "enforce",
        config_.runtime_date.empty() ? std::nullopt : control::utc_date_ms(config_.runtime_date));
    must(layer_cache_.init());
    must(images_.load(), "cannot load the image registry: ");
    std::set<std::string> keep = registry_.referenced_blobs();
    keep.merge(layers_.referenced_blobs());
    keep.merge(images_.referenced_blobs());
    std::size_t removed = blobs_.collect_garbage(keep);
    layer_cache_.collect_garbage(keep);
    if (removed) log_->info("store.gc removed_blobs={}", removed);
    must(stacks_.load(), "cannot load stack records: ");
    must(roles_.load(), "cannot load IAM roles: ");
    must(esms_.load(), "cannot load event source mappings: ");
    if (objects_) must(objects_->init());
}

void App::wire_service() {
    invoker_.set_metrics(&metrics_);
    invoker_.set_recent(&recent_);
    service_.set_ui({&registry_, &esms_, &concurrency_, &invoker_, &events_, &metrics_, &recent_},
                    clock_);
    events_.set_hooks(
        api::event_queue_hooks(registry_, ids_));  // how a queued event finds its function
    events_.set_metrics(&metrics_);
    // S3 notifications, to functions (queued Event invocations) and to SQS queues
    if (auto* s3 = service_.s3_api())
        s3->set_notification_hooks(
            api::s3_notification_hooks(registry_, events_, queues_.get(), ids_, workers_));
    service_.set_stacks(&stacks_);
    service_.set_image_registry(&images_, clock_);
    service_.set_image_source(&images_);  // image functions' ImageUri and layers
    invoker_.set_image_source(&images_);
    service_.set_logs(logs_.get(), clock_, live_tail_.get());
    service_.set_event_source_mappings(&esms_);
    if (queues_) {
        esms_.set_queue_lookup(
            [this](const std::string& arn) -> std::optional<control::EsmQueueFacts> {
                auto q = queues_->find_by_arn(arn);
                if (!q) return std::nullopt;
                return control::EsmQueueFacts{q->fifo, q->visibility_timeout};
            });
        esms_.set_observer([this](const control::EventSourceMapping& m, bool removed) {
            pollers_->changed(m, removed);
        });
        // SQS destinations and dead-letter queues of async invocations
        auto hooks = api::event_queue_hooks(registry_, ids_);
        hooks.send_to_queue =
            [this](const std::string& arn, const std::string& body,
                   const std::map<std::string, std::pair<std::string, std::string>>& attributes)
            -> Status {
            sqs::SendInput in;
            in.body = body;
            in.sender_id = "AROA" + config_.account_id;
            for (const auto& [name, v] : attributes)
                in.message_attributes[name] = {v.first, v.second, std::nullopt};
            LAMINA_TRY(sent, queues_->send(arn, std::move(in)));
            (void)sent;
            return {};
        };
        events_.set_hooks(std::move(hooks));
    }
    service_.set_reset_handler([this] { return reset(); });
    if (credentials_) service_.set_credentials(std::move(*credentials_));
    service_.set_shift_handler(
        [this](const control::Scope& scope, const std::string& body) -> Status {
            auto j = nlohmann::json::parse(body, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("Shifts"))
                return fail(ErrorCode::InvalidRequestContent, "expected {\"Shifts\": [...]}");
            auto shifts = sam::shifts_from_json(j["Shifts"]);
            if (!shifts) return std::unexpected(shifts.error());
            shifter_.schedule(scope, std::move(*shifts));
            return {};
        });
}

// Everything a new ephemeral server would not have, in dependency order:
// what schedules work first (traffic shifts, pollers, queued events), then the
// control plane, the environments (an invocation in flight fails as if its
// environment died), lamina's own SQS and S3, and what was observed.
Result<nlohmann::json> App::reset() {
    if (!config_.ephemeral)
        return fail(ErrorCode::ResourceConflict,
                    "reset clears everything, so only an ephemeral server (lamina serve "
                    "--ephemeral, lamina run) does it; this one keeps " +
                        data_dir_.path().string());
    std::lock_guard lk(reset_mu_);
    auto started = std::chrono::steady_clock::now();
    std::size_t functions = registry_.total_functions();
    std::size_t environments = invoker_.environment_count();
    shifter_.clear();
    LAMINA_CHECK(esms_.clear());  // their pollers stop
    LAMINA_CHECK(events_.clear());
    LAMINA_CHECK(registry_.clear());
    LAMINA_CHECK(layers_.clear());
    LAMINA_CHECK(roles_.clear());
    LAMINA_CHECK(stacks_.clear());
    invoker_.reset();
    if (queues_) LAMINA_CHECK(queues_->clear());
    if (objects_) LAMINA_CHECK(objects_->clear());
    LAMINA_CHECK(logs_->clear());
    recent_.clear();
    metrics_.clear();
    LAMINA_CHECK(images_.clear());
    std::set<std::string> keep = registry_.referenced_blobs();  // what was created meanwhile
    keep.merge(layers_.referenced_blobs());
    keep.merge(images_.referenced_blobs());
    blobs_.collect_garbage(keep);
    layer_cache_.collect_garbage(keep);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    log_->info("lamina.reset functions={} environments={} took_ms={:.1f}", functions, environments,
               ms);
    return nlohmann::json{
        {"reset", true}, {"functions", functions}, {"environments", environments}, {"took_ms", ms}};
}

// Binds the port (written to --port-file) and restores what outlives a
// restart: provisioned concurrency, queued events, running traffic shifts.
void App::listen() {
    try {
        server_.start();
    } catch (const std::exception& e) {
        throw StartupError(1, "cannot listen on " + config_.host + ":" +
                                  std::to_string(config_.port) + ": " + e.what());
    }
    unsigned short port = server_.port();
    if (!config_.port_file.empty()) {
        fs::path tmp = config_.port_file;
        tmp += ".tmp";
        { std::ofstream(tmp) << port << "\n"; }
        std::error_code ec;
        fs::rename(tmp, config_.port_file, ec);
    }
    invoker_.set_endpoint_url(
        "http://" + (config_.host == "0.0.0.0" ? std::string("127.0.0.1") : config_.host) + ":" +
        std::to_string(port));
    service_.restore_provisioned();
    if (pollers_) pollers_->start(esms_.all());
    if (auto st = events_.load(); !st)
        log_->error("async.restore_failed error=\"{}\"", st.error().message);
    if (auto st = shifter_.restore(); !st)
        log_->error("sam.shift_restore_failed error=\"{}\"", st.error().message);
}

// The template is applied before the port is announced: whoever waits for
// it finds the stack's functions there.
int App::deploy_template() {
    // the Host its calls name: function URLs take their port from it
    deploy_client_ = sam::make_service_client(service_, config_.region, deploy_key_,
                                              "127.0.0.1:" + std::to_string(server_.port()));
    deployer_ = std::make_unique<sam::Deployer>(
        *deploy_client_, [log = log_](const std::string& line) { log->info("sam {}", line); });
    auto overrides = sam::parse_parameter_overrides(config_.parameter_overrides);
    if (!overrides) {
        std::cerr << "lamina: " << overrides.error().message << "\n";
        return 2;
    }
    deploy_options_.stack_name =
        config_.stack_name.empty() ? default_stack_name(config_.template_file) : config_.stack_name;
    deploy_options_.parameter_overrides = *overrides;
    deploy_options_.minute_seconds = config_.deployment_minute_s;
    if (config_.template_hot_reload) deploy_options_.hot_reload_bucket = config_.hot_reload_bucket;
    log_->info("sam.deploy template={} stack={}", config_.template_file.string(),
               deploy_options_.stack_name);
    auto report = deployer_->deploy(config_.template_file, deploy_options_);
    if (!report) {
        std::cerr << "lamina: the template was not applied: " << report.error().message << "\n";
        return 1;
    }
    print_report(
        *report, [&](const std::string& l) { log_->info("sam {}", l); },
        [&](const std::string& l) { log_->warn("sam {}", l); });
    if (auto st = deployer_->start_shifts(deploy_options_.stack_name, report->shifts); !st)
        log_->error("sam.shift error=\"{}\"", st.error().message);
    if (config_.watch)
        deploy_thread_ = std::jthread([this](const std::stop_token& stop) {
            if (auto st = deployer_->watch(config_.template_file, deploy_options_, stop); !st)
                log_->error("sam.watch error=\"{}\"", st.error().message);
        });
    return 0;
}

int App::run() {
    if (!config_.template_file.empty())
        if (int rc = deploy_template(); rc != 0) return rc;
    std::cout << server_.port() << std::endl;
    log_->info("lamina.start version={} listen={}:{} data_dir={} region={} account={}", kVersion,
               config_.host, server_.port(), data_dir_.path().string(), config_.region,
               config_.account_id);

    timer_floor_.start();
    boost::asio::signal_set signals(ioc_, SIGINT, SIGTERM);
    // stop() waits for the environments' exits, which an io thread delivers:
    // it runs on a thread of its own, so that one io thread is enough
    std::thread stopper;
    signals.async_wait([this, &stopper](const boost::system::error_code& e, int sig) {
        if (e) return;
        log_->info("lamina.stop signal={}", sig);
        stopper = std::thread([this] { stop(); });
    });
    std::vector<std::thread> threads;
    for (int i = 1; i < config_.io_threads; ++i)
        threads.emplace_back([this] {
            name_this_thread("lamina-io");
            run_io();
        });
    run_io();
    for (auto& t : threads) t.join();
    if (stopper.joinable()) stopper.join();
    return 0;
}

int App::start_background() {
    if (!config_.template_file.empty())
        if (int rc = deploy_template(); rc != 0) return rc;
    log_->info("lamina.start version={} listen={}:{} data_dir={} region={} account={}", kVersion,
               config_.host, server_.port(), data_dir_.path().string(), config_.region,
               config_.account_id);
    timer_floor_.start();
    // at least two: stop() needs one to deliver the environments' exits while it waits
    for (int i = 0; i < std::max(2, config_.io_threads); ++i)
        io_threads_.emplace_back([this] {
            name_this_thread("lamina-io");
            run_io();
        });
    return 0;
}

void App::run_io() {
    const auto spin = std::chrono::microseconds(config_.io_spin_us);
    if (spin.count() <= 0) {
        ioc_.run();
        return;
    }
    // Polls (epoll_wait with no timeout) while handlers ran less than `spin`
    // ago, giving the core to any other runnable thread between polls, then
    // sleeps until the next handler. A warm invoke's event is answered by
    // its runtime within ~100 µs: caught by the poll, its /response is read
    // without waking this thread from sleep, which on a VM costs tens of µs.
    using Clock = std::chrono::steady_clock;
    auto last = Clock::now();
    while (!ioc_.stopped()) {
        if (ioc_.poll() > 0) {
            last = Clock::now();
        } else if (Clock::now() - last < spin) {
            ::sched_yield();
        } else {
            ioc_.run_one();
            last = Clock::now();
        }
    }
}

void App::shutdown() {
    stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
}

void App::stop() {
    if (stopped_) return;
    stopped_ = true;
    if (deploy_thread_.joinable()) {
        deploy_thread_.request_stop();
        deploy_thread_.join();
    }
    shifter_.stop();
    server_.stop();
    if (live_tail_)
        live_tail_->stop();  // each session's stream ends (a session is no connection to cancel)
    if (pollers_) pollers_->stop();  // messages in flight come back after their visibility timeout
    service_.stop_long_polls();
    events_.stop();  // queued events stay stored for the next start
    hot_reload_.stop();
    invoker_.shutdown();
    ioc_.stop();
}

App::~App() {
    shutdown();
    workers_.join();
}

}  // namespace lamina::cli
