#include "lamina/api/lambda_api.hpp"

// Event source mappings: Create, Get, Update, Delete and List, for SQS
// queues (control::EventSourceMappings keeps them; esm::Pollers runs them).

#include "json_input.hpp"
#include "lambda_input.hpp"
#include "lambda_render.hpp"
#include "lambda_routes.hpp"
#include "lambda_tenancy.hpp"
#include "lamina/esm/filter.hpp"

namespace lamina::api {

using control::NameShape;
using json = nlohmann::json;

namespace {

// Members of the model that only stream, Kafka, MQ or DocumentDB sources take.
constexpr const char* kNotForSqs[] = {"DestinationConfig",
                                      "StartingPosition",
                                      "StartingPositionTimestamp",
                                      "ParallelizationFactor",
                                      "MaximumRecordAgeInSeconds",
                                      "BisectBatchOnFunctionError",
                                      "MaximumRetryAttempts",
                                      "TumblingWindowInSeconds",
                                      "Topics",
                                      "Queues",
                                      "SourceAccessConfigurations",
                                      "SelfManagedEventSource",
                                      "SelfManagedKafkaEventSourceConfig",
                                      "AmazonManagedKafkaEventSourceConfig",
                                      "DocumentDBEventSourceConfig",
                                      "ProvisionedPollerConfig"};

json render(const control::EsmView& v) {
    const auto& m = v.mapping;
    json out = {{"UUID", m.uuid},
                {"BatchSize", m.batch_size},
                {"MaximumBatchingWindowInSeconds", m.batching_window},
                {"EventSourceArn", m.event_source_arn},
                {"FunctionArn", m.function_arn()},
                {"LastModified", static_cast<double>(m.last_modified_ms) / 1000.0},
                {"State", control::esm_state_name(v.state)},
                {"StateTransitionReason", "USER_INITIATED"},
                {"FunctionResponseTypes", m.function_response_types},
                {"EventSourceMappingArn", m.arn()}};
    if (m.filter_patterns) {
        json filters = json::array();
        for (const auto& p : *m.filter_patterns) filters.push_back({{"Pattern", p}});
        out["FilterCriteria"] = {{"Filters", filters}};
    }
    if (m.maximum_concurrency)
        out["ScalingConfig"] = {{"MaximumConcurrency", *m.maximum_concurrency}};
    return out;
}

void check_range(control::ValidationErrors& v, const std::optional<long long>& value,
                 const char* field, long long lo, long long hi) {
    if (!value) return;
    if (*value < lo)
        v.add(std::to_string(*value), field,
              "Member must have value greater than or equal to " + std::to_string(lo));
    else if (*value > hi)
        v.add(std::to_string(*value), field,
              "Member must have value less than or equal to " + std::to_string(hi));
}

// The members Create and Update share, checked against the model.
Result<control::EsmInput> read_input(const ojson& body, const control::Scope& scope,
                                     const char* action) {
    control::EsmInput in;
    control::ValidationErrors v;
    for (const char* member : kNotForSqs)
        if (body.contains(member) && !body[member].is_null()) in.unsupported.emplace_back(member);
    LAMINA_TRY(function, opt_string(body, "FunctionName"));
    if (function) {
        LAMINA_TRY(ref, control::resolve_function_name(*function, NameShape::Create, std::nullopt,
                                                       scope, std::string("lambda:") + action));
        in.function = ref;
    }
    LAMINA_TRY(enabled, opt_bool(body, "Enabled"));
    in.enabled = enabled;
    LAMINA_TRY(batch, opt_int(body, "BatchSize"));
    check_range(v, batch, "batchSize", 1, 10000);
    if (batch) in.batch_size = static_cast<int>(*batch);
    LAMINA_TRY(window, opt_int(body, "MaximumBatchingWindowInSeconds"));
    check_range(v, window, "maximumBatchingWindowInSeconds", 0, 300);
    if (window) in.batching_window = static_cast<int>(*window);

    if (auto it = body.find("ScalingConfig"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return std::unexpected(wrong_type("ScalingConfig", "a structure"));
        LAMINA_TRY(max, opt_int(*it, "MaximumConcurrency"));
        check_range(v, max, "scalingConfig.maximumConcurrency", 2, 1000);
        in.maximum_concurrency =
            max ? std::optional<int>(static_cast<int>(*max)) : std::optional<int>();
    }
    LAMINA_TRY(types, opt_string_list(body, "FunctionResponseTypes"));
    if (types) {
        for (const auto& t : *types) {
            if (t != "ReportBatchItemFailures") {
                v.add("[" + t + "]", "functionResponseTypes",
                      "Member must satisfy constraint: [Member must satisfy enum value set: "
                      "[ReportBatchItemFailures]]");
                break;
            }
        }
        in.function_response_types = *types;
    }
    if (!v.empty()) return std::unexpected(v.error());

    if (auto it = body.find("FilterCriteria"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return std::unexpected(wrong_type("FilterCriteria", "a structure"));
        std::vector<std::string> patterns;
        if (auto f = it->find("Filters"); f != it->end() && !f->is_null()) {
            if (!f->is_array()) return std::unexpected(wrong_type("Filters", "a list"));
            for (const auto& filter : *f) {
                if (!filter.is_object())
                    return std::unexpected(wrong_type("Filters member", "a structure"));
                LAMINA_TRY(pattern, opt_string(filter, "Pattern"));
                if (!pattern)
                    return fail(ErrorCode::InvalidParameterValue,
                                "Invalid filter pattern definition.");
                patterns.push_back(*pattern);
            }
        }
        LAMINA_TRY(parsed, esm::FilterCriteria::parse(patterns));
        (void)parsed;
        in.filter_patterns = std::move(patterns);
    }
    LAMINA_TRY(tags, opt_string_map(body, "Tags"));
    if (tags) in.tags = std::map<std::string, std::string>(tags->begin(), tags->end());
    return in;
}

Status require_mappings(control::EventSourceMappings* esms) {
    if (!esms)
        return fail(ErrorCode::NotImplemented, "lamina was started without event source mappings");
    return {};
}

// AWS's event sources do not invoke tenant-isolated functions (they carry no tenant id).
Status refuse_tenant_function(control::Registry& registry, const control::Scope& scope,
                              const control::FunctionRef& ref) {
    if (auto fn = registry.get_configuration(scope, {ref.name, std::nullopt});
        fn && fn->config.tenant_isolation_mode)
        return std::unexpected(not_with_tenancy(ref.name, "Event source mappings"));
    return {};
}

}  // namespace

Result<http::Response> LambdaApi::create_event_source_mapping(const LambdaCall& c) {
    LAMINA_CHECK(require_mappings(esms_));
    LAMINA_TRY(body, parse_body(c.req.body));
    LAMINA_TRY(source, opt_string(body, "EventSourceArn"));
    LAMINA_TRY(in, read_input(body, c.ctx.scope, "CreateEventSourceMapping"));
    in.event_source_arn = source;
    if (!in.function) {
        control::ValidationErrors v;
        v.add_null("functionName");
        return std::unexpected(v.error());
    }
    LAMINA_CHECK(refuse_tenant_function(registry_, c.ctx.scope, *in.function));
    LAMINA_TRY(view, esms_->create(c.ctx.scope, std::move(in)));
    return json_response(202, render(view), c.ctx);
}

Result<http::Response> LambdaApi::get_or_delete_event_source_mapping(const LambdaCall& c) {
    LAMINA_CHECK(require_mappings(esms_));
    const std::string& uuid = c.match.params.at("UUID");
    if (c.op == Op::DeleteEventSourceMapping) {
        LAMINA_TRY(view, esms_->remove(c.ctx.scope, uuid));
        return json_response(202, render(view), c.ctx);
    }
    LAMINA_TRY(view, esms_->get(c.ctx.scope, uuid));
    return json_response(200, render(view), c.ctx);
}

Result<http::Response> LambdaApi::update_event_source_mapping(const LambdaCall& c) {
    LAMINA_CHECK(require_mappings(esms_));
    LAMINA_TRY(body, parse_body(c.req.body));
    LAMINA_TRY(in, read_input(body, c.ctx.scope, "UpdateEventSourceMapping"));
    if (in.function) LAMINA_CHECK(refuse_tenant_function(registry_, c.ctx.scope, *in.function));
    LAMINA_TRY(view, esms_->update(c.ctx.scope, c.match.params.at("UUID"), std::move(in)));
    return json_response(202, render(view), c.ctx);
}

Result<http::Response> LambdaApi::list_event_source_mappings(const LambdaCall& c) {
    const RequestContext& ctx = c.ctx;
    if (!esms_) return json_response(200, json{{"EventSourceMappings", json::array()}}, ctx);
    LAMINA_TRY(page, read_page(c.req, 10000, 100));
    std::optional<control::FunctionRef> function;
    if (auto name = c.req.query_param("FunctionName")) {
        LAMINA_TRY(ref,
                   control::resolve_function_name(*name, NameShape::Create, std::nullopt, ctx.scope,
                                                  "lambda:ListEventSourceMappings"));
        function = ref;
    }
    LAMINA_TRY(got, esms_->list(ctx.scope, function, c.req.query_param("EventSourceArn"), page));
    json items = json::array();
    for (const auto& v : got.first) items.push_back(render(v));
    json out = {{"EventSourceMappings", items}};
    if (got.second) out["NextMarker"] = *got.second;
    return json_response(200, out, ctx);
}

}  // namespace lamina::api
