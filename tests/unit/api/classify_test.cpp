#include "lamina/api/classify.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using namespace lamina;
using namespace lamina::api;

namespace {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

const std::pair<std::string, std::string> kS3Auth = {
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/s3/aws4_request, SignedHeaders=host, "
    "Signature=x"};
const std::pair<std::string, std::string> kLambdaAuth = {
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/lambda/aws4_request, SignedHeaders=host, "
    "Signature=x"};
const std::pair<std::string, std::string> kStsAuth = {
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/sts/aws4_request, SignedHeaders=host, "
    "Signature=x"};
const std::pair<std::string, std::string> kForm = {"Content-Type",
                                                   "application/x-www-form-urlencoded"};

ClassifyOptions all_on() {
    ClassifyOptions o;
    o.s3 = true;
    o.s3_host_bases = {"localhost"};
    o.cloudwatch = true;
    o.sqs = true;
    return o;
}

http::RequestHead head(std::string method, std::string target, HeaderList headers = {}) {
    http::RequestHead h;
    h.method = std::move(method);
    h.target = std::move(target);
    h.headers.items = std::move(headers);
    if (!h.headers.find("Host")) h.headers.set("Host", "127.0.0.1:4566");
    return h;
}

http::Request request(const http::RequestHead& h) {
    http::Request r;
    r.method = h.method;
    r.target = h.target;
    http::parse_target(r.target, r.path, r.query);
    r.headers = h.headers;
    return r;
}

struct Case {
    const char* what;
    http::RequestHead head;
    Protocol protocol;
    std::string operation;
};

}  // namespace

TEST(Classify, TellsProtocolsAndOperationsApart) {
    const std::string cw = "GraniteServiceVersion20100801.";
    const std::vector<Case> cases = {
        // Lambda rest-json routes, signed or not
        {"ListFunctions", head("GET", "/2015-03-31/functions/", {kLambdaAuth}), Protocol::Lambda,
         "ListFunctions"},
        {"CreateFunction", head("POST", "/2015-03-31/functions"), Protocol::Lambda,
         "CreateFunction"},
        {"Invoke", head("POST", "/2015-03-31/functions/f/invocations", {kLambdaAuth}),
         Protocol::Lambda, "Invoke"},
        {"Invoke unsigned", head("POST", "/2015-03-31/functions/f/invocations"), Protocol::Lambda,
         "Invoke"},
        {"InvokeAsync", head("POST", "/2014-11-13/functions/f/invoke-async/"), Protocol::Lambda,
         "InvokeAsync"},
        {"PublishLayerVersion", head("POST", "/2018-10-31/layers/l/versions"), Protocol::Lambda,
         "PublishLayerVersion"},
        {"GetLayerVersionByArn", head("GET", "/2018-10-31/layers?find=LayerVersion&Arn=x"),
         Protocol::Lambda, "GetLayerVersionByArn"},
        {"ListLayers", head("GET", "/2018-10-31/layers"), Protocol::Lambda, "ListLayers"},
        {"not emulated", head("POST", "/2021-10-31/functions/f/url"), Protocol::Lambda,
         "CreateFunctionUrlConfig"},
        {"code download", head("GET", "/_lamina/code/abc"), Protocol::Lambda, "DownloadCode"},
        // S3: signed for s3 (path style, presigned), virtual host, unsigned non-Lambda paths
        {"ListBuckets signed", head("GET", "/", {kS3Auth}), Protocol::S3, ""},
        {"GetObject signed", head("GET", "/bucket/key", {kS3Auth}), Protocol::S3, ""},
        {"a bucket named health", head("GET", "/health", {kS3Auth}), Protocol::S3, ""},
        {"presigned",
         head("GET", "/bkt/k?X-Amz-Credential=k%2F20261128%2Fus-east-1%2Fs3%2Faws4_request"),
         Protocol::S3, ""},
        {"virtual host", head("GET", "/", {{"Host", "bkt.localhost:4566"}}), Protocol::S3, ""},
        {"virtual host key", head("PUT", "/k", {{"Host", "bkt.localhost:4566"}}), Protocol::S3, ""},
        {"unsigned path style", head("GET", "/bucket/key.zip"), Protocol::S3, ""},
        {"form elsewhere than /", head("POST", "/bkt/k?uploadId=1", {kForm}), Protocol::S3, ""},
        {"signed for Lambda", head("GET", "/bucket/key", {kLambdaAuth}), Protocol::Unknown, ""},
        // query protocol: STS, IAM (CloudWatch's is told by the body)
        {"STS form", head("POST", "/", {kForm, kStsAuth}), Protocol::Query, ""},
        {"STS GET", head("GET", "/?Action=GetCallerIdentity&Version=2011-06-15"), Protocol::Query,
         "GetCallerIdentity"},
        {"IAM form unsigned", head("POST", "/", {kForm}), Protocol::Query, ""},
        // CloudWatch awsJson and rpc-v2-cbor
        {"awsJson", head("POST", "/", {{"X-Amz-Target", cw + "ListMetrics"}}),
         Protocol::CloudWatchJson, "ListMetrics"},
        {"cbor", head("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData"),
         Protocol::CloudWatchCbor, "GetMetricData"},
        {"other X-Amz-Target",
         head("POST", "/", {{"X-Amz-Target", "DynamoDB_20120810.ListTables"}}), Protocol::AwsJson,
         "DynamoDB_20120810.ListTables"},
        // lamina's own pages
        {"health", head("GET", "/health"), Protocol::Health, ""},
        {"metrics", head("GET", "/metrics"), Protocol::Metrics, ""},
        {"stacks", head("GET", "/_lamina/stacks"), Protocol::LaminaPage, ""},
        {"stack", head("PUT", "/_lamina/stacks/s1"), Protocol::LaminaPage, ""},
        {"dashboard", head("GET", "/_lamina/ui"), Protocol::Dashboard, ""},
        {"dashboard state", head("GET", "/_lamina/ui/state?account=1"), Protocol::Dashboard, ""},
        // an unsigned request to "/" names no bucket: not S3's
        {"unsigned GET /", head("GET", "/"), Protocol::Unknown, ""},
        {"unsigned POST / no form", head("POST", "/"), Protocol::Unknown, ""},
        {"unsigned HEAD /", head("HEAD", "/"), Protocol::Unknown, ""},
        {"unknown dated path", head("GET", "/2015-03-31/nothing"), Protocol::Unknown, ""},
        {"wrong method", head("DELETE", "/2015-03-31/functions"), Protocol::Unknown, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        auto from_head = classify(c.head, all_on());
        ASSERT_TRUE(from_head.has_value());
        EXPECT_EQ(protocol_name(from_head->protocol), std::string(protocol_name(c.protocol)));
        EXPECT_EQ(from_head->operation, c.operation);
        EXPECT_EQ(from_head->route.has_value(), c.protocol == Protocol::Lambda);
        // the same answer from the whole request
        auto from_request = classify(request(c.head), all_on());
        EXPECT_EQ(from_request.protocol, from_head->protocol);
        EXPECT_EQ(from_request.operation, from_head->operation);
    }
}

TEST(Classify, MarksInvocationsAndKeepsTheRoute) {
    auto c = classify(head("POST", "/2015-03-31/functions/my%2Dfn/invocations"), all_on());
    ASSERT_TRUE(c && c->route);
    EXPECT_TRUE(c->invoke);
    EXPECT_EQ(c->route->params.at("FunctionName"), "my-fn");
    c = classify(head("POST", "/2014-11-13/functions/f/invoke-async/"), all_on());
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->invoke);
    c = classify(head("GET", "/2015-03-31/functions/f"), all_on());
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->invoke);
}

TEST(Classify, PathWithAnotherMethodIsNoted) {
    auto c = classify(head("DELETE", "/2015-03-31/functions"), all_on());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->protocol, Protocol::Unknown);
    EXPECT_TRUE(c->path_matched);
    c = classify(head("GET", "/nothing/here"), ClassifyOptions{});
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->path_matched);
}

TEST(Classify, ServicesThatAreOffClaimNothing) {
    ClassifyOptions off;  // no --s3, no metrics
    EXPECT_EQ(classify(head("GET", "/bucket/key", {kS3Auth}), off)->protocol, Protocol::Unknown);
    EXPECT_EQ(classify(head("GET", "/metrics"), off)->protocol, Protocol::Unknown);
    EXPECT_EQ(
        classify(head("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics"), off)
            ->protocol,
        Protocol::Unknown);
    auto json = classify(
        head("POST", "/", {{"X-Amz-Target", "GraniteServiceVersion20100801.ListMetrics"}}), off);
    EXPECT_EQ(json->protocol, Protocol::AwsJson);
    EXPECT_EQ(classify(head("GET", "/health"), off)->protocol, Protocol::Health);
    EXPECT_EQ(classify(head("POST", "/2015-03-31/functions/f/invocations"), off)->protocol,
              Protocol::Lambda);
}

TEST(Classify, MalformedQueryHasNoAnswerFromTheHead) {
    EXPECT_FALSE(classify(head("GET", "/2015-03-31/functions?x=%zz"), all_on()).has_value());
}

TEST(Classify, FunctionUrlsByHostOrLaminaPathComeBeforeS3) {
    const std::string id = "0123456789abcdef0123456789abcdef";
    const std::string host = id + ".lambda-url.us-east-1.localhost:4566";
    // an unsigned *.localhost Host would otherwise name an S3 bucket
    auto by_host = classify(head("POST", "/a/b%2F?x=1", {{"Host", host}}), all_on());
    ASSERT_TRUE(by_host.has_value());
    EXPECT_EQ(by_host->protocol, Protocol::FunctionUrl);
    EXPECT_EQ(by_host->url_id, id);
    EXPECT_EQ(by_host->url_path, "/a/b%2F");
    // signed for lambda, or with an API-looking path: still the URL's
    auto signed_call = classify(
        request(head("GET", "/2015-03-31/functions", {{"Host", host}, kLambdaAuth})), all_on());
    EXPECT_EQ(signed_call.protocol, Protocol::FunctionUrl);
    EXPECT_EQ(signed_call.url_path, "/2015-03-31/functions");

    auto by_path = classify(head("GET", "/_lamina/urls/" + id + "/x/y?q=1"), all_on());
    ASSERT_TRUE(by_path.has_value());
    EXPECT_EQ(by_path->protocol, Protocol::FunctionUrl);
    EXPECT_EQ(by_path->url_id, id);
    EXPECT_EQ(by_path->url_path, "/x/y");
    auto root = classify(head("GET", "/_lamina/urls/" + id), all_on());
    EXPECT_EQ(root->url_path, "/");
    // not a url id: not a URL
    auto short_id = classify(head("GET", "/_lamina/urls/abc/x"), all_on());
    EXPECT_NE(short_id->protocol, Protocol::FunctionUrl);
    auto bucket = classify(head("GET", "/key", {{"Host", "my-bucket.localhost:4566"}}), all_on());
    EXPECT_EQ(bucket->protocol, Protocol::S3);
}

TEST(Classify, SqsByTargetSignatureOrQueuePath) {
    const std::pair<std::string, std::string> sqs_auth = {
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/sqs/aws4_request, SignedHeaders=host, "
        "Signature=x"};
    auto c = classify(head("POST", "/", {{"X-Amz-Target", "AmazonSQS.SendMessage"}, sqs_auth}),
                      all_on());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->protocol, Protocol::SqsJson);
    EXPECT_EQ(c->operation, "SendMessage");
    // JSON to a queue URL's path (the PHP SDK)
    c = classify(head("POST", "/123456789012/q", {{"X-Amz-Target", "AmazonSQS.SendMessage"}}),
                 all_on());
    EXPECT_EQ(c->protocol, Protocol::SqsJson);
    c = classify(head("POST", "/", {kForm, sqs_auth}), all_on());
    EXPECT_EQ(c->protocol, Protocol::SqsQuery);
    // unsigned: a form to a queue URL's path is SQS's, not an S3 key
    c = classify(head("POST", "/123456789012/my-queue", {kForm}), all_on());
    EXPECT_EQ(c->protocol, Protocol::SqsQuery);
    c = classify(head("GET", "/123456789012/my-queue?Action=ReceiveMessage"), all_on());
    EXPECT_EQ(c->protocol, Protocol::SqsQuery);
    EXPECT_EQ(c->operation, "ReceiveMessage");
    // the same path without a form or Action stays S3's; STS's form to "/" stays the query API's
    c = classify(head("GET", "/123456789012/my-queue"), all_on());
    EXPECT_EQ(c->protocol, Protocol::S3);
    c = classify(head("POST", "/", {kForm, kStsAuth}), all_on());
    EXPECT_EQ(c->protocol, Protocol::Query);
    // SQS off: AmazonSQS targets are just another service
    c = classify(head("POST", "/", {{"X-Amz-Target", "AmazonSQS.SendMessage"}}), ClassifyOptions{});
    EXPECT_EQ(c->protocol, Protocol::AwsJson);
}

TEST(Classify, LogsByTargetWhenLogsAreServed) {
    auto on = all_on();
    on.logs = true;
    auto c = classify(head("POST", "/", {{"X-Amz-Target", "Logs_20140328.FilterLogEvents"}}), on);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->protocol, Protocol::LogsJson);
    EXPECT_EQ(c->operation, "FilterLogEvents");
    EXPECT_STREQ(protocol_name(c->protocol), "LogsJson");
    on.logs = false;
    auto off = classify(head("POST", "/", {{"X-Amz-Target", "Logs_20140328.FilterLogEvents"}}), on);
    EXPECT_EQ(off->protocol, Protocol::AwsJson);
}
