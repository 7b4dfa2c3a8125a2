#pragma once
// The Lambda rest-json operations: one handler per AWS operation. Each
// handler parses and validates its input exactly as AWS does, calls the
// control plane and renders AWS's output shape. Errors are returned as
// lamina::Error and rendered by aws_error. The route table (src/api/
// lambda_routes.cpp) names every operation; handle() looks its handler up.

#include <functional>
#include <memory>
#include <string>

#include "lamina/api/request_context.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/config.hpp"
#include "lamina/control/event_source_mappings.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/exec/provisioned.hpp"
#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"
#include "lamina/oci/image_source.hpp"
#include "lamina/s3/object_source.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::api {

struct LambdaCall;   // one routed request (src/api/lambda_routes.hpp)
struct CodeInput;    // a Code / Content object as read (src/api/lambda_input.hpp)
class ListRowCache;  // ListFunctions rows already rendered (src/api/lambda_render.hpp)

class LambdaApi {
public:
    // `events` takes Event invocations; its hooks are set by whoever made it
    // (api::event_queue_hooks).
    LambdaApi(control::Registry& registry, control::LayerRegistry& layers,
              store::LayerCache& layer_cache, store::BlobStore& blobs, const Config& config,
              IdSource& ids, exec::Invoker* invoker = nullptr, exec::EventQueue* events = nullptr);

    // Invoke and InvokeAsync complete asynchronously, when the function answers.
    static bool is_invoke(int operation);
    void invoke(int operation, const RequestContext& ctx, const http::Request& req,
                const http::RouteMatch& match,
                const std::function<void(Result<http::Response>)>& respond);

    // A request to a function URL (`url_id`, the path below its root as
    // sent): answered when the function does, as AWS's URL service would.
    // `ctx` carries the caller's key and account when the request is signed
    // (and verified, under --auth sigv4).
    void invoke_url(const RequestContext& ctx, const http::Request& req, const std::string& url_id,
                    const std::string& raw_path,
                    const std::function<void(http::Response)>& respond);

    // Adds every Lambda route (emulated or not) to the router. Operation ids
    // are private to this class; `owns` tells whether an id is one of them.
    static void add_routes(http::Router& router);
    static bool owns(int operation);
    static std::string operation_name(int operation);

    // Body limit for a request head that is not S3's; `operation`: the name
    // of the Lambda operation it routes to, if any (api::classify).
    http::BodyPolicy body_policy(const http::RequestHead& head, const std::string& operation) const;

    // `req`'s body is the handler's to change: a large ZipFile is decoded in
    // place over its base64 text (read_code), so the request is not used after.
    Result<http::Response> handle(int operation, const RequestContext& ctx, http::Request& req,
                                  const http::RouteMatch& match);

    // Where Code.S3Bucket/S3Key (and layer Content.S3*) are read from; none:
    // such code is refused.
    void set_code_source(s3::ObjectSource* source) { code_source_ = source; }
    // Where ImageUri is resolved (lamina's image registry); null: image functions are refused.
    void set_image_source(const oci::ImageSource* source) { image_source_ = source; }
    // Where event source mappings are kept (none: List answers empty, the rest NotImplemented).
    void set_event_source_mappings(control::EventSourceMappings* esms) { esms_ = esms; }

    // Starts the environments of every stored provisioned concurrency config
    // (at start-up: configs outlive a restart).
    void restore_provisioned() { provisioned_.restore(); }

private:
    // A SnapStart version's configuration shows its snapshot's state (and
    // asking is what starts a snapshot the version lacks).
    nlohmann::json render_with_snapshot(const control::Scope& s, const control::ConfigView& v);
    // InvokeWithResponseStream once its input is checked: the event stream
    // starts when the function starts streaming (lambda_invoke.cpp).
    void invoke_streaming(exec::InvokeRequest in, bool tail,
                          const std::function<void(Result<http::Response>)>& respond);

    using Handler = Result<http::Response> (LambdaApi::*)(const LambdaCall&);
    // The handler of each emulated operation but Invoke and InvokeAsync.
    static Handler handler_of(int operation);

    // lambda_functions.cpp
    Result<control::StoredCode> store_code(const control::Scope& scope, CodeInput& code,
                                           const std::string& field_prefix, bool dry_run);
    Result<http::Response> create_function(const LambdaCall& c);
    Result<http::Response> list_functions(const LambdaCall& c);
    Result<http::Response> get_function(const LambdaCall& c);
    Result<http::Response> get_function_configuration(const LambdaCall& c);
    Result<http::Response> delete_function(const LambdaCall& c);
    Result<http::Response> update_function_configuration(const LambdaCall& c);
    Result<http::Response> update_function_code(const LambdaCall& c);
    Result<http::Response> download_code(const LambdaCall& c);
    Result<http::Response> opt_tree(const LambdaCall& c);
    // lambda_versions_aliases.cpp
    Result<http::Response> publish_version(const LambdaCall& c);
    Result<http::Response> list_versions_by_function(const LambdaCall& c);
    Result<http::Response> create_or_update_alias(const LambdaCall& c);
    Result<http::Response> get_or_delete_alias(const LambdaCall& c);
    Result<http::Response> list_aliases(const LambdaCall& c);
    // lambda_policies_tags.cpp
    Result<http::Response> add_permission(const LambdaCall& c);
    Result<http::Response> get_policy(const LambdaCall& c);
    Result<http::Response> remove_permission(const LambdaCall& c);
    Result<http::Response> tag_resource(const LambdaCall& c);
    Result<http::Response> untag_resource(const LambdaCall& c);
    Result<http::Response> list_tags(const LambdaCall& c);
    // lambda_function_configs.cpp
    Result<http::Response> put_event_invoke_config(const LambdaCall& c);
    Result<http::Response> get_event_invoke_config(const LambdaCall& c);
    Result<http::Response> delete_event_invoke_config(const LambdaCall& c);
    Result<http::Response> list_event_invoke_configs(const LambdaCall& c);
    Result<http::Response> get_code_signing_config(const LambdaCall& c);
    Result<http::Response> runtime_management_config(const LambdaCall& c);
    Result<http::Response> recursion_config(const LambdaCall& c);
    Result<http::Response> create_or_update_function_url_config(const LambdaCall& c);
    Result<http::Response> get_or_delete_function_url_config(const LambdaCall& c);
    Result<http::Response> list_function_url_configs(const LambdaCall& c);
    Result<http::Response> list_event_source_mappings(const LambdaCall& c);
    Result<http::Response> create_event_source_mapping(const LambdaCall& c);
    Result<http::Response> get_or_delete_event_source_mapping(const LambdaCall& c);
    Result<http::Response> update_event_source_mapping(const LambdaCall& c);
    // lambda_concurrency.cpp
    Result<http::Response> get_account_settings(const LambdaCall& c);
    Result<http::Response> get_function_concurrency(const LambdaCall& c);
    Result<http::Response> put_or_delete_function_concurrency(const LambdaCall& c);
    Result<http::Response> put_provisioned_concurrency(const LambdaCall& c);
    Result<http::Response> get_provisioned_concurrency(const LambdaCall& c);
    Result<http::Response> delete_provisioned_concurrency(const LambdaCall& c);
    Result<http::Response> list_provisioned_concurrency(const LambdaCall& c);
    // lambda_layers.cpp
    Result<http::Response> publish_layer_version(const LambdaCall& c);
    Result<http::Response> get_or_delete_layer_version(const LambdaCall& c);
    Result<http::Response> get_layer_version_by_arn(const LambdaCall& c);
    Result<http::Response> list_layers(const LambdaCall& c);
    Result<http::Response> add_layer_version_permission(const LambdaCall& c);
    Result<http::Response> get_layer_version_policy(const LambdaCall& c);
    Result<http::Response> remove_layer_version_permission(const LambdaCall& c);

    // A function version just Active (created, code or configuration updated) gets a spare environment.
    void prepare_spare(const control::Scope& scope, const control::ConfigView& view);

    control::Registry& registry_;
    control::LayerRegistry& layers_;
    store::LayerCache& layer_cache_;
    store::BlobStore& blobs_;
    const Config& config_;
    IdSource& ids_;  // request ids made at the edge, weighted alias draws
    exec::Invoker* invoker_;
    exec::EventQueue* events_;
    s3::ObjectSource* code_source_ = nullptr;
    const oci::ImageSource* image_source_ = nullptr;
    control::EventSourceMappings* esms_ = nullptr;
    exec::ProvisionedConfigs provisioned_;
    std::shared_ptr<ListRowCache> list_rows_;
};

}  // namespace lamina::api
