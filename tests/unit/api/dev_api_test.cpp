#include "lamina/api/dev_api.hpp"

#include <gtest/gtest.h>

using namespace lamina;
using namespace lamina::api;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};

using Query = std::multimap<std::string, std::string>;

exec::InvocationRecord rec(const std::string& id, const std::string& fn,
                           const std::string& qualifier, const std::string& version) {
    exec::InvocationRecord r;
    r.scope = kScope;
    r.request_id = id;
    r.function = fn;
    r.qualifier = qualifier;
    r.version = version;
    r.status = "Success";
    r.init_type = "on-demand";
    return r;
}

std::vector<std::string> ids(const nlohmann::json& j) {
    std::vector<std::string> out;
    for (const auto& i : j["invocations"]) out.push_back(i["request_id"]);
    return out;
}

}  // namespace

TEST(DevApi, ParsesTheInvocationsQuery) {
    auto q = parse_invocations_query(
        Query{{"function", "f"}, {"qualifier", "live"}, {"limit", "7"}, {"region", "eu-west-1"}},
        kScope);
    ASSERT_TRUE(q.has_value()) << q.error().message;
    EXPECT_EQ(q->function, "f");
    EXPECT_EQ(q->qualifier, "live");
    EXPECT_EQ(q->limit, 7u);
    EXPECT_EQ(q->scope.account, "123456789012");
    EXPECT_EQ(q->scope.region, "eu-west-1");
    auto none = parse_invocations_query({}, kScope);
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(none->limit, 50u);
    EXPECT_TRUE(none->function.empty());
}

TEST(DevApi, RefusesUnknownRepeatedAndOutOfRangeParameters) {
    for (const Query& bad :
         {Query{{"nope", "1"}}, Query{{"limit", "0"}}, Query{{"limit", "1001"}},
          Query{{"limit", "-1"}}, Query{{"limit", "1x"}}, Query{{"limit", ""}},
          Query{{"limit", "99999999999999999999999"}}, Query{{"function", "a"}, {"function", "b"}},
          Query{{"account", "12"}}, Query{{"region", "EU"}}}) {
        auto q = parse_invocations_query(bad, kScope);
        EXPECT_FALSE(q.has_value()) << bad.begin()->first << "=" << bad.begin()->second;
        if (!q) {
            EXPECT_EQ(q.error().code, ErrorCode::InvalidParameterValue);
        }
    }
}

TEST(DevApi, InvocationsFilterByQualifierAndKeepTheLimit) {
    std::vector<exec::InvocationRecord> newest_first = {
        rec("d", "f", "live", "2"), rec("c", "f", "", "$LATEST"),
        rec("b", "f", "$LATEST", "$LATEST"), rec("a", "f", "live", "1")};
    InvocationsQuery q;
    q.scope = kScope;
    EXPECT_EQ(ids(invocations_json(newest_first, q)),
              (std::vector<std::string>{"d", "c", "b", "a"}));
    q.qualifier = "live";
    EXPECT_EQ(ids(invocations_json(newest_first, q)), (std::vector<std::string>{"d", "a"}));
    q.qualifier = "$LATEST";  // an unqualified invocation ran $LATEST too
    EXPECT_EQ(ids(invocations_json(newest_first, q)), (std::vector<std::string>{"c", "b"}));
    q.qualifier.clear();
    q.limit = 1;
    EXPECT_EQ(ids(invocations_json(newest_first, q)), (std::vector<std::string>{"d"}));
}

TEST(DevApi, AnInvocationHasEveryField) {
    auto r = rec("id", "f", "", "$LATEST");
    r.status = "Error";
    r.error_type = "ValueError";
    r.payload_in = 3;
    r.payload_out = 40;
    r.duration_ms = 1.5;
    r.cold = true;
    r.started_ms = 10;
    r.at_ms = 12;
    InvocationsQuery q;
    q.scope = kScope;
    auto j = invocations_json({r}, q)["invocations"][0];
    EXPECT_EQ(j["qualifier"], nullptr);
    EXPECT_EQ(j["version"], "$LATEST");
    EXPECT_EQ(j["status"], "Error");
    EXPECT_EQ(j["error_type"], "ValueError");
    EXPECT_EQ(j["init_type"], "on-demand");
    EXPECT_EQ(j["cold"], true);
    EXPECT_EQ(j["payload_bytes_in"], 3);
    EXPECT_EQ(j["payload_bytes_out"], 40);
    EXPECT_EQ(j["duration_ms"], 1.5);
    EXPECT_EQ(j["started_ms"], 10);
    EXPECT_EQ(j["ended_ms"], 12);
}

TEST(DevApi, LoopbackAddresses) {
    EXPECT_TRUE(is_loopback_address("127.0.0.1"));
    EXPECT_TRUE(is_loopback_address("127.1.2.3"));
    EXPECT_TRUE(is_loopback_address("::1"));
    EXPECT_TRUE(is_loopback_address("::ffff:127.0.0.1"));
    EXPECT_FALSE(is_loopback_address("10.0.0.1"));
    EXPECT_FALSE(is_loopback_address("::ffff:10.0.0.1"));
    EXPECT_FALSE(is_loopback_address(""));
    EXPECT_FALSE(is_loopback_address("localhost"));
}

TEST(DevApi, ResetAnswersOnlyLoopbackCallers) {
    exec::RecentInvocations recent;
    DevApi api(&recent, kScope);
    int resets = 0;
    api.set_reset_handler([&]() -> Result<nlohmann::json> {
        ++resets;
        return nlohmann::json{{"reset", true}};
    });
    http::Request req;
    req.method = "POST";
    req.path = "/_lamina/reset";
    req.remote_address = "192.168.1.5";
    auto refused = api.handle(req);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 403u);
    EXPECT_EQ(resets, 0);
    req.remote_address = "127.0.0.1";
    auto done = api.handle(req);
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->status, 200u);
    EXPECT_EQ(resets, 1);
    req.method = "GET";
    EXPECT_FALSE(api.handle(req).has_value());
    EXPECT_TRUE(DevApi::is_public("POST", "/_lamina/reset"));
    EXPECT_FALSE(DevApi::is_public("DELETE", "/_lamina/reset"));
}
