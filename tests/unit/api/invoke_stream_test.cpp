#include "api/invoke_stream.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/url_http.hpp"
#include "lamina/common/encoding.hpp"

using namespace lamina;
using http::BodyPiece;

namespace {

// Everything `s` hands out, as long as it answers at once: data joined, then
// "|End" or "|Failed" (or "|waiting" when it did not answer). A reader left
// waiting is answered later: it writes into a slot of its own, never into
// this frame.
std::string drain(http::BodySource& s) {
    std::string out;
    for (int i = 0; i < 100; ++i) {
        auto got = std::make_shared<std::optional<BodyPiece>>();
        s.next([got](BodyPiece p) { *got = std::move(p); });
        if (!*got) return out + "|waiting";
        if ((*got)->kind == BodyPiece::Kind::Data) {
            out += (*got)->data;
            continue;
        }
        return out + ((*got)->kind == BodyPiece::Kind::End ? "|End" : "|Failed");
    }
    return out + "|endless";
}

std::shared_ptr<api::InvokeStream> url_like(std::shared_ptr<http::BodyPipe> pipe,
                                            std::string lead = "") {
    return std::make_shared<api::InvokeStream>(
        std::move(pipe), std::move(lead), nullptr, [](const exec::InvokeResult& r) {
            return std::vector<BodyPiece>{r.function_error ? BodyPiece::failed("error")
                                                           : BodyPiece::end()};
        });
}

}  // namespace

TEST(InvokeStream, DataThenWaitsForTheInvocationsEnd) {
    auto pipe = std::make_shared<http::BodyPipe>();
    auto s = url_like(pipe, "lead,");
    pipe->write("one,", nullptr);
    pipe->finish();
    EXPECT_EQ(drain(*s), "lead,one,|waiting");  // the stream ended, the invocation not yet
    exec::InvokeResult r;
    s->complete(r);
    EXPECT_EQ(drain(*s), "|End");
}

TEST(InvokeStream, AFunctionErrorBreaksTheBodyOff) {
    auto pipe = std::make_shared<http::BodyPipe>();
    auto s = url_like(pipe);
    pipe->write("partial", nullptr);
    pipe->fail("Error");
    exec::InvokeResult r;
    r.function_error = true;
    s->complete(r);
    EXPECT_EQ(drain(*s), "partial|Failed");
}

TEST(InvokeStream, EventStreamFramesEachPieceAndEndsWithInvokeComplete) {
    auto pipe = std::make_shared<http::BodyPipe>();
    auto s = std::make_shared<api::InvokeStream>(
        pipe, std::string(), [](std::string b) { return api::payload_chunk_event(b); },
        [](const exec::InvokeResult& r) {
            return std::vector<BodyPiece>{BodyPiece::bytes(api::invoke_complete_event(r, true)),
                                          BodyPiece::end()};
        });
    pipe->write("hi", nullptr);
    pipe->finish();
    exec::InvokeResult r;
    r.function_error = true;
    r.error_type = "Unhandled";
    r.payload = R"({"errorType":"TypeError","errorMessage":"bad"})";
    r.log = "START\nREPORT\n";
    s->complete(r);
    std::string all = drain(*s);
    ASSERT_GT(all.size(), 108u);
    EXPECT_EQ(all.substr(0, 108), api::payload_chunk_event("hi"));
    EXPECT_NE(all.find("InvokeComplete"), std::string::npos);
    // the runtime said only "Unhandled": the code is the error object's type
    EXPECT_NE(all.find(R"("ErrorCode":"TypeError")"), std::string::npos) << all;
    EXPECT_NE(all.find(R"("LogResult":")" + base64_encode("START\nREPORT\n")), std::string::npos);
    EXPECT_EQ(all.substr(all.size() - 4), "|End");
}

TEST(ReadPrelude, FindsTheDelimiterAcrossPieces) {
    auto pipe = std::make_shared<http::BodyPipe>();
    std::optional<std::pair<std::string, std::string>> got;
    bool called = false;
    api::read_prelude(pipe, [&](auto p) {
        called = true;
        got = std::move(p);
    });
    pipe->write(R"({"statusCode":201})" + std::string(5, '\0'), nullptr);
    EXPECT_FALSE(called);
    pipe->write(std::string(3, '\0') + "body", nullptr);
    ASSERT_TRUE(called);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->first, R"({"statusCode":201})");
    EXPECT_EQ(got->second, "body");
}

TEST(ReadPrelude, GivesUpOnAnEndOrAnEndlessPrelude) {
    auto pipe = std::make_shared<http::BodyPipe>();
    std::optional<std::optional<std::pair<std::string, std::string>>> got;
    api::read_prelude(pipe, [&](auto p) { got = std::move(p); });
    pipe->write("{}", nullptr);
    pipe->finish();
    ASSERT_TRUE(got);
    EXPECT_FALSE(*got);

    auto long_one = std::make_shared<http::BodyPipe>();
    got.reset();
    api::read_prelude(long_one, [&](auto p) { got = std::move(p); });
    long_one->write(std::string(api::kMaxPreludeBytes + 1, 'x'), nullptr);
    ASSERT_TRUE(got);
    EXPECT_FALSE(*got);
}

TEST(UrlStreamHead, StatusHeadersCookiesFromThePrelude) {
    auto r = api::url_stream_head(
        R"({"statusCode":201,"headers":{"Content-Type":"text/event-stream","X-N":3},)"
        R"("multiValueHeaders":{"X-M":["a","b"]},"cookies":["a=1","b=2"]})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201u);
    EXPECT_EQ(r->headers.get("Content-Type"), "text/event-stream");
    EXPECT_EQ(r->headers.get("X-N"), "3");
    int m = 0, cookies = 0;
    for (const auto& [k, v] : r->headers.items) {
        m += k == "X-M";
        cookies += k == "Set-Cookie";
    }
    EXPECT_EQ(m, 2);
    EXPECT_EQ(cookies, 2);
    auto plain = api::url_stream_head(R"({"status":200})");  // AWS's helper key: default status
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, 200u);
    EXPECT_EQ(plain->headers.get("Content-Type"), "application/octet-stream");
    EXPECT_FALSE(api::url_stream_head("not json"));
    EXPECT_FALSE(api::url_stream_head("[1]"));
    EXPECT_FALSE(api::url_stream_head(R"({"statusCode":99})"));
    EXPECT_FALSE(api::url_stream_head(R"({"headers":{"a":{}}})"));
    EXPECT_FALSE(api::url_stream_head(R"({"cookies":"a=1"})"));
}
