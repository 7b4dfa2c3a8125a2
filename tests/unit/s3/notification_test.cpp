#include "lamina/s3/notification.hpp"

#include <gtest/gtest.h>

#include "lamina/s3/xml.hpp"

using namespace lamina;
using namespace lamina::s3;

namespace {

const std::string kFn = "arn:aws:lambda:us-east-1:111111111111:function:f";
const std::string kQueue = "arn:aws:sqs:us-east-1:111111111111:q";

std::string doc(const std::string& inner) {
    return "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + inner +
           "</NotificationConfiguration>";
}

std::string lambda_config(const std::string& id, const std::string& events,
                          const std::string& filter = "", const std::string& arn = kFn) {
    return "<CloudFunctionConfiguration>" + (id.empty() ? "" : "<Id>" + id + "</Id>") +
           "<CloudFunction>" + arn + "</CloudFunction>" + events + filter +
           "</CloudFunctionConfiguration>";
}

std::string rule(const std::string& name, const std::string& value) {
    return "<FilterRule><Name>" + name + "</Name><Value>" + value + "</Value></FilterRule>";
}

std::string filter(const std::string& rules) {
    return "<Filter><S3Key>" + rules + "</S3Key></Filter>";
}

S3Result<NotificationConfig> parse(const std::string& body) {
    int n = 0;
    return parse_notification_xml(body, [&n] { return "gen-" + std::to_string(++n); });
}

const std::string kCreated = "<Event>s3:ObjectCreated:*</Event>";

}  // namespace

TEST(S3Notification, ParsesLambdaAndQueueConfigurations) {
    auto c = parse(doc(lambda_config("id1", kCreated + "<Event>s3:ObjectRemoved:Delete</Event>",
                                     filter(rule("prefix", "in/") + rule("SUFFIX", ".txt"))) +
                       "<QueueConfiguration><Queue>" + kQueue +
                       "</Queue><Event>s3:ObjectRestore:*</Event></QueueConfiguration>"));
    ASSERT_TRUE(c.has_value()) << s3_message(c.error());
    ASSERT_EQ(c->targets.size(), 2u);
    const auto& l = c->targets[0];
    EXPECT_EQ(l.kind, TargetKind::Lambda);
    EXPECT_EQ(l.id, "id1");
    EXPECT_EQ(l.arn, kFn);
    EXPECT_EQ(l.events,
              (std::vector<std::string>{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"}));
    ASSERT_EQ(l.rules.size(), 2u);  // names normalised as S3 records them
    EXPECT_EQ(l.rules[0].name, "Prefix");
    EXPECT_EQ(l.rules[0].value, "in/");
    EXPECT_EQ(l.rules[1].name, "Suffix");
    EXPECT_EQ(c->targets[1].kind, TargetKind::Queue);
    EXPECT_EQ(c->targets[1].id, "gen-1");  // generated when absent
}

TEST(S3Notification, EmptyConfigurationClearsAndEmptyValueIsKept) {
    auto empty = parse(doc(""));
    ASSERT_TRUE(empty.has_value());
    EXPECT_TRUE(empty->targets.empty());
    auto c = parse(doc(lambda_config("a", kCreated, filter(rule("suffix", "")))));
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->targets[0].rules[0].value, "");
}

TEST(S3Notification, RefusesUnparsableArnsFirstOneReported) {
    auto c = parse(doc(lambda_config("a", kCreated, "", "invalid-queue") +
                       lambda_config("b", "<Event>s3:ObjectRemoved:*</Event>", "", "other")));
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, S3ErrorCode::InvalidArgument);
    EXPECT_EQ(s3_message(c.error()), "The ARN could not be parsed");
    ASSERT_EQ(c.error().fields.size(), 2u);
    EXPECT_EQ(c.error().fields[0],
              (std::pair<std::string, std::string>{"ArgumentName", "CloudFunction"}));
    EXPECT_EQ(c.error().fields[1],
              (std::pair<std::string, std::string>{"ArgumentValue", "invalid-queue"}));
    auto q = parse(
        doc("<QueueConfiguration><Queue>arn:aws</Queue>" + kCreated + "</QueueConfiguration>"));
    ASSERT_FALSE(q.has_value());
    EXPECT_EQ(q.error().fields[0].second, "Queue");
}

TEST(S3Notification, RefusesBadEventsRulesAndShapes) {
    EXPECT_EQ(parse(doc(lambda_config("a", "<Event>s3:ObjectCreated:Nope</Event>"))).error().code,
              S3ErrorCode::InvalidArgument);
    EXPECT_EQ(parse(doc(lambda_config("a", ""))).error().code, S3ErrorCode::MalformedXML);
    EXPECT_EQ(parse(doc(lambda_config("a", kCreated, filter(rule("infix", "x"))))).error().code,
              S3ErrorCode::InvalidArgument);
    auto twice =
        parse(doc(lambda_config("a", kCreated, filter(rule("prefix", "a") + rule("Prefix", "b")))));
    ASSERT_FALSE(twice.has_value());
    EXPECT_EQ(s3_message(twice.error()), "Cannot specify more than one prefix rule in a filter.");
    EXPECT_EQ(parse("<Other/>").error().code, S3ErrorCode::MalformedXML);
    EXPECT_EQ(parse("").error().code, S3ErrorCode::MalformedXML);
    EXPECT_EQ(parse(doc("<Bogus/>")).error().code, S3ErrorCode::MalformedXML);
    EXPECT_EQ(parse(doc("<TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic>" + kCreated +
                        "</TopicConfiguration>"))
                  .error()
                  .code,
              S3ErrorCode::NotImplemented);
    auto eb = parse(doc("<EventBridgeConfiguration/>"));
    ASSERT_FALSE(eb.has_value());
    EXPECT_NE(s3_message(eb.error()).find("EventBridgeConfiguration"), std::string::npos);
}

TEST(S3Notification, RefusesOverlaps) {
    // same event type, no filters
    auto a = parse(doc(lambda_config("a", kCreated) +
                       lambda_config("b", "<Event>s3:ObjectCreated:Put</Event>")));
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error().code, S3ErrorCode::InvalidArgument);
    // nested prefixes, no suffixes
    auto b = parse(doc(lambda_config("a", kCreated, filter(rule("prefix", "in/"))) +
                       lambda_config("b", kCreated, filter(rule("prefix", "in/x")))));
    EXPECT_FALSE(b.has_value());
    // disjoint prefixes, or disjoint suffixes, or different event types: fine
    EXPECT_TRUE(parse(doc(lambda_config("a", kCreated, filter(rule("prefix", "a/"))) +
                          lambda_config("b", kCreated, filter(rule("prefix", "b/")))))
                    .has_value());
    EXPECT_TRUE(parse(doc(lambda_config("a", kCreated, filter(rule("suffix", ".jpg"))) +
                          lambda_config("b", kCreated, filter(rule("suffix", ".png")))))
                    .has_value());
    EXPECT_TRUE(parse(doc(lambda_config("a", kCreated) +
                          lambda_config("b", "<Event>s3:ObjectRemoved:*</Event>")))
                    .has_value());
}

TEST(S3Notification, RendersAndRoundTrips) {
    auto c = parse(doc(lambda_config("id&amp;1", kCreated, filter(rule("prefix", "a&lt;b")))));
    ASSERT_TRUE(c.has_value());
    std::string xml = render_notification_xml(*c);
    EXPECT_NE(
        xml.find("<CloudFunctionConfiguration><Id>id&amp;1</Id><CloudFunction>" + kFn +
                 "</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule>"
                 "<Name>Prefix</Name><Value>a&lt;b</Value></FilterRule></S3Key></Filter>"),
        std::string::npos)
        << xml;
    auto again = parse(xml);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->targets[0].rules[0].value, "a<b");
    auto back = notification_from_json(notification_to_json(*c));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->targets[0].id, "id&1");
    EXPECT_EQ(back->targets[0].rules[0].name, "Prefix");
    EXPECT_FALSE(notification_from_json(nlohmann::json::object()).has_value());
    EXPECT_EQ(render_notification_xml({}),
              "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
              "</NotificationConfiguration>");
}

TEST(S3Notification, MatchesEventsAndFilters) {
    NotificationTarget t;
    t.events = {"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"};
    t.rules = {{"Prefix", "in/"}, {"Suffix", ".txt"}};
    EXPECT_TRUE(matches(t, "ObjectCreated:Put", "in/a.txt"));
    EXPECT_TRUE(matches(t, "ObjectCreated:CompleteMultipartUpload", "in/a.txt"));
    EXPECT_TRUE(matches(t, "ObjectRemoved:Delete", "in/a.txt"));
    EXPECT_FALSE(matches(t, "ObjectRemoved:DeleteMarkerCreated", "in/a.txt"));
    EXPECT_FALSE(matches(t, "ObjectCreated:Put", "out/a.txt"));
    EXPECT_FALSE(matches(t, "ObjectCreated:Put", "in/a.jpg"));
    t.rules.clear();
    EXPECT_TRUE(matches(t, "ObjectCreated:Put", ""));
}

TEST(S3Notification, EncodesKeysAsS3Does) {
    EXPECT_EQ(record_key("a@b"), "a%40b");
    EXPECT_EQ(record_key("dir/my file.txt"), "dir/my+file.txt");
    EXPECT_EQ(record_key("caf\xc3\xa9+(1)"), "caf%C3%A9%2B%281%29");
    EXPECT_EQ(record_key("a-b_c.d~e"), "a-b_c.d~e");
}

TEST(S3Notification, BuildsTheRecordInS3sOrder) {
    ObjectEvent e;
    e.event_name = "ObjectCreated:Put";
    e.region = "us-east-1";
    e.bucket = "b";
    e.bucket_owner = "111111111111";
    e.account = "111111111111";
    e.key = "my key";
    e.size = 9;
    e.etag = "437b930db84b8079c2dd804a71936b5f";
    e.request_id = "req";
    e.source_ip = "127.0.0.1";
    e.sequencer = "0055AED6DCD90281E5";
    e.time_ms = 0;
    EXPECT_EQ(event_record(e, "cfg"),
              R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",)"
              R"("eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",)"
              R"("userIdentity":{"principalId":"AWS:111111111111"},)"
              R"("requestParameters":{"sourceIPAddress":"127.0.0.1"},)"
              R"("responseElements":{"x-amz-request-id":"req","x-amz-id-2":"cmVx"},)"
              R"("s3":{"s3SchemaVersion":"1.0","configurationId":"cfg","bucket":{"name":"b",)"
              R"("ownerIdentity":{"principalId":"111111111111"},"arn":"arn:aws:s3:::b"},)"
              R"("object":{"key":"my+key","size":9,"eTag":"437b930db84b8079c2dd804a71936b5f",)"
              R"("sequencer":"0055AED6DCD90281E5"}}}]})");
    e.event_name = "ObjectRemoved:Delete";
    e.size.reset();
    e.etag.clear();
    auto j = nlohmann::json::parse(event_record(e, "cfg"));
    const auto& object = j["Records"][0]["s3"]["object"];
    EXPECT_FALSE(object.contains("size"));
    EXPECT_FALSE(object.contains("eTag"));
    EXPECT_EQ(object["key"], "my+key");
}
