#include "lamina/api/lambda_api.hpp"

// LambdaApi's construction and its dispatch: the route's Op picks the
// handler (one per emulated operation, in lambda_<resource>.cpp).

#include <map>

#include "lambda_render.hpp"
#include "lambda_routes.hpp"

namespace lamina::api {

LambdaApi::LambdaApi(control::Registry& registry, control::LayerRegistry& layers,
                     store::LayerCache& layer_cache, store::BlobStore& blobs, const Config& config,
                     IdSource& ids, exec::Invoker* invoker, exec::EventQueue* events)
    : registry_(registry),
      layers_(layers),
      layer_cache_(layer_cache),
      blobs_(blobs),
      config_(config),
      ids_(ids),
      invoker_(invoker),
      events_(events),
      provisioned_(registry, invoker),
      list_rows_(std::make_shared<ListRowCache>()) {}

LambdaApi::Handler LambdaApi::handler_of(int operation) {
    static const std::map<Op, Handler> kHandlers = {
        {Op::CreateFunction, &LambdaApi::create_function},
        {Op::ListFunctions, &LambdaApi::list_functions},
        {Op::GetFunction, &LambdaApi::get_function},
        {Op::DeleteFunction, &LambdaApi::delete_function},
        {Op::GetFunctionConfiguration, &LambdaApi::get_function_configuration},
        {Op::UpdateFunctionConfiguration, &LambdaApi::update_function_configuration},
        {Op::UpdateFunctionCode, &LambdaApi::update_function_code},
        {Op::PublishVersion, &LambdaApi::publish_version},
        {Op::ListVersionsByFunction, &LambdaApi::list_versions_by_function},
        {Op::CreateAlias, &LambdaApi::create_or_update_alias},
        {Op::ListAliases, &LambdaApi::list_aliases},
        {Op::GetAlias, &LambdaApi::get_or_delete_alias},
        {Op::UpdateAlias, &LambdaApi::create_or_update_alias},
        {Op::DeleteAlias, &LambdaApi::get_or_delete_alias},
        {Op::AddPermission, &LambdaApi::add_permission},
        {Op::GetPolicy, &LambdaApi::get_policy},
        {Op::RemovePermission, &LambdaApi::remove_permission},
        {Op::TagResource, &LambdaApi::tag_resource},
        {Op::UntagResource, &LambdaApi::untag_resource},
        {Op::ListTags, &LambdaApi::list_tags},
        {Op::PutFunctionEventInvokeConfig, &LambdaApi::put_event_invoke_config},
        {Op::GetFunctionEventInvokeConfig, &LambdaApi::get_event_invoke_config},
        {Op::UpdateFunctionEventInvokeConfig, &LambdaApi::put_event_invoke_config},
        {Op::DeleteFunctionEventInvokeConfig, &LambdaApi::delete_event_invoke_config},
        {Op::ListFunctionEventInvokeConfigs, &LambdaApi::list_event_invoke_configs},
        {Op::GetFunctionCodeSigningConfig, &LambdaApi::get_code_signing_config},
        {Op::GetRuntimeManagementConfig, &LambdaApi::runtime_management_config},
        {Op::PutRuntimeManagementConfig, &LambdaApi::runtime_management_config},
        {Op::GetFunctionRecursionConfig, &LambdaApi::recursion_config},
        {Op::PutFunctionRecursionConfig, &LambdaApi::recursion_config},
        {Op::GetAccountSettings, &LambdaApi::get_account_settings},
        {Op::GetFunctionConcurrency, &LambdaApi::get_function_concurrency},
        {Op::PutFunctionConcurrency, &LambdaApi::put_or_delete_function_concurrency},
        {Op::DeleteFunctionConcurrency, &LambdaApi::put_or_delete_function_concurrency},
        {Op::PutProvisionedConcurrencyConfig, &LambdaApi::put_provisioned_concurrency},
        {Op::GetProvisionedConcurrencyConfig, &LambdaApi::get_provisioned_concurrency},
        {Op::DeleteProvisionedConcurrencyConfig, &LambdaApi::delete_provisioned_concurrency},
        {Op::ListProvisionedConcurrencyConfigs, &LambdaApi::list_provisioned_concurrency},
        {Op::CreateFunctionUrlConfig, &LambdaApi::create_or_update_function_url_config},
        {Op::GetFunctionUrlConfig, &LambdaApi::get_or_delete_function_url_config},
        {Op::UpdateFunctionUrlConfig, &LambdaApi::create_or_update_function_url_config},
        {Op::DeleteFunctionUrlConfig, &LambdaApi::get_or_delete_function_url_config},
        {Op::ListFunctionUrlConfigs, &LambdaApi::list_function_url_configs},
        {Op::ListEventSourceMappings, &LambdaApi::list_event_source_mappings},
        {Op::CreateEventSourceMapping, &LambdaApi::create_event_source_mapping},
        {Op::GetEventSourceMapping, &LambdaApi::get_or_delete_event_source_mapping},
        {Op::UpdateEventSourceMapping, &LambdaApi::update_event_source_mapping},
        {Op::DeleteEventSourceMapping, &LambdaApi::get_or_delete_event_source_mapping},
        {Op::DownloadCode, &LambdaApi::download_code},
        {Op::PublishLayerVersion, &LambdaApi::publish_layer_version},
        {Op::ListLayerVersions, &LambdaApi::list_layers},
        {Op::GetLayerVersion, &LambdaApi::get_or_delete_layer_version},
        {Op::DeleteLayerVersion, &LambdaApi::get_or_delete_layer_version},
        {Op::GetLayerVersionByArn, &LambdaApi::get_layer_version_by_arn},
        {Op::ListLayers, &LambdaApi::list_layers},
        {Op::AddLayerVersionPermission, &LambdaApi::add_layer_version_permission},
        {Op::GetLayerVersionPolicy, &LambdaApi::get_layer_version_policy},
        {Op::RemoveLayerVersionPermission, &LambdaApi::remove_layer_version_permission},
        {Op::OptTree, &LambdaApi::opt_tree},
    };
    auto op = op_from_id(operation);
    if (!op) return nullptr;
    auto it = kHandlers.find(*op);
    return it == kHandlers.end() ? nullptr : it->second;
}

Result<http::Response> LambdaApi::handle(int operation, const RequestContext& ctx,
                                         http::Request& req, const http::RouteMatch& match) {
    auto op = op_from_id(operation);
    if (op && !route_of(*op).emulated)
        return fail(ErrorCode::NotImplemented, "lamina does not emulate the " +
                                                   operation_name(operation) + " operation yet (" +
                                                   req.method + " " + req.path + ").");
    if (op) LAMINA_CHECK(refuse_unemulated_members(*op, req));
    Handler handler = handler_of(operation);
    if (!handler)
        return fail(ErrorCode::UnknownOperation,
                    "Unknown operation");  // Invoke is not handled here
    return (this->*handler)(LambdaCall{*op, ctx, req, match, req.body});
}

}  // namespace lamina::api
