#pragma once
// The Lambda rest-json operations: one handler per AWS operation. Each
// handler parses and validates its input exactly as AWS does, calls the
// control plane and renders AWS's output shape. Errors are returned as
// lamina::Error and rendered by aws_error.

#include <mutex>
#include <string>

#include "lamina/api/request_context.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/config.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"
#include "lamina/s3/object_source.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::api {

class LambdaApi {
public:
    LambdaApi(control::Registry& registry, control::LayerRegistry& layers, store::LayerCache& layer_cache,
              store::BlobStore& blobs, const Config& config, exec::Invoker* invoker = nullptr,
              exec::EventQueue* events = nullptr);

    // Invoke and InvokeAsync complete asynchronously, when the function answers.
    static bool is_invoke(int operation);
    void invoke(int operation, const RequestContext& ctx, const http::Request& req, const http::RouteMatch& match,
                std::function<void(Result<http::Response>)> respond);

    // Adds every Lambda route (emulated or not) to the router. Operation ids
    // are private to this class; `owns` tells whether an id is one of them.
    static void add_routes(http::Router& router);
    static bool owns(int operation);
    static std::string operation_name(int operation);

    // Body limit for a request head that is not S3's; `operation`: the name
    // of the Lambda operation it routes to, if any (api::classify).
    http::BodyPolicy body_policy(const http::RequestHead& head, const std::string& operation) const;

    Result<http::Response> handle(int operation, const RequestContext& ctx, const http::Request& req,
                                  const http::RouteMatch& match);

    // Where Code.S3Bucket/S3Key (and layer Content.S3*) are read from; none:
    // such code is refused.
    void set_code_source(s3::ObjectSource* source) { code_source_ = source; }

    // Starts the environments of every stored provisioned concurrency config
    // (at start-up: configs outlive a restart).
    void restore_provisioned();

private:
    // Hands a provisioned concurrency config to the data plane (its version's environments).
    void apply_provisioned(const control::Scope& scope, const control::ProvisionedView& pc);
    nlohmann::json render_provisioned(const control::Scope& scope, const control::ProvisionedView& pc, bool listed) const;
    // The invocation of a resolved version, as the data plane takes it.
    exec::InvokeRequest invoke_request(const control::Scope& scope, const control::FunctionRef& ref,
                                       const control::ConfigView& view, std::string payload,
                                       const std::string& request_id) const;

    control::Registry& registry_;
    control::LayerRegistry& layers_;
    store::LayerCache& layer_cache_;
    store::BlobStore& blobs_;
    const Config& config_;
    exec::Invoker* invoker_;
    exec::EventQueue* events_;
    s3::ObjectSource* code_source_ = nullptr;
    // Held while a change to provisioned concurrency configs (put, delete, an
    // alias moved or deleted, a function deleted) updates the registry and
    // the environments, so that concurrent changes cannot leave environments
    // for a config that no longer exists.
    std::mutex provisioned_mu_;
};

}  // namespace lamina::api
