#include "sam/lambda_calls.hpp"

#include <gtest/gtest.h>

#include "fakes/api_client.hpp"

namespace lamina::sam {
namespace {

using fakes::FakeApiClient;
using nlohmann::json;

struct LambdaCallsTest : ::testing::Test {
    FakeApiClient api;
    LambdaCalls lambda{api};

    const FakeApiClient::Call& last() const { return api.calls.back(); }
};

TEST_F(LambdaCallsTest, FunctionOperationsUseLambdasPaths) {
    ASSERT_TRUE(lambda.create_function(json{{"FunctionName", "f"}}, "Fn"));
    EXPECT_EQ(last().method, "POST");
    EXPECT_EQ(last().target, "/2015-03-31/functions");
    EXPECT_EQ(json::parse(last().body), json({{"FunctionName", "f"}}));

    ASSERT_TRUE(lambda.update_function_configuration("f", json{{"Timeout", 9}}, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/configuration");
    EXPECT_EQ(json::parse(last().body), json({{"Timeout", 9}}));

    ASSERT_TRUE(lambda.update_function_code("f", json{{"ZipFile", "UEs="}}, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/code");

    ASSERT_TRUE(lambda.delete_function_version("f", "3", "Fn"));
    EXPECT_EQ(last().method, "DELETE");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f?Qualifier=3");
    EXPECT_EQ(last().body, "");

    ASSERT_TRUE(lambda.put_function_concurrency("f", 5, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2017-10-31/functions/f/concurrency");
    EXPECT_EQ(json::parse(last().body), json({{"ReservedConcurrentExecutions", 5}}));
}

TEST_F(LambdaCallsTest, VersionsAliasesAndQualifiedSettings) {
    ASSERT_TRUE(lambda.publish_version("f", json{{"Description", "v"}}, "Fn"));
    EXPECT_EQ(last().method, "POST");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/versions");

    ASSERT_TRUE(lambda.create_alias("f", json{{"Name", "live"}, {"FunctionVersion", "1"}}, "Fn"));
    EXPECT_EQ(last().method, "POST");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/aliases");

    ASSERT_TRUE(lambda.update_alias("f", "live", json{{"FunctionVersion", "2"}}, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/aliases/live");

    ASSERT_TRUE(lambda.put_provisioned_concurrency_config("f", "live", 2, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=live");
    EXPECT_EQ(json::parse(last().body), json({{"ProvisionedConcurrentExecutions", 2}}));

    // $LATEST is percent-encoded in the query
    ASSERT_TRUE(lambda.put_function_event_invoke_config("f", "$LATEST",
                                                        json{{"MaximumRetryAttempts", 0}}, "Fn"));
    EXPECT_EQ(last().method, "PUT");
    EXPECT_EQ(last().target, "/2019-09-25/functions/f/event-invoke-config?Qualifier=%24LATEST");
}

TEST_F(LambdaCallsTest, TagsPoliciesAndLayers) {
    std::string arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    ASSERT_TRUE(lambda.tag_resource(arn, json{{"team", "a"}}, "Fn"));
    EXPECT_EQ(last().method, "POST");
    EXPECT_EQ(last().target,
              "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af");
    EXPECT_EQ(json::parse(last().body), json({{"Tags", {{"team", "a"}}}}));

    ASSERT_TRUE(lambda.untag_resource(arn, {"team", "cost center"}, "Fn"));
    EXPECT_EQ(last().method, "DELETE");
    EXPECT_EQ(last().target,
              "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af"
              "?tagKeys=team&tagKeys=cost%20center");

    ASSERT_TRUE(lambda.add_permission("f", "live", json{{"StatementId", "s1"}}, "Perm"));
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/policy?Qualifier=live");
    ASSERT_TRUE(lambda.remove_permission("f", "", "s1", "Perm"));
    EXPECT_EQ(last().method, "DELETE");
    EXPECT_EQ(last().target, "/2015-03-31/functions/f/policy/s1");

    ASSERT_TRUE(
        lambda.publish_layer_version("lib", json{{"Content", {{"ZipFile", "UEs="}}}}, "Lib"));
    EXPECT_EQ(last().method, "POST");
    EXPECT_EQ(last().target, "/2018-10-31/layers/lib/versions");
    ASSERT_TRUE(lambda.delete_layer_version(LayerVersionId{"lib", 4}, "Lib"));
    EXPECT_EQ(last().method, "DELETE");
    EXPECT_EQ(last().target, "/2018-10-31/layers/lib/versions/4");
    ASSERT_TRUE(lambda.get_layer_version_by_arn("arn:aws:lambda:us-east-1:123456789012:layer:lib:4",
                                                "Lib"));
    EXPECT_EQ(last().method, "GET");
    EXPECT_EQ(last().target,
              "/2018-10-31/"
              "layers?find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%"
              "3Alib%3A4");
    ASSERT_TRUE(lambda.add_layer_version_permission(LayerVersionId{"lib", 4},
                                                    json{{"StatementId", "s"}}, "P"));
    EXPECT_EQ(last().target, "/2018-10-31/layers/lib/versions/4/policy");
}

TEST_F(LambdaCallsTest, LayerVersionArnsAndPolicyPathsRoundTrip) {
    auto id = parse_layer_version_arn("arn:aws:lambda:eu-west-1:123456789012:layer:my-lib:12");
    ASSERT_TRUE(id);
    EXPECT_EQ(id->layer, "my-lib");
    EXPECT_EQ(id->version, 12);
    EXPECT_FALSE(parse_layer_version_arn("arn:aws:lambda:eu-west-1:123456789012:function:f"));
    std::string path = LambdaCalls::layer_version_policy_path(*id);
    EXPECT_EQ(path, "/2018-10-31/layers/my-lib/versions/12/policy");
    auto back = LambdaCalls::parse_layer_version_policy_path(path);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->layer, "my-lib");
    EXPECT_EQ(back->version, 12);
}

TEST_F(LambdaCallsTest, ARefusalNamesTheResourceTheOperationAndAwsError) {
    api.answer = [](const FakeApiClient::Call&) -> Result<ApiReply> {
        return fakes::aws_error(409, "ResourceConflictException", "Function already exist: f");
    };
    auto r = lambda.create_function(json{{"FunctionName", "f"}}, "Fn");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "Fn (CreateFunction): ResourceConflictException: Function already exist: f");
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    // without a name: AWS's error alone
    auto s = lambda.put_function_concurrency("f", 5000, "");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "ResourceConflictException: Function already exist: f");
}

TEST_F(LambdaCallsTest, NotFoundIsTellableFromOtherFailures) {
    api.answer = [](const FakeApiClient::Call&) -> Result<ApiReply> {
        return fakes::aws_error(404, "ResourceNotFoundException", "Function not found: f");
    };
    auto got = lambda.get_function("f", "Fn");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, ErrorCode::ResourceNotFound);
    auto found = if_found(lambda.get_function("f", "Fn"));
    ASSERT_TRUE(found);
    EXPECT_FALSE(*found);
    EXPECT_TRUE(absent_is_done(lambda.delete_alias("f", "live", "Fn")));

    api.answer = [](const FakeApiClient::Call&) -> Result<ApiReply> {
        return fakes::aws_error(409, "ResourceConflictException", "in use");
    };
    auto conflict = absent_is_done(lambda.delete_alias("f", "live", "Fn"));
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().message, "Fn (DeleteAlias): ResourceConflictException: in use");
}

TEST_F(LambdaCallsTest, TransportFailuresPassThroughUnchanged) {
    api.answer = [](const FakeApiClient::Call&) -> Result<ApiReply> {
        return fail(ErrorCode::Service, "cannot reach lamina at http://127.0.0.1:1: refused");
    };
    auto r = lambda.update_alias("f", "live", json::object(), "Fn");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "cannot reach lamina at http://127.0.0.1:1: refused");
}

TEST_F(LambdaCallsTest, StackRecords) {
    api.answer = [](const FakeApiClient::Call& c) -> Result<ApiReply> {
        if (c.method == "GET")
            return fakes::aws_error(404, "ResourceNotFoundException", "Stack not found: s");
        return ApiReply{500, R"({"message":"disk full"})", "ServiceException"};
    };
    auto none = lambda.get_stack("s");
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    EXPECT_EQ(last().target, "/_lamina/stacks/s");
    auto saved = lambda.put_stack("s", json{{"Resources", json::object()}});
    ASSERT_FALSE(saved);
    EXPECT_EQ(saved.error().message, "saving the stack record: ServiceException: disk full");
}

}  // namespace
}  // namespace lamina::sam
