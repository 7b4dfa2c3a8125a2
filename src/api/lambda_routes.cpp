#include "lambda_routes.hpp"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "json_input.hpp"
#include "lamina/api/aws_error.hpp"
#include "lamina/api/lambda_api.hpp"
#include "lamina/control/validation.hpp"

namespace lamina::api {

namespace {

constexpr LambdaRoute kRoutes[] = {
    {Op::CreateFunction, "POST", "/2015-03-31/functions", "CreateFunction", true},
    {Op::ListFunctions, "GET", "/2015-03-31/functions", "ListFunctions", true},
    {Op::GetFunction, "GET", "/2015-03-31/functions/{FunctionName}", "GetFunction", true},
    {Op::DeleteFunction, "DELETE", "/2015-03-31/functions/{FunctionName}", "DeleteFunction", true},
    {Op::GetFunctionConfiguration, "GET", "/2015-03-31/functions/{FunctionName}/configuration",
     "GetFunctionConfiguration", true},
    {Op::UpdateFunctionConfiguration, "PUT", "/2015-03-31/functions/{FunctionName}/configuration",
     "UpdateFunctionConfiguration", true},
    {Op::UpdateFunctionCode, "PUT", "/2015-03-31/functions/{FunctionName}/code",
     "UpdateFunctionCode", true},
    {Op::PublishVersion, "POST", "/2015-03-31/functions/{FunctionName}/versions", "PublishVersion",
     true},
    {Op::ListVersionsByFunction, "GET", "/2015-03-31/functions/{FunctionName}/versions",
     "ListVersionsByFunction", true},
    {Op::CreateAlias, "POST", "/2015-03-31/functions/{FunctionName}/aliases", "CreateAlias", true},
    {Op::ListAliases, "GET", "/2015-03-31/functions/{FunctionName}/aliases", "ListAliases", true},
    {Op::GetAlias, "GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "GetAlias", true},
    {Op::UpdateAlias, "PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "UpdateAlias",
     true},
    {Op::DeleteAlias, "DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
     "DeleteAlias", true},
    {Op::AddPermission, "POST", "/2015-03-31/functions/{FunctionName}/policy", "AddPermission",
     true},
    {Op::GetPolicy, "GET", "/2015-03-31/functions/{FunctionName}/policy", "GetPolicy", true},
    {Op::RemovePermission, "DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}",
     "RemovePermission", true},
    {Op::TagResource, "POST", "/2017-03-31/tags/{Resource}", "TagResource", true},
    {Op::UntagResource, "DELETE", "/2017-03-31/tags/{Resource}", "UntagResource", true},
    {Op::ListTags, "GET", "/2017-03-31/tags/{Resource}", "ListTags", true},
    {Op::PutFunctionEventInvokeConfig, "PUT",
     "/2019-09-25/functions/{FunctionName}/event-invoke-config", "PutFunctionEventInvokeConfig",
     true},
    {Op::GetFunctionEventInvokeConfig, "GET",
     "/2019-09-25/functions/{FunctionName}/event-invoke-config", "GetFunctionEventInvokeConfig",
     true},
    {Op::UpdateFunctionEventInvokeConfig, "POST",
     "/2019-09-25/functions/{FunctionName}/event-invoke-config", "UpdateFunctionEventInvokeConfig",
     true},
    {Op::DeleteFunctionEventInvokeConfig, "DELETE",
     "/2019-09-25/functions/{FunctionName}/event-invoke-config", "DeleteFunctionEventInvokeConfig",
     true},
    {Op::ListFunctionEventInvokeConfigs, "GET",
     "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
     "ListFunctionEventInvokeConfigs", true},
    {Op::GetFunctionCodeSigningConfig, "GET",
     "/2020-06-30/functions/{FunctionName}/code-signing-config", "GetFunctionCodeSigningConfig",
     true},
    {Op::GetRuntimeManagementConfig, "GET",
     "/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig",
     true},
    {Op::PutRuntimeManagementConfig, "PUT",
     "/2021-07-20/functions/{FunctionName}/runtime-management-config", "PutRuntimeManagementConfig",
     true},
    {Op::GetFunctionRecursionConfig, "GET", "/2024-08-31/functions/{FunctionName}/recursion-config",
     "GetFunctionRecursionConfig", true},
    {Op::PutFunctionRecursionConfig, "PUT", "/2024-08-31/functions/{FunctionName}/recursion-config",
     "PutFunctionRecursionConfig", true},
    {Op::GetAccountSettings, "GET", "/2016-08-19/account-settings", "GetAccountSettings", true},
    {Op::GetFunctionConcurrency, "GET", "/2019-09-30/functions/{FunctionName}/concurrency",
     "GetFunctionConcurrency", true},
    {Op::GetFunctionUrlConfig, "GET", "/2021-10-31/functions/{FunctionName}/url",
     "GetFunctionUrlConfig", true},
    {Op::ListFunctionUrlConfigs, "GET", "/2021-10-31/functions/{FunctionName}/urls",
     "ListFunctionUrlConfigs", true},
    {Op::ListEventSourceMappings, "GET", "/2015-03-31/event-source-mappings",
     "ListEventSourceMappings", true},
    {Op::DownloadCode, "GET", "/_lamina/code/{Blob}", "DownloadCode", true},
    {Op::PublishLayerVersion, "POST", "/2018-10-31/layers/{LayerName}/versions",
     "PublishLayerVersion", true},
    {Op::ListLayerVersions, "GET", "/2018-10-31/layers/{LayerName}/versions", "ListLayerVersions",
     true},
    {Op::GetLayerVersion, "GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
     "GetLayerVersion", true},
    {Op::DeleteLayerVersion, "DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
     "DeleteLayerVersion", true},
    {Op::GetLayerVersionByArn, "GET", "/2018-10-31/layers?find=LayerVersion",
     "GetLayerVersionByArn", true},
    {Op::ListLayers, "GET", "/2018-10-31/layers", "ListLayers", true},
    {Op::AddLayerVersionPermission, "POST",
     "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "AddLayerVersionPermission",
     true},
    {Op::GetLayerVersionPolicy, "GET",
     "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "GetLayerVersionPolicy",
     true},
    {Op::RemoveLayerVersionPermission, "DELETE",
     "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}",
     "RemoveLayerVersionPermission", true},
    {Op::OptTree, "GET", "/_lamina/opt/{FunctionName}", "LaminaOptTree", true},
    {Op::Invoke, "POST", "/2015-03-31/functions/{FunctionName}/invocations", "Invoke", true},
    {Op::InvokeAsync, "POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync",
     true},
    {Op::PutFunctionConcurrency, "PUT", "/2017-10-31/functions/{FunctionName}/concurrency",
     "PutFunctionConcurrency", true},
    {Op::DeleteFunctionConcurrency, "DELETE", "/2017-10-31/functions/{FunctionName}/concurrency",
     "DeleteFunctionConcurrency", true},
    {Op::ListProvisionedConcurrencyConfigs, "GET",
     "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL",
     "ListProvisionedConcurrencyConfigs", true},
    {Op::PutProvisionedConcurrencyConfig, "PUT",
     "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
     "PutProvisionedConcurrencyConfig", true},
    {Op::GetProvisionedConcurrencyConfig, "GET",
     "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
     "GetProvisionedConcurrencyConfig", true},
    {Op::DeleteProvisionedConcurrencyConfig, "DELETE",
     "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
     "DeleteProvisionedConcurrencyConfig", true},
    {Op::CreateFunctionUrlConfig, "POST", "/2021-10-31/functions/{FunctionName}/url",
     "CreateFunctionUrlConfig", true},
    {Op::UpdateFunctionUrlConfig, "PUT", "/2021-10-31/functions/{FunctionName}/url",
     "UpdateFunctionUrlConfig", true},
    {Op::DeleteFunctionUrlConfig, "DELETE", "/2021-10-31/functions/{FunctionName}/url",
     "DeleteFunctionUrlConfig", true},
    {Op::InvokeWithResponseStream, "POST",
     "/2021-11-15/functions/{FunctionName}/response-streaming-invocations",
     "InvokeWithResponseStream", true},
    {Op::CreateEventSourceMapping, "POST", "/2015-03-31/event-source-mappings",
     "CreateEventSourceMapping", true},
    {Op::GetEventSourceMapping, "GET", "/2015-03-31/event-source-mappings/{UUID}",
     "GetEventSourceMapping", true},
    {Op::UpdateEventSourceMapping, "PUT", "/2015-03-31/event-source-mappings/{UUID}",
     "UpdateEventSourceMapping", true},
    {Op::DeleteEventSourceMapping, "DELETE", "/2015-03-31/event-source-mappings/{UUID}",
     "DeleteEventSourceMapping", true},
    // known, not emulated
    {Op::PutFunctionCodeSigningConfig, "PUT",
     "/2020-06-30/functions/{FunctionName}/code-signing-config", "PutFunctionCodeSigningConfig",
     false},
    {Op::DeleteFunctionCodeSigningConfig, "DELETE",
     "/2020-06-30/functions/{FunctionName}/code-signing-config", "DeleteFunctionCodeSigningConfig",
     false},
    {Op::CreateCodeSigningConfig, "POST", "/2020-04-22/code-signing-configs",
     "CreateCodeSigningConfig", false},
    {Op::ListCodeSigningConfigs, "GET", "/2020-04-22/code-signing-configs",
     "ListCodeSigningConfigs", false},
    {Op::GetCodeSigningConfig, "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}",
     "GetCodeSigningConfig", false},
    {Op::UpdateCodeSigningConfig, "PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}",
     "UpdateCodeSigningConfig", false},
    {Op::DeleteCodeSigningConfig, "DELETE",
     "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "DeleteCodeSigningConfig", false},
    {Op::ListFunctionsByCodeSigningConfig, "GET",
     "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions",
     "ListFunctionsByCodeSigningConfig", false},
    // durable executions and capacity providers (added to the API in late 2025)
    {Op::CheckpointDurableExecution, "POST",
     "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint",
     "CheckpointDurableExecution", false},
    {Op::GetDurableExecution, "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}",
     "GetDurableExecution", false},
    {Op::GetDurableExecutionHistory, "GET",
     "/2025-12-01/durable-executions/{DurableExecutionArn}/history", "GetDurableExecutionHistory",
     false},
    {Op::GetDurableExecutionState, "GET",
     "/2025-12-01/durable-executions/{DurableExecutionArn}/state", "GetDurableExecutionState",
     false},
    {Op::ListDurableExecutionsByFunction, "GET",
     "/2025-12-01/functions/{FunctionName}/durable-executions", "ListDurableExecutionsByFunction",
     false},
    {Op::SendDurableExecutionCallbackFailure, "POST",
     "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail",
     "SendDurableExecutionCallbackFailure", false},
    {Op::SendDurableExecutionCallbackHeartbeat, "POST",
     "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat",
     "SendDurableExecutionCallbackHeartbeat", false},
    {Op::SendDurableExecutionCallbackSuccess, "POST",
     "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed",
     "SendDurableExecutionCallbackSuccess", false},
    {Op::StopDurableExecution, "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/stop",
     "StopDurableExecution", false},
    {Op::CreateCapacityProvider, "POST", "/2025-11-30/capacity-providers", "CreateCapacityProvider",
     false},
    {Op::GetCapacityProvider, "GET", "/2025-11-30/capacity-providers/{CapacityProviderName}",
     "GetCapacityProvider", false},
    {Op::UpdateCapacityProvider, "PUT", "/2025-11-30/capacity-providers/{CapacityProviderName}",
     "UpdateCapacityProvider", false},
    {Op::DeleteCapacityProvider, "DELETE", "/2025-11-30/capacity-providers/{CapacityProviderName}",
     "DeleteCapacityProvider", false},
    {Op::ListCapacityProviders, "GET", "/2025-11-30/capacity-providers", "ListCapacityProviders",
     false},
    {Op::ListFunctionVersionsByCapacityProvider, "GET",
     "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions",
     "ListFunctionVersionsByCapacityProvider", false},
    {Op::GetFunctionScalingConfig, "GET",
     "/2025-11-30/functions/{FunctionName}/function-scaling-config", "GetFunctionScalingConfig",
     false},
    {Op::PutFunctionScalingConfig, "PUT",
     "/2025-11-30/functions/{FunctionName}/function-scaling-config", "PutFunctionScalingConfig",
     false},
};

constexpr RefusedMember kRefused[] = {
    {Op::CreateFunction, MemberIn::Body, "CodeSigningConfigArn", "CodeSigningConfigArn",
     "code signing"},
    {Op::CreateFunction, MemberIn::Body, "DurableConfig", "DurableConfig", "durable functions"},
    {Op::CreateFunction, MemberIn::Body, "CapacityProviderConfig", "CapacityProviderConfig",
     "capacity providers (Lambda Managed Instances)"},
    {Op::CreateFunction, MemberIn::Body, "PublishTo", "PublishTo",
     "capacity providers (Lambda Managed Instances)"},
    {Op::UpdateFunctionConfiguration, MemberIn::Body, "DurableConfig", "DurableConfig",
     "durable functions"},
    {Op::UpdateFunctionConfiguration, MemberIn::Body, "CapacityProviderConfig",
     "CapacityProviderConfig", "capacity providers (Lambda Managed Instances)"},
    {Op::PublishVersion, MemberIn::Body, "PublishTo", "PublishTo",
     "capacity providers (Lambda Managed Instances)"},
    {Op::UpdateFunctionCode, MemberIn::Body, "PublishTo", "PublishTo",
     "capacity providers (Lambda Managed Instances)"},
    {Op::UpdateFunctionCode, MemberIn::Body, "SourceKMSKeyArn", "SourceKMSKeyArn",
     "encrypting code with a customer managed KMS key"},
    {Op::CreateEventSourceMapping, MemberIn::Body, "MetricsConfig", "MetricsConfig",
     "event source mapping metrics"},
    {Op::CreateEventSourceMapping, MemberIn::Body, "LoggingConfig", "LoggingConfig",
     "event source mapping logging"},
    {Op::CreateEventSourceMapping, MemberIn::Body, "KMSKeyArn", "KMSKeyArn",
     "encrypting filter criteria with a customer managed KMS key"},
    {Op::UpdateEventSourceMapping, MemberIn::Body, "MetricsConfig", "MetricsConfig",
     "event source mapping metrics"},
    {Op::UpdateEventSourceMapping, MemberIn::Body, "LoggingConfig", "LoggingConfig",
     "event source mapping logging"},
    {Op::UpdateEventSourceMapping, MemberIn::Body, "KMSKeyArn", "KMSKeyArn",
     "encrypting filter criteria with a customer managed KMS key"},
    {Op::ListFunctions, MemberIn::Query, "MasterRegion", "MasterRegion", "Lambda@Edge replicas"},
    {Op::Invoke, MemberIn::Header, "DurableExecutionName", "X-Amz-Durable-Execution-Name",
     "durable functions"},
};

// The 413 answer naming the operation, as AWS words it.
// (answered at the edge, before the request has an id: it gets a fresh one)
std::function<http::Response(std::uint64_t)> too_large_for(std::string op, IdSource& ids) {
    return [op = std::move(op), &ids](std::uint64_t limit) {
        return rest_json_error(Error{ErrorCode::RequestEntityTooLarge,
                                     "Request must be smaller than " + std::to_string(limit) +
                                         " bytes for the " + op + " operation"},
                               ids.uuid());
    };
}

}  // namespace

std::span<const LambdaRoute> lambda_routes() { return kRoutes; }

std::span<const RefusedMember> refused_members() { return kRefused; }

namespace {

// Whether the body holds each refused body member's quoted name anywhere, as
// a bitmask over kRefused: one pass from quote to quote (memchr), where a
// search per name crossed a 27 MB ZipFile once each.
std::uint64_t body_members_named(Op op, const std::string& body) {
    static_assert(std::size(kRefused) <= 64);
    std::vector<std::pair<std::size_t, std::string>> wanted;
    for (std::size_t k = 0; k < std::size(kRefused); ++k)
        if (kRefused[k].op == op && kRefused[k].in == MemberIn::Body)
            wanted.emplace_back(k, std::string("\"") + kRefused[k].wire + "\"");
    std::uint64_t named = 0;
    if (wanted.empty()) return named;
    std::string_view text(body);
    for (std::size_t pos = text.find('"'); pos != std::string_view::npos;
         pos = text.find('"', pos + 1))
        for (const auto& [k, needle] : wanted)
            if (text.substr(pos, needle.size()) == needle) named |= std::uint64_t{1} << k;
    return named;
}

}  // namespace

Status refuse_unemulated_members(Op op, const http::Request& req) {
    std::optional<ojson> body;  // parsed once, when a refused name appears in it
    const std::uint64_t named = body_members_named(op, req.body);
    for (const auto& r : kRefused) {
        if (r.op != op) continue;
        bool sent = false;
        switch (r.in) {
            case MemberIn::Header:
                sent = req.headers.find(r.wire) != nullptr;
                break;
            case MemberIn::Query:
                sent = req.query_param(r.wire).has_value();
                break;
            case MemberIn::Body: {
                // base64 code never contains a quote: a large upload is not parsed here
                if (!(named & (std::uint64_t{1} << (&r - std::data(kRefused))))) break;
                if (!body) {
                    std::optional<std::string_view> blob;
                    auto parsed = parse_body_extracting(
                        req.body, op == Op::CreateFunction ? "Code" : "", "ZipFile", blob);
                    if (!parsed) return {};  // the operation reports the bad body
                    body = std::move(*parsed);
                }
                auto it = body->find(r.wire);
                sent = it != body->end() && !it->is_null();
                break;
            }
        }
        if (sent)
            return fail(ErrorCode::InvalidParameterValue,
                        std::string("lamina does not emulate ") + r.what + " yet, so " +
                            op_name(op) + " refuses " + r.member +
                            " rather than ignore it: send the request without " + r.member + ".");
    }
    return {};
}

const LambdaRoute& route_of(Op op) {
    for (const auto& r : kRoutes)
        if (r.op == op) return r;
    throw std::logic_error("lamina: an Op without a route");
}

const char* op_name(Op op) { return route_of(op).name; }

std::optional<Op> op_from_id(int id) {
    if (id < op_id(kFirstOp) || id > op_id(kLastOp)) return std::nullopt;
    return static_cast<Op>(id);
}

bool light_mutation(int operation, std::string_view body) {
    if (body.size() > 64 * 1024) return false;
    auto op = op_from_id(operation);
    if (!op) return false;
    switch (*op) {
        case Op::CreateFunction:  // a ZipFile only: S3 code is read from disk, an image resolved
            return body.find("\"S3Bucket\"") == std::string_view::npos &&
                   body.find("\"ImageUri\"") == std::string_view::npos;
        case Op::PublishVersion:
        case Op::CreateAlias:
        case Op::AddPermission:
        case Op::RemovePermission:
        case Op::TagResource:
        case Op::UntagResource:
            return true;
        default:  // the others may start, stop or re-key environments, or read files
            return false;
    }
}

void LambdaApi::add_routes(http::Router& router) {
    for (const auto& r : kRoutes) router.add(r.method, r.pattern, op_id(r.op));
}

bool LambdaApi::owns(int operation) { return op_from_id(operation).has_value(); }

std::string LambdaApi::operation_name(int operation) {
    auto op = op_from_id(operation);
    return op ? op_name(*op) : "Unknown";
}

http::BodyPolicy LambdaApi::body_policy(const http::RequestHead& head,
                                        const std::string& operation) const {
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
        p.too_large = too_large_for(layer_upload            ? "PublishLayerVersion"
                                    : head.method == "POST" ? "CreateFunction"
                                                            : "UpdateFunctionCode",
                                    ids_);
        return p;
    }
    p.limit = 6 * 1024 * 1024;
    // the message names the operation called, as AWS's do
    bool invocations = path.size() >= 12 && path.compare(path.size() - 12, 12, "/invocations") == 0;
    std::string op = invocations || operation.empty() ? std::string("InvokeFunction") : operation;
    p.too_large = too_large_for(op, ids_);
    return p;
}

}  // namespace lamina::api
