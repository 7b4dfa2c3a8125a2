// Function URL requests as payload 2.0 events, and function results as HTTP
// responses, against AWS's recorded answers (aws-recorded test_lambda
// TestLambdaURL) and the developer guide's event shape.
#include "api/url_http.hpp"

#include <gtest/gtest.h>

#include "lamina/common/encoding.hpp"

using namespace lamina;
using namespace lamina::api;
using nlohmann::json;

namespace {

const std::string kId = "0123456789abcdef0123456789abcdef";

UrlEventContext context() {
    UrlEventContext c;
    c.url_id = kId;
    c.domain_name = kId + ".lambda-url.us-east-1.localhost";
    c.port = "9001";
    c.account_id = "123456789012";
    c.request_id = "req-1";
    c.source_ip = "127.0.0.1";
    c.epoch_ms = 1583348638390;  // 04/Mar/2020:19:03:58 +0000
    c.trace_id = "Root=1-5e5ff8de-0123456789abcdef01234567";
    return c;
}

http::Request request(std::string method, std::string target) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    EXPECT_TRUE(http::parse_target(r.target, r.path, r.query));
    return r;
}

std::string header(const http::Response& r, const std::string& name) {
    return r.headers.get(name, "(absent)");
}

}  // namespace

TEST(UrlEvent, HasPayload2ShapeWithRawPathAndJoinedQuery) {
    auto req = request("POST", "/pa2%Fth/1?q=query&multiQuery=foo&multiQuery=%2Fbar");
    req.headers.set("Host", kId + ".lambda-url.us-east-1.localhost:9001");
    req.headers.set("User-Agent", "test/echo");
    req.headers.set("Extra-Headers", "With WeiRd CapS");
    req.headers.set("Content-Type", "application/json");
    req.body = R"({"foo": "bar"})";
    json e = url_event(req, "/pa2%Fth/1", "q=query&multiQuery=foo&multiQuery=%2Fbar", context());
    EXPECT_EQ(e["version"], "2.0");
    EXPECT_EQ(e["routeKey"], "$default");
    EXPECT_EQ(e["rawPath"], "/pa2%Fth/1");
    EXPECT_EQ(e["rawQueryString"], "q=query&multiQuery=foo&multiQuery=%2Fbar");
    // repeated keys decoded and comma-joined, as recorded
    EXPECT_EQ(e["queryStringParameters"], (json{{"q", "query"}, {"multiQuery", "foo,/bar"}}));
    EXPECT_EQ(e["headers"]["extra-headers"], "With WeiRd CapS");
    EXPECT_EQ(e["headers"]["user-agent"], "test/echo");
    EXPECT_EQ(e["headers"]["x-forwarded-for"], "127.0.0.1");
    EXPECT_EQ(e["headers"]["x-forwarded-proto"], "http");
    EXPECT_EQ(e["headers"]["x-forwarded-port"], "9001");
    EXPECT_EQ(e["headers"]["x-amzn-trace-id"], context().trace_id);
    EXPECT_FALSE(e.contains("cookies"));
    EXPECT_EQ(e["body"], R"({"foo": "bar"})");
    EXPECT_EQ(e["isBase64Encoded"], false);
    const json& rc = e["requestContext"];
    EXPECT_EQ(rc["accountId"], "123456789012");
    EXPECT_EQ(rc["apiId"], kId);
    EXPECT_EQ(rc["domainPrefix"], kId);
    EXPECT_EQ(rc["domainName"], kId + ".lambda-url.us-east-1.localhost");
    EXPECT_EQ(rc["http"], (json{{"method", "POST"},
                                {"path", "/pa2%Fth/1"},
                                {"protocol", "HTTP/1.1"},
                                {"sourceIp", "127.0.0.1"},
                                {"userAgent", "test/echo"}}));
    EXPECT_EQ(rc["requestId"], "req-1");
    EXPECT_EQ(rc["routeKey"], "$default");
    EXPECT_EQ(rc["stage"], "$default");
    EXPECT_EQ(rc["time"], "04/Mar/2020:19:03:58 +0000");
    EXPECT_EQ(rc["timeEpoch"], 1583348638390);
    EXPECT_FALSE(rc.contains("authorizer"));
}

TEST(UrlEvent, RepeatedHeadersJoinAndCookiesBecomeAList) {
    auto req = request("GET", "/");
    req.headers.items.emplace_back("X-Multi", "a");
    req.headers.items.emplace_back("x-multi", "b");
    req.headers.items.emplace_back("Cookie", "session=1; theme=dark");
    req.headers.items.emplace_back("Cookie", "lang=en");
    json e = url_event(req, "/", "", context());
    EXPECT_EQ(e["headers"]["x-multi"], "a,b");
    EXPECT_EQ(e["cookies"], (json{"session=1", "theme=dark", "lang=en"}));
    EXPECT_FALSE(e["headers"].contains("cookie"));
    EXPECT_FALSE(e.contains("queryStringParameters"));  // absent when there is none
    EXPECT_FALSE(e.contains("body"));                   // no body, no member
    EXPECT_EQ(e["isBase64Encoded"], false);
}

TEST(UrlEvent, BinaryAndFormBodiesArriveBase64) {
    auto req = request("POST", "/test/value");
    req.headers.set("Content-Type", "multipart/form-data; boundary=xyz");
    req.body = "--xyz\r\nfield\r\n--xyz--\r\n";
    json e = url_event(req, "/test/value", "", context());
    EXPECT_EQ(e["isBase64Encoded"], true);
    EXPECT_EQ(base64_decode(e["body"].get<std::string>()), req.body);
    // a text type whose bytes are not UTF-8 cannot travel as a JSON string
    req.headers.set("Content-Type", "text/plain");
    req.body = std::string("\xff\xfe", 2);
    e = url_event(req, "/", "", context());
    EXPECT_EQ(e["isBase64Encoded"], true);
    EXPECT_TRUE(url_body_is_text("application/json; charset=utf-8"));
    EXPECT_TRUE(url_body_is_text("application/vnd.api+json"));
    EXPECT_TRUE(url_body_is_text("Text/HTML"));
    EXPECT_FALSE(url_body_is_text("application/octet-stream"));
    EXPECT_FALSE(url_body_is_text("image/png"));
}

TEST(UrlEvent, IamCallersAreInTheAuthorizer) {
    auto c = context();
    c.iam = json{{"accessKey", "AKIDEXAMPLE"}, {"accountId", "123456789012"}};
    json e = url_event(request("GET", "/"), "/", "", c);
    EXPECT_EQ(e["requestContext"]["authorizer"]["iam"]["accessKey"], "AKIDEXAMPLE");
}

// test_lambda_url_invocation[*]: what a handler returned and what the client got
TEST(UrlResponse, PlainValuesAreA200JsonBodyAsAwsSendsThem) {
    struct Case {
        const char* returned;
        const char* body;
    } cases[] = {
        {R"({"hello": "world"})", R"({"hello":"world"})"},
        {R"(["hello", 3, true])", R"(["hello",3,true])"},
        {R"("hello")", "hello"},
        {"3", "3"},
        {"3.1", "3.1"},
        {"true", "true"},
    };
    for (const auto& c : cases) {
        auto r = url_response(c.returned);
        ASSERT_TRUE(r.has_value()) << c.returned;
        EXPECT_EQ(r->status, 200u) << c.returned;
        EXPECT_EQ(header(*r, "Content-Type"), "application/json") << c.returned;
        EXPECT_EQ(r->body, c.body) << c.returned;
    }
}

TEST(UrlResponse, AResponseObjectSetsStatusHeadersCookiesAndBody) {
    auto r = url_response(R"({"statusCode": 200, "body": "body123"})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "body123");
    EXPECT_EQ(header(*r, "Content-Type"), "application/json");

    r = url_response(R"({"statusCode": "418", "headers": {"Content-Type": "text/plain",
        "X-Count": 3}, "cookies": ["a=1; Path=/", "b=2"], "body": "teapot"})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 418u);
    EXPECT_EQ(header(*r, "Content-Type"), "text/plain");
    EXPECT_EQ(header(*r, "X-Count"), "3");
    std::vector<std::string> set_cookies;
    for (const auto& [k, v] : r->headers.items)
        if (k == "Set-Cookie") set_cookies.push_back(v);
    EXPECT_EQ(set_cookies, (std::vector<std::string>{"a=1; Path=/", "b=2"}));
    EXPECT_EQ(r->body, "teapot");

    r = url_response(R"({"statusCode": 200, "isBase64Encoded": true, "body": "aGk="})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "hi");
    // a JSON-object body is sent as its JSON text
    r = url_response(R"({"statusCode": 201, "body": {"id": 7}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 201u);
    EXPECT_EQ(r->body, R"({"id":7})");
    r = url_response(R"({"statusCode": 204})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "");
}

TEST(UrlResponse, UnusableResultsGiveNothingSoTheCallerAnswers502) {
    for (const char* bad : {"not json", "{", R"({"statusCode": "abc"})", R"({"statusCode": 99})",
                            R"({"statusCode": 600})", R"({"statusCode": 1.5})",
                            R"({"statusCode": 200, "headers": "x"})",
                            R"({"statusCode": 200, "headers": {"a": {"b": 1}}})",
                            R"({"statusCode": 200, "cookies": "a=1"})",
                            R"({"statusCode": 200, "isBase64Encoded": true, "body": "@@@"})"})
        EXPECT_FALSE(url_response(bad).has_value()) << bad;
    auto e = url_internal_error();
    EXPECT_EQ(e.status, 502u);
    EXPECT_EQ(e.body, "Internal Server Error");
}
