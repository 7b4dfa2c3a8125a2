#pragma once
// The Lambda operations lamina routes: one Op per AWS operation, each with
// exactly one route. Private to the api module; http::Router carries ops as
// ints, converted only by op_id / op_from_id.

#include <optional>
#include <span>
#include <string_view>

#include "lamina/api/request_context.hpp"
#include "lamina/common/error.hpp"
#include "lamina/http/message.hpp"
#include "lamina/http/router.hpp"

namespace lamina::api {

enum class Op : int {
    // emulated
    CreateFunction = 1001,
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
    // known, answered NotImplementedException naming the operation
    InvokeWithResponseStream,
    CreateFunctionUrlConfig,
    UpdateFunctionUrlConfig,
    DeleteFunctionUrlConfig,
    CreateEventSourceMapping,
    GetEventSourceMapping,
    UpdateEventSourceMapping,
    DeleteEventSourceMapping,
    PutFunctionCodeSigningConfig,
    DeleteFunctionCodeSigningConfig,
    CreateCodeSigningConfig,
    ListCodeSigningConfigs,
    GetCodeSigningConfig,
    UpdateCodeSigningConfig,
    DeleteCodeSigningConfig,
    ListFunctionsByCodeSigningConfig,
    // durable executions and capacity providers (late 2025)
    CheckpointDurableExecution,
    GetDurableExecution,
    GetDurableExecutionHistory,
    GetDurableExecutionState,
    ListDurableExecutionsByFunction,
    SendDurableExecutionCallbackFailure,
    SendDurableExecutionCallbackHeartbeat,
    SendDurableExecutionCallbackSuccess,
    StopDurableExecution,
    CreateCapacityProvider,
    GetCapacityProvider,
    UpdateCapacityProvider,
    DeleteCapacityProvider,
    ListCapacityProviders,
    ListFunctionVersionsByCapacityProvider,
    GetFunctionScalingConfig,
    PutFunctionScalingConfig,
};

inline constexpr Op kFirstOp = Op::CreateFunction;
inline constexpr Op kLastOp = Op::PutFunctionScalingConfig;

struct LambdaRoute {
    Op op;
    const char* method;
    const char* pattern;  // http::Router template
    const char* name;     // the AWS operation name
    bool emulated;
};

// Every route, emulated ones first.
std::span<const LambdaRoute> lambda_routes();
// The route of an op (every op has one).
const LambdaRoute& route_of(Op op);
const char* op_name(Op op);

constexpr int op_id(Op op) { return static_cast<int>(op); }
// The op of a router id, or nullopt when the id is not a Lambda operation's.
std::optional<Op> op_from_id(int id);
// A mutation that only changes the registry (its memory and one SQLite
// transaction) and, for CreateFunction, stores a zip that came inline:
// cheap enough to answer on the I/O thread when nothing it writes is
// fsynced (service.cpp). A code source that reads files (S3, an image, a
// hot-reload folder) or a body over 64 KiB is not light.
bool light_mutation(int operation, std::string_view body);

// Request members of the model that lamina does not emulate, on operations it
// does: a request carrying one is refused with a 400 naming the member,
// never answered as if the member had not been sent. (Members of operations
// lamina does not emulate at all are refused with the operation: 501.)
enum class MemberIn { Body, Header, Query };
struct RefusedMember {
    Op op;
    MemberIn in;
    const char* member;  // as the model names it ("DurableExecutionName")
    const char* wire;  // as it travels ("X-Amz-Durable-Execution-Name"; = member for body members)
    const char* what;  // the feature lamina does not emulate ("durable functions")
};
std::span<const RefusedMember> refused_members();
// InvalidParameterValue naming the first refused member `req` carries, if any.
Status refuse_unemulated_members(Op op, const http::Request& req);

// One routed request, as a handler sees it.
struct LambdaCall {
    Op op;
    const RequestContext& ctx;
    const http::Request& req;
    const http::RouteMatch& match;
    // req.body, writable: a large ZipFile is decoded in place over its base64
    // text (writable_part, read_code) instead of into a second buffer.
    std::string& body;
};

}  // namespace lamina::api
