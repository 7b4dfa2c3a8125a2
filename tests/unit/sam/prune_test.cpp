#include <gtest/gtest.h>

#include "fakes/api_client.hpp"
#include "sam/deployment.hpp"

namespace lamina::sam {
namespace {

using fakes::FakeApiClient;
using nlohmann::json;

struct PruneTest : ::testing::Test {
    FakeApiClient api;
    LambdaCalls lambda{api};
    std::vector<std::string> said;
    Deployer::Say say = [this](const std::string& line) { said.push_back(line); };

    std::vector<std::string> deletes() const {
        std::vector<std::string> out;
        for (const auto& c : api.calls)
            if (c.method == "DELETE") out.push_back(c.target);
        return out;
    }
};

const json kPrevious = {
    {"Allow",
     {{"Type", kPermission},
      {"FunctionName", "old"},
      {"Qualifier", ""},
      {"StatementId", "stk-Allow-1"}}},
    {"Old", {{"Type", kServerlessFunction}, {"FunctionName", "old"}}},
    {"Kept", {{"Type", kServerlessFunction}, {"FunctionName", "kept"}}},
    {"Lib",
     {{"Type", kServerlessLayer},
      {"LayerName", "lib"},
      {"Retain", false},
      {"LayerVersionArn", "arn:aws:lambda:us-east-1:123456789012:layer:lib:2"},
      {"Versions",
       {"arn:aws:lambda:us-east-1:123456789012:layer:lib:1",
        "arn:aws:lambda:us-east-1:123456789012:layer:lib:2"}}}},
};

TEST_F(PruneTest, DeletesWhatTheTemplateNoLongerHasPermissionsFirst) {
    json next = {{"Kept", kPrevious["Kept"]}};
    auto failures = prune_stack(lambda, kPrevious, next, say);
    EXPECT_TRUE(failures.empty());
    EXPECT_EQ(deletes(),
              (std::vector<std::string>{
                  "/2015-03-31/functions/old/policy/stk-Allow-1", "/2015-03-31/functions/old",
                  "/2018-10-31/layers/lib/versions/1", "/2018-10-31/layers/lib/versions/2"}));
    EXPECT_EQ(said,
              (std::vector<std::string>{"removed  Allow  permission stk-Allow-1",
                                        "deleted  Old  function old", "deleted  Lib  layer lib"}));
    EXPECT_EQ(next, json({{"Kept", kPrevious["Kept"]}}));
}

TEST_F(PruneTest, AFunctionUrlGoesAfterItsPermissionsAndBeforeItsAlias) {
    const std::string url =
        "http://0123456789abcdef0123456789abcdef.lambda-url.us-east-1.localhost/";
    json previous = {
        {"FnUrl",
         {{"Type", kUrl}, {"FunctionName", "fn"}, {"Qualifier", "live"}, {"FunctionUrl", url}}},
        {"FnUrlPublicPermissions",
         {{"Type", kPermission},
          {"FunctionName", "fn"},
          {"Qualifier", "live"},
          {"StatementId", "stk-FnUrlPublicPermissions-1"}}},
        {"Live", {{"Type", kAlias}, {"FunctionName", "fn"}, {"Name", "live"}}},
        {"Kept",
         {{"Type", kUrl}, {"FunctionName", "kept"}, {"Qualifier", ""}, {"FunctionUrl", url}}},
        {"Moved",
         {{"Type", kUrl}, {"FunctionName", "moved"}, {"Qualifier", ""}, {"FunctionUrl", url}}},
    };
    json next = {{"Kept", previous["Kept"]}, {"Moved", previous["Moved"]}};
    next["Moved"]["Qualifier"] = "live";  // now on an alias: the old one goes
    auto failures = prune_stack(lambda, previous, next, say);
    EXPECT_TRUE(failures.empty());
    EXPECT_EQ(deletes(),
              (std::vector<std::string>{
                  "/2015-03-31/functions/fn/policy/stk-FnUrlPublicPermissions-1?Qualifier=live",
                  "/2021-10-31/functions/fn/url?Qualifier=live", "/2021-10-31/functions/moved/url",
                  "/2015-03-31/functions/fn/aliases/live"}));
    EXPECT_EQ(said[1], "deleted  FnUrl  function url " + url);
}

TEST_F(PruneTest, SomethingAlreadyGoneCountsAsDeleted) {
    api.answer = [](const FakeApiClient::Call&) -> Result<ApiReply> {
        return fakes::aws_error(404, "ResourceNotFoundException", "Function not found: old");
    };
    json next = json::object();
    auto failures = prune_stack(lambda, json{{"Old", kPrevious["Old"]}}, next, say);
    EXPECT_TRUE(failures.empty());
    EXPECT_EQ(said, (std::vector<std::string>{"deleted  Old  function old"}));
    EXPECT_TRUE(next.empty());
}

TEST_F(PruneTest, WhatCannotBeDeletedIsReportedAndStaysOnTheRecord) {
    api.answer = [](const FakeApiClient::Call& c) -> Result<ApiReply> {
        if (c.target == "/2015-03-31/functions/old")
            return fakes::aws_error(409, "ResourceConflictException", "The function is busy");
        return ApiReply{204, "", ""};
    };
    json next = json::object();
    auto failures =
        prune_stack(lambda, json{{"Old", kPrevious["Old"]}, {"Lib", kPrevious["Lib"]}}, next, say);
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0], "Old (DeleteFunction): ResourceConflictException: The function is busy");
    EXPECT_EQ(
        said,
        (std::vector<std::string>{
            "not deleted: Old (DeleteFunction): ResourceConflictException: The function is busy",
            "deleted  Lib  layer lib"}));
    // kept for the next deployment or `lamina delete` to try again
    EXPECT_EQ(next, json({{"Old", kPrevious["Old"]}}));
}

TEST_F(PruneTest, ReplacedLayerVersionsGoUnlessTheLayerRetainsThem) {
    json next = {{"Lib", kPrevious["Lib"]}};
    prune_stack(lambda, json{{"Lib", kPrevious["Lib"]}}, next, say);
    EXPECT_EQ(deletes(), (std::vector<std::string>{"/2018-10-31/layers/lib/versions/1"}));
    EXPECT_EQ(next["Lib"]["Versions"], json({"arn:aws:lambda:us-east-1:123456789012:layer:lib:2"}));

    api.calls.clear();
    next = {{"Lib", kPrevious["Lib"]}};
    next["Lib"]["Retain"] = true;
    prune_stack(lambda, json{{"Lib", kPrevious["Lib"]}}, next, say);
    EXPECT_TRUE(deletes().empty());
}

}  // namespace
}  // namespace lamina::sam
