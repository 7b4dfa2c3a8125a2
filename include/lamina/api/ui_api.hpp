#pragma once
// lamina's dashboard: GET /_lamina/ui (a page, its script and style, all
// embedded in the binary: no external assets) and GET /_lamina/ui/state, the
// JSON the page polls every second. The state is one account and region's
// (?account=&region=, default lamina's own): functions with versions,
// aliases, layers and concurrency settings, live concurrency against the
// limits, the last minutes' invocations, errors and throttles, the async
// event queue, recent invocations with their log lines, event source
// mappings and function URLs. Like /health, these answer without SigV4.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/control/event_source_mappings.hpp"
#include "lamina/control/names.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/exec/concurrency.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/exec/recent_invocations.hpp"
#include "lamina/http/message.hpp"
#include "lamina/metrics/metrics.hpp"

namespace lamina::api {

// Where the dashboard reads from; any but the registry may be null (not shown).
struct UiSources {
    const control::Registry* registry = nullptr;
    const control::EventSourceMappings* esms = nullptr;
    const exec::ConcurrencyController* concurrency = nullptr;
    const exec::Invoker* invoker = nullptr;  // provisioned concurrency status
    const exec::EventQueue* events = nullptr;
    const metrics::MetricsStore* metrics = nullptr;
    const exec::RecentInvocations* recent = nullptr;
};

struct UiQuery {
    control::Scope scope;
    std::string function;      // non-empty: recent invocations of this function only
    std::string request_host;  // what function URLs are built with ("127.0.0.1:9001")
    std::int64_t now_ms = 0;
    int window_minutes = 15;  // the metrics window
    std::size_t recent_limit = 50;
    std::vector<control::Scope> also_list;  // scopes offered even without functions
};

// The state JSON of one scope (pure over its sources; see ui_api.cpp for the shape).
nlohmann::json ui_state(const UiSources& src, const UiQuery& q);

// The embedded page, script and style (ui_page.cpp).
std::string_view ui_page_html();
std::string_view ui_page_js();
std::string_view ui_page_css();

class UiApi {
public:
    UiApi(UiSources sources, control::Scope default_scope, Clock& clock)
        : sources_(sources), default_scope_(std::move(default_scope)), clock_(clock) {}
    // The answer to a dashboard path, nullopt when the path or method is not one.
    std::optional<http::Response> handle(const http::Request& req) const;
    static bool is_public(const std::string& method, const std::string& path);

private:
    UiSources sources_;
    control::Scope default_scope_;
    Clock& clock_;
};

}  // namespace lamina::api
