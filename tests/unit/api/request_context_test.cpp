#include "lamina/api/request_context.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace lamina;
using namespace lamina::api;

namespace {

http::Request request_with(std::string authorization, std::string host = "") {
    http::Request r;
    r.method = "GET";
    r.target = r.path = "/2015-03-31/functions";
    if (!authorization.empty()) r.headers.set("Authorization", std::move(authorization));
    if (!host.empty()) r.headers.set("Host", std::move(host));
    return r;
}

Config config() {
    Config c;
    c.region = "us-east-1";
    c.account_id = "123456789012";
    c.host = "127.0.0.1";
    c.port = 9001;
    return c;
}

const char* const kBotoAuth =
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/eu-west-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef";

}  // namespace

TEST(RequestContext, ParsesSigV4CredentialScope) {
    auto s = parse_sigv4_scope(kBotoAuth);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->access_key_id, "AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(s->date, "20240101");
    EXPECT_EQ(s->region, "eu-west-1");
    EXPECT_EQ(s->service, "lambda");

    // Some clients put no space after the comma.
    auto compact = parse_sigv4_scope(
        "AWS4-HMAC-SHA256 "
        "Credential=test/20240101/us-west-2/sts/aws4_request,SignedHeaders=host,Signature=ab");
    ASSERT_TRUE(compact.has_value());
    EXPECT_EQ(compact->region, "us-west-2");
    EXPECT_EQ(compact->service, "sts");
}

TEST(RequestContext, RejectsIncompleteScopes) {
    EXPECT_FALSE(parse_sigv4_scope("").has_value());
    EXPECT_FALSE(parse_sigv4_scope("Bearer token").has_value());
    EXPECT_FALSE(
        parse_sigv4_scope("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1").has_value());
    EXPECT_FALSE(parse_sigv4_scope("AWS4-HMAC-SHA256 Credential=AKID").has_value());
}

TEST(RequestContext, DefaultsWithoutSignature) {
    auto ctx = make_context(request_with(""), config(), "rid-1");
    EXPECT_EQ(ctx.request_id, "rid-1");
    EXPECT_EQ(ctx.scope, (control::Scope{"123456789012", "us-east-1"}));
    EXPECT_EQ(ctx.access_key_id, "");
    EXPECT_EQ(ctx.service, "");
    EXPECT_EQ(ctx.host, "127.0.0.1:9001");

    // An Authorization header that is not SigV4 changes nothing either.
    auto basic = make_context(request_with("Basic dXNlcjpwYXNz"), config(), "rid-2");
    EXPECT_EQ(basic.scope, (control::Scope{"123456789012", "us-east-1"}));
}

TEST(RequestContext, RegionComesFromTheScope) {
    auto ctx = make_context(request_with(kBotoAuth, "localhost:4000"), config(), "rid");
    EXPECT_EQ(ctx.scope.region, "eu-west-1");
    EXPECT_EQ(ctx.scope.account, "123456789012");  // AKIA... is not an account id
    EXPECT_EQ(ctx.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(ctx.service, "lambda");
    EXPECT_EQ(ctx.host, "localhost:4000");
}

TEST(RequestContext, TwelveDigitAccessKeyBecomesTheAccount) {
    auto ctx = make_context(
        request_with(
            "AWS4-HMAC-SHA256 Credential=111122223333/20240101/ap-south-1/lambda/aws4_request, "
            "SignedHeaders=host, Signature=x"),
        config(), "rid");
    EXPECT_EQ(ctx.scope, (control::Scope{"111122223333", "ap-south-1"}));

    for (std::string key : {"11112222333", "1111222233334", "11112222333a", "test"}) {
        auto other = make_context(request_with("AWS4-HMAC-SHA256 Credential=" + key +
                                               "/20240101/us-east-1/lambda/aws4_request"),
                                  config(), "rid");
        EXPECT_EQ(other.scope.account, "123456789012") << key;
        EXPECT_EQ(other.access_key_id, key);
    }
}

TEST(RequestContext, PresignedCredentialInTheQuery) {
    auto req = request_with("");
    req.query.emplace("X-Amz-Credential", "444455556666/20240101/us-west-1/lambda/aws4_request");
    auto ctx = make_context(req, config(), "rid");
    EXPECT_EQ(ctx.scope, (control::Scope{"444455556666", "us-west-1"}));
    EXPECT_EQ(ctx.service, "lambda");
}

// Found by tests/fuzz (fuzz_sigv4): the region of a credential scope went to
// std::regex_match whatever its length, and a long one overflowed the stack.
TEST(RequestContext, HugeScopeRegionIsIgnoredNotAStackOverflow) {
    std::string auth = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-" + std::string(200'000, 'a') +
                       "-1/lambda/aws4_request, SignedHeaders=host, Signature=00";
    auto ctx = make_context(request_with(auth), config(), "rid");
    EXPECT_EQ(ctx.scope.region, "us-east-1");
    EXPECT_EQ(ctx.service, "lambda");
}
