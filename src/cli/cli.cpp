#include "lamina/cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stop_token>
#include <thread>

#include "lamina/api/event_hooks.hpp"
#include "lamina/api/service.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/config.hpp"
#include "lamina/common/version.hpp"
#include "lamina/control/iam.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/sandbox/launch_spec.hpp"
#include "lamina/store/layer_cache.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/control/stacks.hpp"
#include "lamina/sam/api_client.hpp"
#include "lamina/sam/deployer.hpp"
#include "lamina/sam/traffic_shifter.hpp"
#include "lamina/http/server.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/document_store.hpp"
#include "lamina/s3/object_store.hpp"
#include "lamina/s3/s3_client.hpp"

namespace lamina::cli {

namespace fs = std::filesystem;

namespace {

void setup_logging(const std::string& level) {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (const char* name : {"main", "http", "api", "control", "store", "exec", "sandbox", "runtime"}) {
        if (spdlog::get(name)) continue;
        auto logger = std::make_shared<spdlog::logger>(name, sink);
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
        spdlog::register_logger(logger);
    }
    spdlog::set_level(spdlog::level::from_str(level));
}

// "auto" -> AWS's sandbox user; "UID" or "UID:GID" (gid defaults to uid).
std::optional<std::pair<unsigned, unsigned>> parse_run_as(const std::string& v) {
    if (v == "auto") return exec::kSandboxUser;
    auto number = [](std::string_view s) -> std::optional<unsigned> {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n == 0) return std::nullopt;
        return n;
    };
    auto colon = v.find(':');
    auto uid = number(std::string_view(v).substr(0, colon));
    auto gid = colon == std::string::npos ? uid : number(std::string_view(v).substr(colon + 1));
    if (!uid || !gid) return std::nullopt;
    return std::make_pair(*uid, *gid);
}

fs::path default_data_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return fs::path(xdg) / "lamina";
    if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".local/share/lamina";
    return fs::path(".lamina");
}

// A stack name from the template's folder ("examples/sam-app" -> "sam-app").
std::string default_stack_name(const fs::path& template_file) {
    std::string dir = fs::absolute(template_file).parent_path().filename().string();
    std::string out;
    for (char c : dir)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') out += c;
    if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "lamina-" + out;
    if (out.size() > 128) out.resize(128);
    return out;
}

void print_report(const sam::DeployReport& report, const std::function<void(const std::string&)>& say,
                  const std::function<void(const std::string&)>& warn) {
    if (!report.skipped.empty()) {
        std::string list;
        for (const auto& s : report.skipped) list += (list.empty() ? "" : ", ") + s;
        warn("not emulated by lamina, skipped: " + list);
    }
    for (const auto& [k, v] : report.outputs) say("output   " + k + " = " + v);
}

int serve(Config config) {
    setup_logging(config.log_level);
    auto log = spdlog::get("main");
    fs::path ephemeral_dir;
    if (config.ephemeral) {
        std::string tmpl = (fs::temp_directory_path() / "lamina-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) {
            std::cerr << "lamina: cannot create a temporary data directory\n";
            return 1;
        }
        ephemeral_dir = tmpl;
        config.data_dir = ephemeral_dir;
    } else if (config.data_dir.empty()) {
        config.data_dir = default_data_dir();
    }
    std::error_code ec;
    fs::create_directories(config.data_dir, ec);
    if (ec) {
        std::cerr << "lamina: cannot create data directory " << config.data_dir << ": " << ec.message() << "\n";
        return 1;
    }

    // One server per data directory: a second one would serve stale state and
    // remove the first one's environments at start-up.
    int lock_fd = ::open((config.data_dir / "lamina.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        if (lock_fd >= 0) {
            char buf[32] = {};
            if (::pread(lock_fd, buf, sizeof buf - 1, 0) > 0) holder = std::string(buf).substr(0, std::string(buf).find('\n'));
        }
        std::cerr << "lamina: the data directory " << config.data_dir.string() << " is in use by another lamina"
                  << (holder.empty() ? std::string() : " (pid " + holder + ")") << "\n";
        return 1;
    }
    {
        std::string pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(lock_fd, 0) != 0 || ::pwrite(lock_fd, pid.data(), pid.size(), 0) < 0) {
            // the lock holds without the pid in it
        }
    }
    struct LockCloser {
        int fd;
        ~LockCloser() { ::close(fd); }
    } lock_closer{lock_fd};

    int rc = 0;
    {
        auto docs = store::DocumentStore::open(config.data_dir / "registry.db", config.durable_commits);
        if (!docs) {
            std::cerr << "lamina: " << docs.error().message << "\n";
            return 1;
        }
        store::BlobStore blobs(config.data_dir / "blobs");
        if (auto st = blobs.init(); !st) {
            std::cerr << "lamina: " << st.error().message << "\n";
            return 1;
        }
        SystemClock clock;
        RandomIdSource ids;
        control::LayerRegistry layers(**docs, clock, ids);
        control::Registry registry(**docs, clock, ids, &layers);
        control::IamRoles roles(**docs, clock, ids);
        control::StackRecords stacks(**docs);
        store::LayerCache layer_cache(config.data_dir, blobs, control::kMaxUnzippedCode);
        if (auto st = layers.load(); !st) {
            std::cerr << "lamina: cannot load layers: " << st.error().message << "\n";
            return 1;
        }
        if (auto st = registry.load(); !st) {
            std::cerr << "lamina: cannot load the registry: " << st.error().message << "\n";
            return 1;
        }
        if (auto st = layer_cache.init(); !st) {
            std::cerr << "lamina: " << st.error().message << "\n";
            return 1;
        }
        {
            // Blobs and extracted trees that nothing references (an upload cut
            // short by a crash, a deleted function's code) are removed here.
            std::set<std::string> keep = registry.referenced_blobs();
            keep.merge(layers.referenced_blobs());
            std::size_t removed = blobs.collect_garbage(keep);
            layer_cache.collect_garbage(keep);
            if (removed) log->info("store.gc removed_blobs={}", removed);
        }
        if (auto st = stacks.load(); !st) {
            std::cerr << "lamina: cannot load stack records: " << st.error().message << "\n";
            return 1;
        }
        if (auto st = roles.load(); !st) {
            std::cerr << "lamina: cannot load IAM roles: " << st.error().message << "\n";
            return 1;
        }
        std::unique_ptr<s3::ObjectStore> objects;
        std::unique_ptr<s3::ObjectSource> code_source;
        if (config.s3) {
            objects = std::make_unique<s3::ObjectStore>(config.data_dir / "s3", clock, ids);
            if (auto st = objects->init(); !st) {
                std::cerr << "lamina: " << st.error().message << "\n";
                return 1;
            }
            code_source = std::make_unique<s3::LocalObjectSource>(*objects);
        }
        if (!config.s3_endpoint.empty()) {  // checked in run()
            code_source = std::make_unique<s3::RemoteObjectSource>(
                *s3::parse_endpoint(config.s3_endpoint),
                s3::RemoteCredentials{config.s3_access_key_id, config.s3_secret_access_key, config.s3_session_token},
                config.region);
            log->info("s3.code_source endpoint={}", config.s3_endpoint);
        }

        boost::asio::io_context ioc(config.io_threads);
        boost::asio::thread_pool workers(static_cast<std::size_t>(config.worker_threads));

        exec::ExecSettings exec_settings;
        std::optional<std::pair<unsigned, unsigned>> run_as;
        if (::geteuid() == 0 && config.run_as != "root") {
            auto parsed = parse_run_as(config.run_as);
            if (!parsed) {
                std::cerr << "lamina: --run-as expects auto, root or UID[:GID], got " << config.run_as << "\n";
                return 2;
            }
            run_as = *parsed;
        }
        if (config.sandbox == "process") {
            exec_settings.backend = sandbox::Backend::Process;
        } else if (exec::bubblewrap_works(exec_settings.bwrap, run_as)) {
            exec_settings.backend = sandbox::Backend::Bubblewrap;
            exec_settings.run_as = run_as;
        } else if (run_as && exec::bubblewrap_works(exec_settings.bwrap)) {
            exec_settings.backend = sandbox::Backend::Bubblewrap;
            log->warn("sandbox.user fallback=root reason=\"cannot start functions as uid {} (is /usr/bin/setpriv there?)\" "
                      "note=\"functions run as root with every capability dropped\"",
                      run_as->first);
        } else if (config.sandbox == "bubblewrap") {
            std::cerr << "lamina: --sandbox bubblewrap: " << exec_settings.bwrap
                      << " cannot create namespaces here (install bubblewrap, or allow user namespaces)\n";
            return 1;
        } else {
            exec_settings.backend = sandbox::Backend::Process;
            log->warn("sandbox.fallback backend=process reason=\"bubblewrap cannot create namespaces here\" "
                      "note=\"functions run as plain processes with no isolation\"");
        }
        exec_settings.runtimes_dir = config.runtimes_dir.empty() ? fs::path(LAMINA_DEFAULT_RUNTIMES_DIR) : config.runtimes_dir;
        exec_settings.work_dir = config.data_dir / "environments";
        exec_settings.logs_dir = config.data_dir / "logs";
        fs::remove_all(exec_settings.work_dir, ec);
        fs::create_directories(exec_settings.work_dir, ec);
        exec_settings.interpreters = exec::default_interpreters(config.runtimes);
        exec_settings.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
        exec_settings.provisioned_init_timeout = std::chrono::seconds(config.provisioned_init_timeout_s);
        if (auto memory = sandbox::MemoryCgroups::detect()) {
            exec_settings.memory = *memory;
            config.memory_limits = true;
            log->info("sandbox.memory_limits cgroup={} root={} process_limit={}", memory->v2() ? "v2" : "v1",
                      memory->root().string(), memory->limits_processes() ? 1024 : 0);
            config.process_limits = memory->limits_processes();
            if (!memory->limits_processes())
                log->warn("sandbox.process_limits enabled=false note=\"no writable pids cgroup: a fork bomb in a "
                          "function is not contained\"");
        } else {
            log->warn("sandbox.memory_limits enabled=false reason=\"{}\" note=\"MemorySize is not enforced\"",
                      memory.error().message);
        }
        for (const auto& [rt, path] : exec_settings.interpreters) log->info("runtime.interpreter runtime={} path={}", rt, path);
        if (exec_settings.run_as)
            config.sandbox_user = std::to_string(exec_settings.run_as->first) + ":" + std::to_string(exec_settings.run_as->second);
        else
            config.sandbox_user = ::geteuid() == 0 ? "root" : std::to_string(::geteuid());
        log->info("sandbox.backend backend={} user={}", sandbox::to_string(exec_settings.backend), config.sandbox_user);
        config.sandbox = sandbox::to_string(exec_settings.backend);  // what /health reports
        if (config.min_unreserved > config.account_concurrency) {
            std::cerr << "lamina: --min-unreserved (" << config.min_unreserved
                      << ") must not exceed --account-concurrency (" << config.account_concurrency << ")\n";
            return 2;
        }
        std::optional<api::CredentialStore> credentials;
        if (config.auth == "sigv4") {
            if (config.credentials_file.empty()) {
                std::cerr << "lamina: --auth sigv4 needs --credentials FILE (ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID per line)\n";
                return 2;
            }
            auto loaded = api::load_credentials(config.credentials_file);
            if (!loaded) {
                std::cerr << "lamina: " << loaded.error().message << "\n";
                return 2;
            }
            credentials = std::move(*loaded);
            for (const auto& [key, cred] : *credentials)
                exec_settings.account_keys.emplace(cred.account_id, std::make_pair(key, cred.secret_access_key));
            log->info("auth.sigv4 keys={} accounts={}", credentials->size(), exec_settings.account_keys.size());
        }
        exec::CapacitySettings capacity;
        capacity.account_limit = config.account_concurrency;
        capacity.min_unreserved = config.min_unreserved;
        capacity.scaling = config.scaling == "regional-burst" ? exec::ScalingModel::RegionalBurst
                                                              : exec::ScalingModel::PerFunction;
        capacity.scaling_per_function = config.scaling_per_function;
        capacity.burst = config.burst > 0 ? config.burst : exec::default_burst_for_region(config.region);
        capacity.burst_per_minute = config.burst_per_minute;
        exec::ConcurrencyController concurrency(capacity, clock);
        if (capacity.scaling == exec::ScalingModel::PerFunction)
            log->info("concurrency account_limit={} min_unreserved={} scaling=per-function new_environments_per_10s={}",
                      capacity.account_limit, capacity.min_unreserved, capacity.scaling_per_function);
        else
            log->info("concurrency account_limit={} min_unreserved={} scaling=regional-burst burst={} per_minute={}",
                      capacity.account_limit, capacity.min_unreserved, capacity.burst, capacity.burst_per_minute);
        exec::Invoker invoker(ioc, exec_settings, layer_cache, clock, ids, &concurrency);
        exec::EventQueueSettings queue_settings;
        queue_settings.retry_delay = std::chrono::milliseconds(static_cast<std::int64_t>(config.async_retry_delay_s * 1000));
        exec::EventQueue events(ioc, **docs, invoker, clock, ids, queue_settings);
        events.set_hooks(api::event_queue_hooks(registry));
        metrics::MetricsStore metric_store(clock);
        invoker.set_metrics(&metric_store);
        events.set_metrics(&metric_store);

        api::Service service(config, registry, layers, layer_cache, roles, blobs, ids, workers, &invoker, &events,
                             &metric_store, objects.get(), code_source.get());
        service.set_stacks(&stacks);
        // the key in-process deployments sign with under --auth sigv4: one of --account-id's
        std::optional<sam::SigningKey> deploy_key;
        if (credentials) {
            for (const auto& [key, cred] : *credentials)
                if (!deploy_key || cred.account_id == config.account_id) deploy_key = sam::SigningKey{key, cred.secret_access_key};
            service.set_credentials(std::move(*credentials));
        }
        http::ServerOptions opt;
        opt.host = config.host;
        opt.port = config.port;
        opt.body_policy = [&service](const http::RequestHead& h) { return service.body_policy(h); };
        opt.transport_error = [&service](unsigned status, const std::string& what) {
            return service.transport_error(status, what);
        };
        http::Server server(ioc, opt, [&service](http::Request req, http::Responder respond) {
            service.handle(std::move(req), std::move(respond));
        });
        try {
            server.start();
        } catch (const std::exception& e) {
            std::cerr << "lamina: cannot listen on " << config.host << ":" << config.port << ": " << e.what() << "\n";
            return 1;
        }
        unsigned short port = server.port();
        if (!config.port_file.empty()) {
            fs::path tmp = config.port_file;
            tmp += ".tmp";
            { std::ofstream(tmp) << port << "\n"; }
            fs::rename(tmp, config.port_file, ec);
        }
        invoker.set_endpoint_url("http://" + (config.host == "0.0.0.0" ? std::string("127.0.0.1") : config.host) + ":" +
                                 std::to_string(port));
        service.restore_provisioned();  // provisioned concurrency outlives a restart
        if (auto st = events.load(); !st) log->error("async.restore_failed error=\"{}\"", st.error().message);
        // DeploymentPreference shifts run here, whoever deployed them; each
        // step is signed for the stack's account
        auto account_keys = exec_settings.account_keys;
        bool signed_auth = config.auth == "sigv4";
        sam::TrafficShifter shifter(service, [account_keys, signed_auth](const std::string& account) -> std::optional<sam::SigningKey> {
            if (!signed_auth) return sam::SigningKey{account, "lamina"};  // a 12-digit key id names the account
            auto it = account_keys.find(account);
            if (it == account_keys.end()) return std::nullopt;
            return sam::SigningKey{it->second.first, it->second.second};
        }, docs->get(), clock);
        if (auto st = shifter.restore(); !st) log->error("sam.shift_restore_failed error=\"{}\"", st.error().message);
        service.set_shift_handler([&shifter](const control::Scope& scope, const std::string& body) -> Status {
            auto j = nlohmann::json::parse(body, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("Shifts"))
                return fail(ErrorCode::InvalidRequestContent, "expected {\"Shifts\": [...]}");
            auto shifts = sam::shifts_from_json(j["Shifts"]);
            if (!shifts) return std::unexpected(shifts.error());
            shifter.schedule(scope, std::move(*shifts));
            return {};
        });
        // The template is applied before the port is announced: whoever waits
        // for it finds the stack's functions there.
        std::unique_ptr<sam::ApiClient> deploy_client;
        std::unique_ptr<sam::Deployer> deployer;
        std::jthread deploy_thread;
        sam::DeployOptions deploy_options;
        if (!config.template_file.empty()) {
            auto sam_log = spdlog::get("main");
            deploy_client = sam::make_service_client(service, config.region, deploy_key);
            deployer = std::make_unique<sam::Deployer>(*deploy_client, [sam_log](const std::string& line) {
                sam_log->info("sam {}", line);
            });
            auto overrides = sam::parse_parameter_overrides(config.parameter_overrides);
            if (!overrides) {
                std::cerr << "lamina: " << overrides.error().message << "\n";
                rc = 2;
            } else {
                deploy_options.stack_name = config.stack_name.empty() ? default_stack_name(config.template_file) : config.stack_name;
                deploy_options.parameter_overrides = *overrides;
                deploy_options.minute_seconds = config.deployment_minute_s;
                log->info("sam.deploy template={} stack={}", config.template_file.string(), deploy_options.stack_name);
                auto report = deployer->deploy(config.template_file, deploy_options);
                if (!report) {
                    std::cerr << "lamina: the template was not applied: " << report.error().message << "\n";
                    rc = 1;
                } else {
                    print_report(*report, [&](const std::string& l) { log->info("sam {}", l); },
                                 [&](const std::string& l) { log->warn("sam {}", l); });
                    if (auto st = deployer->start_shifts(deploy_options.stack_name, report->shifts); !st)
                        log->error("sam.shift error=\"{}\"", st.error().message);
                    if (config.watch)
                        deploy_thread = std::jthread([&](std::stop_token stop) {
                            if (auto st = deployer->watch(config.template_file, deploy_options, stop); !st)
                                log->error("sam.watch error=\"{}\"", st.error().message);
                        });
                }
            }
            if (rc != 0) {
                server.stop();
                events.stop();
                invoker.shutdown();
                ioc.stop();
                workers.join();
                return rc;
            }
        }
        std::cout << port << std::endl;
        log->info("lamina.start version={} listen={}:{} data_dir={} region={} account={}", kVersion, config.host,
                  port, config.data_dir.string(), config.region, config.account_id);

        boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& e, int sig) {
            if (e) return;
            log->info("lamina.stop signal={}", sig);
            if (deploy_thread.joinable()) {
                deploy_thread.request_stop();
                deploy_thread.join();
            }
            shifter.stop();
            server.stop();
            events.stop();  // queued events stay stored for the next start
            invoker.shutdown();
            ioc.stop();
        });
        std::vector<std::thread> threads;
        for (int i = 1; i < config.io_threads; ++i) threads.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : threads) t.join();
        workers.join();
    }
    if (!ephemeral_dir.empty()) fs::remove_all(ephemeral_dir, ec);
    return rc;
}

}  // namespace

int run(int argc, char** argv) {
    CLI::App app{"lamina: a local AWS Lambda emulator"};
    app.set_version_flag("--version", std::string("lamina ") + kVersion);
    app.require_subcommand(1);

    Config config;
    std::string port_file, data_dir;
    auto* serve_cmd = app.add_subcommand("serve", "Run the Lambda API server");
    serve_cmd->add_option("--host", config.host, "Address to listen on")->envname("LAMINA_HOST")->capture_default_str();
    serve_cmd->add_option("--port", config.port, "Port to listen on (0 = any free port, printed on stdout)")
        ->envname("LAMINA_PORT")->capture_default_str();
    serve_cmd->add_option("--port-file", port_file, "Also write the bound port to this file")->envname("LAMINA_PORT_FILE");
    serve_cmd->add_option("--data-dir", data_dir,
                          "Where functions, versions and code are kept (default $XDG_DATA_HOME/lamina, else "
                          "~/.local/share/lamina)")->envname("LAMINA_DATA_DIR");
    serve_cmd->add_flag("--ephemeral", config.ephemeral, "Keep state in a temporary directory removed at exit")
        ->envname("LAMINA_EPHEMERAL");
    serve_cmd->add_option("--region", config.region, "Region for requests that are not signed with one")
        ->envname("LAMINA_REGION")->capture_default_str();
    serve_cmd->add_option("--account-id", config.account_id,
                          "Account for requests whose access key id is not a 12-digit account id")
        ->envname("LAMINA_ACCOUNT_ID")->capture_default_str()
        ->check([](const std::string& v) {
            if (v.size() != 12 || v.find_first_not_of("0123456789") != std::string::npos)
                return std::string("must be 12 digits");
            return std::string();
        });
    serve_cmd->add_option("--log-level", config.log_level, "trace, debug, info, warn, error, critical, off (the last one given wins)")
        ->envname("LAMINA_LOG_LEVEL")->capture_default_str()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    serve_cmd->add_option("--io-threads", config.io_threads, "Threads serving HTTP")
        ->envname("LAMINA_IO_THREADS")->capture_default_str()->check(CLI::Range(1, 64));
    serve_cmd->add_option("--worker-threads", config.worker_threads, "Threads running API operations")
        ->envname("LAMINA_WORKER_THREADS")->capture_default_str()->check(CLI::Range(1, 256));
    serve_cmd->add_option("--sandbox", config.sandbox,
                          "Execution environment backend: bubblewrap (namespaces), process (no isolation), or auto")
        ->envname("LAMINA_SANDBOX")->capture_default_str()->check(CLI::IsMember({"auto", "bubblewrap", "process"}));
    serve_cmd->add_option("--run-as", config.run_as,
                          "When lamina runs as root, who functions run as: auto (uid 993, gid 990, AWS's "
                          "sbx_user1051), UID[:GID], or root")
        ->envname("LAMINA_RUN_AS")->capture_default_str();
    serve_cmd->add_option("--auth", config.auth,
                          "none (any signature or none is accepted; a 12-digit access key id names the account) or "
                          "sigv4 (every AWS call must be signed by a key from --credentials)")
        ->envname("LAMINA_AUTH")->capture_default_str()->check(CLI::IsMember({"none", "sigv4"}));
    std::string credentials_file;
    serve_cmd->add_option("--credentials", credentials_file,
                          "With --auth sigv4: a file of 'ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID' lines")
        ->envname("LAMINA_CREDENTIALS");
    std::vector<std::string> runtime_overrides;
    serve_cmd->add_option("--runtime", runtime_overrides, "Interpreter for a runtime, e.g. python3.12=/usr/bin/python3.12 (repeatable)")
        ->envname("LAMINA_RUNTIME");
    std::string runtimes_dir;
    serve_cmd->add_option("--runtimes-dir", runtimes_dir, "Where lamina's runtime bootstraps are")->envname("LAMINA_RUNTIMES_DIR");
    serve_cmd->add_option("--idle-timeout", config.idle_timeout_s, "Seconds before an idle execution environment is stopped")
        ->envname("LAMINA_IDLE_TIMEOUT")->capture_default_str()->check(CLI::Range(1, 86400));
    serve_cmd->add_option("--provisioned-init-timeout", config.provisioned_init_timeout_s,
                          "Seconds a provisioned concurrency environment may take to initialise, or the function's "
                          "Timeout if longer (AWS: 130)")
        ->envname("LAMINA_PROVISIONED_INIT_TIMEOUT")->capture_default_str()->check(CLI::Range(1, 900));
    serve_cmd->add_option("--account-concurrency", config.account_concurrency,
                          "Concurrent executions per account and region (AWS's default quota: 1000)")
        ->envname("LAMINA_ACCOUNT_CONCURRENCY")->capture_default_str()->check(CLI::Range(1, 1000000));
    serve_cmd->add_option("--min-unreserved", config.min_unreserved,
                          "Concurrency that reservations must leave unreserved (AWS: 100)")
        ->envname("LAMINA_MIN_UNRESERVED")->capture_default_str()->check(CLI::Range(0, 1000000));
    serve_cmd->add_option("--scaling", config.scaling,
                          "How fast concurrency may grow: per-function (AWS since 2023: N new environments per "
                          "function every 10 s) or regional-burst (an initial regional burst, then +M per minute)")
        ->envname("LAMINA_SCALING")->capture_default_str()->check(CLI::IsMember({"per-function", "regional-burst"}));
    serve_cmd->add_option("--scaling-rate", config.scaling_per_function,
                          "per-function scaling: new environments per function per 10 s")
        ->envname("LAMINA_SCALING_RATE")->capture_default_str()->check(CLI::Range(1, 1000000));
    serve_cmd->add_option("--burst", config.burst,
                          "regional-burst scaling: the initial burst (default: the region's, 500-3000)")
        ->envname("LAMINA_BURST")->check(CLI::Range(1, 1000000));
    serve_cmd->add_option("--burst-rate", config.burst_per_minute,
                          "regional-burst scaling: new environments per minute after the burst")
        ->envname("LAMINA_BURST_RATE")->capture_default_str()->check(CLI::Range(1, 1000000));
    serve_cmd->add_option("--async-retry-delay", config.async_retry_delay_s,
                          "Seconds before the first retry of a failed Event invocation (AWS: about 60; the second "
                          "retry waits twice as long)")
        ->envname("LAMINA_ASYNC_RETRY_DELAY")->capture_default_str()->check(CLI::Range(0.0, 3600.0));
    serve_cmd->add_flag("--durable-commits", config.durable_commits,
                        "fsync every metadata commit (survives power loss, not only crashes)")
        ->envname("LAMINA_DURABLE_COMMITS");
    std::string template_file;
    serve_cmd->add_option("--template", template_file,
                          "A SAM or CloudFormation template (YAML or JSON) to deploy at start-up")
        ->envname("LAMINA_TEMPLATE");
    serve_cmd->add_option("--parameter-overrides", config.parameter_overrides,
                          "Template parameters: Key=Value (or SAM's ParameterKey=Key,ParameterValue=Value), repeatable");
    serve_cmd->add_option("--stack-name", config.stack_name, "Stack name of the template (default: its folder's name)")
        ->envname("LAMINA_STACK_NAME");
    serve_cmd->add_flag("--watch", config.watch,
                        "With --template: update $LATEST when a CodeUri/ContentUri folder changes, redeploy when the "
                        "template does")
        ->envname("LAMINA_WATCH");
    serve_cmd->add_option("--deployment-minute", config.deployment_minute_s,
                          "Seconds a DeploymentPreference minute lasts (shorten canary and linear shifts for tests)")
        ->envname("LAMINA_DEPLOYMENT_MINUTE")->capture_default_str()->check(CLI::Range(0.0, 3600.0));

    // lamina deploy: the same deployment, into a running server
    std::string deploy_template, deploy_endpoint = "http://127.0.0.1:9001", deploy_stack, deploy_region;
    std::vector<std::string> deploy_overrides;
    bool deploy_watch = false, deploy_no_wait = false;
    double deploy_minute = 60;
    auto* deploy_cmd = app.add_subcommand("deploy", "Deploy a SAM or CloudFormation template into a running lamina");
    deploy_cmd->add_option("template", deploy_template, "The template (YAML or JSON)")->required();
    deploy_cmd->add_option("--endpoint", deploy_endpoint, "lamina's URL")->envname("LAMINA_ENDPOINT")->capture_default_str();
    deploy_cmd->add_option("--stack-name", deploy_stack, "Stack name (default: the template folder's name)");
    deploy_cmd->add_option("--parameter-overrides", deploy_overrides,
                           "Template parameters: Key=Value (or ParameterKey=Key,ParameterValue=Value), repeatable");
    deploy_cmd->add_option("--region", deploy_region, "Region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)");
    deploy_cmd->add_flag("--watch", deploy_watch, "Keep running: update $LATEST when code folders change, redeploy "
                                                  "when the template does");
    deploy_cmd->add_flag("--no-wait", deploy_no_wait, "Return once the first traffic-shift step is applied");
    deploy_cmd->add_option("--deployment-minute", deploy_minute,
                           "Seconds a DeploymentPreference minute lasts (shorten canary and linear shifts for tests)")
        ->capture_default_str()->check(CLI::Range(0.0, 3600.0));

    std::string delete_stack, delete_endpoint = "http://127.0.0.1:9001", delete_region;
    auto* delete_cmd = app.add_subcommand("delete", "Delete a deployed stack and everything it made from a running lamina");
    delete_cmd->add_option("--stack-name", delete_stack, "The stack")->required();
    delete_cmd->add_option("--endpoint", delete_endpoint, "lamina's URL")->envname("LAMINA_ENDPOINT")->capture_default_str();
    delete_cmd->add_option("--region", delete_region, "Region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)");

    std::string s3_switch = "on";
    serve_cmd->add_option("--s3", s3_switch,
                          "Serve a minimal Amazon S3 API (buckets, objects, multipart uploads) on the same endpoint, "
                          "kept in <data-dir>/s3")
        ->envname("LAMINA_S3")->capture_default_str()->check(CLI::IsMember({"on", "off"}));
    serve_cmd->add_option("--s3-endpoint", config.s3_endpoint,
                          "Read Lambda code (Code.S3Bucket/S3Key) from this S3-compatible server, http://HOST:PORT, "
                          "path-style and SigV4-signed with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and --region, "
                          "instead of from lamina's own S3 objects")
        ->envname("LAMINA_S3_ENDPOINT");
    app.add_subcommand("version", "Print the version")->callback([] { std::cout << "lamina " << kVersion << "\n"; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (serve_cmd->parsed()) {
        config.port_file = port_file;
        config.data_dir = data_dir;
        config.runtimes_dir = runtimes_dir;
        config.credentials_file = credentials_file;
        config.s3 = s3_switch == "on";
        for (auto [var, field] : {std::pair{"AWS_ACCESS_KEY_ID", &config.s3_access_key_id},
                                  std::pair{"AWS_SECRET_ACCESS_KEY", &config.s3_secret_access_key},
                                  std::pair{"AWS_SESSION_TOKEN", &config.s3_session_token}})
            if (const char* v = std::getenv(var)) *field = v;
        if (!config.s3_endpoint.empty()) {
            if (auto endpoint = s3::parse_endpoint(config.s3_endpoint); !endpoint) {
                std::cerr << "lamina: " << endpoint.error().message << "\n";
                return 2;
            }
            if (config.s3_access_key_id.empty() || config.s3_secret_access_key.empty()) {
                std::cerr << "lamina: --s3-endpoint signs its requests: set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY\n";
                return 2;
            }
        }
        for (const auto& o : runtime_overrides) {
            auto eq = o.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == o.size()) {
                std::cerr << "lamina: --runtime expects RUNTIME=/path/to/interpreter, got " << o << "\n";
                return 2;
            }
            config.runtimes[o.substr(0, eq)] = o.substr(eq + 1);
        }
        config.template_file = template_file;
        return serve(config);
    }
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    // signed like the aws CLI would sign: the environment's key, else a placeholder one
    auto remote_client = [&](const std::string& endpoint, const std::string& region_flag) {
        std::string region = !region_flag.empty() ? region_flag
                             : !env("AWS_REGION").empty() ? env("AWS_REGION")
                             : !env("AWS_DEFAULT_REGION").empty() ? env("AWS_DEFAULT_REGION") : "us-east-1";
        sam::SigningKey key{env("AWS_ACCESS_KEY_ID").empty() ? "test" : env("AWS_ACCESS_KEY_ID"),
                            env("AWS_SECRET_ACCESS_KEY").empty() ? "test" : env("AWS_SECRET_ACCESS_KEY")};
        return sam::make_http_client(endpoint, region, key);
    };
    if (delete_cmd->parsed()) {
        auto client = remote_client(delete_endpoint, delete_region);
        if (!client) {
            std::cerr << "lamina: " << client.error().message << "\n";
            return 2;
        }
        sam::Deployer deployer(**client, [](const std::string& line) { std::cout << line << std::endl; });
        if (auto st = deployer.destroy(delete_stack); !st) {
            std::cerr << "lamina: " << st.error().message << "\n";
            return 1;
        }
        std::cout << "stack " << delete_stack << " deleted" << std::endl;
        return 0;
    }
    if (deploy_cmd->parsed()) {
        sam::DeployOptions options;
        options.stack_name = deploy_stack.empty() ? default_stack_name(deploy_template) : deploy_stack;
        options.minute_seconds = deploy_minute;
        auto overrides = sam::parse_parameter_overrides(deploy_overrides);
        if (!overrides) {
            std::cerr << "lamina: " << overrides.error().message << "\n";
            return 2;
        }
        options.parameter_overrides = *overrides;
        auto client = remote_client(deploy_endpoint, deploy_region);
        if (!client) {
            std::cerr << "lamina: " << client.error().message << "\n";
            return 2;
        }
        auto say = [](const std::string& line) { std::cout << line << std::endl; };
        sam::Deployer deployer(**client, say);
        auto report = deployer.deploy(deploy_template, options);
        if (!report) {
            std::cerr << "lamina: the template was not applied: " << report.error().message << "\n";
            return 1;
        }
        print_report(*report, say, [](const std::string& l) { std::cerr << "lamina: warning: " << l << "\n"; });
        std::cout << "stack " << options.stack_name << " deployed" << std::endl;
        std::stop_source never;
        if (auto st = deployer.start_shifts(options.stack_name, report->shifts); !st) {
            std::cerr << "lamina: " << st.error().message << "\n";
            return 1;
        }
        if (!deploy_no_wait && !report->shifts.empty()) {
            if (auto st = deployer.wait_for_shifts(report->shifts, never.get_token()); !st) {
                std::cerr << "lamina: " << st.error().message << "\n";
                return 1;
            }
        }
        if (deploy_watch) {
            if (auto st = deployer.watch(deploy_template, options, never.get_token()); !st) {
                std::cerr << "lamina: " << st.error().message << "\n";
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

}  // namespace lamina::cli
