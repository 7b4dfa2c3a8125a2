#include <gtest/gtest.h>

#include "fakes/api_client.hpp"
#include "fakes/temp_dir.hpp"
#include "sam/deployment.hpp"

// Function URLs in templates, against a fake API: SAM's FunctionUrlConfig
// read as the resources SAM makes of it, AWS::Lambda::Url's checks, and what
// a redeployment asks of the API for a URL that exists.

namespace lamina::sam {
namespace {

using fakes::FakeApiClient;
using nlohmann::json;

const std::string kAccount = "123456789012";
const std::string kFnArn = "arn:aws:lambda:us-east-1:" + kAccount + ":function:fn";
const std::string kUrlText =
    "http://0123456789abcdef0123456789abcdef.lambda-url.us-east-1.localhost/";

struct FunctionUrlTest : ::testing::Test {
    fakes::TempDir dir;
    FakeApiClient api;
    LambdaCalls lambda{api};
    std::vector<std::string> said;
    Deployer::Say say = [this](const std::string& l) { said.push_back(l); };
    DeployOptions options;
    std::optional<Template> tmpl;
    std::optional<Deployment> run;
    // what the fake server has
    std::optional<json> stack, url_config;
    bool function_exists = false;

    FunctionUrlTest() {
        options.stack_name = "stk";
        api.answer = [this](const FakeApiClient::Call& c) { return serve(c); };
    }

    Result<ApiReply> serve(const FakeApiClient::Call& c) {
        auto reply = [](const json& j) { return ApiReply{200, j.dump(), ""}; };
        auto missing = [] { return fakes::aws_error(404, "ResourceNotFoundException", "no"); };
        if (c.method == "POST" && c.target == "/")
            return ApiReply{200, "<Account>" + kAccount + "</Account>", ""};
        if (c.target == "/_lamina/stacks/stk") {
            if (c.method == "PUT") stack = json::parse(c.body);
            if (c.method == "GET") return stack ? reply(*stack) : missing();
            return reply(json::object());
        }
        if (c.target == "/2015-03-31/functions/fn") {
            if (c.method == "GET" && !function_exists) return missing();
            return reply({{"Configuration", {{"FunctionName", "fn"}, {"CodeSha256", ""}}}});
        }
        if (c.target.rfind("/2021-10-31/functions/fn/url", 0) == 0) {
            if (c.method == "GET") return url_config ? reply(*url_config) : missing();
            if (c.method == "DELETE") return ApiReply{204, "", ""};
            json sent = json::parse(c.body);
            sent["FunctionUrl"] = kUrlText;
            sent["FunctionArn"] = kFnArn;
            return ApiReply{c.method == "POST" ? 201u : 200u, sent.dump(), ""};
        }
        return reply(json::object());
    }

    Status plan(const std::string& text) {
        auto t = parse_template(text, dir.path() / "template.yaml");
        if (!t) return std::unexpected(t.error());
        tmpl = std::move(*t);
        run.emplace(lambda, say, *tmpl, options);
        return run->plan();
    }
    Result<DeployReport> deploy(const std::string& text) {
        LAMINA_CHECK(plan(text));
        return run->apply();
    }
    std::vector<std::string> url_calls() const {
        std::vector<std::string> out;
        for (const auto& c : api.calls)
            if (c.target.find("/url") != std::string::npos) out.push_back(c.method + " " + c.body);
        return out;
    }
};

const char* const kSamFunction = R"(Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(e, c):\n    return 1\n"
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
        Cors:
          AllowOrigins: ["https://example.com"]
          AllowCredentials: true
          MaxAge: 300
Outputs:
  Endpoint:
    Value: !GetAtt FnUrl.FunctionUrl
  Target:
    Value: !GetAtt FnUrl.FunctionArn
)";

TEST_F(FunctionUrlTest, SamFunctionUrlConfigGoesOnTheAliasWithSamsPublicPermissions) {
    auto st = plan(kSamFunction);
    ASSERT_TRUE(st) << st.error().message;
    const Plan& p = run->planned();
    EXPECT_EQ(p.order, (std::vector<std::string>{"Fn", "FnURLInvokeAllowPublicAccess", "FnUrl",
                                                 "FnUrlPublicPermissions"}));
    ASSERT_TRUE(p.function_urls.contains("FnUrl"));
    const UrlSpec& u = p.function_urls.at("FnUrl");
    EXPECT_EQ(u.function, "fn");
    EXPECT_EQ(u.qualifier, "live");
    EXPECT_EQ(u.body, json({{"AuthType", "NONE"},
                            {"InvokeMode", "RESPONSE_STREAM"},
                            {"Cors",
                             {{"AllowOrigins", {"https://example.com"}},
                              {"AllowCredentials", true},
                              {"MaxAge", 300}}}}));

    const PermissionSpec& url_access = p.permissions.at("FnUrlPublicPermissions");
    EXPECT_EQ(url_access.function, "fn");
    EXPECT_EQ(url_access.qualifier, "live");
    EXPECT_EQ(url_access.sid, generated_name("stk", "FnUrlPublicPermissions", 100));
    EXPECT_EQ(url_access.body, json({{"StatementId", url_access.sid},
                                     {"Action", "lambda:InvokeFunctionUrl"},
                                     {"Principal", "*"},
                                     {"FunctionUrlAuthType", "NONE"}}));
    const PermissionSpec& invoke = p.permissions.at("FnURLInvokeAllowPublicAccess");
    EXPECT_EQ(invoke.qualifier, "live");
    EXPECT_EQ(invoke.body.value("Action", ""), "lambda:InvokeFunction");
    EXPECT_EQ(invoke.body.value("InvokedViaFunctionUrl", false), true);

    EXPECT_EQ(p.outputs.at("Target"), kFnArn + ":live");
    EXPECT_EQ(p.outputs.at("Endpoint"), "");  // not known before it exists
}

TEST_F(FunctionUrlTest, AwsIamNeedsNoPermissionAndWithoutAliasTheUrlIsOnTheFunction) {
    std::string text = kSamFunction;
    text.replace(text.find("      AutoPublishAlias: live\n"), 29, "");
    text.replace(text.find("AuthType: NONE"), 14, "AuthType: AWS_IAM");
    auto st = plan(text);
    ASSERT_TRUE(st) << st.error().message;
    const Plan& p = run->planned();
    EXPECT_TRUE(p.permissions.empty());
    EXPECT_EQ(p.function_urls.at("FnUrl").qualifier, "");
    EXPECT_EQ(p.function_urls.at("FnUrl").body.value("AuthType", ""), "AWS_IAM");
    EXPECT_EQ(p.outputs.at("Target"), kFnArn);
}

TEST_F(FunctionUrlTest, MistakesAreRefusedWithTheirLine) {
    std::string no_auth = kSamFunction;
    no_auth.replace(no_auth.find("        AuthType: NONE\n"), 23, "");
    auto st = plan(no_auth);
    ASSERT_FALSE(st);
    EXPECT_NE(
        st.error().message.find(
            "template.yaml:11: Resources.Fn.Properties.FunctionUrlConfig: AuthType is required"),
        std::string::npos)
        << st.error().message;

    std::string bad_cors = kSamFunction;
    bad_cors.replace(bad_cors.find("MaxAge: 300"), 11, "MaxAgeSeconds: 300");
    st = plan(bad_cors);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find(":17: Resources.Fn.Properties.FunctionUrlConfig.Cors."
                                      "MaxAgeSeconds: MaxAgeSeconds is not a valid property"),
              std::string::npos)
        << st.error().message;

    st = plan(R"(Resources:
  Url:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: arn:aws:lambda:us-east-1:123456789012:function:fn
      AuthType: OPEN
)");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find(
                  ":6: Resources.Url.Properties.AuthType: must be AWS_IAM or NONE, got 'OPEN'"),
              std::string::npos)
        << st.error().message;

    st = plan(
        "Resources:\n  Url:\n    Type: AWS::Lambda::Url\n    Properties:\n      AuthType: NONE\n");
    ASSERT_FALSE(st);
    EXPECT_NE(
        st.error().message.find(":4: Resources.Url.Properties: TargetFunctionArn is required"),
        std::string::npos)
        << st.error().message;
    EXPECT_TRUE(url_calls().empty());
}

const char* const kCfnUrl = R"(Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: fn
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/r
      Code: {ZipFile: "def handler(e, c):\n    return 1\n"}
  Url:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Fn.Arn
      AuthType: AWS_IAM
Outputs:
  Endpoint:
    Value: !GetAtt Url.FunctionUrl
  Physical:
    Value: !Ref Url
)";

TEST_F(FunctionUrlTest, ARedeployKeepsTheUrlAndUpdatesOnlyWhatChanged) {
    auto first = deploy(kCfnUrl);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(url_calls(), (std::vector<std::string>{"GET ", R"(POST {"AuthType":"AWS_IAM"})"}));
    EXPECT_EQ(first->outputs.at("Endpoint"), kUrlText);
    EXPECT_EQ(first->outputs.at("Physical"), kFnArn);
    EXPECT_EQ(first->function_urls, (std::map<std::string, std::string>{{"Url", kUrlText}}));
    EXPECT_EQ((*stack)["Resources"]["Url"], json({{"Type", sam::kUrl},
                                                  {"FunctionName", "fn"},
                                                  {"Qualifier", ""},
                                                  {"FunctionUrl", kUrlText}}));

    // the same template again: the URL config is read, not changed
    function_exists = true;
    url_config = {{"FunctionUrl", kUrlText},  {"FunctionArn", kFnArn}, {"AuthType", "AWS_IAM"},
                  {"InvokeMode", "BUFFERED"}, {"CreationTime", "x"},   {"LastModifiedTime", "x"}};
    api.calls.clear();
    auto again = deploy(kCfnUrl);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(url_calls(), (std::vector<std::string>{"GET "}));
    EXPECT_EQ(again->outputs.at("Endpoint"), kUrlText);

    // a changed AuthType is an update, sent whole (Update keeps what it is not sent)
    (*url_config)["Cors"] = {{"AllowOrigins", {"*"}}};  // set by an earlier template
    std::string text = kCfnUrl;
    text.replace(text.find("AuthType: AWS_IAM"), 17, "AuthType: NONE");
    api.calls.clear();
    auto changed = deploy(text);
    ASSERT_TRUE(changed) << changed.error().message;
    EXPECT_EQ(url_calls(),
              (std::vector<std::string>{
                  "GET ", R"(PUT {"AuthType":"NONE","Cors":{},"InvokeMode":"BUFFERED"})"}));
    EXPECT_EQ(changed->function_urls.at("Url"), kUrlText);

    // removed from the template: deleted
    std::string without = kCfnUrl;
    without.resize(without.find("  Url:\n"));
    api.calls.clear();
    auto removed = deploy(without);
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(url_calls(), (std::vector<std::string>{"DELETE "}));
    EXPECT_FALSE((*stack)["Resources"].contains("Url"));
}

TEST_F(FunctionUrlTest, AUrlTheStackDidNotMakeIsNotTakenOver) {
    function_exists = true;
    stack = json::parse(
        R"({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "FunctionName": "fn"}}})");  // the function is ours
    url_config = {{"FunctionUrl", kUrlText}, {"FunctionArn", kFnArn}, {"AuthType", "AWS_IAM"}};
    auto r = deploy(kCfnUrl);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("Url: fn already has a function URL, not made by stack stk"),
              std::string::npos)
        << r.error().message;
}

}  // namespace
}  // namespace lamina::sam
