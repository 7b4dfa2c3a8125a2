#include "lamina/api/ui_api.hpp"

#include <gtest/gtest.h>

#include "control/registry_fixture.hpp"

using lamina::api::UiApi;
using lamina::api::UiQuery;
using lamina::api::UiSources;

namespace {

http::Request http_get(const std::string& path,
                       std::multimap<std::string, std::string> query = {}) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.target = path;
    r.query = std::move(query);
    r.headers.set("Host", "127.0.0.1:9001");
    return r;
}

}  // namespace

class UiState : public FunctionRegistry {
protected:
    UiQuery query() {
        UiQuery q;
        q.scope = kScope;
        q.request_host = "127.0.0.1:9001";
        q.now_ms = clock_.now_ms();
        return q;
    }
    UiSources sources() {
        UiSources s;
        s.registry = reg_.get();
        s.concurrency = &concurrency_;
        s.metrics = &metrics_;
        s.recent = &recent_;
        return s;
    }
    exec::ConcurrencyController concurrency_{exec::CapacitySettings{}, clock_};
    metrics::MetricsStore metrics_{clock_};
    exec::RecentInvocations recent_{200};
};

TEST_F(UiState, ShowsFunctionsVersionsAliasesWithWeightsAndUrls) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1", std::map<std::string, double>{{"2", 0.25}}).has_value());
    FunctionUrlInput url;
    url.auth_type = "NONE";
    ASSERT_TRUE(reg_->create_function_url(kScope, ref("f"), url).has_value());
    ASSERT_TRUE(reg_->put_function_concurrency(kScope, ref("f"), 7, CapacityQuota{}).has_value());

    auto s = api::ui_state(sources(), query());
    EXPECT_EQ(s["scope"]["account"], kScope.account);
    ASSERT_EQ(s["functions"].size(), 1u);
    const auto& f = s["functions"][0];
    EXPECT_EQ(f["name"], "f");
    EXPECT_EQ(f["runtime"], "python3.12");
    EXPECT_EQ(f["versions"].size(), 3u);
    EXPECT_EQ(f["versions"][2]["version"], "3");
    ASSERT_EQ(f["aliases"].size(), 1u);
    EXPECT_EQ(f["aliases"][0]["name"], "live");
    EXPECT_EQ(f["aliases"][0]["version"], "1");
    EXPECT_DOUBLE_EQ(f["aliases"][0]["weights"]["2"].get<double>(), 0.25);
    EXPECT_EQ(f["reserved_concurrency"], 7);
    EXPECT_EQ(f["concurrency"], 0);
    EXPECT_EQ(s["concurrency"]["reserved_total"], 7);
    EXPECT_EQ(s["concurrency"]["account_limit"], 1000);
    EXPECT_EQ(s["concurrency"]["unreserved_limit"], 993);
    ASSERT_EQ(s["function_urls"].size(), 1u);
    EXPECT_EQ(s["function_urls"][0]["function"], "f");
    EXPECT_TRUE(s["function_urls"][0]["url"].get<std::string>().ends_with(
        ".lambda-url.us-east-1.localhost:9001/"));
    EXPECT_EQ(s["event_source_mappings"], json::array());
    // no event queue given: shown as unknown, not as empty
    EXPECT_TRUE(s["event_queue"]["waiting"].is_null());
}

TEST_F(UiState, OtherScopesAreListedButNotMixedIn) {
    create("f");
    Scope other{"210987654321", "eu-west-1"};
    ASSERT_TRUE(reg_->create_function(other, input("g")).has_value());
    auto s = api::ui_state(sources(), query());
    ASSERT_EQ(s["functions"].size(), 1u);
    EXPECT_EQ(s["functions"][0]["name"], "f");
    EXPECT_EQ(s["scopes"].size(), 2u);
    auto q = query();
    q.scope = other;
    auto o = api::ui_state(sources(), q);
    ASSERT_EQ(o["functions"].size(), 1u);
    EXPECT_EQ(o["functions"][0]["name"], "g");
}

TEST_F(UiState, CountsLiveConcurrencyAndTheWindowsMetrics) {
    create("f");
    auto slot = concurrency_.acquire(exec::Demand{kScope, "f", std::nullopt, 0, 0, true});
    ASSERT_TRUE(slot.has_value());
    metrics::InvocationTarget t{kScope, "f", "", ""};
    metrics::record_lambda(&metrics_, t, "Invocations", 1, "Count");
    metrics::record_lambda(&metrics_, t, "Errors", 1, "Count");
    clock_.advance(60'000);
    metrics::record_lambda(&metrics_, t, "Invocations", 1, "Count");
    metrics::record_lambda(&metrics_, t, "Throttles", 1, "Count");
    clock_.advance(20 * 60'000);  // outside the window
    metrics::record_lambda(&metrics_, t, "Invocations", 1, "Count");
    clock_.advance(-20 * 60'000);

    auto s = api::ui_state(sources(), query());
    EXPECT_EQ(s["concurrency"]["in_use"], 1);
    EXPECT_EQ(s["functions"][0]["concurrency"], 1);
    EXPECT_EQ(s["totals"]["invocations"], 2.0);
    EXPECT_EQ(s["totals"]["errors"], 1.0);
    EXPECT_EQ(s["totals"]["throttles"], 1.0);
    EXPECT_EQ(s["functions"][0]["invocations"], 2.0);
    EXPECT_EQ(s["functions"][0]["throttles"], 1.0);
    ASSERT_EQ(s["minutes"].size(), 15u);
    EXPECT_EQ(s["minutes"][14]["invocations"], 1.0);
    EXPECT_EQ(s["minutes"][13]["errors"], 1.0);
    slot->release();
    EXPECT_EQ(api::ui_state(sources(), query())["concurrency"]["in_use"], 0);
}

TEST_F(UiState, RecentInvocationsCarryTheirLogAndFollowTheFunctionFilter) {
    create("f");
    create("g");
    exec::InvocationRecord r{kScope,
                             "req-1",
                             "f",
                             "",
                             "$LATEST",
                             clock_.now_ms(),
                             12.5,
                             "Success",
                             true,
                             "",
                             "START RequestId: req-1\nhello <b>\n"};
    recent_.record(r);
    r.request_id = "req-2";
    r.function = "g";
    r.cold = false;
    recent_.record(r);
    auto s = api::ui_state(sources(), query());
    ASSERT_EQ(s["recent"]["invocations"].size(), 2u);
    EXPECT_EQ(s["recent"]["invocations"][0]["request_id"], "req-2");
    auto q = query();
    q.function = "f";
    auto only = api::ui_state(sources(), q)["recent"]["invocations"];
    ASSERT_EQ(only.size(), 1u);
    EXPECT_EQ(only[0]["request_id"], "req-1");
    EXPECT_EQ(only[0]["cold"], true);
    EXPECT_EQ(only[0]["duration_ms"], 12.5);
    EXPECT_EQ(only[0]["log"], "START RequestId: req-1\nhello <b>\n");
}

TEST_F(UiState, ServesThePageScriptStyleAndStateWithoutOtherPaths) {
    create("f");
    UiApi ui(sources(), kScope, clock_);
    auto page = ui.handle(http_get("/_lamina/ui"));
    ASSERT_TRUE(page);
    EXPECT_EQ(page->headers.get("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page->headers.get("Content-Security-Policy").find("script-src 'self'"),
              std::string::npos);
    EXPECT_NE(page->body.find("/_lamina/ui/app.js"), std::string::npos);
    // no external asset: nothing is fetched from another origin
    EXPECT_EQ(page->body.find("http"), std::string::npos);
    EXPECT_EQ(std::string(api::ui_page_js()).find("innerHTML"), std::string::npos);
    ASSERT_TRUE(ui.handle(http_get("/_lamina/ui/app.js")));
    ASSERT_TRUE(ui.handle(http_get("/_lamina/ui/app.css")));
    auto state = ui.handle(http_get("/_lamina/ui/state"));
    ASSERT_TRUE(state);
    EXPECT_EQ(state->status, 200u);
    auto j = json::parse(state->body);
    EXPECT_EQ(j["functions"][0]["name"], "f");
    EXPECT_FALSE(ui.handle(http_get("/_lamina/ui/nope")));
    auto post = http_get("/_lamina/ui/state");
    post.method = "POST";
    EXPECT_FALSE(ui.handle(post));
}

TEST_F(UiState, StateRefusesAMalformedScope) {
    UiApi ui(sources(), kScope, clock_);
    auto bad = ui.handle(http_get("/_lamina/ui/state", {{"account", "12345"}}));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400u);
    bad = ui.handle(http_get("/_lamina/ui/state", {{"region", "US/East"}}));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400u);
    auto other = ui.handle(
        http_get("/_lamina/ui/state", {{"account", "210987654321"}, {"region", "eu-west-1"}}));
    ASSERT_TRUE(other);
    auto j = json::parse(other->body);
    EXPECT_EQ(j["scope"]["account"], "210987654321");
    // lamina's own scope stays selectable
    EXPECT_EQ(j["scopes"].size(), 2u);
}

TEST(UiApiPublic, OnlyGetsOfTheDashboardPathsSkipSignatures) {
    EXPECT_TRUE(UiApi::is_public("GET", "/_lamina/ui"));
    EXPECT_TRUE(UiApi::is_public("GET", "/_lamina/ui/state"));
    EXPECT_FALSE(UiApi::is_public("POST", "/_lamina/ui/state"));
    EXPECT_FALSE(UiApi::is_public("GET", "/_lamina/uix"));
    EXPECT_FALSE(UiApi::is_public("GET", "/_lamina/stacks"));
}

TEST_F(UiState, AsyncCountsIncludeFunctionsSinceDeleted) {
    create("f");
    metrics::record_lambda(&metrics_, {kScope, "f", "", ""}, "AsyncEventsReceived", 1, "Count",
                           false);
    metrics::record_lambda(&metrics_, {kScope, "gone", "", ""}, "AsyncEventsReceived", 1, "Count",
                           false);
    metrics::record_lambda(&metrics_, {kScope, "gone", "", ""}, "AsyncEventsDropped", 1, "Count",
                           false);
    auto q = api::ui_state(sources(), query())["event_queue"];
    EXPECT_EQ(q["received"], 2.0);
    EXPECT_EQ(q["dropped"], 1.0);
}
