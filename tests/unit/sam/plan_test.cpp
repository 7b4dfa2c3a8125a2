#include <gtest/gtest.h>

#include <fstream>

#include "fakes/api_client.hpp"
#include "fakes/temp_dir.hpp"
#include "sam/deployment.hpp"

// The plan phase without a server: a template read into a Plan, with a fake
// API that knows the account and has no stacks and no functions.

namespace lamina::sam {
namespace {

using fakes::FakeApiClient;
using nlohmann::json;

const std::string kAccount = "123456789012";

struct PlanTest : ::testing::Test {
    fakes::TempDir dir;
    FakeApiClient api;
    LambdaCalls lambda{api};
    Deployer::Say say;  // plans say nothing
    DeployOptions options;
    std::optional<Template> tmpl;
    std::optional<Deployment> run;

    PlanTest() {
        options.stack_name = "stk";
        api.answer = [](const FakeApiClient::Call& c) -> Result<ApiReply> {
            if (c.method == "POST" && c.target == "/")
                return ApiReply{
                    200, "<GetCallerIdentityResponse><Account>" + kAccount + "</Account>", ""};
            if (c.method == "GET" && c.target.rfind("/2018-10-31/layers?", 0) == 0)
                return ApiReply{200, "{}", ""};
            if (c.method == "GET")
                return fakes::aws_error(404, "ResourceNotFoundException", "not found");
            return fakes::aws_error(500, "ServiceException", "the plan must not change anything");
        };
        std::filesystem::create_directories(dir.path() / "lib" / "python");
        std::ofstream(dir.path() / "lib" / "python" / "util.py") << "X = 1\n";
    }

    Status plan(const std::string& text) {
        auto t = parse_template(text, dir.path() / "template.yaml");
        if (!t) return std::unexpected(t.error());
        tmpl = std::move(*t);
        run.emplace(lambda, say, *tmpl, options);
        return run->plan();
    }
    const Plan& planned() const { return run->planned(); }
    // What the plan asked the API to change: nothing but STS's read-only POST.
    std::vector<std::string> changes() const {
        std::vector<std::string> out;
        for (const auto& c : api.calls)
            if (c.method != "GET" && c.target != "/") out.push_back(c.method + " " + c.target);
        return out;
    }
};

const char* const kSamApp = R"(Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables: {STAGE: dev}
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: lib
      ContentUri: lib/
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(e, c):\n    return 1\n"
      MemorySize: 256
      Environment:
        Variables: {COLOR: blue}
      Layers: [!Ref Lib]
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
Outputs:
  FnArn:
    Value: !GetAtt Fn.Arn
  LiveAlias:
    Value: !Ref FnAliaslive
)";

TEST_F(PlanTest, ReadsFunctionsLayersAndAutoPublishAlias) {
    auto st = plan(kSamApp);
    ASSERT_TRUE(st) << st.error().message;
    const Plan& p = planned();
    EXPECT_EQ(p.account, kAccount);
    EXPECT_EQ(p.order, (std::vector<std::string>{"Lib", "Fn"}));  // the layer before its user

    ASSERT_TRUE(p.layers.contains("Lib"));
    const LayerSpec& lib = p.layers.at("Lib");
    EXPECT_EQ(lib.name, "lib");
    EXPECT_TRUE(lib.retain);  // SAM's default RetentionPolicy
    ASSERT_TRUE(lib.code.folder);
    EXPECT_EQ(lib.code.folder->filename(), "lib");

    ASSERT_TRUE(p.functions.contains("Fn"));
    const FunctionSpec& fn = p.functions.at("Fn");
    EXPECT_EQ(fn.name.rfind("stk-Fn-", 0), 0u) << fn.name;  // CloudFormation's generated name
    EXPECT_EQ(fn.runtime, "python3.12");
    EXPECT_EQ(fn.handler, "app.handler");
    EXPECT_EQ(fn.memory, 256);
    EXPECT_EQ(fn.timeout, 10);                                               // from Globals
    EXPECT_EQ(fn.environment, json({{"STAGE", "dev"}, {"COLOR", "blue"}}));  // Globals merged
    EXPECT_EQ(fn.layers,
              (std::vector<std::string>{"arn:aws:lambda:us-east-1:" + kAccount + ":layer:lib:1"}));
    EXPECT_EQ(fn.alias, "live");
    EXPECT_EQ(fn.deployment_type, "Canary10Percent5Minutes");
    EXPECT_EQ(fn.role, "arn:aws:iam::" + kAccount + ":role/" + generated_name("stk", "FnRole"));

    std::string arn = "arn:aws:lambda:us-east-1:" + kAccount + ":function:" + fn.name;
    EXPECT_EQ(p.outputs.at("FnArn"), arn);
    EXPECT_EQ(p.outputs.at("LiveAlias"), arn + ":live");
    EXPECT_TRUE(changes().empty()) << changes().front();
}

// --hot-reload: a folder is sent as hot-reload code (the server binds it),
// neither zipped nor watched by the deployer; inline code is zipped as ever.
TEST_F(PlanTest, HotReloadSendsFoldersAsTheMarkerBucketAndTheirPath) {
    options.hot_reload_bucket = "hot-reload";
    auto st = plan(kSamApp);
    ASSERT_TRUE(st) << st.error().message;
    const LayerSpec& lib = planned().layers.at("Lib");
    std::string folder = std::filesystem::weakly_canonical(dir.path() / "lib").string();
    EXPECT_EQ(lib.code.body(), json({{"S3Bucket", "hot-reload"}, {"S3Key", folder}}));
    EXPECT_FALSE(lib.code.folder);  // nothing for --watch to zip again
    EXPECT_TRUE(planned().functions.at("Fn").code.body().contains("ZipFile"));
}

TEST_F(PlanTest, ConditionsLeaveResourcesOut) {
    const std::string text = R"(Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: a.h, InlineCode: x, FunctionName: fn}
  Warm:
    Type: AWS::Lambda::Version
    Condition: IsProd
    Properties: {FunctionName: !Ref Fn}
Outputs:
  WarmVersion:
    Condition: IsProd
    Value: !GetAtt Warm.Version
)";
    ASSERT_TRUE(plan(text));
    EXPECT_FALSE(run->conditions().at("IsProd"));
    EXPECT_TRUE(planned().excluded.contains("Warm"));
    EXPECT_FALSE(planned().versions.contains("Warm"));
    EXPECT_FALSE(planned().outputs.contains("WarmVersion"));

    options.parameter_overrides = {{"Stage", "prod"}};
    ASSERT_TRUE(plan(text));
    EXPECT_TRUE(run->conditions().at("IsProd"));
    ASSERT_TRUE(planned().versions.contains("Warm"));
    EXPECT_EQ(planned().versions.at("Warm").function, "fn");
    EXPECT_EQ(planned().outputs.at("WarmVersion"), "1");  // the version it will publish first
}

TEST_F(PlanTest, CloudFormationAliasesAndPermissions) {
    const std::string text = R"(Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: fn
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/r
      Code: {ZipFile: "exports.handler = async () => 1;"}
  V1:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  Live:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: live, FunctionVersion: !GetAtt V1.Version}
  Allow:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Live, Action: lambda:InvokeFunction, Principal: s3.amazonaws.com}
)";
    ASSERT_TRUE(plan(text));
    const Plan& p = planned();
    EXPECT_EQ(p.order, (std::vector<std::string>{"Fn", "V1", "Live", "Allow"}));
    EXPECT_EQ(p.aliases.at("Live").function, "fn");
    EXPECT_EQ(p.aliases.at("Live").version, "1");
    const PermissionSpec& allow = p.permissions.at("Allow");
    EXPECT_EQ(allow.function, "fn");
    EXPECT_EQ(allow.qualifier, "live");  // Ref of an alias is its ARN
    EXPECT_EQ(allow.sid, generated_name("stk", "Allow", 100));
    EXPECT_EQ(allow.body.value("Principal", ""), "s3.amazonaws.com");
}

TEST_F(PlanTest, ABadPropertyIsRefusedWithItsLine) {
    const std::string text =
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.12\n"
        "      Handler: a.h\n"
        "      InlineCode: x\n"
        "      MemorySize: 20000\n";
    auto st = plan(text);
    ASSERT_FALSE(st);
    EXPECT_EQ(
        st.error().message,
        (dir.path() / "template.yaml").string() +
            ":9: Resources.Fn.Properties.MemorySize: must be between 128 and 10240, got 20000");
    EXPECT_TRUE(changes().empty());
}

TEST_F(PlanTest, DeploymentPreferenceNeedsAutoPublishAlias) {
    const std::string text =
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.12\n"
        "      Handler: a.h\n"
        "      InlineCode: x\n"
        "      DeploymentPreference:\n"
        "        Type: Linear10PercentEvery1Minute\n";
    auto st = plan(text);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find(
                  "template.yaml:9: Resources.Fn.Properties.DeploymentPreference: needs "
                  "AutoPublishAlias"),
              std::string::npos)
        << st.error().message;
}

TEST_F(PlanTest, AFunctionMadeOutsideTheStackIsNotTakenOver) {
    api.answer = [inner = api.answer](const FakeApiClient::Call& c) -> Result<ApiReply> {
        if (c.method == "GET" && c.target == "/2015-03-31/functions/mine")
            return ApiReply{200, R"({"Configuration": {"FunctionName": "mine"}})", ""};
        return inner(c);
    };
    auto st = plan(
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Lambda::Function\n"
        "    Properties: {FunctionName: mine, Runtime: python3.12, Handler: a.h,\n"
        "                 Role: 'arn:aws:iam::123456789012:role/r', Code: {ZipFile: x}}\n");
    ASSERT_FALSE(st);
    EXPECT_NE(
        st.error().message.find("the function mine already exists and was not made by stack stk"),
        std::string::npos)
        << st.error().message;
}

TEST_F(PlanTest, UnknownParameterOverridesAreRefused) {
    options.parameter_overrides = {{"Nope", "1"}};
    auto st = plan(kSamApp);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("Parameters: [Nope] do not exist in the template"),
              std::string::npos);
}

}  // namespace
}  // namespace lamina::sam

namespace lamina::sam {
namespace {

TEST_F(PlanTest, TenancyConfigIsReadFromTheFunctionAndItsGlobals) {
    auto st = plan(R"(Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    TenancyConfig:
      TenantIsolationMode: PER_TENANT
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(e, c):\n    return 1\n"
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: arn:aws:iam::123456789012:role/r
      Code:
        ZipFile: "def handler(e, c):\n    return 1\n"
)");
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(planned().functions.at("Fn").tenancy, "PER_TENANT");
    EXPECT_FALSE(planned().functions.at("Plain").tenancy.has_value());

    auto bad = plan(R"(Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: arn:aws:iam::123456789012:role/r
      TenancyConfig:
        TenantIsolationMode: SHARED
      Code:
        ZipFile: "def handler(e, c):\n    return 1\n"
)");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("TenancyConfig"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace lamina::sam
