#include "lamina/control/validation.hpp"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "lamina/common/regex.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/registry.hpp"

namespace lamina::control {

const std::vector<std::string>& supported_runtimes() {
    static const std::vector<std::string> kRuntimes = {
        "nodejs20.x", "python3.14", "provided.al2023", "python3.12",   "python3.13",
        "nodejs24.x", "nodejs22.x", "java25",          "python3.10",   "python3.11",
        "java21",     "ruby3.3",    "ruby3.4",         "ruby3.2",      "python3.8",
        "python3.9",  "java17",     "nodejs16.x",      "dotnet10",     "dotnet8",
        "java11",     "dotnet6",    "nodejs18.x",      "provided.al2", "java8.al2"};
    return kRuntimes;
}

// AWS's deprecation schedule. Sources, as no copy of AWS's "Lambda runtimes"
// page with its whole table is at hand:
// - every row but the last two: cfn-lint's LmbdRuntimeLifecycle.json (AWS's
//   CloudFormation linter, which mirrors that page; the version with the
//   block dates AWS moved to 2025-10-01 / 2025-11-01);
// - python3.9 and nodejs20.x: AWS's dates as third-party pages quote them
//   (python3.9: deprecated 2025-12-15, blocks 2026-08-31 / 2026-09-30;
//   nodejs20.x: deprecated 2026-04-30, blocks 2026-08-31 / 2026-09-30, which
//   another page gives as 2026-06-01 / 2026-07-01: both before 2026-12-06).
// The other runtimes of supported_runtimes() have no deprecation date in our
// sources (python3.10, python3.11, ruby3.2, java8.al2, java11, java17,
// provided.al2 and dotnet8 are due in 2026-2027 by AWS's schedule, whose
// dates we could not read): lamina treats them as supported.
const std::vector<RuntimeLifecycle>& runtime_lifecycles() {
    static const std::vector<RuntimeLifecycle> kRows = {
        {"nodejs", "2016-10-31", "2016-10-31", "2016-10-31"},
        {"nodejs4.3", "2020-03-05", "2020-03-05", "2020-03-05"},
        {"nodejs4.3-edge", "2020-03-05", "2019-04-30", "2019-04-30"},
        {"nodejs6.10", "2019-08-12", "2019-08-12", "2019-08-12"},
        {"nodejs8.10", "2020-03-06", "2020-03-06", "2020-03-06"},
        {"nodejs10.x", "2021-07-30", "2021-07-30", "2022-02-14"},
        {"nodejs12.x", "2023-03-31", "2023-03-31", "2023-04-30"},
        {"nodejs14.x", "2023-12-04", "2024-07-09", "2025-11-01"},
        {"nodejs16.x", "2024-06-12", "2025-10-01", "2025-11-01"},
        {"nodejs18.x", "2025-07-31", "2025-10-01", "2025-11-01"},
        {"java8", "2024-01-08", "2024-02-08", "2025-11-01"},
        {"python2.7", "2021-07-15", "2021-07-15", "2022-05-30"},
        {"python3.6", "2022-07-18", "2022-07-18", "2022-08-29"},
        {"python3.7", "2023-12-04", "2024-01-09", "2025-11-01"},
        {"python3.8", "2024-10-14", "2025-10-01", "2025-11-01"},
        {"dotnetcore1.0", "2019-06-27", "2019-07-30", "2019-07-30"},
        {"dotnetcore2.0", "2019-05-30", "2019-05-30", "2019-05-30"},
        {"dotnetcore2.1", "2022-01-05", "2022-01-05", "2022-04-13"},
        {"dotnetcore3.1", "2023-04-03", "2023-04-03", "2023-05-03"},
        {"dotnet6", "2024-11-12", "2025-10-01", "2025-11-01"},
        {"go1.x", "2024-01-08", "2024-02-08", "2025-11-01"},
        {"ruby2.5", "2021-07-30", "2021-07-30", "2022-03-31"},
        {"ruby2.7", "2023-12-07", "2024-01-09", "2025-11-01"},
        {"provided", "2024-01-08", "2024-02-08", "2025-11-01"},
        {"python3.9", "2025-12-15", "2026-08-31", "2026-09-30"},
        {"nodejs20.x", "2026-04-30", "2026-08-31", "2026-09-30"},
    };
    return kRows;
}

const RuntimeLifecycle* runtime_lifecycle(const std::string& runtime) {
    for (const auto& row : runtime_lifecycles())
        if (runtime == row.id) return &row;
    return nullptr;
}

bool is_deprecated_runtime(const std::string& runtime) {
    const auto& ok = supported_runtimes();
    return runtime_lifecycle(runtime) && std::find(ok.begin(), ok.end(), runtime) == ok.end();
}

std::optional<std::int64_t> utc_date_ms(const std::string& date) {
    if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
        if (date[i] < '0' || date[i] > '9') return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{year{std::stoi(date.substr(0, 4))},
                       month{static_cast<unsigned>(std::stoi(date.substr(5, 2)))},
                       day{static_cast<unsigned>(std::stoi(date.substr(8, 2)))}};
    if (!ymd.ok()) return std::nullopt;
    return duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch()).count();
}

namespace {
bool reached(const char* date, std::int64_t epoch_ms) {
    auto at = utc_date_ms(date);
    return at && epoch_ms >= *at;
}
}  // namespace

bool is_runtime_deprecated_at(const std::string& runtime, std::int64_t epoch_ms) {
    const RuntimeLifecycle* row = runtime_lifecycle(runtime);
    return row && reached(row->deprecated, epoch_ms);
}

Status check_runtime_lifecycle(const std::string& runtime, RuntimeUse use, std::int64_t epoch_ms) {
    const RuntimeLifecycle* row = runtime_lifecycle(runtime);
    if (!row) return {};
    if (!reached(use == RuntimeUse::Create ? row->block_create : row->block_update, epoch_ms))
        return {};
    return fail(ErrorCode::InvalidParameterValue,
                "The runtime parameter of " + runtime +
                    " is no longer supported for creating or updating AWS Lambda functions. We "
                    "recommend you use a supported runtime while creating or updating functions.");
}

Status validate_snap_start(const std::string& runtime) {
    if (runtime.rfind("python3.", 0) == 0) {
        int minor = 0;
        for (char ch : runtime.substr(8)) {
            if (ch < '0' || ch > '9') break;
            minor = minor * 10 + (ch - '0');
        }
        if (minor >= 12) return {};
    }
    // Java 11 and later, as on AWS: lamina checkpoints the JVM with criu (exec/snapstart.cpp)
    for (const char* java : {"java11", "java17", "java21", "java25"})
        if (runtime == java) return {};
    if (runtime.rfind("dotnet", 0) == 0)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina cannot emulate SnapStart for " + runtime +
                        " functions: lamina does not run .NET functions. lamina emulates "
                        "SnapStart for python3.12 and later and java11 and later; send SnapStart "
                        "ApplyOn None for this function.");
    return fail(ErrorCode::InvalidParameterValue,
                (runtime.empty() ? std::string("Image") : runtime) +
                    " is not supported for SnapStart enabled functions.");
}

Status validate_runtime(const std::string& runtime) {
    const auto& ok = supported_runtimes();
    if (std::find(ok.begin(), ok.end(), runtime) != ok.end()) return {};
    if (runtime == "ruby4.0") {
        // AWS's newest Ruby (botocore lists it; AWS's recorded enum does not yet)
        return fail(ErrorCode::InvalidParameterValue,
                    "The runtime parameter of ruby4.0 is not supported by lamina: it runs Ruby "
                    "functions as ruby3.2, ruby3.3 or ruby3.4.");
    }
    if (is_deprecated_runtime(runtime)) {
        return fail(
            ErrorCode::InvalidParameterValue,
            "The runtime parameter of " + runtime +
                " is no longer supported for creating or updating AWS Lambda functions. We "
                "recommend you use a supported runtime while creating or updating functions.");
    }
    std::string list;
    for (const auto& r : ok) list += (list.empty() ? "" : ", ") + r;
    return fail(
        ErrorCode::InvalidParameterValue,
        "Value " + runtime +
            " at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" +
            list + "] or be a valid ARN");
}

Status validate_environment(const std::vector<std::pair<std::string, std::string>>& variables) {
    static const std::regex kKey("[a-zA-Z]([a-zA-Z0-9_])+");
    nlohmann::ordered_json measured = nlohmann::ordered_json::object();
    for (const auto& [k, v] : variables) {
        if (!regex_full_match(k, kKey)) {
            return fail(
                ErrorCode::Validation,
                "1 validation error detected: Value at 'environment.variables' failed to satisfy "
                "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
                "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
        }
        measured[k] = v;
    }
    std::string text = measured.dump();
    if (text.size() > 4096) {
        return fail(
            ErrorCode::InvalidParameterValue,
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " +
                text);
    }
    static const std::vector<std::string> kReserved = {"_HANDLER",
                                                       "_X_AMZN_TRACE_ID",
                                                       "AWS_DEFAULT_REGION",
                                                       "AWS_REGION",
                                                       "AWS_EXECUTION_ENV",
                                                       "AWS_LAMBDA_FUNCTION_NAME",
                                                       "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                                       "AWS_LAMBDA_FUNCTION_VERSION",
                                                       "AWS_LAMBDA_INITIALIZATION_TYPE",
                                                       "AWS_LAMBDA_LOG_GROUP_NAME",
                                                       "AWS_LAMBDA_LOG_STREAM_NAME",
                                                       "AWS_ACCESS_KEY",
                                                       "AWS_ACCESS_KEY_ID",
                                                       "AWS_SECRET_ACCESS_KEY",
                                                       "AWS_SESSION_TOKEN",
                                                       "AWS_LAMBDA_RUNTIME_API",
                                                       "LAMBDA_TASK_ROOT",
                                                       "LAMBDA_RUNTIME_DIR"};
    for (const auto& [k, v] : variables) {
        if (std::find(kReserved.begin(), kReserved.end(), k) != kReserved.end()) {
            return fail(
                ErrorCode::InvalidParameterValue,
                "Lambda was unable to configure your environment variables because the environment "
                "variables you have provided contains reserved keys that are currently not "
                "supported "
                "for modification. Reserved keys used in this request: " +
                    k);
        }
    }
    return {};
}

void check_model_range(ValidationErrors& errors, const SettingLimit& limit,
                       std::optional<std::int64_t> value) {
    if (!value) return;
    if (*value < limit.model_min)
        errors.add(
            std::to_string(*value), limit.member,
            "Member must have value greater than or equal to " + std::to_string(limit.model_min));
    else if (*value > limit.model_max)
        errors.add(
            std::to_string(*value), limit.member,
            "Member must have value less than or equal to " + std::to_string(limit.model_max));
}

void check_length(ValidationErrors& errors, const char* member,
                  const std::optional<std::string>& value, std::size_t max_length) {
    if (value && value->size() > max_length)
        errors.add(*value, member,
                   "Member must have length less than or equal to " + std::to_string(max_length));
}

// LoggingConfig merges with what is stored; levels exist only with JSON
// (INFO unless given), and a switch to Text drops them, as AWS does.
Status merge_logging_config(VersionConfig& c, const FunctionSettings& in) {
    const std::string log_format = in.log_format.value_or(c.log_format);
    if (log_format == "Text" && (in.application_log_level || in.system_log_level))
        return fail(ErrorCode::InvalidParameterValue,
                    "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel "
                    "from your request or change the LogFormat to \"Json\" and try again.");
    c.log_format = log_format;
    if (in.log_group) c.log_group = *in.log_group;
    if (in.application_log_level) c.application_log_level = *in.application_log_level;
    if (in.system_log_level) c.system_log_level = *in.system_log_level;
    if (log_format == "JSON") {
        if (!c.application_log_level) c.application_log_level = "INFO";
        if (!c.system_log_level) c.system_log_level = "INFO";
    } else {
        c.application_log_level.reset();
        c.system_log_level.reset();
    }
    return {};
}

}  // namespace lamina::control
