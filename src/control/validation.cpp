#include "lamina/control/validation.hpp"

#include <algorithm>
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

bool is_deprecated_runtime(const std::string& runtime) {
    static const std::vector<std::string> kDeprecated = {
        "nodejs",         "nodejs4.3",     "nodejs6.10",    "nodejs8.10",    "nodejs10.x",
        "nodejs12.x",     "nodejs14.x",    "java8",         "python2.7",     "python3.6",
        "python3.7",      "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1",
        "nodejs4.3-edge", "go1.x",         "ruby2.5",       "ruby2.7",       "provided"};
    return std::find(kDeprecated.begin(), kDeprecated.end(), runtime) != kDeprecated.end();
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
    if (runtime.rfind("java", 0) == 0)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina cannot emulate SnapStart for " + runtime +
                        " functions: a running JVM cannot be forked safely (it is "
                        "multi-threaded) and the host's JDK has no CRaC checkpoint/restore, so "
                        "lamina has no snapshot to restore from. lamina emulates SnapStart for "
                        "python3.12 and later; send SnapStart ApplyOn None for this function.");
    if (runtime.rfind("dotnet", 0) == 0)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina cannot emulate SnapStart for " + runtime +
                        " functions: lamina does not run .NET functions. lamina emulates "
                        "SnapStart for python3.12 and later; send SnapStart ApplyOn None for this "
                        "function.");
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
