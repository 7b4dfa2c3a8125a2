#include "lamina/api/lambda_api.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <random>

#include "json_input.hpp"
#include "lamina/api/aws_error.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/store/layer_cache.hpp"
#include "lamina/store/zip_archive.hpp"

namespace lamina::api {

using control::ConfigView;
using control::FunctionRef;
using control::NameShape;
using control::Phase;
using control::Scope;
using json = nlohmann::json;

namespace {

// Largest X-Amz-Client-Context header AWS takes: 3,583 bytes of base64.
constexpr std::size_t kMaxClientContextBytes = 3583;

enum Op : int {
    kFirstOp = 1000,
    CreateFunction,
    ListFunctions,
    GetFunction,
    DeleteFunction,
    GetFunctionConfiguration,
    UpdateFunctionConfiguration,
    UpdateFunctionCode,
    PublishVersion,
    ListVersionsByFunction,
    CreateAlias,
    ListAliases,
    GetAlias,
    UpdateAlias,
    DeleteAlias,
    AddPermission,
    GetPolicy,
    RemovePermission,
    TagResource,
    UntagResource,
    ListTags,
    PutFunctionEventInvokeConfig,
    GetFunctionEventInvokeConfig,
    UpdateFunctionEventInvokeConfig,
    DeleteFunctionEventInvokeConfig,
    ListFunctionEventInvokeConfigs,
    GetFunctionCodeSigningConfig,
    GetRuntimeManagementConfig,
    PutRuntimeManagementConfig,
    GetFunctionRecursionConfig,
    PutFunctionRecursionConfig,
    GetAccountSettings,
    GetFunctionConcurrency,
    PutFunctionConcurrency,
    DeleteFunctionConcurrency,
    PutProvisionedConcurrencyConfig,
    GetProvisionedConcurrencyConfig,
    DeleteProvisionedConcurrencyConfig,
    ListProvisionedConcurrencyConfigs,
    GetFunctionUrlConfig,
    ListFunctionUrlConfigs,
    ListEventSourceMappings,
    DownloadCode,
    PublishLayerVersion,
    ListLayerVersions,
    GetLayerVersion,
    DeleteLayerVersion,
    GetLayerVersionByArn,
    ListLayers,
    AddLayerVersionPermission,
    GetLayerVersionPolicy,
    RemoveLayerVersionPermission,
    OptTree,
    Invoke,
    InvokeAsync,
    NotEmulated,  // every route from here on is known but not emulated
    kLastOp = 1999,
};

struct RouteDef {
    int op;
    const char* method;
    const char* pattern;
    const char* name;
};

// Emulated operations first, then the Lambda operations lamina knows of but
// does not emulate yet (answered with NotImplemented naming the operation).
const std::vector<RouteDef>& route_table() {
    static const std::vector<RouteDef> kRoutes = {
        {CreateFunction, "POST", "/2015-03-31/functions", "CreateFunction"},
        {ListFunctions, "GET", "/2015-03-31/functions", "ListFunctions"},
        {GetFunction, "GET", "/2015-03-31/functions/{FunctionName}", "GetFunction"},
        {DeleteFunction, "DELETE", "/2015-03-31/functions/{FunctionName}", "DeleteFunction"},
        {GetFunctionConfiguration, "GET", "/2015-03-31/functions/{FunctionName}/configuration", "GetFunctionConfiguration"},
        {UpdateFunctionConfiguration, "PUT", "/2015-03-31/functions/{FunctionName}/configuration", "UpdateFunctionConfiguration"},
        {UpdateFunctionCode, "PUT", "/2015-03-31/functions/{FunctionName}/code", "UpdateFunctionCode"},
        {PublishVersion, "POST", "/2015-03-31/functions/{FunctionName}/versions", "PublishVersion"},
        {ListVersionsByFunction, "GET", "/2015-03-31/functions/{FunctionName}/versions", "ListVersionsByFunction"},
        {CreateAlias, "POST", "/2015-03-31/functions/{FunctionName}/aliases", "CreateAlias"},
        {ListAliases, "GET", "/2015-03-31/functions/{FunctionName}/aliases", "ListAliases"},
        {GetAlias, "GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "GetAlias"},
        {UpdateAlias, "PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "UpdateAlias"},
        {DeleteAlias, "DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "DeleteAlias"},
        {AddPermission, "POST", "/2015-03-31/functions/{FunctionName}/policy", "AddPermission"},
        {GetPolicy, "GET", "/2015-03-31/functions/{FunctionName}/policy", "GetPolicy"},
        {RemovePermission, "DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}", "RemovePermission"},
        {TagResource, "POST", "/2017-03-31/tags/{Resource}", "TagResource"},
        {UntagResource, "DELETE", "/2017-03-31/tags/{Resource}", "UntagResource"},
        {ListTags, "GET", "/2017-03-31/tags/{Resource}", "ListTags"},
        {PutFunctionEventInvokeConfig, "PUT", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "PutFunctionEventInvokeConfig"},
        {GetFunctionEventInvokeConfig, "GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "GetFunctionEventInvokeConfig"},
        {UpdateFunctionEventInvokeConfig, "POST", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "UpdateFunctionEventInvokeConfig"},
        {DeleteFunctionEventInvokeConfig, "DELETE", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "DeleteFunctionEventInvokeConfig"},
        {ListFunctionEventInvokeConfigs, "GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config/list", "ListFunctionEventInvokeConfigs"},
        {GetFunctionCodeSigningConfig, "GET", "/2020-06-30/functions/{FunctionName}/code-signing-config", "GetFunctionCodeSigningConfig"},
        {GetRuntimeManagementConfig, "GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig"},
        {PutRuntimeManagementConfig, "PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "PutRuntimeManagementConfig"},
        {GetFunctionRecursionConfig, "GET", "/2024-08-31/functions/{FunctionName}/recursion-config", "GetFunctionRecursionConfig"},
        {PutFunctionRecursionConfig, "PUT", "/2024-08-31/functions/{FunctionName}/recursion-config", "PutFunctionRecursionConfig"},
        {GetAccountSettings, "GET", "/2016-08-19/account-settings", "GetAccountSettings"},
        {GetFunctionConcurrency, "GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency"},
        {GetFunctionUrlConfig, "GET", "/2021-10-31/functions/{FunctionName}/url", "GetFunctionUrlConfig"},
        {ListFunctionUrlConfigs, "GET", "/2021-10-31/functions/{FunctionName}/urls", "ListFunctionUrlConfigs"},
        {ListEventSourceMappings, "GET", "/2015-03-31/event-source-mappings", "ListEventSourceMappings"},
        {DownloadCode, "GET", "/_lamina/code/{Blob}", "DownloadCode"},
        {PublishLayerVersion, "POST", "/2018-10-31/layers/{LayerName}/versions", "PublishLayerVersion"},
        {ListLayerVersions, "GET", "/2018-10-31/layers/{LayerName}/versions", "ListLayerVersions"},
        {GetLayerVersion, "GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "GetLayerVersion"},
        {DeleteLayerVersion, "DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "DeleteLayerVersion"},
        {GetLayerVersionByArn, "GET", "/2018-10-31/layers?find=LayerVersion", "GetLayerVersionByArn"},
        {ListLayers, "GET", "/2018-10-31/layers", "ListLayers"},
        {AddLayerVersionPermission, "POST", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "AddLayerVersionPermission"},
        {GetLayerVersionPolicy, "GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "GetLayerVersionPolicy"},
        {RemoveLayerVersionPermission, "DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}", "RemoveLayerVersionPermission"},
        {OptTree, "GET", "/_lamina/opt/{FunctionName}", "LaminaOptTree"},
        // Invocation and concurrency (InvokeWithResponseStream is known, not emulated).
        {Invoke, "POST", "/2015-03-31/functions/{FunctionName}/invocations", "Invoke"},
        {InvokeAsync, "POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync"},
        {NotEmulated + 3, "POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations", "InvokeWithResponseStream"},
        {PutFunctionConcurrency, "PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency"},
        {DeleteFunctionConcurrency, "DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency"},
        {ListProvisionedConcurrencyConfigs, "GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL", "ListProvisionedConcurrencyConfigs"},
        {PutProvisionedConcurrencyConfig, "PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "PutProvisionedConcurrencyConfig"},
        {GetProvisionedConcurrencyConfig, "GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "GetProvisionedConcurrencyConfig"},
        {DeleteProvisionedConcurrencyConfig, "DELETE", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "DeleteProvisionedConcurrencyConfig"},
        {NotEmulated + 19, "POST", "/2021-10-31/functions/{FunctionName}/url", "CreateFunctionUrlConfig"},
        {NotEmulated + 20, "PUT", "/2021-10-31/functions/{FunctionName}/url", "UpdateFunctionUrlConfig"},
        {NotEmulated + 21, "DELETE", "/2021-10-31/functions/{FunctionName}/url", "DeleteFunctionUrlConfig"},
        {NotEmulated + 22, "POST", "/2015-03-31/event-source-mappings", "CreateEventSourceMapping"},
        {NotEmulated + 23, "GET", "/2015-03-31/event-source-mappings/{UUID}", "GetEventSourceMapping"},
        {NotEmulated + 24, "PUT", "/2015-03-31/event-source-mappings/{UUID}", "UpdateEventSourceMapping"},
        {NotEmulated + 25, "DELETE", "/2015-03-31/event-source-mappings/{UUID}", "DeleteEventSourceMapping"},
        {NotEmulated + 26, "PUT", "/2020-06-30/functions/{FunctionName}/code-signing-config", "PutFunctionCodeSigningConfig"},
        {NotEmulated + 27, "DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config", "DeleteFunctionCodeSigningConfig"},
        {NotEmulated + 28, "POST", "/2020-04-22/code-signing-configs", "CreateCodeSigningConfig"},
        {NotEmulated + 29, "GET", "/2020-04-22/code-signing-configs", "ListCodeSigningConfigs"},
        {NotEmulated + 30, "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "GetCodeSigningConfig"},
        {NotEmulated + 31, "PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "UpdateCodeSigningConfig"},
        {NotEmulated + 32, "DELETE", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "DeleteCodeSigningConfig"},
        {NotEmulated + 33, "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions", "ListFunctionsByCodeSigningConfig"},
    };
    return kRoutes;
}

// A concurrency count of a request body (ReservedConcurrentExecutions,
// ProvisionedConcurrentExecutions): required, at least `min` (AWS's
// validation error otherwise); numbers past any account limit are kept just
// past it, so that they fail the limit checks without overflowing an int.
Result<int> concurrency_count(const ojson& body, const char* field, int min) {
    LAMINA_TRY(value, opt_int(body, field));
    std::string member(field);
    member[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(member[0])));
    if (!value || *value < min) {
        control::ValidationErrors v;
        if (!value) v.add_null(member);
        else v.add(std::to_string(*value), member, "Member must have value greater than or equal to " + std::to_string(min));
        return std::unexpected(v.error());
    }
    return static_cast<int>(std::min<long long>(*value, 1'000'000'000));
}

// A request id for answers made before a request has one (413 at the edge).
std::string fresh_request_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t hi = rng(), lo = rng();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xfff),
                  static_cast<unsigned>(0x8000 | ((lo >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(lo & 0xffffffffffffull));
    return buf;
}

http::Response json_response(unsigned status, const json& body, const RequestContext& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);  // never throws on odd bytes
    return r;
}

http::Response empty_response(unsigned status, const RequestContext& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    return r;
}

// ---- rendering -------------------------------------------------------------

json render_config(const Scope& s, const ConfigView& v, bool list_row) {
    const auto& c = v.config;
    json j;
    j["FunctionName"] = v.name;
    j["FunctionArn"] = v.arn_qualifier.empty() ? control::function_arn(s, v.name)
                                               : control::qualified_arn(s, v.name, v.arn_qualifier);
    j["Runtime"] = c.runtime;
    j["Role"] = c.role;
    j["Handler"] = c.handler;
    j["CodeSize"] = c.code_size;
    j["Description"] = c.description;
    j["Timeout"] = c.timeout;
    j["MemorySize"] = c.memory_size;
    j["LastModified"] = format_lambda_time(c.last_modified_ms);
    j["CodeSha256"] = c.code_sha256;
    j["Version"] = c.version;
    if (c.environment) {
        json vars = json::object();
        for (const auto& [k, val] : *c.environment) vars[k] = val;
        j["Environment"] = {{"Variables", vars}};
    }
    j["TracingConfig"] = {{"Mode", c.tracing_mode}};
    j["RevisionId"] = c.revision_id;
    if (!c.layers.empty()) {
        json layers = json::array();
        for (const auto& l : c.layers) layers.push_back({{"Arn", l.arn}, {"CodeSize", l.code_size}});
        j["Layers"] = layers;
    }
    if (c.dead_letter_target) j["DeadLetterConfig"] = {{"TargetArn", *c.dead_letter_target}};
    if (c.kms_key_arn) j["KMSKeyArn"] = *c.kms_key_arn;
    j["PackageType"] = c.package_type;
    j["Architectures"] = json::array({c.architecture});
    j["EphemeralStorage"] = {{"Size", c.ephemeral_storage}};
    j["SnapStart"] = {{"ApplyOn", c.snap_start_apply_on}, {"OptimizationStatus", "Off"}};
    json logging = {{"LogFormat", c.log_format}, {"LogGroup", c.log_group}};
    if (c.application_log_level) logging["ApplicationLogLevel"] = *c.application_log_level;
    if (c.system_log_level) logging["SystemLogLevel"] = *c.system_log_level;
    j["LoggingConfig"] = logging;
    if (list_row) return j;
    j["RuntimeVersionConfig"] = {{"RuntimeVersionArn", c.runtime_version_arn}};
    switch (v.phase) {
        case Phase::Steady:
            j["State"] = "Active";
            j["LastUpdateStatus"] = "Successful";
            break;
        case Phase::Creating:
        case Phase::PublishedNew:
            j["State"] = "Pending";
            j["StateReason"] = "The function is being created.";
            j["StateReasonCode"] = "Creating";
            break;
        case Phase::Updating:
            j["State"] = "Active";
            j["LastUpdateStatus"] = "InProgress";
            j["LastUpdateStatusReason"] = "The function is being created.";
            j["LastUpdateStatusReasonCode"] = "Creating";
            break;
    }
    return j;
}

json render_alias(const Scope& s, const control::AliasView& a) {
    json j = {{"AliasArn", control::qualified_arn(s, a.function_name, a.alias.name)},
              {"Name", a.alias.name},
              {"FunctionVersion", a.alias.function_version},
              {"Description", a.alias.description},
              {"RevisionId", a.alias.revision_id}};
    if (!a.alias.additional_weights.empty()) {
        json w = json::object();
        for (const auto& [k, v] : a.alias.additional_weights) w[k] = v;
        j["RoutingConfig"] = {{"AdditionalVersionWeights", w}};
    }
    return j;
}

json render_eic(const control::EventInvokeConfigView& v) {
    json j = {{"LastModified", v.config.last_modified}, {"FunctionArn", v.function_arn}};
    if (v.config.maximum_retry_attempts) j["MaximumRetryAttempts"] = *v.config.maximum_retry_attempts;
    if (v.config.maximum_event_age_seconds) j["MaximumEventAgeInSeconds"] = *v.config.maximum_event_age_seconds;
    json on_success = json::object(), on_failure = json::object();
    if (v.config.on_success) on_success["Destination"] = *v.config.on_success;
    if (v.config.on_failure) on_failure["Destination"] = *v.config.on_failure;
    j["DestinationConfig"] = {{"OnSuccess", on_success}, {"OnFailure", on_failure}};
    return j;
}

// ---- input validation -----------------------------------------------------------

Result<control::Page> read_page(const http::Request& req, int max_allowed = 10000, int default_items = 50) {
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
                        : "Member must have value less than or equal to " + std::to_string(max_allowed));
            return std::unexpected(e.error());
        }
        page.max_items = static_cast<int>(v);
    }
    return page;
}

// FunctionName (path) + Qualifier (query) for an operation.
Result<FunctionRef> function_ref(const RequestContext& ctx, const http::Request& req, const http::RouteMatch& m,
                                 NameShape shape, const char* action, bool qualifier_param = true) {
    std::optional<std::string> q;
    if (qualifier_param) q = req.query_param("Qualifier");
    return control::resolve_function_name(m.params.at("FunctionName"), shape, q, ctx.scope,
                                          std::string("lambda:") + action);
}

struct CodeInput {
    std::optional<std::string> zip;  // decoded ZipFile
    // or the S3 object holding it
    std::optional<std::string> s3_bucket, s3_key, s3_version;
    bool from_s3() const { return s3_bucket.has_value(); }
};

// Smithy's constraints on S3Bucket, S3Key and S3ObjectVersion.
void check_s3_location(control::ValidationErrors& v, const std::string& prefix, const std::optional<std::string>& bucket,
                       const std::optional<std::string>& key, const std::optional<std::string>& version) {
    if (bucket) {
        bool pattern = true;
        for (char c : *bucket)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') pattern = false;
        if (!bucket->empty() && bucket->back() == '.') pattern = false;
        if (bucket->size() < 3)
            v.add(*bucket, prefix + "s3Bucket", "Member must have length greater than or equal to 3");
        else if (bucket->size() > 63)
            v.add(*bucket, prefix + "s3Bucket", "Member must have length less than or equal to 63");
        if (!pattern)
            v.add(*bucket, prefix + "s3Bucket",
                  R"(Member must satisfy regular expression pattern: ^[0-9A-Za-z\.\-_]*(?<!\.)$)");
    }
    if (key && key->empty()) v.add(*key, prefix + "s3Key", "Member must have length greater than or equal to 1");
    if (key && key->size() > 1024) v.add(*key, prefix + "s3Key", "Member must have length less than or equal to 1024");
    if (version && version->empty())
        v.add(*version, prefix + "s3ObjectVersion", "Member must have length greater than or equal to 1");
    if (version && version->size() > 1024)
        v.add(*version, prefix + "s3ObjectVersion", "Member must have length less than or equal to 1024");
}

// `extracted` is Code.ZipFile when parse_body_extracting cut it out of the body;
// `field_prefix` names the members in validation messages ("code.", "content.", "").
Result<CodeInput> read_code(const ojson& code, bool for_update, std::optional<std::string_view> extracted,
                            const std::string& field_prefix) {
    CodeInput out;
    LAMINA_TRY(zip_b64_value, opt_string(code, "ZipFile"));
    std::optional<std::string_view> zip_b64;
    if (zip_b64_value) zip_b64 = *zip_b64_value;
    if (extracted) zip_b64 = extracted;
    LAMINA_TRY(s3_bucket, opt_string(code, "S3Bucket"));
    LAMINA_TRY(s3_key, opt_string(code, "S3Key"));
    LAMINA_TRY(s3_version, opt_string(code, "S3ObjectVersion"));
    LAMINA_TRY(image, opt_string(code, "ImageUri"));
    control::ValidationErrors v;
    check_s3_location(v, field_prefix, s3_bucket, s3_key, s3_version);
    if (!v.empty()) return std::unexpected(v.error());
    if (image)
        return fail(ErrorCode::InvalidParameterValue,
                    for_update ? "Please don't provide ImageUri when updating a function with packageType Zip."
                               : "lamina does not emulate container image functions (ImageUri) yet: upload a zip "
                                 "with Code.ZipFile (aws lambda create-function --zip-file fileb://function.zip).");
    if (zip_b64 && (s3_bucket || s3_key || s3_version))
        return fail(ErrorCode::InvalidParameterValue,
                    "Please do not provide other FunctionCode parameters when providing a ZipFile.");
    if (zip_b64) {
        auto decoded = base64_decode(*zip_b64);
        if (!decoded)
            return fail(ErrorCode::InvalidParameterValue, "Could not decode ZipFile: it is not valid base64.");
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

// The zip bytes: the ZipFile, or the S3 object read from `source` (lamina's
// own objects, in a bucket of the caller's account, or --s3-endpoint's),
// failures quoted as Lambda quotes S3's.
Result<std::string> code_bytes(s3::ObjectSource* source, const Scope& scope, CodeInput& code) {
    if (code.zip) return std::move(*code.zip);
    if (!source)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina's S3 surface is off (--s3 off) and no --s3-endpoint is set, so code cannot be read from "
                    "S3Bucket/S3Key: upload the zip directly with ZipFile (--zip-file fileb://function.zip).");
    auto got = source->get_object(scope.account, scope.region, *code.s3_bucket, *code.s3_key,
                                  code.s3_version);
    if (!got)
        return fail(ErrorCode::InvalidParameterValue, "Error occurred while GetObject. S3 Error Code: " +
                                                          got.error().code +
                                                          ". S3 Error Message: " + got.error().message);
    return std::move(*got);
}

// `from_s3`: the 50 MB zipped limit is for zips sent in the request; code
// read from S3 is limited by its unzipped size only, as on AWS.
Result<control::StoredCode> check_code(const std::string& zip, bool from_s3 = false) {
    if (!from_s3 && static_cast<std::int64_t>(zip.size()) > control::kMaxZippedCode)
        return fail(ErrorCode::RequestEntityTooLarge, "Zipped size must be smaller than 52428800 bytes");
    LAMINA_TRY(summary, store::inspect_zip(zip, control::kMaxUnzippedCode));
    if (summary.unzipped_size > control::kMaxUnzippedCode)
        return fail(ErrorCode::InvalidParameterValue, "Unzipped size must be smaller than 262144000 bytes");
    control::StoredCode code;
    std::string digest = sha256(zip);
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
            v.add(*role, "role", std::string("Member must satisfy regular expression pattern: ") + control::kRolePattern);
    }
    if (handler) {
        static const std::regex kHandler(R"([^\s]+)");
        if (handler->size() > 128)
            v.add(*handler, "handler", "Member must have length less than or equal to 128");
        else if (!regex_full_match(*handler, kHandler))
            v.add(*handler, "handler", R"(Member must satisfy regular expression pattern: [^\s]+)");
    }
    if (description && description->size() > 256)
        v.add(*description, "description", "Member must have length less than or equal to 256");
    if (timeout && *timeout < 1) v.add(std::to_string(*timeout), "timeout", "Member must have value greater than or equal to 1");
    if (memory && *memory < 128)
        v.add(std::to_string(*memory), "memorySize", "Member must have value greater than or equal to 128");
    if (memory && *memory > 32768)
        v.add(std::to_string(*memory), "memorySize", "Member must have value less than or equal to 32768");
    if (const ojson* eph = opt_object(body, "EphemeralStorage")) {
        LAMINA_TRY(size, opt_int(*eph, "Size"));
        if (!size)
            v.add_null("ephemeralStorage.size");
        else if (*size < 512)
            v.add(std::to_string(*size), "ephemeralStorage.size", "Member must have value greater than or equal to 512");
        else if (*size > 10240)
            v.add(std::to_string(*size), "ephemeralStorage.size", "Member must have value less than or equal to 10240");
        else
            s.ephemeral_storage = static_cast<int>(*size);
    }
    if (const ojson* tracing = opt_object(body, "TracingConfig")) {
        LAMINA_TRY(mode, opt_string(*tracing, "Mode"));
        if (mode && *mode != "Active" && *mode != "PassThrough")
            v.add(*mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]");
        s.tracing_mode = mode;
    }
    if (const ojson* logging = opt_object(body, "LoggingConfig")) {
        LAMINA_TRY(format, opt_string(*logging, "LogFormat"));
        LAMINA_TRY(group, opt_string(*logging, "LogGroup"));
        LAMINA_TRY(app, opt_string(*logging, "ApplicationLogLevel"));
        LAMINA_TRY(sys, opt_string(*logging, "SystemLogLevel"));
        if (format && *format != "Text" && *format != "JSON")
            v.add(*format, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]");
        s.log_format = format;
        s.log_group = group;
        s.application_log_level = app;
        s.system_log_level = sys;
    }
    if (const ojson* snap = opt_object(body, "SnapStart")) {
        LAMINA_TRY(apply_on, opt_string(*snap, "ApplyOn"));
        if (apply_on && *apply_on != "None" && *apply_on != "PublishedVersions")
            v.add(*apply_on, "snapStart.applyOn", "Member must satisfy enum value set: [PublishedVersions, None]");
        s.snap_start_apply_on = apply_on;
    }
    if (!v.empty()) return std::unexpected(v.error());
    if (timeout && *timeout > 900)
        return fail(ErrorCode::InvalidParameterValue,
                    "1 validation error detected: Value '" + std::to_string(*timeout) +
                        "' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900");
    if (memory && *memory > 10240)
        return fail(ErrorCode::InvalidParameterValue,
                    "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240");
    if (runtime) LAMINA_CHECK(control::validate_runtime(*runtime));
    if (const ojson* env = opt_object(body, "Environment")) {
        LAMINA_TRY(vars, opt_string_map(*env, "Variables"));
        std::vector<std::pair<std::string, std::string>> ordered = vars.value_or(decltype(ordered){});
        LAMINA_CHECK(control::validate_environment(ordered));
        s.environment = std::map<std::string, std::string>(ordered.begin(), ordered.end());
    }
    if (const ojson* dlq = opt_object(body, "DeadLetterConfig")) {
        LAMINA_TRY(target, opt_string(*dlq, "TargetArn"));
        s.dead_letter_target = target.value_or("");
    }
    if (const ojson* vpc = opt_object(body, "VpcConfig")) {
        LAMINA_TRY(subnets, opt_string_list(*vpc, "SubnetIds"));
        LAMINA_TRY(groups, opt_string_list(*vpc, "SecurityGroupIds"));
        if ((subnets && !subnets->empty()) || (groups && !groups->empty()))
            return fail(ErrorCode::InvalidParameterValue,
                        "lamina does not emulate VPC networking: VpcConfig with subnets or security groups is "
                        "not supported (functions always reach the host's network).");
    }
    if (auto fs = body.find("FileSystemConfigs"); fs != body.end() && fs->is_array() && !fs->empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate Amazon EFS: FileSystemConfigs are not supported.");
    if (auto ic = body.find("ImageConfig"); ic != body.end() && !ic->is_null())
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate container image functions: ImageConfig is not supported.");
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
              "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]");
    }
    if (!v.empty()) return std::unexpected(v.error());
    return std::optional<std::string>((*archs)[0]);
}


// ---- layers -----------------------------------------------------------------------

const std::vector<std::string>& layer_filter_runtimes() {
    // The enum AWS validates ListLayers/ListLayerVersions filters against (wider than CreateFunction's).
    static const std::vector<std::string> kList = {
        "ruby3.5", "ruby2.6", "dotnetcore1.0", "python3.7", "nodejs8.10", "nasa", "ruby2.7", "python2.7-greengrass",
        "dotnetcore2.0", "python3.8", "java21", "dotnet6", "dotnetcore2.1", "python3.9", "java11", "nodejs6.10",
        "provided", "dotnetcore3.1", "dotnet8", "java25", "java17", "nodejs", "nodejs4.3", "java8.al2", "go1.x",
        "dotnet10", "nodejs20.x", "go1.9", "byol", "nodejs10.x", "provided.al2023", "nodejs22.x", "python3.10",
        "java8", "nodejs12.x", "python3.11", "nodejs24.x", "nodejs8.x", "python3.12", "nodejs14.x", "nodejs8.9",
        "nodejs26.x", "python3.13", "python3.14", "nodejs16.x", "python3.15", "provided.al2", "nodejs4.3-edge",
        "nodejs18.x", "ruby3.2", "python3.4", "ruby3.3", "ruby3.4", "ruby2.5", "python3.6", "python2.7"};
    return kList;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

// LayerName path values: a name, or a layer ARN (possibly another account's).
Result<std::pair<Scope, std::string>> layer_name(const Scope& caller, const std::string& value) {
    static const std::regex kPattern(R"((arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)");
    if (value.size() > 140 || !regex_full_match(value, kPattern)) {
        control::ValidationErrors v;
        v.add(value, "layerName",
              value.size() > 140 ? "Member must have length less than or equal to 140"
                                 : R"(Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)");
        return std::unexpected(v.error());
    }
    if (value.rfind("arn:", 0) != 0) return std::make_pair(caller, value);
    auto p = control::parse_arn(value);
    return std::make_pair(Scope{p->account, p->region}, p->resource.substr(6));
}

Result<std::int64_t> layer_version_number(const std::string& value) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE)
        return fail(ErrorCode::InvalidParameterValue, "Layer Version Cannot be less than 1");
    if (v < 1) return fail(ErrorCode::InvalidParameterValue, "Layer Version Cannot be less than 1");
    return static_cast<std::int64_t>(v);
}

Status check_filters(const std::optional<std::string>& runtime, const std::optional<std::string>& arch) {
    control::ValidationErrors v;
    const auto& runtimes = layer_filter_runtimes();
    if (runtime && std::find(runtimes.begin(), runtimes.end(), *runtime) == runtimes.end())
        v.add(*runtime, "compatibleRuntime", "Member must satisfy enum value set: [" + join_list(runtimes) + "]");
    if (arch && *arch != "x86_64" && *arch != "arm64")
        v.add(*arch, "compatibleArchitecture", "Member must satisfy enum value set: [x86_64, arm64]");
    if (!v.empty()) return std::unexpected(v.error());
    return {};
}

json render_layer_row(const control::LayerVersionView& v) {
    json j = {{"LayerVersionArn", control::layer_version_arn(v.owner, v.version.layer_name, v.version.version)},
              {"Version", v.version.version},
              {"Description", v.version.description},
              {"CreatedDate", format_lambda_time(v.version.created_ms)}};
    if (v.version.compatible_runtimes) j["CompatibleRuntimes"] = *v.version.compatible_runtimes;
    if (v.version.compatible_architectures) j["CompatibleArchitectures"] = *v.version.compatible_architectures;
    if (v.version.license_info) j["LicenseInfo"] = *v.version.license_info;
    return j;
}

json render_layer_version(const control::LayerVersionView& v, const RequestContext& ctx) {
    json j = render_layer_row(v);
    j["LayerArn"] = control::layer_arn(v.owner, v.version.layer_name);
    j["Content"] = {{"Location", "http://" + ctx.host + "/_lamina/code/" + v.version.code_blob},
                    {"CodeSha256", v.version.code_sha256},
                    {"CodeSize", v.version.code_size}};
    return j;
}

}  // namespace

LambdaApi::LambdaApi(control::Registry& registry, control::LayerRegistry& layers, store::LayerCache& layer_cache,
                     store::BlobStore& blobs, const Config& config, exec::Invoker* invoker, exec::EventQueue* events)
    : registry_(registry),
      layers_(layers),
      layer_cache_(layer_cache),
      blobs_(blobs),
      config_(config),
      invoker_(invoker),
      events_(events) {
    if (!events_) return;
    exec::EventQueueHooks hooks;
    hooks.resolve = [this](const exec::QueuedEvent& e) -> Result<exec::InvokeRequest> {
        FunctionRef ref{e.function, e.qualifier.empty() ? std::nullopt : std::optional<std::string>(e.qualifier)};
        static thread_local std::mt19937_64 rng{std::random_device{}()};
        double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        LAMINA_TRY(view, registry_.resolve_invocation(e.scope, ref, draw));
        return invoke_request(e.scope, ref, view, e.payload, e.id);
    };
    hooks.config = [this](const exec::QueuedEvent& e) -> std::optional<control::EventInvokeConfig> {
        FunctionRef ref{e.function, e.qualifier.empty() ? std::string("$LATEST") : e.qualifier};
        auto got = registry_.get_event_invoke_config(e.scope, ref);
        if (!got) return std::nullopt;
        return got->config;
    };
    events_->set_hooks(std::move(hooks));
}

exec::InvokeRequest LambdaApi::invoke_request(const Scope& scope, const FunctionRef& ref, const control::ConfigView& view,
                                              std::string payload, const std::string& request_id) const {
    exec::InvokeRequest in;
    in.scope = scope;
    in.function_name = view.name;
    in.config = view.config;
    in.invoked_arn = ref.qualifier ? control::qualified_arn(scope, view.name, *ref.qualifier)
                                   : control::function_arn(scope, view.name);
    in.payload = std::move(payload);
    in.request_id = request_id;
    in.qualifier = ref.qualifier.value_or("");
    in.reserved_concurrency = view.reserved_concurrency;
    in.reserved_total = view.reserved_total;
    in.provisioned_total = view.provisioned_total;
    return in;
}

bool LambdaApi::is_invoke(int operation) { return operation == Invoke || operation == InvokeAsync; }

void LambdaApi::invoke(int op, const RequestContext& ctx, const http::Request& req, const http::RouteMatch& m,
                       std::function<void(Result<http::Response>)> respond) {
    auto result = [&]() -> Result<std::optional<exec::InvokeRequest>> {
        // A function of another account runs there (its concurrency, its
        // metrics) when its resource policy lets the caller's account invoke it.
        std::optional<std::string> owner;
        LAMINA_TRY(ref, control::resolve_function_name(m.params.at("FunctionName"), NameShape::Read,
                                                       req.query_param("Qualifier"), ctx.scope,
                                                       "lambda:InvokeFunction", &owner));
        Scope scope = ctx.scope;
        if (owner) {
            scope.account = *owner;
            if (!registry_.permits(scope, ref, ctx.scope.account, "lambda:InvokeFunction"))
                return std::unexpected(control::cross_account_denied(
                    ctx.scope.account, "lambda:InvokeFunction",
                    control::function_arn(scope, ref.name) + (ref.qualifier ? ":" + *ref.qualifier : "")));
        }
        std::string type = op == InvokeAsync ? "Event" : req.headers.get("X-Amz-Invocation-Type", "RequestResponse");
        if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
            control::ValidationErrors v;
            v.add(type, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
            return std::unexpected(v.error());
        }
        if (type == "Event" && req.body.size() > 1048576)
            return fail(ErrorCode::RequestEntityTooLarge, std::to_string(req.body.size()) +
                                                              " byte payload is too large for the Event invocation "
                                                              "type (limit 1048576 bytes)");
        // InvokeAsync's InvokeArgs become the same event: the same checks
        if (!req.body.empty()) {
            if (auto bad = invalid_utf8(req.body))
                return fail(ErrorCode::InvalidRequestContent,
                            "Could not parse request body into json: Could not parse payload into json: " + *bad);
        }
        if (auto log_type = req.headers.find("X-Amz-Log-Type"); log_type && *log_type != "None" && *log_type != "Tail") {
            control::ValidationErrors v;
            v.add(*log_type, "logType", "Member must satisfy enum value set: [None, Tail]");
            return std::unexpected(v.error());
        }
        if (!req.body.empty() && !nlohmann::json::accept(req.body)) {
            try {
                auto parsed = nlohmann::json::parse(req.body);
                (void)parsed;
            } catch (const nlohmann::json::exception& e) {
                return fail(ErrorCode::InvalidRequestContent,
                            std::string("Could not parse request body into json: Could not parse payload into json: ") +
                                e.what());
            }
        }
        static thread_local std::mt19937_64 rng{std::random_device{}()};
        double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        LAMINA_TRY(view, registry_.resolve_invocation(scope, ref, draw));
        if (type == "DryRun") return std::optional<exec::InvokeRequest>{};
        if (!invoker_) return fail(ErrorCode::NotImplemented, "lamina was started without a data plane");
        exec::InvokeRequest in =
            invoke_request(scope, ref, view, req.body.empty() ? std::string("{}") : req.body, ctx.request_id);
        if (auto cc = req.headers.find("X-Amz-Client-Context")) {
            if (cc->size() > kMaxClientContextBytes)
                return fail(ErrorCode::InvalidParameterValue,
                            "Client context must be no larger than 3583 bytes when Base64-encoded.");
            auto decoded = base64_decode(*cc);
            if (!decoded || !nlohmann::json::accept(*decoded))
                return fail(ErrorCode::InvalidParameterValue, "Client context must be a valid Base64-encoded JSON object.");
            in.client_context = *decoded;
        }
        if (type == "Event") {
            // stored, then answered 202; it runs from the queue (retries, destinations)
            if (!events_) return fail(ErrorCode::NotImplemented, "lamina was started without an event queue");
            exec::QueuedEvent e;
            e.id = ctx.request_id;
            e.scope = scope;
            e.function = view.name;
            e.qualifier = ref.qualifier.value_or("");
            e.payload = std::move(in.payload);
            LAMINA_CHECK(events_->enqueue(std::move(e)));
            return std::optional<exec::InvokeRequest>{};
        }
        return std::optional<exec::InvokeRequest>(std::move(in));
    }();
    if (!result) {
        respond(std::unexpected(result.error()));
        return;
    }
    if (!*result) {
        std::string type = op == InvokeAsync ? "Event" : req.headers.get("X-Amz-Invocation-Type", "RequestResponse");
        http::Response r;
        r.status = type == "DryRun" ? 204 : 202;
        r.headers.set("x-amzn-RequestId", ctx.request_id);
        if (op == InvokeAsync) r.body = R"({"Status":202})";
        respond(r);
        return;
    }
    bool tail = req.headers.get("X-Amz-Log-Type") == "Tail";
    std::string executed = (*result)->config.version;
    std::string request_id = ctx.request_id;
    invoker_->invoke(std::move(**result), [respond, tail, executed, request_id](exec::InvokeResult out) {
        if (out.throttle) {
            Error e{ErrorCode::TooManyRequests, out.throttle->message};
            e.reason = out.throttle->reason;
            respond(std::unexpected(std::move(e)));
            return;
        }
        http::Response r;
        r.status = 200;
        r.headers.set("Content-Type", "application/json");
        r.headers.set("x-amzn-RequestId", request_id);
        r.headers.set("X-Amz-Executed-Version", executed);
        if (out.function_error) r.headers.set("X-Amz-Function-Error", "Unhandled");
        if (tail) {
            std::string_view log(out.log);
            if (log.size() > 4096) log.remove_prefix(log.size() - 4096);
            r.headers.set("X-Amz-Log-Result", base64_encode(log));
        }
        r.body = std::move(out.payload);
        respond(std::move(r));
    });
}

void LambdaApi::apply_provisioned(const Scope& scope, const control::ProvisionedView& pc) {
    if (!invoker_) return;
    auto view = registry_.get_configuration(scope, FunctionRef{pc.function_name, pc.version});
    if (!view) return;
    invoker_->provision(scope, pc.function_name, pc.qualifier, view->config, pc.config.requested);
}

nlohmann::json LambdaApi::render_provisioned(const Scope& scope, const control::ProvisionedView& pc, bool listed) const {
    exec::ProvisionedStatus st;
    if (invoker_) st = invoker_->provisioned_status(scope, pc.function_name, pc.qualifier);
    nlohmann::json out = nlohmann::json::object();
    if (listed) out["FunctionArn"] = pc.function_arn;
    out["RequestedProvisionedConcurrentExecutions"] = pc.config.requested;
    out["AvailableProvisionedConcurrentExecutions"] = st.available;
    out["AllocatedProvisionedConcurrentExecutions"] = st.allocated;
    out["Status"] = st.status;
    if (!st.reason.empty()) out["StatusReason"] = st.reason;
    out["LastModified"] = pc.config.last_modified;
    return out;
}

void LambdaApi::restore_provisioned() {
    for (const auto& [scope, pc] : registry_.all_provisioned()) apply_provisioned(scope, pc);
}

void LambdaApi::add_routes(http::Router& router) {
    for (const auto& r : route_table()) router.add(r.method, r.pattern, r.op);
}

bool LambdaApi::owns(int operation) { return operation > kFirstOp && operation < kLastOp; }

std::string LambdaApi::operation_name(int operation) {
    for (const auto& r : route_table())
        if (r.op == operation) return r.name;
    return "Unknown";
}

http::BodyPolicy LambdaApi::body_policy(const http::RequestHead& head, const std::string& operation) const {
    http::BodyPolicy p;
    std::string path = head.target.substr(0, head.target.find('?'));
    bool layer_upload = head.method == "POST" && path.rfind("/2018-10-31/layers/", 0) == 0 &&
                        path.size() > 9 && path.compare(path.size() - 9, 9, "/versions") == 0;
    bool code_upload = (head.method == "POST" && path == "/2015-03-31/functions") ||
                       (head.method == "PUT" && path.rfind("/2015-03-31/functions/", 0) == 0 &&
                        path.size() > 5 && path.compare(path.size() - 5, 5, "/code") == 0) ||
                       layer_upload;
    if (code_upload) {
        p.limit = static_cast<std::uint64_t>(control::kCreateFunctionRequestLimit);
        std::string op = layer_upload ? "PublishLayerVersion" : head.method == "POST" ? "CreateFunction" : "UpdateFunctionCode";
        p.too_large = [op](std::uint64_t limit) {
            return rest_json_error(Error{ErrorCode::RequestEntityTooLarge,
                                         "Request must be smaller than " + std::to_string(limit) + " bytes for the " +
                                             op + " operation"},
                                   fresh_request_id());
        };
    } else {
        p.limit = 6 * 1024 * 1024;
        // the message names the operation called, as AWS's do
        bool invocations = path.size() >= 12 && path.compare(path.size() - 12, 12, "/invocations") == 0;
        std::string op = invocations || operation.empty() ? std::string("InvokeFunction") : operation;
        p.too_large = [op](std::uint64_t limit) {
            return rest_json_error(Error{ErrorCode::RequestEntityTooLarge,
                                         "Request must be smaller than " + std::to_string(limit) + " bytes for the " +
                                             op + " operation"},
                                   fresh_request_id());
        };
    }
    return p;
}

Result<http::Response> LambdaApi::handle(int op, const RequestContext& ctx, const http::Request& req,
                                         const http::RouteMatch& m) {
    const Scope& scope = ctx.scope;
    if (op > NotEmulated) {
        return fail(ErrorCode::NotImplemented,
                    "lamina does not emulate the " + operation_name(op) + " operation yet (" + req.method + " " +
                        req.path + ").");
    }
    switch (op) {
        case CreateFunction: {
            std::optional<std::string_view> zip_b64;
            LAMINA_TRY(body, parse_body_extracting(req.body, "Code", "ZipFile", zip_b64));
            LAMINA_TRY(name_value, opt_string(body, "FunctionName"));
            control::ValidationErrors missing;
            if (!name_value) missing.add_null("functionName");
            if (!body.contains("Role")) missing.add_null("role");
            if (!body.contains("Code")) missing.add_null("code");
            if (!missing.empty()) return std::unexpected(missing.error());
            LAMINA_TRY(ref, control::resolve_function_name(*name_value, NameShape::Create, std::nullopt, scope,
                                                           "lambda:CreateFunction"));
            LAMINA_TRY(settings, read_settings(body));
            LAMINA_TRY(arch, read_architecture(body));
            LAMINA_TRY(package_type, opt_string(body, "PackageType"));
            if (package_type && *package_type == "Image")
                return fail(ErrorCode::InvalidParameterValue,
                            "lamina does not emulate container image functions (PackageType Image) yet.");
            if (package_type && *package_type != "Zip") {
                control::ValidationErrors v;
                v.add(*package_type, "packageType", "Member must satisfy enum value set: [Image, Zip]");
                return std::unexpected(v.error());
            }
            LAMINA_TRY(publish, opt_bool(body, "Publish"));
            LAMINA_TRY(tags, opt_string_map(body, "Tags"));
            const ojson* code_obj = opt_object(body, "Code");
            if (!code_obj) return std::unexpected(wrong_type("Code", "an object"));
            LAMINA_TRY(code, read_code(*code_obj, false, zip_b64, "code."));
            LAMINA_TRY(zip, code_bytes(code_source_, scope, code));
            LAMINA_TRY(stored, check_code(zip, code.from_s3()));
            LAMINA_CHECK(blobs_.put(stored.sha256_hex, zip));
            control::CreateFunctionInput in;
            in.name = ref.name;
            in.settings = std::move(settings);
            in.architecture = arch.value_or("x86_64");
            in.code = stored;
            in.publish = publish.value_or(false);
            if (tags) in.tags = std::map<std::string, std::string>(tags->begin(), tags->end());
            LAMINA_TRY(view, registry_.create_function(scope, std::move(in)));
            return json_response(201, render_config(scope, view, false), ctx);
        }
        case ListFunctions: {
            auto version = req.query_param("FunctionVersion");
            if (version && *version != "ALL") {
                control::ValidationErrors v;
                v.add(*version, "functionVersion", "Member must satisfy enum value set: [ALL]");
                return std::unexpected(v.error());
            }
            LAMINA_TRY(page, read_page(req));
            LAMINA_TRY(result, registry_.list_functions(scope, version.has_value(), page));
            json rows = json::array();
            for (const auto& v : result.first) rows.push_back(render_config(scope, v, true));
            json out = {{"Functions", rows}};
            if (result.second) out["NextMarker"] = *result.second;
            return json_response(200, out, ctx);
        }
        case GetFunction: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunction"));
            LAMINA_TRY(details, registry_.get_function(scope, ref));
            json out = {{"Configuration", render_config(scope, details.view, false)},
                        {"Code",
                         {{"RepositoryType", "S3"},
                          {"Location", "http://" + ctx.host + "/_lamina/code/" + details.view.config.code_blob}}}};
            if (!details.tags.empty()) out["Tags"] = details.tags;
            if (details.reserved_concurrency)
                out["Concurrency"] = {{"ReservedConcurrentExecutions", *details.reserved_concurrency}};
            return json_response(200, out, ctx);
        }
        case GetFunctionConfiguration: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunctionConfiguration"));
            LAMINA_TRY(view, registry_.get_configuration(scope, ref));
            return json_response(200, render_config(scope, view, false), ctx);
        }
        case DeleteFunction: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "DeleteFunction"));
            std::lock_guard pc_lock(provisioned_mu_);  // registry and environments change together
            auto before = registry_.list_provisioned_concurrency(scope, FunctionRef{ref.name, std::nullopt});
            LAMINA_CHECK(registry_.delete_function(scope, ref));
            if (before && invoker_)
                for (const auto& pc : *before)
                    if (!ref.qualifier || *ref.qualifier == pc.qualifier)
                        invoker_->provision(scope, pc.function_name, pc.qualifier, {}, 0);
            return empty_response(204, ctx);
        }
        case UpdateFunctionConfiguration: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "UpdateFunctionConfiguration", false));
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(settings, read_settings(body));
            LAMINA_TRY(revision, opt_string(body, "RevisionId"));
            LAMINA_TRY(view, registry_.update_function_configuration(scope, ref, std::move(settings), revision));
            return json_response(200, render_config(scope, view, false), ctx);
        }
        case UpdateFunctionCode: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "UpdateFunctionCode", false));
            std::optional<std::string_view> zip_b64;
            LAMINA_TRY(body, parse_body_extracting(req.body, "", "ZipFile", zip_b64));
            LAMINA_TRY(arch, read_architecture(body));
            LAMINA_TRY(publish, opt_bool(body, "Publish"));
            LAMINA_TRY(dry_run, opt_bool(body, "DryRun"));
            LAMINA_TRY(revision, opt_string(body, "RevisionId"));
            LAMINA_CHECK(registry_.check_exists(scope, FunctionRef{ref.name, std::nullopt}));
            LAMINA_TRY(code, read_code(body, true, zip_b64, ""));
            LAMINA_TRY(zip, code_bytes(code_source_, scope, code));
            LAMINA_TRY(stored, check_code(zip, code.from_s3()));
            if (!dry_run.value_or(false)) LAMINA_CHECK(blobs_.put(stored.sha256_hex, zip));
            control::UpdateCodeInput in;
            in.code = stored;
            in.architecture = arch;
            in.publish = publish.value_or(false);
            in.dry_run = dry_run.value_or(false);
            in.revision_id = revision;
            LAMINA_TRY(view, registry_.update_function_code(scope, ref, std::move(in)));
            return json_response(200, render_config(scope, view, false), ctx);
        }
        case PublishVersion: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "PublishVersion", false));
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(sha, opt_string(body, "CodeSha256"));
            LAMINA_TRY(description, opt_string(body, "Description"));
            LAMINA_TRY(revision, opt_string(body, "RevisionId"));
            if (description && description->size() > 256) {
                control::ValidationErrors v;
                v.add(*description, "description", "Member must have length less than or equal to 256");
                return std::unexpected(v.error());
            }
            LAMINA_TRY(view, registry_.publish_version(scope, ref, sha, description, revision));
            return json_response(201, render_config(scope, view, false), ctx);
        }
        case ListVersionsByFunction: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "ListVersionsByFunction", false));
            LAMINA_TRY(page, read_page(req));
            LAMINA_TRY(result, registry_.list_versions(scope, ref, page));
            json rows = json::array();
            for (const auto& v : result.first) rows.push_back(render_config(scope, v, true));
            json out = {{"Versions", rows}};
            if (result.second) out["NextMarker"] = *result.second;
            return json_response(200, out, ctx);
        }
        case CreateAlias:
        case UpdateAlias: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, op == CreateAlias ? "CreateAlias" : "UpdateAlias", false));
            LAMINA_TRY(body, parse_body(req.body));
            std::string name;
            if (op == CreateAlias) {
                LAMINA_TRY(n, opt_string(body, "Name"));
                name = n.value_or("");
            } else {
                name = m.params.at("Name");
            }
            LAMINA_TRY(version, opt_string(body, "FunctionVersion"));
            LAMINA_TRY(description, opt_string(body, "Description"));
            LAMINA_TRY(revision, opt_string(body, "RevisionId"));
            control::ValidationErrors v;
            if (op == CreateAlias && !body.contains("Name")) v.add_null("name");
            else if (!control::is_valid_alias_name(name))
                v.add(name, "name",
                      name.size() > 128 ? "Member must have length less than or equal to 128"
                                        : std::string("Member must satisfy regular expression pattern: ") +
                                              control::kAliasPattern);
            if (op == CreateAlias && !version) v.add_null("functionVersion");
            if (!v.empty()) return std::unexpected(v.error());
            control::AliasInput in;
            in.function_version = version;
            in.description = description;
            in.revision_id = revision;
            if (const ojson* routing = opt_object(body, "RoutingConfig")) {
                std::map<std::string, double> weights;
                if (const ojson* w = opt_object(*routing, "AdditionalVersionWeights")) {
                    for (const auto& [k, val] : w->items()) {
                        if (!val.is_number()) return std::unexpected(wrong_type("AdditionalVersionWeights", "a map of numbers"));
                        weights[k] = val.get<double>();
                    }
                }
                in.weights = std::move(weights);
            }
            if (op == CreateAlias) {
                LAMINA_TRY(alias, registry_.create_alias(scope, ref, name, std::move(in)));
                return json_response(201, render_alias(scope, alias), ctx);
            }
            std::lock_guard pc_lock(provisioned_mu_);
            LAMINA_TRY(alias, registry_.update_alias(scope, ref, name, std::move(in)));
            // provisioned concurrency on the alias moves with it
            if (auto pc = registry_.get_provisioned_concurrency(scope, FunctionRef{alias.function_name, name}))
                apply_provisioned(scope, *pc);
            return json_response(200, render_alias(scope, alias), ctx);
        }
        case GetAlias:
        case DeleteAlias: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, op == GetAlias ? "GetAlias" : "DeleteAlias", false));
            const std::string& name = m.params.at("Name");
            if (!control::is_valid_alias_name(name)) {
                control::ValidationErrors v;
                v.add(name, "name", std::string("Member must satisfy regular expression pattern: ") + control::kAliasPattern);
                return std::unexpected(v.error());
            }
            if (op == DeleteAlias) {
                std::lock_guard pc_lock(provisioned_mu_);
                LAMINA_CHECK(registry_.delete_alias(scope, ref, name));
                if (invoker_) invoker_->provision(scope, ref.name, name, {}, 0);
                return empty_response(204, ctx);
            }
            LAMINA_TRY(alias, registry_.get_alias(scope, ref, name));
            return json_response(200, render_alias(scope, alias), ctx);
        }
        case ListAliases: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "ListAliases", false));
            LAMINA_TRY(page, read_page(req));
            LAMINA_TRY(result, registry_.list_aliases(scope, ref, req.query_param("FunctionVersion"), page));
            json rows = json::array();
            for (const auto& a : result.first) rows.push_back(render_alias(scope, a));
            json out = {{"Aliases", rows}};
            if (result.second) out["NextMarker"] = *result.second;
            return json_response(200, out, ctx);
        }
        case AddPermission: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "AddPermission"));
            LAMINA_TRY(body, parse_body(req.body));
            control::PermissionInput in;
            LAMINA_TRY(sid, opt_string(body, "StatementId"));
            LAMINA_TRY(action, opt_string(body, "Action"));
            LAMINA_TRY(principal, opt_string(body, "Principal"));
            control::ValidationErrors v;
            static const std::regex kSid(R"([a-zA-Z0-9-_]+)");
            static const std::regex kAction(R"((lambda:[*]|lambda:[a-zA-Z]+|[*]))");
            if (!sid) v.add_null("statementId");
            else if (sid->size() > 100) v.add(*sid, "statementId", "Member must have length less than or equal to 100");
            else if (!regex_full_match(*sid, kSid))
                v.add(*sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
            if (!action) v.add_null("action");
            else if (!regex_full_match(*action, kAction))
                v.add(*action, "action", "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])");
            if (!principal) v.add_null("principal");
            if (!v.empty()) return std::unexpected(v.error());
            in.statement_id = *sid;
            in.action = *action;
            in.principal = *principal;
            LAMINA_TRY(source_arn, opt_string(body, "SourceArn"));
            LAMINA_TRY(source_account, opt_string(body, "SourceAccount"));
            LAMINA_TRY(token, opt_string(body, "EventSourceToken"));
            LAMINA_TRY(org, opt_string(body, "PrincipalOrgID"));
            LAMINA_TRY(url_auth, opt_string(body, "FunctionUrlAuthType"));
            LAMINA_TRY(revision, opt_string(body, "RevisionId"));
            in.source_arn = source_arn;
            in.source_account = source_account;
            in.event_source_token = token;
            in.principal_org_id = org;
            in.function_url_auth_type = url_auth;
            in.revision_id = revision;
            LAMINA_TRY(statement, registry_.add_permission(scope, ref, std::move(in)));
            return json_response(201, json{{"Statement", statement.dump()}}, ctx);
        }
        case GetPolicy: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetPolicy"));
            LAMINA_TRY(policy, registry_.get_policy(scope, ref));
            json statements = json::array();
            for (const auto& s : policy.statements) statements.push_back(s.statement);
            json doc = {{"Version", "2012-10-17"}, {"Id", "default"}, {"Statement", statements}};
            return json_response(200, json{{"Policy", doc.dump()}, {"RevisionId", policy.revision_id}}, ctx);
        }
        case RemovePermission: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "RemovePermission"));
            LAMINA_CHECK(registry_.remove_permission(scope, ref, m.params.at("StatementId"), req.query_param("RevisionId")));
            return empty_response(204, ctx);
        }
        case TagResource: {
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(tags, opt_string_map(body, "Tags"));
            if (!tags) {
                control::ValidationErrors v;
                v.add_null("tags");
                return std::unexpected(v.error());
            }
            LAMINA_CHECK(registry_.tag_resource(scope, m.params.at("Resource"),
                                                std::map<std::string, std::string>(tags->begin(), tags->end())));
            return empty_response(204, ctx);
        }
        case UntagResource: {
            auto keys = req.query_params("tagKeys");
            if (keys.empty()) {
                control::ValidationErrors v;
                v.add_null("tagKeys");
                return std::unexpected(v.error());
            }
            LAMINA_CHECK(registry_.untag_resource(scope, m.params.at("Resource"), keys));
            return empty_response(204, ctx);
        }
        case ListTags: {
            LAMINA_TRY(tags, registry_.list_tags(scope, m.params.at("Resource")));
            return json_response(200, json{{"Tags", tags}}, ctx);
        }
        case PutFunctionEventInvokeConfig:
        case UpdateFunctionEventInvokeConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, operation_name(op).c_str()));
            LAMINA_TRY(body, parse_body(req.body));
            control::EventInvokeConfigInput in;
            LAMINA_TRY(retries, opt_int(body, "MaximumRetryAttempts"));
            LAMINA_TRY(age, opt_int(body, "MaximumEventAgeInSeconds"));
            control::ValidationErrors v;
            if (retries && *retries < 0) v.add(std::to_string(*retries), "maximumRetryAttempts", "Member must have value greater than or equal to 0");
            if (retries && *retries > 2) v.add(std::to_string(*retries), "maximumRetryAttempts", "Member must have value less than or equal to 2");
            if (age && *age < 60) v.add(std::to_string(*age), "maximumEventAgeInSeconds", "Member must have value greater than or equal to 60");
            if (age && *age > 21600) v.add(std::to_string(*age), "maximumEventAgeInSeconds", "Member must have value less than or equal to 21600");
            if (!v.empty()) return std::unexpected(v.error());
            if (retries) in.maximum_retry_attempts = static_cast<int>(*retries);
            if (age) in.maximum_event_age_seconds = static_cast<int>(*age);
            if (const ojson* dc = opt_object(body, "DestinationConfig")) {
                in.has_destination_config = true;
                if (const ojson* s = opt_object(*dc, "OnSuccess")) {
                    LAMINA_TRY(d, opt_string(*s, "Destination"));
                    in.on_success = d;
                }
                if (const ojson* f = opt_object(*dc, "OnFailure")) {
                    LAMINA_TRY(d, opt_string(*f, "Destination"));
                    in.on_failure = d;
                }
            }
            LAMINA_TRY(view, registry_.put_event_invoke_config(scope, ref, std::move(in), op == UpdateFunctionEventInvokeConfig));
            return json_response(200, render_eic(view), ctx);
        }
        case GetFunctionEventInvokeConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunctionEventInvokeConfig"));
            LAMINA_TRY(view, registry_.get_event_invoke_config(scope, ref));
            return json_response(200, render_eic(view), ctx);
        }
        case DeleteFunctionEventInvokeConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "DeleteFunctionEventInvokeConfig"));
            LAMINA_CHECK(registry_.delete_event_invoke_config(scope, ref));
            return empty_response(204, ctx);
        }
        case ListFunctionEventInvokeConfigs: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "ListFunctionEventInvokeConfigs", false));
            LAMINA_TRY(page, read_page(req, 50, 50));
            LAMINA_TRY(result, registry_.list_event_invoke_configs(scope, ref, page));
            json rows = json::array();
            for (const auto& v : result.first) rows.push_back(render_eic(v));
            json out = {{"FunctionEventInvokeConfigs", rows}};
            if (result.second) out["NextMarker"] = *result.second;
            return json_response(200, out, ctx);
        }
        case GetFunctionCodeSigningConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunctionCodeSigningConfig", false));
            LAMINA_CHECK(registry_.check_exists(scope, ref));
            return json_response(200, json::object(), ctx);
        }
        case GetRuntimeManagementConfig:
        case PutRuntimeManagementConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, operation_name(op).c_str()));
            control::Registry::RuntimeManagement r;
            if (op == GetRuntimeManagementConfig) {
                LAMINA_TRY(got, registry_.get_runtime_management(scope, ref));
                r = got;
            } else {
                LAMINA_TRY(body, parse_body(req.body));
                LAMINA_TRY(on, opt_string(body, "UpdateRuntimeOn"));
                LAMINA_TRY(arn, opt_string(body, "RuntimeVersionArn"));
                if (!on || (*on != "Auto" && *on != "Manual" && *on != "FunctionUpdate")) {
                    control::ValidationErrors v;
                    if (!on) v.add_null("updateRuntimeOn");
                    else v.add(*on, "updateRuntimeOn", "Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]");
                    return std::unexpected(v.error());
                }
                LAMINA_TRY(put, registry_.put_runtime_management(scope, ref, *on, arn));
                r = put;
            }
            json out = {{"UpdateRuntimeOn", r.update_runtime_on}, {"FunctionArn", r.function_arn}};
            if (r.runtime_version_arn) out["RuntimeVersionArn"] = *r.runtime_version_arn;
            return json_response(200, out, ctx);
        }
        case GetFunctionRecursionConfig:
        case PutFunctionRecursionConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Unqualified, operation_name(op).c_str(), false));
            std::string loop;
            if (op == GetFunctionRecursionConfig) {
                LAMINA_TRY(got, registry_.get_recursion_config(scope, ref));
                loop = got;
            } else {
                LAMINA_TRY(body, parse_body(req.body));
                LAMINA_TRY(value, opt_string(body, "RecursiveLoop"));
                if (!value || (*value != "Allow" && *value != "Terminate")) {
                    control::ValidationErrors v;
                    if (!value) v.add_null("recursiveLoop");
                    else v.add(*value, "recursiveLoop", "Member must satisfy enum value set: [Terminate, Allow]");
                    return std::unexpected(v.error());
                }
                LAMINA_TRY(put, registry_.put_recursion_config(scope, ref, *value));
                loop = put;
            }
            return json_response(200, json{{"RecursiveLoop", loop}}, ctx);
        }
        case GetAccountSettings: {
            auto usage = registry_.account_usage(scope);
            std::int64_t unreserved = config_.account_concurrency - registry_.reserved_total(scope);
            json out = {{"AccountLimit",
                         {{"TotalCodeSize", control::kTotalCodeStorage},
                          {"CodeSizeUnzipped", control::kMaxUnzippedCode},
                          {"CodeSizeZipped", control::kMaxZippedCode},
                          {"ConcurrentExecutions", config_.account_concurrency},
                          {"UnreservedConcurrentExecutions", unreserved}}},
                        {"AccountUsage",
                         {{"TotalCodeSize", usage.total_code_size + layers_.total_code_size(scope)},
                          {"FunctionCount", usage.function_count}}}};
            return json_response(200, out, ctx);
        }
        case GetFunctionConcurrency: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "GetFunctionConcurrency", false));
            LAMINA_TRY(details, registry_.get_function(scope, FunctionRef{ref.name, std::nullopt}));
            json out = json::object();
            if (details.reserved_concurrency) out["ReservedConcurrentExecutions"] = *details.reserved_concurrency;
            return json_response(200, out, ctx);
        }
        case PutFunctionConcurrency:
        case DeleteFunctionConcurrency: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, operation_name(op).c_str(), false));
            if (ref.qualifier)
                return fail(ErrorCode::InvalidParameterValue,
                            "This operation is permitted on Lambda functions only. Aliases and versions do not "
                            "support this operation. Please specify either a function name or an unqualified "
                            "function ARN.");
            if (op == DeleteFunctionConcurrency) {
                LAMINA_CHECK(registry_.delete_function_concurrency(scope, ref));
                http::Response r;
                r.status = 204;
                r.headers.set("x-amzn-RequestId", ctx.request_id);
                return r;
            }
            // AWS answers a missing function before it looks at the value
            if (auto exists = registry_.check_exists(scope, FunctionRef{ref.name, std::nullopt}); !exists)
                return fail(ErrorCode::ResourceNotFound,
                            "Function not found: " + control::qualified_arn(scope, ref.name, "$LATEST"));
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(wanted, concurrency_count(body, "ReservedConcurrentExecutions", 0));
            control::CapacityLimits limits{config_.account_concurrency, config_.min_unreserved};
            LAMINA_TRY(put, registry_.put_function_concurrency(scope, ref, wanted, limits));
            return json_response(200, json{{"ReservedConcurrentExecutions", put}}, ctx);
        }
        case PutProvisionedConcurrencyConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "PutProvisionedConcurrencyConfig"));
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(wanted, concurrency_count(body, "ProvisionedConcurrentExecutions", 1));
            control::CapacityLimits limits{config_.account_concurrency, config_.min_unreserved};
            std::lock_guard pc_lock(provisioned_mu_);
            LAMINA_TRY(pc, registry_.put_provisioned_concurrency(scope, ref, wanted, limits));
            apply_provisioned(scope, pc);
            // AWS answers at once; the environments initialise in the background
            json out = {{"RequestedProvisionedConcurrentExecutions", pc.config.requested},
                        {"AvailableProvisionedConcurrentExecutions", 0},
                        {"AllocatedProvisionedConcurrentExecutions", 0},
                        {"Status", "IN_PROGRESS"},
                        {"LastModified", pc.config.last_modified}};
            return json_response(202, out, ctx);
        }
        case GetProvisionedConcurrencyConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "GetProvisionedConcurrencyConfig"));
            LAMINA_TRY(pc, registry_.get_provisioned_concurrency(scope, ref));
            return json_response(200, render_provisioned(scope, pc, false), ctx);
        }
        case DeleteProvisionedConcurrencyConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "DeleteProvisionedConcurrencyConfig"));
            std::lock_guard pc_lock(provisioned_mu_);
            LAMINA_TRY(removed, registry_.delete_provisioned_concurrency(scope, ref));
            if (removed && invoker_) invoker_->provision(scope, removed->function_name, removed->qualifier, {}, 0);
            return empty_response(204, ctx);
        }
        case ListProvisionedConcurrencyConfigs: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Create, "ListProvisionedConcurrencyConfigs", false));
            LAMINA_TRY(all, registry_.list_provisioned_concurrency(scope, ref));
            json items = json::array();
            for (const auto& pc : all) items.push_back(render_provisioned(scope, pc, true));
            return json_response(200, json{{"ProvisionedConcurrencyConfigs", items}}, ctx);
        }
        case GetFunctionUrlConfig: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunctionUrlConfig"));
            LAMINA_CHECK(registry_.check_exists(scope, ref));
            return fail(ErrorCode::ResourceNotFound, "The resource you requested does not exist.");
        }
        case ListFunctionUrlConfigs: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "ListFunctionUrlConfigs", false));
            LAMINA_CHECK(registry_.check_exists(scope, ref));
            return json_response(200, json{{"FunctionUrlConfigs", json::array()}}, ctx);
        }
        case ListEventSourceMappings:
            return json_response(200, json{{"EventSourceMappings", json::array()}}, ctx);
        case DownloadCode: {
            const std::string& blob = m.params.at("Blob");
            if (!registry_.blob_is_referenced(blob) && !layers_.blob_is_referenced(blob))
                return fail(ErrorCode::ResourceNotFound, "The resource you requested does not exist.");
            LAMINA_TRY(bytes, blobs_.read(blob));
            http::Response r;
            r.status = 200;
            r.headers.set("Content-Type", "application/zip");
            r.headers.set("x-amzn-RequestId", ctx.request_id);
            r.body = std::move(bytes);
            return r;
        }
        case PublishLayerVersion: {
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            auto [owner, name] = owner_name;
            std::optional<std::string_view> zip_b64;
            LAMINA_TRY(body, parse_body_extracting(req.body, "Content", "ZipFile", zip_b64));
            LAMINA_TRY(description, opt_string(body, "Description"));
            LAMINA_TRY(runtimes, opt_string_list(body, "CompatibleRuntimes"));
            LAMINA_TRY(archs, opt_string_list(body, "CompatibleArchitectures"));
            LAMINA_TRY(license, opt_string(body, "LicenseInfo"));
            control::ValidationErrors v;
            if (!body.contains("Content")) v.add_null("content");
            const auto& supported = control::supported_runtimes();
            if (runtimes) {
                // Layers may declare deprecated runtimes (AWS accepts them); the
                // message, like AWS's, lists only the current ones.
                bool bad = runtimes->size() > 15;
                for (const auto& r : *runtimes)
                    if (std::find(supported.begin(), supported.end(), r) == supported.end() &&
                        !control::is_deprecated_runtime(r) && r != "ruby4.0")
                        bad = true;
                if (bad)
                    v.add("[" + join_list(*runtimes) + "]", "compatibleRuntimes",
                          runtimes->size() > 15 ? "Member must have length less than or equal to 15"
                                                : "Member must satisfy enum value set: [" + join_list(supported) + "]");
            }
            if (archs) {
                bool bad = archs->size() > 2;
                for (const auto& a : *archs)
                    if (a != "x86_64" && a != "arm64") bad = true;
                if (bad)
                    v.add("[" + join_list(*archs) + "]", "compatibleArchitectures",
                          archs->size() > 2 ? "Member must have length less than or equal to 2"
                                            : "Member must satisfy constraint: [Member must satisfy enum value set: "
                                              "[x86_64, arm64], Member must not be null]");
            }
            if (description && description->size() > 256)
                v.add(*description, "description", "Member must have length less than or equal to 256");
            if (license && license->size() > 512)
                v.add(*license, "licenseInfo", "Member must have length less than or equal to 512");
            if (!v.empty()) return std::unexpected(v.error());
            if (!(owner == scope))
                return fail(ErrorCode::AccessDenied, "User: arn:aws:iam::" + scope.account +
                                                         ":root is not authorized to perform: lambda:PublishLayerVersion on resource: " +
                                                         control::layer_arn(owner, name));
            const ojson* content = opt_object(body, "Content");
            if (!content) return std::unexpected(wrong_type("Content", "an object"));
            LAMINA_TRY(code, read_code(*content, false, zip_b64, "content."));
            LAMINA_TRY(zip, code_bytes(code_source_, scope, code));
            LAMINA_TRY(stored, check_code(zip, code.from_s3()));
            LAMINA_CHECK(blobs_.put(stored.sha256_hex, zip));
            // Extract now: the /opt tree is ready before any function uses it,
            // and a zip bomb is refused here rather than at first use.
            LAMINA_TRY(tree, layer_cache_.extract(stored.sha256_hex, zip));
            (void)tree;
            control::PublishLayerInput in;
            in.name = name;
            in.description = description.value_or("");
            in.compatible_runtimes = runtimes;
            in.compatible_architectures = archs;
            in.license_info = license;
            in.code_sha256 = stored.sha256_b64;
            in.code_blob = stored.sha256_hex;
            in.code_size = stored.size;
            in.unzipped_size = stored.unzipped_size;
            LAMINA_TRY(view, layers_.publish(scope, std::move(in)));
            return json_response(201, render_layer_version(view, ctx), ctx);
        }
        case GetLayerVersion:
        case DeleteLayerVersion: {
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
            if (op == DeleteLayerVersion) {
                if (!(owner_name.first == scope)) return empty_response(204, ctx);
                LAMINA_CHECK(layers_.remove(scope, owner_name.second, version));
                return empty_response(204, ctx);
            }
            LAMINA_TRY(view, layers_.get(scope, owner_name.first, owner_name.second, version));
            return json_response(200, render_layer_version(view, ctx), ctx);
        }
        case GetLayerVersionByArn: {
            auto arn = req.query_param("Arn");
            if (!arn) {
                control::ValidationErrors v;
                v.add_null("arn");
                return std::unexpected(v.error());
            }
            LAMINA_TRY(view, layers_.get_by_arn(scope, *arn));
            return json_response(200, render_layer_version(view, ctx), ctx);
        }
        case ListLayers:
        case ListLayerVersions: {
            auto runtime = req.query_param("CompatibleRuntime");
            auto arch = req.query_param("CompatibleArchitecture");
            LAMINA_CHECK(check_filters(runtime, arch));
            LAMINA_TRY(page, read_page(req, 50, 50));
            if (op == ListLayers) {
                LAMINA_TRY(result, layers_.list_layers(scope, runtime, arch, page.marker, page.max_items));
                json rows = json::array();
                for (const auto& item : result.first)
                    rows.push_back({{"LayerName", item.name},
                                    {"LayerArn", control::layer_arn(item.latest.owner, item.name)},
                                    {"LatestMatchingVersion", render_layer_row(item.latest)}});
                json out = {{"Layers", rows}};
                if (result.second) out["NextMarker"] = *result.second;
                return json_response(200, out, ctx);
            }
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            json rows = json::array();
            json out;
            if (owner_name.first == scope) {
                LAMINA_TRY(result, layers_.list_versions(scope, owner_name.second, runtime, arch, page.marker,
                                                         page.max_items));
                for (const auto& v : result.first) rows.push_back(render_layer_row(v));
                if (result.second) out["NextMarker"] = *result.second;
            }
            out["LayerVersions"] = rows;
            return json_response(200, out, ctx);
        }
        case AddLayerVersionPermission: {
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
            LAMINA_TRY(body, parse_body(req.body));
            LAMINA_TRY(sid, opt_string(body, "StatementId"));
            LAMINA_TRY(action, opt_string(body, "Action"));
            LAMINA_TRY(principal, opt_string(body, "Principal"));
            LAMINA_TRY(org, opt_string(body, "OrganizationId"));
            static const std::regex kSid(R"([a-zA-Z0-9-_]+)");
            static const std::regex kPrincipal(R"(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)");
            static const std::regex kOrg(R"(o-[a-z0-9]{10,32})");
            control::ValidationErrors v;
            if (!sid) v.add_null("statementId");
            else if (sid->empty() || sid->size() > 100 || !regex_full_match(*sid, kSid))
                v.add(*sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
            if (!action) v.add_null("action");
            else if (*action != "lambda:GetLayerVersion")
                v.add(*action, "action", "Member must satisfy regular expression pattern: lambda:GetLayerVersion");
            if (!principal) v.add_null("principal");
            else if (!regex_full_match(*principal, kPrincipal))
                v.add(*principal, "principal",
                      R"(Member must satisfy regular expression pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)");
            if (org && !regex_full_match(*org, kOrg))
                v.add(*org, "organizationId", "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}");
            if (!v.empty()) return std::unexpected(v.error());
            control::LayerPermissionInput in{*sid, *action, *principal, org, req.query_param("RevisionId")};
            LAMINA_TRY(added, layers_.add_permission(owner_name.first == scope ? scope : owner_name.first,
                                                     owner_name.second, version, std::move(in)));
            return json_response(201, json{{"Statement", added.first.dump()}, {"RevisionId", added.second}}, ctx);
        }
        case GetLayerVersionPolicy: {
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
            LAMINA_TRY(policy, layers_.get_policy(owner_name.first, owner_name.second, version));
            return json_response(200, json{{"Policy", policy.first}, {"RevisionId", policy.second}}, ctx);
        }
        case RemoveLayerVersionPermission: {
            LAMINA_TRY(owner_name, layer_name(scope, m.params.at("LayerName")));
            LAMINA_TRY(version, layer_version_number(m.params.at("VersionNumber")));
            LAMINA_CHECK(layers_.remove_permission(owner_name.first, owner_name.second, version,
                                                   m.params.at("StatementId"), req.query_param("RevisionId")));
            return empty_response(204, ctx);
        }
        case OptTree: {
            LAMINA_TRY(ref, function_ref(ctx, req, m, NameShape::Read, "GetFunction"));
            LAMINA_TRY(view, registry_.get_configuration(scope, ref));
            std::vector<std::string> blobs;
            json arns = json::array();
            for (const auto& l : view.config.layers) {
                blobs.push_back(l.blob);
                arns.push_back(l.arn);
            }
            LAMINA_TRY(path, layer_cache_.assemble(blobs));
            return json_response(200, json{{"Path", path.string()}, {"Layers", arns}}, ctx);
        }
        default:
            return fail(ErrorCode::UnknownOperation, "Unknown operation");
    }
}

}  // namespace lamina::api
