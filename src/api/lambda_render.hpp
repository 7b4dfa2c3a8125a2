#pragma once
// AWS's output shapes of the Lambda operations, and the JSON responses that
// carry them. Private to the api module.

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "lamina/api/request_context.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

http::Response json_response(unsigned status, const nlohmann::json& body,
                             const RequestContext& ctx);
// The JSON text of a value as every answer writes it (compact, bad UTF-8 replaced).
std::string dump_json(const nlohmann::json& value);
// An answer whose JSON text is already written (dump_json's pieces).
http::Response json_text_response(unsigned status, std::string text, const RequestContext& ctx);
http::Response empty_response(unsigned status, const RequestContext& ctx);

// FunctionConfiguration; `list_row` leaves out what list operations omit
// (RuntimeVersionConfig, State, LastUpdateStatus).
nlohmann::json render_config(const control::Scope& s, const control::ConfigView& v, bool list_row);
// ListFunctions rows as JSON text (dump_json(render_config(s, v, true))),
// kept while what they render from is unchanged: a row depends only on its
// scope, name, qualifier and VersionConfig, and every change of a
// VersionConfig gives it a new RevisionId (control::Registry), which is part
// of the key. Rendering a row was three quarters of a 50-row page.
class ListRowCache {
public:
    std::string row(const control::Scope& s, const control::ConfigView& v);

private:
    static constexpr std::size_t kMaxRows = 4096;  // then emptied (deleted functions' rows too)
    std::mutex mu_;
    std::unordered_map<std::string, std::string> rows_;
};
// A SnapStart version's State as its snapshot has it (Pending while it is
// taken, Failed when its init failed).
void render_snapshot_state(nlohmann::json& config, const exec::SnapshotStatus& snap);
// Where GetFunction's Code (a layer's Content) says the package is: lamina's
// download, or for hot-reloaded code "Code location: <folder>" (LocalStack's form).
std::string code_location(const std::string& blob, const std::string& hot_reload_path,
                          const RequestContext& ctx);
nlohmann::json render_code_location(const control::VersionConfig& c, const RequestContext& ctx);
nlohmann::json render_alias(const control::Scope& s, const control::AliasView& a);
nlohmann::json render_eic(const control::EventInvokeConfigView& v);
// A provisioned concurrency config with its environments' status; `listed`
// adds FunctionArn, as ListProvisionedConcurrencyConfigs does.
nlohmann::json render_provisioned(const control::ProvisionedView& pc,
                                  const exec::ProvisionedStatus& st, bool listed);
// LayerVersionsListItem, and GetLayerVersion's shape (with Content.Location on this host).
nlohmann::json render_layer_row(const control::LayerVersionView& v);
nlohmann::json render_layer_version(const control::LayerVersionView& v, const RequestContext& ctx);

}  // namespace lamina::api
