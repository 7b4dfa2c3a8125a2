#include "lamina/http/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace lamina::http;

namespace {

enum Op {
    ListFunctions = 1,
    GetFunction,
    DeleteFunction,
    ListVersions,
    GetAlias,
    ListLayers,
    GetLayerVersionByArn
};

using Query = std::multimap<std::string, std::string>;

Router lambda_router() {
    Router r;
    r.add("GET", "/2015-03-31/functions", ListFunctions);
    r.add("GET", "/2015-03-31/functions/{FunctionName}", GetFunction);
    r.add("DELETE", "/2015-03-31/functions/{FunctionName}", DeleteFunction);
    r.add("GET", "/2015-03-31/functions/{FunctionName}/versions", ListVersions);
    r.add("GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", GetAlias);
    return r;
}

}  // namespace

TEST(Router, MatchesTemplatesAndCapturesParams) {
    Router r = lambda_router();
    auto m = r.match("GET", "/2015-03-31/functions/my-fn", {});
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->operation, GetFunction);
    EXPECT_EQ(m->params, (std::map<std::string, std::string>{{"FunctionName", "my-fn"}}));

    auto alias = r.match("GET", "/2015-03-31/functions/f/aliases/live", {});
    ASSERT_TRUE(alias.has_value());
    EXPECT_EQ(alias->operation, GetAlias);
    EXPECT_EQ(alias->params.at("FunctionName"), "f");
    EXPECT_EQ(alias->params.at("Name"), "live");

    auto list = r.match("GET", "/2015-03-31/functions", {});
    ASSERT_TRUE(list.has_value());
    EXPECT_EQ(list->operation, ListFunctions);
    EXPECT_TRUE(list->params.empty());

    auto del = r.match("DELETE", "/2015-03-31/functions/f", {});
    ASSERT_TRUE(del.has_value());
    EXPECT_EQ(del->operation, DeleteFunction);
}

TEST(Router, ParamsArePercentDecoded) {
    Router r = lambda_router();
    auto arn = r.match(
        "GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af",
        {});
    ASSERT_TRUE(arn.has_value());
    EXPECT_EQ(arn->params.at("FunctionName"), "arn:aws:lambda:us-east-1:123456789012:function:f");

    auto latest = r.match("GET", "/2015-03-31/functions/f%3A%24LATEST/versions", {});
    ASSERT_TRUE(latest.has_value());
    EXPECT_EQ(latest->operation, ListVersions);
    EXPECT_EQ(latest->params.at("FunctionName"), "f:$LATEST");

    // An encoded slash stays inside its segment; '+' is not a space in a path.
    auto slash = r.match("GET", "/2015-03-31/functions/a%2Fb+c", {});
    ASSERT_TRUE(slash.has_value());
    EXPECT_EQ(slash->operation, GetFunction);
    EXPECT_EQ(slash->params.at("FunctionName"), "a/b+c");

    // A broken escape matches nothing rather than passing garbage on.
    EXPECT_FALSE(r.match("GET", "/2015-03-31/functions/bad%zz", {}).has_value());
    EXPECT_FALSE(r.match("GET", "/2015-03-31/functions/bad%4", {}).has_value());
}

TEST(Router, SegmentsMustLineUp) {
    Router r = lambda_router();
    EXPECT_FALSE(r.match("GET", "/2015-03-31/functions/f/unknown", {}).has_value());
    EXPECT_FALSE(r.match("GET", "/2015-03-31/functions/f/versions/extra", {}).has_value());
    EXPECT_FALSE(r.match("GET", "/2016-01-01/functions/f", {}).has_value());
    EXPECT_FALSE(r.match("GET", "/", {}).has_value());
    EXPECT_FALSE(r.match("GET", "", {}).has_value());
    // An empty segment is not a value for a parameter.
    EXPECT_FALSE(r.match("GET", "/2015-03-31/functions//versions", {}).has_value());
    // A trailing slash is ignored.
    auto trailing = r.match("GET", "/2015-03-31/functions/f/", {});
    ASSERT_TRUE(trailing.has_value());
    EXPECT_EQ(trailing->operation, GetFunction);
    EXPECT_EQ(trailing->params.at("FunctionName"), "f");
}

TEST(Router, QueryRequirementRoutesWin) {
    for (bool query_route_first : {true, false}) {
        Router r;
        if (query_route_first)
            r.add("GET", "/2018-10-31/layers?find=LayerVersion", GetLayerVersionByArn);
        r.add("GET", "/2018-10-31/layers", ListLayers);
        if (!query_route_first)
            r.add("GET", "/2018-10-31/layers?find=LayerVersion", GetLayerVersionByArn);

        auto by_arn =
            r.match("GET", "/2018-10-31/layers", Query{{"find", "LayerVersion"}, {"Arn", "x"}});
        ASSERT_TRUE(by_arn.has_value()) << query_route_first;
        EXPECT_EQ(by_arn->operation, GetLayerVersionByArn) << query_route_first;

        auto plain = r.match("GET", "/2018-10-31/layers", Query{{"MaxItems", "5"}});
        ASSERT_TRUE(plain.has_value());
        EXPECT_EQ(plain->operation, ListLayers);

        auto other_value = r.match("GET", "/2018-10-31/layers", Query{{"find", "Other"}});
        ASSERT_TRUE(other_value.has_value());
        EXPECT_EQ(other_value->operation, ListLayers);
    }
}

TEST(Router, MethodMismatchReportsPathMatched) {
    Router r = lambda_router();
    bool path_matched = false;
    auto put = r.match("PUT", "/2015-03-31/functions/f", {}, &path_matched);
    EXPECT_FALSE(put.has_value());
    EXPECT_TRUE(path_matched);  // the api answers 405/unknown-operation, not 404

    path_matched = true;
    auto unknown = r.match("GET", "/2015-03-31/nothing-here", {}, &path_matched);
    EXPECT_FALSE(unknown.has_value());
    EXPECT_FALSE(path_matched);

    path_matched = true;
    auto ok = r.match("GET", "/2015-03-31/functions/f", {}, &path_matched);
    ASSERT_TRUE(ok.has_value());
    EXPECT_TRUE(path_matched);

    // Methods are case-sensitive, as HTTP says.
    EXPECT_FALSE(r.match("get", "/2015-03-31/functions/f", {}).has_value());
}
