#include "lambda_input.hpp"

#include <cctype>
#include <filesystem>
#include <future>
#include <regex>

#include "json_input.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/store/zip_archive.hpp"

namespace lamina::api {

using control::FunctionRef;
using control::NameShape;
using control::Scope;

namespace {

// Smithy's constraints on S3Bucket, S3Key and S3ObjectVersion.
void check_s3_location(control::ValidationErrors& v, const std::string& prefix,
                       const std::optional<std::string>& bucket,
                       const std::optional<std::string>& key,
                       const std::optional<std::string>& version) {
    if (bucket) {
        bool pattern = true;
        for (char c : *bucket)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
                pattern = false;
        if (!bucket->empty() && bucket->back() == '.') pattern = false;
        if (bucket->size() < 3)
            v.add(*bucket, prefix + "s3Bucket",
                  "Member must have length greater than or equal to 3");
        else if (bucket->size() > 63)
            v.add(*bucket, prefix + "s3Bucket", "Member must have length less than or equal to 63");
        if (!pattern)
            v.add(*bucket, prefix + "s3Bucket",
                  R"(Member must satisfy regular expression pattern: ^[0-9A-Za-z\.\-_]*(?<!\.)$)");
    }
    if (key && key->empty())
        v.add(*key, prefix + "s3Key", "Member must have length greater than or equal to 1");
    if (key && key->size() > 1024)
        v.add(*key, prefix + "s3Key", "Member must have length less than or equal to 1024");
    if (version && version->empty())
        v.add(*version, prefix + "s3ObjectVersion",
              "Member must have length greater than or equal to 1");
    if (version && version->size() > 1024)
        v.add(*version, prefix + "s3ObjectVersion",
              "Member must have length less than or equal to 1024");
}

}  // namespace

Result<control::Page> read_page(const http::Request& req, int max_allowed, int default_items) {
    control::Page page;
    page.marker = req.query_param("Marker");
    page.max_items = default_items;
    if (auto m = req.query_param("MaxItems")) {
        char* end = nullptr;
        long v = std::strtol(m->c_str(), &end, 10);
        if (m->empty() || *end != '\0' || v < 1 || v > max_allowed) {
            control::ValidationErrors e;
            e.add(*m, "maxItems",
                  v < 1 ? "Member must have value greater than or equal to 1"
                        : "Member must have value less than or equal to " +
                              std::to_string(max_allowed));
            return std::unexpected(e.error());
        }
        page.max_items = static_cast<int>(v);
    }
    return page;
}

// FunctionName (path) + Qualifier (query) for an operation.
Result<FunctionRef> function_ref(const LambdaCall& c, NameShape shape, const char* action,
                                 bool qualifier_param) {
    std::optional<std::string> q;
    if (qualifier_param) q = c.req.query_param("Qualifier");
    return control::resolve_function_name(c.match.params.at("FunctionName"), shape, q, c.ctx.scope,
                                          std::string("lambda:") + action);
}

// `extracted` is Code.ZipFile when parse_body_extracting cut it out of the body;
// `field_prefix` names the members in validation messages ("code.", "content.", "").
Result<CodeInput> read_code(const ojson& code, bool for_update,
                            std::optional<std::span<char>> extracted,
                            const std::string& field_prefix) {
    (void)for_update;  // which kind of code an update takes is the caller's check
    CodeInput out;
    LAMINA_TRY(zip_b64_value, opt_string(code, "ZipFile"));
    std::optional<std::string_view> zip_b64;
    if (zip_b64_value) zip_b64 = *zip_b64_value;
    if (extracted) zip_b64 = std::string_view(extracted->data(), extracted->size());
    LAMINA_TRY(s3_bucket, opt_string(code, "S3Bucket"));
    LAMINA_TRY(s3_key, opt_string(code, "S3Key"));
    LAMINA_TRY(s3_version, opt_string(code, "S3ObjectVersion"));
    LAMINA_TRY(image, opt_string(code, "ImageUri"));
    if (auto kms = code.find("SourceKMSKeyArn"); kms != code.end() && !kms->is_null())
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate encrypting code with a customer managed KMS key yet, "
                    "so it refuses Code.SourceKMSKeyArn rather than ignore it.");
    control::ValidationErrors v;
    check_s3_location(v, field_prefix, s3_bucket, s3_key, s3_version);
    if (!v.empty()) return std::unexpected(v.error());
    if (image) {
        if (zip_b64 || s3_bucket || s3_key || s3_version)
            return fail(ErrorCode::InvalidParameterValue,
                        "Please do not provide other FunctionCode parameters when providing an "
                        "ImageUri.");
        out.image_uri = std::move(image);
        return out;
    }
    if (zip_b64 && (s3_bucket || s3_key || s3_version))
        return fail(
            ErrorCode::InvalidParameterValue,
            "Please do not provide other FunctionCode parameters when providing a ZipFile.");
    if (zip_b64) {
        auto not_base64 = [] {
            return fail(ErrorCode::InvalidParameterValue,
                        "Could not decode ZipFile: it is not valid base64.");
        };
        if (extracted) {  // megabytes: no second buffer to fault in and free
            auto size = base64_decode_in_place(*extracted);
            if (!size) return not_base64();
            out.zip_in_place = std::string_view(extracted->data(), *size);
            return out;
        }
        auto decoded = base64_decode(*zip_b64);
        if (!decoded) return not_base64();
        out.zip = std::move(*decoded);
        return out;
    }
    if (!s3_bucket || !s3_key)
        return fail(ErrorCode::InvalidParameterValue, "Please provide a source for function code.");
    out.s3_bucket = std::move(s3_bucket);
    out.s3_key = std::move(s3_key);
    out.s3_version = std::move(s3_version);
    return out;
}

Result<std::optional<control::StoredCode>> hot_reload_code(const CodeInput& code,
                                                           const std::string& bucket,
                                                           const std::string& field_prefix) {
    if (!code.s3_bucket || *code.s3_bucket != bucket) return std::optional<control::StoredCode>{};
    const std::string key_name = field_prefix == "code."      ? "Code.S3Key"
                                 : field_prefix == "content." ? "Content.S3Key"
                                                              : "S3Key";
    const std::string& path = *code.s3_key;
    const std::string what = "S3Bucket " + bucket + " means hot reload: ";
    if (code.s3_version)
        return fail(ErrorCode::InvalidParameterValue,
                    what + "S3ObjectVersion has no meaning for a folder; leave it out.");
    if (path.empty() || path.front() != '/')
        return fail(ErrorCode::InvalidParameterValue,
                    what + key_name +
                        " must be the absolute path of a folder on lamina's machine, "
                        "but " +
                        path + " is relative.");
    namespace fs = std::filesystem;
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
        return fail(ErrorCode::InvalidParameterValue,
                    what + "the folder " + path + " (" + key_name + ") does not exist.");
    if (!fs::is_directory(status))
        return fail(ErrorCode::InvalidParameterValue,
                    what + key_name + " " + path + " is not a folder.");
    fs::path real = fs::weakly_canonical(path, ec);
    if (real == "/")
        return fail(ErrorCode::InvalidParameterValue,
                    what +
                        "the root folder / cannot be bound at /var/task or /opt and watched; "
                        "name your code's folder.");
    for (const char* kernel : {"/proc", "/sys", "/dev"})
        if (real == kernel || real.string().rfind(std::string(kernel) + "/", 0) == 0)
            return fail(ErrorCode::InvalidParameterValue, what + path + " is in the kernel's " +
                                                              kernel +
                                                              " filesystem, not a folder of code.");
    control::StoredCode stored;
    stored.sha256_b64 = control::kHotReloadCodeSha256;
    stored.hot_reload_path = path;
    return std::optional<control::StoredCode>(std::move(stored));
}

// The zip bytes: the ZipFile, or the S3 object read from `source` (lamina's
// own objects, in a bucket of the caller's account, or --s3-endpoint's),
// failures quoted as Lambda quotes S3's.
Result<std::string_view> code_bytes(s3::ObjectSource* source, const Scope& scope, CodeInput& code) {
    if (code.zip_in_place) return *code.zip_in_place;
    if (code.zip) return std::string_view(*code.zip);
    if (!source)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina's S3 surface is off (--s3 off) and no --s3-endpoint is set, so code "
                    "cannot be read from "
                    "S3Bucket/S3Key: upload the zip directly with ZipFile (--zip-file "
                    "fileb://function.zip).");
    auto got = source->get_object(scope.account, scope.region, *code.s3_bucket, *code.s3_key,
                                  code.s3_version);
    if (!got)
        return fail(ErrorCode::InvalidParameterValue,
                    "Error occurred while GetObject. S3 Error Code: " + got.error().code +
                        ". S3 Error Message: " + got.error().message);
    code.zip = std::move(*got);
    return std::string_view(*code.zip);
}

namespace {
// From this size a zip's SHA-256 is computed on a thread of its own while the
// zip's entries are read and their CRCs checked here: the two passes were
// most of a 20 MB CreateFunction's time (~11 ms and ~4 ms).
constexpr std::size_t kDigestAsideBytes = 4 * 1024 * 1024;
}  // namespace

// `from_s3`: the 50 MB zipped limit is for zips sent in the request; code
// read from S3 is limited by its unzipped size only, as on AWS.
Result<control::StoredCode> check_code(std::string_view zip, bool from_s3) {
    if (!from_s3 && static_cast<std::int64_t>(zip.size()) > control::kMaxZippedCode)
        return fail(ErrorCode::RequestEntityTooLarge,
                    "Zipped size must be smaller than 52428800 bytes");
    std::future<std::string> digest_aside;  // joined before this returns, whatever it returns
    if (zip.size() >= kDigestAsideBytes) {
        try {
            digest_aside = std::async(std::launch::async, [zip] { return sha256(zip); });
        } catch (const std::system_error&) {  // no thread to be had: hashed here below
        }
    }
    LAMINA_TRY(summary, store::inspect_zip(zip, control::kMaxUnzippedCode));
    if (summary.unzipped_size > control::kMaxUnzippedCode)
        return fail(ErrorCode::InvalidParameterValue,
                    "Unzipped size must be smaller than 262144000 bytes");
    control::StoredCode code;
    std::string digest = digest_aside.valid() ? digest_aside.get() : sha256(zip);
    code.sha256_b64 = base64_encode(digest);
    code.sha256_hex = to_hex(digest);
    code.size = static_cast<std::int64_t>(zip.size());
    code.unzipped_size = summary.unzipped_size;
    return code;
}

// Reads the settings shared by CreateFunction and UpdateFunctionConfiguration,
// collecting smithy-style validation errors first, as AWS does.
Result<control::FunctionSettings> read_settings(const ojson& body) {
    control::FunctionSettings s;
    control::ValidationErrors v;
    LAMINA_TRY(description, opt_string(body, "Description"));
    LAMINA_TRY(runtime, opt_string(body, "Runtime"));
    LAMINA_TRY(role, opt_string(body, "Role"));
    LAMINA_TRY(handler, opt_string(body, "Handler"));
    LAMINA_TRY(timeout, opt_int(body, "Timeout"));
    LAMINA_TRY(memory, opt_int(body, "MemorySize"));
    LAMINA_TRY(kms, opt_string(body, "KMSKeyArn"));
    if (role) {
        static const std::regex kRole(control::kRolePattern);
        if (!regex_full_match(*role, kRole))
            v.add(*role, "role",
                  std::string("Member must satisfy regular expression pattern: ") +
                      control::kRolePattern);
    }
    if (handler) {
        static const std::regex kHandler(R"([^\s]+)");
        if (handler->size() > control::limits::kHandlerLength)
            control::check_length(v, "handler", handler, control::limits::kHandlerLength);
        else if (!regex_full_match(*handler, kHandler))
            v.add(*handler, "handler", R"(Member must satisfy regular expression pattern: [^\s]+)");
    }
    control::check_length(v, "description", description, control::limits::kDescriptionLength);
    control::check_model_range(v, control::limits::kTimeout, timeout);
    control::check_model_range(v, control::limits::kMemorySize, memory);
    if (const ojson* eph = opt_object(body, "EphemeralStorage")) {
        const auto& limit = control::limits::kEphemeralStorage;
        LAMINA_TRY(size, opt_int(*eph, limit.key));
        if (!size)
            v.add_null(limit.member);
        else if (*size < limit.model_min || *size > limit.model_max)
            control::check_model_range(v, limit, size);
        else
            s.ephemeral_storage = static_cast<int>(*size);
    }
    if (const ojson* tracing = opt_object(body, "TracingConfig")) {
        LAMINA_TRY(mode, opt_string(*tracing, "Mode"));
        if (mode && *mode != "Active" && *mode != "PassThrough")
            v.add(*mode, "tracingConfig.mode",
                  "Member must satisfy enum value set: [Active, PassThrough]");
        s.tracing_mode = mode;
    }
    if (const ojson* logging = opt_object(body, "LoggingConfig")) {
        LAMINA_TRY(format, opt_string(*logging, "LogFormat"));
        LAMINA_TRY(group, opt_string(*logging, "LogGroup"));
        LAMINA_TRY(app, opt_string(*logging, "ApplicationLogLevel"));
        LAMINA_TRY(sys, opt_string(*logging, "SystemLogLevel"));
        if (format && *format != "Text" && *format != "JSON")
            v.add(*format, "loggingConfig.logFormat",
                  "Member must satisfy enum value set: [JSON, Text]");
        if (app && *app != "TRACE" && *app != "DEBUG" && *app != "INFO" && *app != "WARN" &&
            *app != "ERROR" && *app != "FATAL")
            v.add(*app, "loggingConfig.applicationLogLevel",
                  "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
        if (sys && *sys != "DEBUG" && *sys != "INFO" && *sys != "WARN")
            v.add(*sys, "loggingConfig.systemLogLevel",
                  "Member must satisfy enum value set: [DEBUG, INFO, WARN]");
        s.log_format = format;
        s.log_group = group;
        s.application_log_level = app;
        s.system_log_level = sys;
    }
    if (const ojson* snap = opt_object(body, "SnapStart")) {
        LAMINA_TRY(apply_on, opt_string(*snap, "ApplyOn"));
        if (apply_on && *apply_on != "None" && *apply_on != "PublishedVersions")
            v.add(*apply_on, "snapStart.applyOn",
                  "Member must satisfy enum value set: [PublishedVersions, None]");
        s.snap_start_apply_on = apply_on;
    }
    if (!v.empty()) return std::unexpected(v.error());
    // SnapStart PublishedVersions: which runtimes take it is checked on the merged config (registry)
    if (timeout && *timeout > control::limits::kTimeout.service_max) {
        control::ValidationErrors over;
        over.add(std::to_string(*timeout), control::limits::kTimeout.member,
                 "Member must have value less than or equal to " +
                     std::to_string(control::limits::kTimeout.service_max));
        return std::unexpected(over.error(ErrorCode::InvalidParameterValue));
    }
    if (memory && *memory > control::limits::kMemorySize.service_max)
        return fail(ErrorCode::InvalidParameterValue,
                    std::string("'") + control::limits::kMemorySize.key +
                        "' value failed to satisfy constraint: Member must have value less than or "
                        "equal to " +
                        std::to_string(control::limits::kMemorySize.service_max));
    if (runtime) LAMINA_CHECK(control::validate_runtime(*runtime));
    if (const ojson* env = opt_object(body, "Environment")) {
        LAMINA_TRY(vars, opt_string_map(*env, "Variables"));
        std::vector<std::pair<std::string, std::string>> ordered =
            vars.value_or(decltype(ordered){});
        LAMINA_CHECK(control::validate_environment(ordered));
        s.environment = std::map<std::string, std::string>(ordered.begin(), ordered.end());
    }
    if (const ojson* dlq = opt_object(body, "DeadLetterConfig")) {
        LAMINA_TRY(target, opt_string(*dlq, "TargetArn"));
        // lamina serves SQS, not SNS: a topic would silently receive nothing
        if (target && target->rfind("arn:aws:sns:", 0) == 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "lamina does not emulate Amazon SNS, so " + *target +
                            " cannot be a dead-letter queue: use an SQS queue (arn:aws:sqs:...).");
        s.dead_letter_target = target.value_or("");
    }
    if (const ojson* vpc = opt_object(body, "VpcConfig")) {
        LAMINA_TRY(subnets, opt_string_list(*vpc, "SubnetIds"));
        LAMINA_TRY(groups, opt_string_list(*vpc, "SecurityGroupIds"));
        if ((subnets && !subnets->empty()) || (groups && !groups->empty()))
            return fail(ErrorCode::InvalidParameterValue,
                        "lamina does not emulate VPC networking: VpcConfig with subnets or "
                        "security groups is "
                        "not supported (functions always reach the host's network).");
    }
    if (auto fs = body.find("FileSystemConfigs");
        fs != body.end() && fs->is_array() && !fs->empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate Amazon EFS: FileSystemConfigs are not supported.");
    if (auto ic = body.find("ImageConfig"); ic != body.end() && !ic->is_null()) {
        if (!ic->is_object()) return std::unexpected(wrong_type("ImageConfig", "an object"));
        control::ImageConfig config;
        LAMINA_TRY(entry_point, opt_string_list(*ic, "EntryPoint"));
        LAMINA_TRY(command, opt_string_list(*ic, "Command"));
        LAMINA_TRY(working_dir, opt_string(*ic, "WorkingDirectory"));
        control::ValidationErrors iv;
        auto check_list = [&](const std::optional<std::vector<std::string>>& l, const char* m) {
            if (l && l->size() > 1500)
                iv.add("[...]", std::string("imageConfig.") + m,
                       "Member must have length less than or equal to 1500");
        };
        check_list(entry_point, "entryPoint");
        check_list(command, "command");
        if (working_dir && working_dir->size() > 1000)
            iv.add(*working_dir, "imageConfig.workingDirectory",
                   "Member must have length less than or equal to 1000");
        if (!iv.empty()) return std::unexpected(iv.error());
        config.entry_point = std::move(entry_point);
        config.command = std::move(command);
        config.working_directory = std::move(working_dir);
        s.image_config = std::move(config);
    }
    LAMINA_TRY(layers, opt_string_list(body, "Layers"));
    s.description = description;
    s.runtime = runtime;
    s.role = role;
    s.handler = handler;
    if (timeout) s.timeout = static_cast<int>(*timeout);
    if (memory) s.memory_size = static_cast<int>(*memory);
    s.kms_key_arn = kms;
    s.layers = layers;
    return s;
}

Result<std::optional<std::string>> read_architecture(const ojson& body) {
    LAMINA_TRY(archs, opt_string_list(body, "Architectures"));
    if (!archs) return std::optional<std::string>{};
    auto show = [&] {
        std::string s = "[";
        for (std::size_t i = 0; i < archs->size(); ++i) s += (i ? ", " : "") + (*archs)[i];
        return s + "]";
    };
    control::ValidationErrors v;
    if (archs->size() > 1) {
        v.add(show(), "architectures", "Member must have length less than or equal to 1");
    } else if (archs->empty()) {
        v.add(show(), "architectures", "Member must have length greater than or equal to 1");
    } else if ((*archs)[0] != "x86_64" && (*archs)[0] != "arm64") {
        v.add(show(), "architectures",
              "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, "
              "arm64], Member must not be null]");
    }
    if (!v.empty()) return std::unexpected(v.error());
    return std::optional<std::string>((*archs)[0]);
}

}  // namespace lamina::api
