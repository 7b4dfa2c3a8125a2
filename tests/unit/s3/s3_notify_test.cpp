#include <gtest/gtest.h>

#include "fakes/s3_store.hpp"
#include "lamina/s3/s3_api.hpp"

using namespace lamina;
using namespace lamina::s3;

namespace {

const std::vector<std::string> kBases = {"localhost"};
const std::string kFn = "arn:aws:lambda:us-east-1:111111111111:function:f";
const std::string kQueue = "arn:aws:sqs:us-east-1:111111111111:q";

http::Request request(std::string method, std::string target,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string body = {}) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    http::parse_target(r.target, r.path, r.query);
    r.headers.items = std::move(headers);
    if (!r.headers.find("Host")) r.headers.set("Host", "127.0.0.1:4566");
    r.remote_address = "10.0.0.7";
    r.body = std::move(body);
    return r;
}

std::string lambda_doc(const std::string& arn, const std::string& extra = "") {
    return "<NotificationConfiguration><CloudFunctionConfiguration><Id>cfg</Id><CloudFunction>" +
           arn +
           "</CloudFunction><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
           "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule>"
           "</S3Key></Filter></CloudFunctionConfiguration>" +
           extra + "</NotificationConfiguration>";
}

struct Delivered {
    std::string arn, payload;
};

struct Api : fakes::S3Store {
    S3Api api{store, kBases};
    S3Context ctx{"req-1", "us-east-1", "111111111111", std::nullopt};
    std::vector<Delivered> invoked, sent;
    bool allowed = true;
    bool invoke_fails = false;
    std::set<std::string> queues = {kQueue};

    Api() {
        EXPECT_EQ(call(request("PUT", "/bkt")).status, 200u);
        NotificationHooks h;
        h.lambda_allows_s3 = [this](const std::string&, const std::string& bucket_arn,
                                    const std::string& owner) {
            EXPECT_EQ(bucket_arn, "arn:aws:s3:::bkt");
            EXPECT_EQ(owner, "111111111111");
            return allowed;
        };
        h.invoke_async = [this](const std::string& arn, const std::string& payload,
                                const std::string&) -> Status {
            if (invoke_fails) return fail(ErrorCode::Service, "down");
            invoked.push_back({arn, payload});
            return {};
        };
        api.set_notification_hooks(std::move(h));
    }
    void with_queues() {
        NotificationHooks h;
        h.lambda_allows_s3 = [](auto&&...) { return true; };
        h.queue_exists = [this](const std::string& arn) { return queues.contains(arn); };
        h.send_to_queue = [this](const std::string& arn, const std::string& body,
                                 const std::string&) -> Status {
            sent.push_back({arn, body});
            return {};
        };
        api.set_notification_hooks(std::move(h));
    }
    http::Response call(http::Request r) { return api.handle(ctx, r); }
    http::Response put_config(const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
        return call(request("PUT", "/bkt?notification", std::move(headers), body));
    }
};

}  // namespace

TEST(S3Notify, PutGetAndDeliverOnPutAndDelete) {
    Api a;
    auto put = a.put_config(lambda_doc(kFn));
    ASSERT_EQ(put.status, 200u) << put.body;
    auto got = a.call(request("GET", "/bkt?notification"));
    EXPECT_EQ(got.status, 200u);
    EXPECT_NE(got.body.find("<CloudFunction>" + kFn + "</CloudFunction>"), std::string::npos);
    EXPECT_NE(got.body.find("<Name>Prefix</Name>"), std::string::npos);

    EXPECT_EQ(a.call(request("PUT", "/bkt/out/x", {}, "no")).status, 200u);  // filtered out
    EXPECT_TRUE(a.invoked.empty());
    EXPECT_EQ(a.call(request("PUT", "/bkt/in/a%20b.txt", {}, "hello")).status, 200u);
    ASSERT_EQ(a.invoked.size(), 1u);
    EXPECT_EQ(a.invoked[0].arn, kFn);
    auto rec = nlohmann::json::parse(a.invoked[0].payload)["Records"][0];
    EXPECT_EQ(rec["eventName"], "ObjectCreated:Put");
    EXPECT_EQ(rec["requestParameters"]["sourceIPAddress"], "10.0.0.7");
    EXPECT_EQ(rec["responseElements"]["x-amz-request-id"], "req-1");
    EXPECT_EQ(rec["s3"]["configurationId"], "cfg");
    EXPECT_EQ(rec["s3"]["object"]["key"], "in/a+b.txt");
    EXPECT_EQ(rec["s3"]["object"]["size"], 5);
    EXPECT_EQ(rec["s3"]["object"]["eTag"], "5d41402abc4b2a76b9719d911017c592");

    EXPECT_EQ(a.call(request("DELETE", "/bkt/in/a%20b.txt")).status, 204u);
    ASSERT_EQ(a.invoked.size(), 2u);
    auto del = nlohmann::json::parse(a.invoked[1].payload)["Records"][0];
    EXPECT_EQ(del["eventName"], "ObjectRemoved:Delete");
    EXPECT_FALSE(del["s3"]["object"].contains("size"));
    // sequencers grow
    EXPECT_LT(rec["s3"]["object"]["sequencer"].get<std::string>(),
              del["s3"]["object"]["sequencer"].get<std::string>());
}

TEST(S3Notify, DeleteObjectsAndMultipartDeliver) {
    Api a;
    ASSERT_EQ(a.put_config(lambda_doc(kFn)).status, 200u);
    auto init = a.call(request("POST", "/bkt/in/big?uploads"));
    auto start = init.body.find("<UploadId>") + 10;
    std::string id = init.body.substr(start, init.body.find("</UploadId>") - start);
    auto part = a.call(request("PUT", "/bkt/in/big?partNumber=1&uploadId=" + id, {}, "abc"));
    ASSERT_EQ(part.status, 200u);
    auto done =
        a.call(request("POST", "/bkt/in/big?uploadId=" + id, {},
                       "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                           part.headers.get("ETag") + "</ETag></Part></CompleteMultipartUpload>"));
    ASSERT_EQ(done.status, 200u) << done.body;
    ASSERT_EQ(a.invoked.size(), 1u);
    auto rec = nlohmann::json::parse(a.invoked[0].payload)["Records"][0];
    EXPECT_EQ(rec["eventName"], "ObjectCreated:CompleteMultipartUpload");
    EXPECT_TRUE(rec["s3"]["object"]["eTag"].get<std::string>().ends_with("-1"));
    auto r = a.call(request("POST", "/bkt?delete", {},
                            "<Delete><Object><Key>in/big</Key></Object><Object><Key>in/none</Key>"
                            "</Object></Delete>"));
    EXPECT_EQ(r.status, 200u);
    ASSERT_EQ(a.invoked.size(), 3u);
    EXPECT_EQ(nlohmann::json::parse(a.invoked[2].payload)["Records"][0]["s3"]["object"]["key"],
              "in/none");
}

TEST(S3Notify, RefusesUnauthorisedFunctionsUnlessSkippedAndChangesNothing) {
    Api a;
    a.allowed = false;
    auto r = a.put_config(lambda_doc(kFn));
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(
        r.body.find("<Message>Unable to validate the following destination configurations</Message>"
                    "<ArgumentName1>" +
                    kFn +
                    ", null</ArgumentName1><ArgumentValue1>Not authorized "
                    "to invoke function [" +
                    kFn + "]</ArgumentValue1>"),
        std::string::npos)
        << r.body;
    EXPECT_TRUE(a.store.notification("bkt")->targets.empty());
    auto bad =
        a.put_config(lambda_doc("invalid-queue"), {{"x-amz-skip-destination-validation", "true"}});
    EXPECT_EQ(bad.status, 400u);
    EXPECT_NE(bad.body.find("<ArgumentName>CloudFunction</ArgumentName>"), std::string::npos);
    EXPECT_TRUE(a.store.notification("bkt")->targets.empty());
    EXPECT_EQ(a.put_config(lambda_doc(kFn), {{"x-amz-skip-destination-validation", "true"}}).status,
              200u);
    EXPECT_EQ(a.store.notification("bkt")->targets.size(), 1u);
    EXPECT_EQ(a.put_config("<NotificationConfiguration/>").status, 200u);
    EXPECT_TRUE(a.store.notification("bkt")->targets.empty());
    EXPECT_EQ(a.call(request("GET", "/nope?notification")).status, 404u);
    EXPECT_EQ(a.call(request("PUT", "/nope?notification", {}, lambda_doc(kFn))).status, 404u);
}

TEST(S3Notify, QueuesNeedTheirHooksAndMustExist) {
    Api a;
    std::string q =
        "<NotificationConfiguration><QueueConfiguration><Queue>" + kQueue +
        "</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>"
        "<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:111111111111:gone</Queue>"
        "<Event>s3:ObjectRemoved:*</Event></QueueConfiguration></NotificationConfiguration>";
    EXPECT_EQ(a.put_config(q).status, 501u);  // no SQS engine wired
    a.with_queues();
    auto r = a.put_config(q);
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(r.body.find("<ArgumentName1>arn:aws:sqs:us-east-1:111111111111:gone</ArgumentName1>"
                          "<ArgumentValue1>The destination queue does not exist</ArgumentValue1>"),
              std::string::npos)
        << r.body;
    a.queues.insert("arn:aws:sqs:us-east-1:111111111111:gone");
    ASSERT_EQ(a.put_config(q).status, 200u);
    ASSERT_EQ(a.sent.size(), 2u);  // S3's test events
    EXPECT_NE(a.sent[0].payload.find("\"Event\":\"s3:TestEvent\""), std::string::npos);
    EXPECT_EQ(a.call(request("PUT", "/bkt/k", {}, "x")).status, 200u);
    ASSERT_EQ(a.sent.size(), 3u);
    EXPECT_EQ(a.sent[2].arn, kQueue);
}

TEST(S3Notify, AFailingDestinationDoesNotFailTheRequest) {
    Api a;
    ASSERT_EQ(a.put_config(lambda_doc(kFn)).status, 200u);
    a.invoke_fails = true;
    EXPECT_EQ(a.call(request("PUT", "/bkt/in/k", {}, "x")).status, 200u);
    EXPECT_EQ(a.call(request("HEAD", "/bkt/in/k")).status, 200u);
}

TEST(S3Notify, ConfigurationSurvivesARestart) {
    Api a;
    ASSERT_EQ(a.put_config(lambda_doc(kFn)).status, 200u);
    ObjectStore again(a.dir.path() / "s3", a.clock, a.ids);
    ASSERT_TRUE(again.init().has_value());
    auto c = again.notification("bkt");
    ASSERT_TRUE(c.has_value());
    ASSERT_EQ(c->targets.size(), 1u);
    EXPECT_EQ(c->targets[0].arn, kFn);
    EXPECT_EQ(c->targets[0].rules[0].name, "Prefix");
}
