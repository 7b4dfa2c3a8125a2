#include "lamina/cli/cli.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <stop_token>
#include <string_view>
#include <vector>

#include "app.hpp"
#include "image_load.hpp"
#include "lamina/common/config.hpp"
#include "lamina/common/version.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/exec/debug.hpp"
#include "lamina/s3/s3_client.hpp"
#include "lamina/sam/api_client.hpp"
#include "lamina/sam/deployer.hpp"
#include "run_command.hpp"
#include "runtimes_dir.hpp"

namespace lamina::cli {

namespace fs = std::filesystem;

namespace {

void setup_logging(const std::string& level) {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (const char* name :
         {"main", "http", "api", "control", "store", "exec", "sandbox", "runtime"}) {
        if (spdlog::get(name)) continue;
        auto logger = std::make_shared<spdlog::logger>(name, sink);
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
        spdlog::register_logger(logger);
    }
    spdlog::set_level(spdlog::level::from_str(level));
}

fs::path default_data_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        return fs::path(xdg) / "lamina";
    if (const char* home = std::getenv("HOME"); home && *home)
        return fs::path(home) / ".local/share/lamina";
    return fs::path(".lamina");
}

// --hot-reload-bucket: a name a client can send as Code.S3Bucket (Lambda's
// pattern for it: 3-63 of [0-9A-Za-z.-_], not ending in '.').
CLI::Validator hot_reload_bucket_check() {
    return CLI::Validator(
        [](const std::string& v) -> std::string {
            bool ok = v.size() >= 3 && v.size() <= 63 && v.back() != '.';
            for (char c : v)
                ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                            c == '_');
            return ok ? std::string()
                      : "a bucket name Lambda accepts: 3-63 of A-Za-z0-9 . - _, not ending in "
                        "'.'";
        },
        "BUCKET");
}

// lamina serve: the App until a signal, or a clear message and exit code.
int serve(const Config& config) {
    setup_logging(config.log_level);
    try {
        App app(config);
        return app.run();
    } catch (const StartupError& e) {
        std::cerr << "lamina: " << e.what() << "\n";
        return e.exit_code();
    }
}

// The flags of lamina serve, which lamina run takes too.
struct ServeFlags {
    Config config;
    std::string port_file, data_dir, credentials_file, runtimes_dir, template_file;
    std::string s3_switch = "on", sqs_switch = "on";
    std::vector<std::string> runtime_overrides;
};

void add_serve_flags(CLI::App* cmd, ServeFlags& f) {
    cmd->add_option("--host", f.config.host, "Address to listen on")
        ->envname("LAMINA_HOST")
        ->capture_default_str();
    cmd->add_option("--port", f.config.port,
                    "Port to listen on (0 = any free port, printed on stdout)")
        ->envname("LAMINA_PORT")
        ->capture_default_str();
    cmd->add_option("--port-file", f.port_file, "Also write the bound port to this file")
        ->envname("LAMINA_PORT_FILE");
    cmd->add_option(
           "--data-dir", f.data_dir,
           "Where functions, versions and code are kept (default $XDG_DATA_HOME/lamina, else "
           "~/.local/share/lamina)")
        ->envname("LAMINA_DATA_DIR");
    cmd->add_flag("--ephemeral", f.config.ephemeral,
                  "Keep state in a temporary directory removed at exit")
        ->envname("LAMINA_EPHEMERAL");
    cmd->add_option("--region", f.config.region, "Region for requests that are not signed with one")
        ->envname("LAMINA_REGION")
        ->capture_default_str();
    cmd->add_option("--account-id", f.config.account_id,
                    "Account for requests whose access key id is not a 12-digit account id")
        ->envname("LAMINA_ACCOUNT_ID")
        ->capture_default_str()
        ->check([](const std::string& v) {
            if (v.size() != 12 || v.find_first_not_of("0123456789") != std::string::npos)
                return std::string("must be 12 digits");
            return std::string();
        });
    cmd->add_option("--log-level", f.config.log_level,
                    "trace, debug, info, warn, error, critical, off (the last one given wins)")
        ->envname("LAMINA_LOG_LEVEL")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    cmd->add_option("--io-threads", f.config.io_threads, "Threads serving HTTP")
        ->envname("LAMINA_IO_THREADS")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    cmd->add_option("--io-spin-us", f.config.io_spin_us,
                    "Microseconds an idle io thread polls before it sleeps (0: never polls)")
        ->envname("LAMINA_IO_SPIN_US")
        ->capture_default_str()
        ->check(CLI::Range(0, 10000));
    cmd->add_option("--worker-threads", f.config.worker_threads, "Threads running API operations")
        ->envname("LAMINA_WORKER_THREADS")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    cmd->add_option("--sandbox", f.config.sandbox,
                    "Execution environment backend: bubblewrap (namespaces), process (no "
                    "isolation), or auto")
        ->envname("LAMINA_SANDBOX")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "bubblewrap", "process"}));
    cmd->add_option("--run-as", f.config.run_as,
                    "When lamina runs as root, who functions run as: auto (uid 993, gid 990, AWS's "
                    "sbx_user1051), UID[:GID], or root")
        ->envname("LAMINA_RUN_AS")
        ->capture_default_str();
    cmd->add_option("--auth", f.config.auth,
                    "none (any signature or none is accepted; a 12-digit access key id names the "
                    "account) or "
                    "sigv4 (every AWS call must be signed by a key from --credentials)")
        ->envname("LAMINA_AUTH")
        ->capture_default_str()
        ->check(CLI::IsMember({"none", "sigv4"}));
    cmd->add_option(
           "--credentials", f.credentials_file,
           "With --auth sigv4: a file of 'ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID' lines")
        ->envname("LAMINA_CREDENTIALS");
    cmd->add_option("--runtime", f.runtime_overrides,
                    "Interpreter for a runtime, e.g. python3.12=/usr/bin/python3.12 (repeatable)")
        ->envname("LAMINA_RUNTIME");
    RuntimesDir default_runtimes = resolve_runtimes_dir({});
    cmd->add_option(
           "--runtimes-dir", f.runtimes_dir,
           "Where lamina's runtime bootstraps are (default: the installed layout's "
           "<bindir>/../share/lamina/runtimes if there, else the source tree's runtimes/; here: " +
               default_runtimes.path.string() + ", " + default_runtimes.source + ")")
        ->envname("LAMINA_RUNTIMES_DIR");
    cmd->add_option("--debug", f.config.debug,
                    "FUNCTION[:QUALIFIER]=PORT: run that function's Python (debugpy) or Node.js "
                    "(--inspect) runtime under a debugger listening on 127.0.0.1:PORT, one "
                    "environment at a time, its Timeout suspended while a client is attached "
                    "(repeatable)");
    cmd->add_flag("--debug-wait", f.config.debug_wait,
                  "With --debug: the runtime waits for the debugger to attach before its init "
                  "(Node.js: --inspect-brk)");
    cmd->add_option("--runtime-deprecations", f.config.runtime_deprecations,
                    "AWS's runtime block dates: warn (accept and log what AWS would refuse, so "
                    "that older templates and tutorials keep running) or enforce (refuse "
                    "CreateFunction and updates as AWS does)")
        ->envname("LAMINA_RUNTIME_DEPRECATIONS")
        ->capture_default_str()
        ->check(CLI::IsMember({"warn", "enforce"}));
    cmd->add_option("--runtime-date", f.config.runtime_date,
                    "YYYY-MM-DD: judge AWS's runtime deprecation schedule (CreateFunction and "
                    "function updates refused from a runtime's block dates) at this date (UTC) "
                    "instead of today")
        ->envname("LAMINA_RUNTIME_DATE")
        ->check([](const std::string& v) {
            return control::utc_date_ms(v) ? std::string() : "not a YYYY-MM-DD date: " + v;
        });
    cmd->add_option("--idle-timeout", f.config.idle_timeout_s,
                    "Seconds before an idle execution environment is stopped")
        ->envname("LAMINA_IDLE_TIMEOUT")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    cmd->add_option("--spare-environments", f.config.spare_environments,
                    "Spare environments kept ready for cold starts, at most one per function: "
                    "sandbox and runtime started, no function code loaded until an invoke "
                    "claims one (0: none)")
        ->envname("LAMINA_SPARE_ENVIRONMENTS")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    cmd->add_option("--provisioned-init-timeout", f.config.provisioned_init_timeout_s,
                    "Seconds a provisioned concurrency environment may take to initialise, or the "
                    "function's "
                    "Timeout if longer (AWS: 130)")
        ->envname("LAMINA_PROVISIONED_INIT_TIMEOUT")
        ->capture_default_str()
        ->check(CLI::Range(1, 900));
    cmd->add_option("--account-concurrency", f.config.quota.account_limit,
                    "Concurrent executions per account and region (AWS's default quota: 1000)")
        ->envname("LAMINA_ACCOUNT_CONCURRENCY")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--min-unreserved", f.config.quota.min_unreserved,
                    "Concurrency that reservations must leave unreserved (AWS: 100)")
        ->envname("LAMINA_MIN_UNRESERVED")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000000));
    cmd->add_option(
           "--scaling", f.config.scaling,
           "How fast concurrency may grow: per-function (AWS since 2023: N new environments per "
           "function every 10 s) or regional-burst (an initial regional burst, then +M per "
           "minute)")
        ->envname("LAMINA_SCALING")
        ->capture_default_str()
        ->check(CLI::IsMember({"per-function", "regional-burst"}));
    cmd->add_option("--scaling-rate", f.config.scaling_per_function,
                    "per-function scaling: new environments per function per 10 s")
        ->envname("LAMINA_SCALING_RATE")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--burst", f.config.burst,
                    "regional-burst scaling: the initial burst (default: the region's, 500-3000)")
        ->envname("LAMINA_BURST")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--burst-rate", f.config.burst_per_minute,
                    "regional-burst scaling: new environments per minute after the burst")
        ->envname("LAMINA_BURST_RATE")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--async-retry-delay", f.config.async_retry_delay_s,
                    "Seconds before the first retry of a failed Event invocation (AWS: about 60; "
                    "the second "
                    "retry waits twice as long)")
        ->envname("LAMINA_ASYNC_RETRY_DELAY")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    cmd->add_flag("--stream-bandwidth-shaping", f.config.stream_shaping,
                  "Pace streamed responses as AWS does: the first 6 MiB at full speed, the rest at "
                  "2 MiB/s")
        ->envname("LAMINA_STREAM_BANDWIDTH_SHAPING");
    cmd->add_flag("--durable-commits", f.config.durable_commits,
                  "fsync every metadata commit (survives power loss, not only crashes)")
        ->envname("LAMINA_DURABLE_COMMITS");
    cmd->add_option("--template", f.template_file,
                    "A SAM or CloudFormation template (YAML or JSON) to deploy at start-up")
        ->envname("LAMINA_TEMPLATE");
    cmd->add_option("--parameter-overrides", f.config.parameter_overrides,
                    "Template parameters: Key=Value (or SAM's "
                    "ParameterKey=Key,ParameterValue=Value), repeatable");
    cmd->add_option("--stack-name", f.config.stack_name,
                    "Stack name of the template (default: its folder's name)")
        ->envname("LAMINA_STACK_NAME");
    cmd->add_flag("--watch", f.config.watch,
                  "With --template: update $LATEST when a CodeUri/ContentUri folder changes, "
                  "redeploy when the "
                  "template does")
        ->envname("LAMINA_WATCH");
    cmd->add_option("--deployment-minute", f.config.deployment_minute_s,
                    "Seconds a DeploymentPreference minute lasts (shorten canary and linear "
                    "shifts for tests)")
        ->envname("LAMINA_DEPLOYMENT_MINUTE")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    cmd->add_option("--hot-reload-bucket", f.config.hot_reload_bucket,
                    "Code.S3Bucket (layers: Content.S3Bucket) that marks hot-reloaded code: "
                    "S3Key is then an absolute folder path on this machine, run live")
        ->envname("LAMINA_HOT_RELOAD_BUCKET")
        ->capture_default_str()
        ->check(hot_reload_bucket_check());
    cmd->add_flag("--hot-reload", f.config.template_hot_reload,
                  "With --template: run CodeUri/ContentUri folders live (hot reload) instead of "
                  "zipping them")
        ->envname("LAMINA_HOT_RELOAD");

    cmd->add_option("--s3", f.s3_switch,
                    "Serve a minimal Amazon S3 API (buckets, objects, multipart uploads) on the "
                    "same endpoint, "
                    "kept in <data-dir>/s3")
        ->envname("LAMINA_S3")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}));
    cmd->add_option("--sqs", f.sqs_switch,
                    "Serve a minimal Amazon SQS API (queues, messages, FIFO, dead-letter queues) "
                    "on the same endpoint, kept in <data-dir>/sqs.sqlite")
        ->envname("LAMINA_SQS")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}));
    cmd->add_option("--s3-endpoint", f.config.s3_endpoint,
                    "Read Lambda code (Code.S3Bucket/S3Key) from this S3-compatible server, "
                    "http://HOST:PORT, "
                    "path-style and SigV4-signed with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and "
                    "--region, "
                    "instead of from lamina's own S3 objects")
        ->envname("LAMINA_S3_ENDPOINT");
}

// Completes f.config once parsed; 0, or the exit code after saying what is wrong.
int finish_serve_flags(ServeFlags& f) {
    f.config.port_file = f.port_file;
    f.config.data_dir = f.data_dir;
    if (f.config.ephemeral)
        f.config.data_dir.clear();  // a temporary one is made at start-up
    else if (f.config.data_dir.empty())
        f.config.data_dir = default_data_dir();
    f.config.runtimes_dir = f.runtimes_dir;
    f.config.credentials_file = f.credentials_file;
    f.config.s3 = f.s3_switch == "on";
    f.config.sqs = f.sqs_switch == "on";
    for (auto [var, field] : {std::pair{"AWS_ACCESS_KEY_ID", &f.config.s3_access_key_id},
                              std::pair{"AWS_SECRET_ACCESS_KEY", &f.config.s3_secret_access_key},
                              std::pair{"AWS_SESSION_TOKEN", &f.config.s3_session_token}})
        if (const char* v = std::getenv(var)) *field = v;
    if (!f.config.s3_endpoint.empty()) {
        if (auto endpoint = s3::parse_endpoint(f.config.s3_endpoint); !endpoint) {
            std::cerr << "lamina: " << endpoint.error().message << "\n";
            return 2;
        }
        if (f.config.s3_access_key_id.empty() || f.config.s3_secret_access_key.empty()) {
            std::cerr << "lamina: --s3-endpoint signs its requests: set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY\n";
            return 2;
        }
    }
    for (const auto& o : f.runtime_overrides) {
        auto eq = o.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == o.size()) {
            std::cerr << "lamina: --runtime expects RUNTIME=/path/to/interpreter, got " << o
                      << "\n";
            return 2;
        }
        f.config.runtimes[o.substr(0, eq)] = o.substr(eq + 1);
    }
    std::set<int> debug_ports;
    for (const auto& d : f.config.debug) {
        auto target = exec::parse_debug_target(d);
        if (!target) {
            std::cerr << "lamina: " << target.error().message << "\n";
            return 2;
        }
        if (!debug_ports.insert(target->port).second) {
            std::cerr << "lamina: --debug " << d << ": port " << target->port
                      << " is given twice (one debugger port per entry)\n";
            return 2;
        }
        if (auto free = exec::check_port_free(target->port); !free) {
            std::cerr << "lamina: --debug " << d << ": " << free.error().message
                      << "; free it or choose another port\n";
            return 2;
        }
    }
    if (f.config.debug_wait && f.config.debug.empty()) {
        std::cerr << "lamina: --debug-wait needs --debug FUNCTION[:QUALIFIER]=PORT\n";
        return 2;
    }
    f.config.template_file = f.template_file;
    if (::geteuid() == 0 && f.config.run_as != "root" && !parse_run_as(f.config.run_as)) {
        std::cerr << "lamina: --run-as expects auto, root or UID[:GID], got " << f.config.run_as
                  << "\n";
        return 2;
    }
    if (f.config.quota.min_unreserved > f.config.quota.account_limit) {
        std::cerr << "lamina: --min-unreserved (" << f.config.quota.min_unreserved
                  << ") must not exceed --account-concurrency (" << f.config.quota.account_limit
                  << ")\n";
        return 2;
    }
    if (f.config.auth == "sigv4" && f.config.credentials_file.empty()) {
        std::cerr << "lamina: --auth sigv4 needs --credentials FILE (ACCESS_KEY_ID "
                     "SECRET_ACCESS_KEY ACCOUNT_ID "
                     "per line)\n";
        return 2;
    }
    return 0;
}

}  // namespace

int run(int argc, char** argv) {
    CLI::App app{"lamina: a local AWS Lambda emulator"};
    app.set_version_flag("--version", std::string("lamina ") + kVersion);
    app.require_subcommand(1);

    ServeFlags serve_flags;
    auto* serve_cmd = app.add_subcommand("serve", "Run the Lambda API server");
    add_serve_flags(serve_cmd, serve_flags);

    // lamina run: the flags before "--" are serve's; COMMAND and its arguments follow it
    std::vector<std::string> command;
    const bool run_requested = argc >= 2 && std::string_view(argv[1]) == "run";
    bool dashdash = false, help = false;
    int parse_argc = argc;
    for (int i = 2; run_requested && i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            dashdash = true;
            command.assign(argv + i + 1, argv + argc);
            parse_argc = i;
            break;
        }
        help = help || a == "-h" || a == "--help";
    }
    ServeFlags run_flags;
    auto* run_cmd = app.add_subcommand(
        "run",
        "Run COMMAND against a fresh ephemeral lamina, then remove everything: lamina run "
        "[serve flags] -- COMMAND [ARGS...]");
    add_serve_flags(run_cmd, run_flags);
    run_cmd->footer(
        "lamina run starts an ephemeral server (as serve --ephemeral) on a free loopback port "
        "unless --port is given, deploys --template if given (a failed deployment exits 1 "
        "without running COMMAND), and runs COMMAND with AWS_ENDPOINT_URL and LAMINA_ENDPOINT "
        "set to http://127.0.0.1:PORT; AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=test when neither "
        "is set, and AWS_REGION/AWS_DEFAULT_REGION=--region when neither is set. SIGINT and "
        "SIGTERM go on to COMMAND. When COMMAND ends, every environment and the server are "
        "stopped and the data removed; lamina exits with COMMAND's status (128+N when killed by "
        "signal N, 127 when COMMAND is not found). --log-level defaults to warn here.\n"
        "Example (CI): lamina run --template template.yaml -- pytest");
    if (run_requested && !help && (!dashdash || command.empty())) {
        std::cerr << "lamina run: expected -- COMMAND [ARGS...] (usage: lamina run [serve flags] "
                     "-- COMMAND [ARGS...]; see lamina run --help)\n";
        return 2;
    }

    // lamina deploy: the same deployment, into a running server
    std::string deploy_template, deploy_endpoint = "http://127.0.0.1:9001", deploy_stack,
                                 deploy_region;
    std::vector<std::string> deploy_overrides;
    bool deploy_watch = false, deploy_no_wait = false, deploy_hot = false;
    std::string deploy_hot_bucket = Config{}.hot_reload_bucket;
    double deploy_minute = 60;
    auto* deploy_cmd = app.add_subcommand(
        "deploy", "Deploy a SAM or CloudFormation template into a running lamina");
    deploy_cmd->add_option("template", deploy_template, "The template (YAML or JSON)")->required();
    deploy_cmd->add_option("--endpoint", deploy_endpoint, "lamina's URL")
        ->envname("LAMINA_ENDPOINT")
        ->capture_default_str();
    deploy_cmd->add_option("--stack-name", deploy_stack,
                           "Stack name (default: the template folder's name)");
    deploy_cmd->add_option(
        "--parameter-overrides", deploy_overrides,
        "Template parameters: Key=Value (or ParameterKey=Key,ParameterValue=Value), repeatable");
    deploy_cmd->add_option("--region", deploy_region,
                           "Region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)");
    deploy_cmd->add_flag("--hot-reload", deploy_hot,
                         "Run CodeUri/ContentUri folders live (hot reload: the server binds the "
                         "folder itself) instead of zipping them");
    deploy_cmd
        ->add_option("--hot-reload-bucket", deploy_hot_bucket,
                     "With --hot-reload: the server's --hot-reload-bucket")
        ->capture_default_str()
        ->check(hot_reload_bucket_check());
    deploy_cmd->add_flag("--watch", deploy_watch,
                         "Keep running: update $LATEST when code folders change, redeploy "
                         "when the template does");
    deploy_cmd->add_flag("--no-wait", deploy_no_wait,
                         "Return once the first traffic-shift step is applied");
    deploy_cmd
        ->add_option("--deployment-minute", deploy_minute,
                     "Seconds a DeploymentPreference minute lasts (shorten canary and linear "
                     "shifts for tests)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));

    std::string delete_stack, delete_endpoint = "http://127.0.0.1:9001", delete_region;
    auto* delete_cmd = app.add_subcommand(
        "delete", "Delete a deployed stack and everything it made from a running lamina");
    delete_cmd->add_option("--stack-name", delete_stack, "The stack")->required();
    delete_cmd->add_option("--endpoint", delete_endpoint, "lamina's URL")
        ->envname("LAMINA_ENDPOINT")
        ->capture_default_str();
    delete_cmd->add_option("--region", delete_region,
                           "Region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)");

    // lamina image load: an image archive into a running server's registry
    std::string load_file, load_tag, load_endpoint = "http://127.0.0.1:9001", load_region;
    auto* image_cmd = app.add_subcommand("image", "Work with lamina's image registry");
    auto* load_cmd = image_cmd->add_subcommand(
        "load", "Push a docker save or OCI archive into a running lamina's registry");
    load_cmd->add_option("file", load_file, "The archive (docker save, or an OCI image layout)")
        ->required();
    load_cmd->add_option("--tag", load_tag, "REPOSITORY:TAG (else the archive's own names)");
    load_cmd->add_option("--endpoint", load_endpoint, "lamina's URL")
        ->envname("LAMINA_ENDPOINT")
        ->capture_default_str();
    load_cmd->add_option("--region", load_region, "The region (else AWS_REGION, us-east-1)");
    image_cmd->require_subcommand(1);

    app.add_subcommand("version", "Print the version")->callback([] {
        std::cout << "lamina " << kVersion << "\n";
    });

    try {
        app.parse(parse_argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (serve_cmd->parsed()) {
        if (int rc = finish_serve_flags(serve_flags); rc != 0) return rc;
        return serve(serve_flags.config);
    }
    if (run_cmd->parsed()) {
        Config& config = run_flags.config;
        config.ephemeral = true;
        if (run_cmd->get_option("--port")->count() == 0) config.port = 0;
        if (run_cmd->get_option("--log-level")->count() == 0) config.log_level = "warn";
        if (int rc = finish_serve_flags(run_flags); rc != 0) return rc;
        setup_logging(config.log_level);
        return run_command(config, command);
    }
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    // signed like the aws CLI would sign: the environment's key, else a placeholder one
    auto remote_client = [&](const std::string& endpoint, const std::string& region_flag) {
        std::string region = !region_flag.empty()                 ? region_flag
                             : !env("AWS_REGION").empty()         ? env("AWS_REGION")
                             : !env("AWS_DEFAULT_REGION").empty() ? env("AWS_DEFAULT_REGION")
                                                                  : "us-east-1";
        sam::SigningKey key{
            env("AWS_ACCESS_KEY_ID").empty() ? "test" : env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY").empty() ? "test" : env("AWS_SECRET_ACCESS_KEY")};
        return sam::make_http_client(endpoint, region, key);
    };
    if (load_cmd->parsed()) {
        auto signed_client = remote_client(load_endpoint, load_region);
        auto registry_client = sam::make_http_client(load_endpoint, "us-east-1", std::nullopt);
        if (!signed_client || !registry_client) {
            std::cerr << "lamina: "
                      << (signed_client ? registry_client.error() : signed_client.error()).message
                      << "\n";
            return 2;
        }
        auto loaded = load_image_archive(load_file, load_tag, {**signed_client, **registry_client},
                                         [](const std::string& l) { std::cout << l << std::endl; });
        if (!loaded) {
            std::cerr << "lamina: " << loaded.error().message << "\n";
            return 1;
        }
        return 0;
    }
    if (delete_cmd->parsed()) {
        auto client = remote_client(delete_endpoint, delete_region);
        if (!client) {
            std::cerr << "lamina: " << client.error().message << "\n";
            return 2;
        }
        sam::Deployer deployer(**client,
                               [](const std::string& line) { std::cout << line << std::endl; });
        if (auto st = deployer.destroy(delete_stack); !st) {
            std::cerr << "lamina: " << st.error().message << "\n";
            return 1;
        }
        std::cout << "stack " << delete_stack << " deleted" << std::endl;
        return 0;
    }
    if (deploy_cmd->parsed()) {
        sam::DeployOptions options;
        options.stack_name =
            deploy_stack.empty() ? default_stack_name(deploy_template) : deploy_stack;
        options.minute_seconds = deploy_minute;
        if (deploy_hot) options.hot_reload_bucket = deploy_hot_bucket;
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
        print_report(*report, say,
                     [](const std::string& l) { std::cerr << "lamina: warning: " << l << "\n"; });
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
