#include "lamina/s3/s3_api.hpp"

#include <gtest/gtest.h>

#include "fakes/s3_store.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/s3/aws_chunked.hpp"

using namespace lamina;
using namespace lamina::s3;

namespace {

const std::vector<std::string> kBases = {"localhost"};

http::Request request(std::string method, std::string target,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string body = {}) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    http::parse_target(r.target, r.path, r.query);
    r.headers.items = std::move(headers);
    if (!r.headers.find("Host")) r.headers.set("Host", "127.0.0.1:4566");
    r.body = std::move(body);
    return r;
}

const std::pair<std::string, std::string> kS3Auth = {
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/s3/aws4_request, SignedHeaders=host, "
    "Signature=x"};
const std::pair<std::string, std::string> kLambdaAuth = {
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/lambda/aws4_request, SignedHeaders=host, "
    "Signature=x"};

struct Api : fakes::S3Store {
    S3Api api{store, kBases};
    S3Context ctx{"req-1", "us-east-1", "111111111111", std::nullopt};
    http::Response call(http::Request r) { return api.handle(ctx, r); }
    http::Response call_as(const std::string& account, http::Request r) {
        S3Context other = ctx;
        other.account = account;
        return api.handle(other, r);
    }
};

}  // namespace

// Which requests are S3's: tests/unit/api/classify_test.cpp.
TEST(S3Api, ReadsTheSigningService) {
    EXPECT_EQ(signing_service(request("GET", "/", {kS3Auth})), "s3");
    EXPECT_EQ(signing_service(request("GET", "/", {kLambdaAuth})), "lambda");
    EXPECT_EQ(signing_service(request(
                  "GET", "/?X-Amz-Credential=k%2F20261128%2Fus-east-1%2Fs3%2Faws4_request")),
              "s3");
    EXPECT_EQ(signing_service(request("GET", "/")), "");
}

TEST(S3Api, ParsesRanges) {
    auto r = parse_range("bytes=0-9");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r->first, 0u);
    EXPECT_EQ(*r->last, 9u);
    r = parse_range("bytes=5-");
    EXPECT_EQ(*r->first, 5u);
    EXPECT_FALSE(r->last.has_value());
    r = parse_range("bytes=-3");
    EXPECT_EQ(*r->suffix, 3u);
    EXPECT_FALSE(parse_range("bytes=0-1,4-5").has_value());  // several ranges: the whole object
    EXPECT_FALSE(parse_range("items=0-1").has_value());
    EXPECT_FALSE(parse_range("bytes=9-1").has_value());
}

TEST(S3Api, ErrorsAreS3Xml) {
    Api a;
    auto r = a.call(request("GET", "/nope/key"));
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.headers.get("Content-Type"), "application/xml");
    EXPECT_NE(
        r.body.find(
            "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
            "<BucketName>nope</BucketName><RequestId>req-1</RequestId>"),
        std::string::npos)
        << r.body;
    r = a.call(request("PUT", "/Bad_Bucket"));
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(r.body.find("<Code>InvalidBucketName</Code>"), std::string::npos);
    r = a.call(request("HEAD", "/nope"));
    EXPECT_EQ(r.status, 404u);
    EXPECT_TRUE(r.body.empty());
}

TEST(S3Api, PutAndGetWithAwsChunkedBodyAndChecksum) {
    Api a;
    ASSERT_EQ(a.call(request("PUT", "/bkt")).status, 200u);
    std::string body =
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" + crc32_base64("hello") + "\r\n\r\n";
    auto r = a.call(request("PUT", "/bkt/k",
                            {{"Content-Encoding", "aws-chunked"},
                             {"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                             {"x-amz-decoded-content-length", "5"},
                             {"x-amz-trailer", "x-amz-checksum-crc32"},
                             {"Content-Type", "text/plain"},
                             {"x-amz-meta-Owner", "me"}},
                            body));
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.headers.get("ETag"), "\"5d41402abc4b2a76b9719d911017c592\"");
    r = a.call(request("GET", "/bkt/k", {{"x-amz-checksum-mode", "ENABLED"}}));
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.headers.get("Content-Type"), "text/plain");
    EXPECT_EQ(r.headers.get("x-amz-meta-owner"), "me");
    EXPECT_EQ(r.headers.get("Content-Encoding"), "");  // aws-chunked is not the object's encoding
    EXPECT_EQ(r.headers.get("x-amz-checksum-crc32"), crc32_base64("hello"));
    r = a.call(request("GET", "/bkt/k", {{"Range", "bytes=1-3"}}));
    EXPECT_EQ(r.status, 206u);
    EXPECT_EQ(r.body, "ell");
    EXPECT_EQ(r.headers.get("Content-Range"), "bytes 1-3/5");
    r = a.call(request("HEAD", "/bkt/k"));
    EXPECT_EQ(r.headers.get("Content-Length"), "5");
}

TEST(S3Api, RefusesBodiesThatDoNotMatchTheirDigestsAndStoresNothing) {
    Api a;
    ASSERT_EQ(a.call(request("PUT", "/bkt")).status, 200u);
    auto r = a.call(
        request("PUT", "/bkt/k", {{"x-amz-checksum-crc32", crc32_base64("other")}}, "hello"));
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(r.body.find("<Code>BadDigest</Code>"), std::string::npos);
    r = a.call(
        request("PUT", "/bkt/k", {{"x-amz-content-sha256", to_hex(sha256("other"))}}, "hello"));
    EXPECT_NE(r.body.find("<Code>XAmzContentSHA256Mismatch</Code>"), std::string::npos);
    r = a.call(
        request("PUT", "/bkt/k", {{"Content-MD5", base64_encode(std::string(16, 'x'))}}, "hello"));
    EXPECT_NE(r.body.find("<Code>BadDigest</Code>"), std::string::npos);
    r = a.call(request("PUT", "/bkt/k", {{"Content-Encoding", "aws-chunked"}}, "5\r\nhel"));
    EXPECT_NE(r.body.find("<Code>IncompleteBody</Code>"), std::string::npos);
    r = a.call(request("PUT", "/bkt/k", {{"x-amz-copy-source", "/bkt/other"}}));
    EXPECT_EQ(r.status, 501u);
    EXPECT_EQ(a.call(request("HEAD", "/bkt/k")).status, 404u);
}

TEST(S3Api, VirtualHostAddressing) {
    Api a;
    ASSERT_EQ(a.call(request("PUT", "/", {{"Host", "vbk.localhost:4566"}})).status, 200u);
    ASSERT_EQ(a.call(request("PUT", "/dir/k", {{"Host", "vbk.localhost:4566"}}, "v")).status, 200u);
    auto r = a.call(request("GET", "/vbk/dir/k"));
    EXPECT_EQ(r.body, "v");
    r = a.call(request("GET", "/?list-type=2&prefix=dir%2F", {{"Host", "vbk.localhost:4566"}}));
    EXPECT_NE(r.body.find("<Key>dir/k</Key>"), std::string::npos) << r.body;
}

TEST(S3Api, ListObjectsV2PagesWithContinuationTokens) {
    Api a;
    ASSERT_EQ(a.call(request("PUT", "/bkt")).status, 200u);
    for (const char* k : {"a", "b c", "d/e"})
        ASSERT_EQ(a.call(request("PUT", std::string("/bkt/") + k, {}, "x")).status, 200u);
    auto r = a.call(request("GET", "/bkt?list-type=2&max-keys=2&encoding-type=url"));
    EXPECT_NE(r.body.find("<KeyCount>2</KeyCount>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<Key>b%20c</Key>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<IsTruncated>true</IsTruncated>"), std::string::npos);
    auto start = r.body.find("<NextContinuationToken>") + 23;
    std::string token = r.body.substr(start, r.body.find('<', start) - start);
    r = a.call(request("GET", "/bkt?list-type=2&continuation-token=" + token));
    EXPECT_NE(r.body.find("<Key>d/e</Key>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<IsTruncated>false</IsTruncated>"), std::string::npos);
    r = a.call(request("GET", "/bkt?list-type=2&continuation-token=bogus"));
    EXPECT_EQ(r.status, 400u);
    r = a.call(request("GET", "/bkt?versioning"));
    EXPECT_EQ(r.status, 501u);
}

TEST(S3Api, CompleteMultipartUploadWithBadXmlChangesNothing) {
    Api a;
    ASSERT_EQ(a.call(request("PUT", "/bkt")).status, 200u);
    auto r = a.call(request("POST", "/bkt/k?uploads"));
    ASSERT_EQ(r.status, 200u);
    auto start = r.body.find("<UploadId>") + 10;
    std::string id = r.body.substr(start, r.body.find('<', start) - start);
    r = a.call(request("PUT", "/bkt/k?partNumber=1&uploadId=" + id, {}, "part"));
    ASSERT_EQ(r.status, 200u);
    std::string etag = r.headers.get("ETag");
    r = a.call(request("POST", "/bkt/k?uploadId=" + id, {}, "<CompleteMultipartUpload><Part>"));
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(r.body.find("<Code>MalformedXML</Code>"), std::string::npos);
    EXPECT_EQ(a.call(request("HEAD", "/bkt/k")).status, 404u);
    r = a.call(request("POST", "/bkt/k?uploadId=" + id, {},
                       "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + etag +
                           "</ETag></Part></CompleteMultipartUpload>"));
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(a.call(request("GET", "/bkt/k")).body, "part");
}

TEST(S3Api, AnotherAccountsBucketIsAccessDeniedAndUnchanged) {
    Api a;  // account 111111111111 owns bkt
    ASSERT_EQ(a.call(request("PUT", "/bkt")).status, 200u);
    ASSERT_EQ(a.call(request("PUT", "/bkt/k", {}, "mine")).status, 200u);
    auto r = a.call(request("POST", "/bkt/up?uploads"));
    ASSERT_EQ(r.status, 200u);
    auto start = r.body.find("<UploadId>") + 10;
    std::string id = r.body.substr(start, r.body.find('<', start) - start);
    ASSERT_EQ(a.call(request("PUT", "/bkt/up?partNumber=1&uploadId=" + id, {}, "p")).status, 200u);
    const std::string other = "222222222222";
    const std::string complete =
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>";
    struct Case {
        std::string method, target, body;
        std::vector<std::pair<std::string, std::string>> headers;
    };
    std::vector<Case> cases = {
        {"HEAD", "/bkt", "", {}},
        {"GET", "/bkt?location", "", {}},
        {"GET", "/bkt", "", {}},
        {"GET", "/bkt?list-type=2", "", {}},
        {"GET", "/bkt?versioning", "", {}},  // unserved subresources too
        {"DELETE", "/bkt", "", {}},
        {"PUT", "/bkt?policy", "{}", {}},
        {"POST", "/bkt?delete", "<Delete><Object><Key>k</Key></Object></Delete>", {}},
        {"GET", "/bkt/k", "", {}},
        {"GET", "/bkt/k", "", {{"Range", "bytes=0-1"}}},
        {"HEAD", "/bkt/k", "", {}},
        {"PUT", "/bkt/k", "theirs", {}},
        {"PUT", "/bkt/k2", "theirs", {}},
        {"PUT", "/bkt/k2", "", {{"x-amz-copy-source", "/bkt/k"}}},
        {"DELETE", "/bkt/k", "", {}},
        {"POST", "/bkt/k3?uploads", "", {}},
        {"PUT", "/bkt/up?partNumber=2&uploadId=" + id, "p", {}},
        {"POST", "/bkt/up?uploadId=" + id, complete, {}},
        {"DELETE", "/bkt/up?uploadId=" + id, "", {}},
        {"GET", "/", "", {{"Host", "bkt.localhost:4566"}}},  // virtual-host addressed
        {"PUT", "/k", "theirs", {{"Host", "bkt.localhost:4566"}}},
    };
    for (const auto& c : cases) {
        r = a.call_as(other, request(c.method, c.target, c.headers, c.body));
        EXPECT_EQ(r.status, 403u) << c.method << " " << c.target;
        if (c.method == "HEAD") {
            EXPECT_TRUE(r.body.empty()) << c.target;
            continue;
        }
        EXPECT_EQ(r.headers.get("Content-Type"), "application/xml");
        EXPECT_NE(r.body.find("<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                              "<RequestId>req-1</RequestId><HostId>req-1</HostId></Error>"),
                  std::string::npos)
            << c.method << " " << c.target << ": " << r.body;
    }
    // CreateBucket of the name stays BucketAlreadyExists
    r = a.call_as(other, request("PUT", "/bkt"));
    EXPECT_EQ(r.status, 409u);
    EXPECT_NE(r.body.find("<Code>BucketAlreadyExists</Code>"), std::string::npos);
    // a bucket that does not exist is NoSuchBucket, whoever asks
    r = a.call_as(other, request("GET", "/nope/k"));
    EXPECT_EQ(r.status, 404u);
    EXPECT_NE(r.body.find("<Code>NoSuchBucket</Code>"), std::string::npos);
    // nothing changed, and the owner keeps full access
    EXPECT_EQ(a.call(request("GET", "/bkt/k")).body, "mine");
    EXPECT_EQ(a.call(request("HEAD", "/bkt/k2")).status, 404u);
    r = a.call(request("GET", "/bkt?list-type=2"));
    EXPECT_NE(r.body.find("<KeyCount>1</KeyCount>"), std::string::npos) << r.body;
    r = a.call(request("POST", "/bkt/up?uploadId=" + id, {},
                       "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                           to_hex(md5("p")) + "</ETag></Part></CompleteMultipartUpload>"));
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(a.call(request("GET", "/bkt/up")).body, "p");
    EXPECT_EQ(a.call(request("DELETE", "/bkt/k")).status, 204u);
    EXPECT_EQ(a.call(request("DELETE", "/bkt/up")).status, 204u);
    EXPECT_EQ(a.call(request("DELETE", "/bkt")).status, 204u);
}
