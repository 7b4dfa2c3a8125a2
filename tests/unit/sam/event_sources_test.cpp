#include <gtest/gtest.h>

#include "fakes/api_client.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"
#include "sam/deployment.hpp"

// Queues, buckets and event source mappings in templates: what the plan
// reads (SAM's SQS and S3 events as the resources SAM makes of them), and the
// prune's order and DeletionPolicy Retain.

namespace lamina::sam {
namespace {

using fakes::FakeApiClient;
using nlohmann::json;

const std::string kAccount = "123456789012";

struct EventSourcesTest : ::testing::Test {
    fakes::TempDir dir;
    FakeApiClient api;
    LambdaCalls lambda{api};
    Deployer::Say say;
    DeployOptions options;
    std::optional<Template> tmpl;
    std::optional<Deployment> run;

    EventSourcesTest() {
        options.stack_name = "stk";
        api.answer = [](const FakeApiClient::Call& c) -> Result<ApiReply> {
            if (c.method == "POST" && c.target == "/" && c.service == "lambda")
                return ApiReply{
                    200, "<GetCallerIdentityResponse><Account>" + kAccount + "</Account>", ""};
            if (c.method == "GET")
                return fakes::aws_error(404, "ResourceNotFoundException", "not found");
            return fakes::aws_error(500, "ServiceException", "the plan must not change anything");
        };
    }

    Status plan(const std::string& text) {
        auto t = parse_template(text, dir.path() / "template.yaml");
        if (!t) return std::unexpected(t.error());
        tmpl = std::move(*t);
        run.emplace(lambda, say, *tmpl, options);
        return run->plan();
    }
    const Plan& planned() const { return run->planned(); }
    std::size_t position(const std::string& id) const {
        const auto& o = planned().order;
        return static_cast<std::size_t>(std::find(o.begin(), o.end(), id) - o.begin());
    }
};

const char* const kEvents = R"(Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 40
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
      Tags: [{Key: team, Value: core}]
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
  Uploads:
    Type: AWS::S3::Bucket
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(e, c):\n    return 1\n"
      AutoPublishAlias: live
      Events:
        Work:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: "5", Enabled: false}
        Up:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: [s3:ObjectCreated:*, s3:ObjectRemoved:*]
            Filter: {S3Key: {Rules: [{Name: prefix, Value: "in/"}]}}
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
Outputs:
  Arn:
    Value: !GetAtt Jobs.Arn
  Bucket:
    Value: !Ref Uploads
)";

TEST_F(EventSourcesTest, SamEventsBecomeMappingsPermissionsAndBucketNotifications) {
    auto st = plan(kEvents);
    ASSERT_TRUE(st) << st.error().message;
    const Plan& p = planned();
    const std::string fn_arn =
        "arn:aws:lambda:us-east-1:" + kAccount + ":function:" + p.functions.at("Fn").name;

    // queues: CloudFormation's generated names, attributes as SQS takes them
    const QueueSpec& jobs = p.queues.at("Jobs");
    EXPECT_EQ(jobs.name, generated_name("stk", "Jobs", 80));
    const QueueSpec& dead = p.queues.at("Dead");
    EXPECT_EQ(dead.name, generated_name("stk", "Dead", 75) + ".fifo");
    EXPECT_EQ(dead.attributes, json({{"FifoQueue", "true"}}));
    const std::string dead_arn = "arn:aws:sqs:us-east-1:" + kAccount + ":" + dead.name;
    EXPECT_EQ(jobs.attributes.at("VisibilityTimeout"), "40");
    EXPECT_EQ(json::parse(jobs.attributes.at("RedrivePolicy").get<std::string>()),
              json({{"deadLetterTargetArn", dead_arn}, {"maxReceiveCount", 3}}));
    EXPECT_EQ(jobs.tags, json({{"team", "core"}}));
    EXPECT_EQ(p.outputs.at("Arn"), "arn:aws:sqs:us-east-1:" + kAccount + ":" + jobs.name);

    // SAM's <Function><Event> mapping, on the alias, after its queue and function
    const MappingSpec& m = p.mappings.at("FnWork");
    EXPECT_EQ(m.source_arn, "arn:aws:sqs:us-east-1:" + kAccount + ":" + jobs.name);
    EXPECT_EQ(m.body, json({{"FunctionName", fn_arn + ":live"},
                            {"EventSourceArn", m.source_arn},
                            {"BatchSize", 5},
                            {"Enabled", false}}));
    EXPECT_GT(position("FnWork"), position("Jobs"));
    EXPECT_GT(position("FnWork"), position("Fn"));

    // SAM's <Function><Event>Permission, and the bucket made after it
    const PermissionSpec& perm = p.permissions.at("FnUpPermission");
    EXPECT_EQ(perm.function, p.functions.at("Fn").name);
    EXPECT_EQ(perm.qualifier, "live");
    EXPECT_EQ(perm.body.at("Principal"), "s3.amazonaws.com");
    EXPECT_EQ(perm.body.at("SourceAccount"), kAccount);
    EXPECT_GT(position("Uploads"), position("FnUpPermission"));
    const BucketSpec& b = p.buckets.at("Uploads");
    EXPECT_EQ(b.name, ascii_lower(generated_name("stk", "Uploads", 63)));
    EXPECT_EQ(p.outputs.at("Bucket"), b.name);
    ASSERT_TRUE(b.notification);
    const std::string rule =
        "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule></S3Key>"
        "</Filter>";
    EXPECT_EQ(*b.notification,
              R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
              "<CloudFunctionConfiguration><CloudFunction>" +
                  fn_arn + ":live</CloudFunction><Event>s3:ObjectCreated:*</Event>" + rule +
                  "</CloudFunctionConfiguration><CloudFunctionConfiguration><CloudFunction>" +
                  fn_arn + ":live</CloudFunction><Event>s3:ObjectRemoved:*</Event>" + rule +
                  "</CloudFunctionConfiguration></NotificationConfiguration>");
    // nothing else became a resource (Schedule stays skipped)
    EXPECT_EQ(p.order.size(), 6u);
}

TEST_F(EventSourcesTest, AnS3EventNeedsABucketOfTheTemplate) {
    auto st = plan(R"(Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "x"
      Events:
        Up:
          Type: S3
          Properties: {Bucket: some-bucket, Events: s3:ObjectCreated:*}
)");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("Events.Up.Properties.Bucket"), std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("must be a Ref to an AWS::S3::Bucket"), std::string::npos);
}

TEST_F(EventSourcesTest, AFifoQueueNameMustEndWithFifo) {
    auto st = plan(R"(Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties: {QueueName: orders, FifoQueue: true}
)");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("must end with .fifo"), std::string::npos);
}

TEST_F(EventSourcesTest, AMappingNeedsItsSourceAndFunction) {
    auto st = plan(R"(Resources:
  M:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {FunctionName: f}
)");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("EventSourceArn is required"), std::string::npos);
}

TEST(EventSourcesPrune, MappingsFirstQueuesLastAndRetainKeeps) {
    FakeApiClient api;
    LambdaCalls lambda{api};
    std::vector<std::string> said;
    Deployer::Say say = [&](const std::string& line) { said.push_back(line); };
    const json previous = {
        {"Q", {{"Type", kQueue}, {"QueueName", "q"}, {"QueueUrl", "http://h/1/q"}}},
        {"Kept",
         {{"Type", kQueue}, {"QueueName", "k"}, {"QueueUrl", "http://h/1/k"}, {"Retain", true}}},
        {"M", {{"Type", kEventSourceMapping}, {"UUID", "u-1"}}},
        {"B", {{"Type", kBucket}, {"BucketName", "b"}}},
        {"Fn", {{"Type", kFunction}, {"FunctionName", "f"}}},
    };
    json next = json::object();
    auto failures = prune_stack(lambda, previous, next, say);
    EXPECT_TRUE(failures.empty());
    std::vector<std::string> calls;
    for (const auto& c : api.calls)
        calls.push_back(c.service + " " + c.method + " " + c.target + " " + c.amz_target);
    EXPECT_EQ(calls, (std::vector<std::string>{
                         "lambda DELETE /2015-03-31/event-source-mappings/u-1 ",
                         "s3 DELETE /b ",
                         "lambda DELETE /2015-03-31/functions/f ",
                         "sqs POST / AmazonSQS.DeleteQueue",
                     }));
    EXPECT_NE(std::find(said.begin(), said.end(), "retained Kept  queue http://h/1/k"), said.end());
    EXPECT_TRUE(next.empty());
}

}  // namespace
}  // namespace lamina::sam
