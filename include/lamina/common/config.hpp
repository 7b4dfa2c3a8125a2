#pragma once
// lamina serve's settings, parsed once in cli/ from flags and LAMINA_*
// environment variables and passed down by constructor. Never changed after
// parsing: what start-up finds on the host is in StartupFindings.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lamina/common/capacity_quota.hpp"

namespace lamina {

struct Config {
    std::string host = "127.0.0.1";
    unsigned short port = 9001;
    std::filesystem::path port_file;
    std::filesystem::path data_dir;  // empty only with --ephemeral (a temporary one is made)
    bool ephemeral = false;
    std::string region = "us-east-1";
    std::string account_id = "123456789012";
    std::string log_level = "info";
    // One: a warm invoke's chain (the caller's request, the runtime's /next
    // answer and /response, the caller's answer) then never wakes a second
    // thread; on 2 cores that halved lamina's own share of a warm invoke.
    int io_threads = 1;
    // How long an io thread with nothing to do keeps polling (yielding the
    // core to any other runnable thread) before it sleeps in epoll_wait: the
    // runtime's answer to an event usually comes within it, and waking a
    // sleeping thread costs more than the poll on a VM. 0: sleep at once.
    int io_spin_us = 100;
    int worker_threads = 4;
    bool durable_commits = false;  // fsync every metadata commit (power-loss safety)
    bool stream_shaping = false;   // AWS's 2 MiB/s past a streamed response's first 6 MiB
    std::string sandbox = "auto";  // auto | bubblewrap | process
    // Who functions run as when lamina is root: auto (AWS's sbx_user1051,
    // uid 993 gid 990), UID[:GID], or root (all capabilities still dropped).
    std::string run_as = "auto";
    std::string auth = "none";  // none | sigv4
    std::filesystem::path
        credentials_file;  // --auth sigv4: ACCESS_KEY_ID SECRET ACCOUNT_ID per line
    std::map<std::string, std::string> runtimes;  // runtime -> interpreter overrides
    std::filesystem::path runtimes_dir;  // --runtimes-dir as given (empty: found at start-up)
    // YYYY-MM-DD (UTC) runtime deprecations are judged at; "" = today
    std::string runtime_date;
    // AWS's block dates: "warn" logs what AWS would refuse and goes on (so that
    // older templates and tutorials keep running), "enforce" refuses as AWS does
    std::string runtime_deprecations = "warn";
    int idle_timeout_s = 600;              // reap idle execution environments after this
    int provisioned_init_timeout_s = 130;  // provisioned envs' init limit (or Timeout, if longer)
    // spare environments kept for cold starts, one per function version at most (0: none)
    int spare_environments = 4;
    // Concurrency (per account and region)
    CapacityQuota quota;                   // --account-concurrency, --min-unreserved
    std::string scaling = "per-function";  // per-function | regional-burst
    int scaling_per_function = 1000;       // per-function: new environments per 10 s
    int burst = 0;               // regional-burst: initial burst (0 = the region's documented one)
    int burst_per_minute = 500;  // regional-burst: growth after it
    double async_retry_delay_s =
        60;  // first retry of a failed Event invocation (the second waits twice as long)
    // SAM / CloudFormation template deployed at start-up (serve --template)
    std::filesystem::path template_file;
    std::string stack_name;
    std::vector<std::string> parameter_overrides;
    bool watch = false;
    double deployment_minute_s = 60;  // how long a DeploymentPreference minute lasts
    // Debugger attach: FUNCTION[:QUALIFIER]=PORT entries (checked when parsed), --debug-wait
    std::vector<std::string> debug;
    bool debug_wait = false;
    // Hot reload: Code.S3Bucket (Content.S3Bucket) of this name means S3Key is
    // a folder on this machine, bound live at /var/task (/opt), as LocalStack does.
    std::string hot_reload_bucket = "hot-reload";
    bool template_hot_reload = false;  // --template's CodeUri/ContentUri folders use it
    // S3
    bool s3 = true;  // the S3 surface on lamina's endpoint (--s3 on|off)
    std::string
        s3_endpoint;  // read Lambda code from this S3 server instead of lamina's own objects
    // credentials for --s3-endpoint (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
    std::string s3_access_key_id, s3_secret_access_key, s3_session_token;
    // SQS
    bool sqs = true;  // the SQS surface on lamina's endpoint (--sqs on|off), <data-dir>/sqs.sqlite
};

}  // namespace lamina
