#include "lamina/http/server.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace lamina;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t kLimit = 16;

// A server on 127.0.0.1 port 0 whose handler echoes "<METHOD> <target> <body>"
// and whose body policy allows kLimit bytes.
class HttpServer : public ::testing::Test {
protected:
    void SetUp() override {
        // The server logs through the "http" logger that cli/ normally makes.
        if (!spdlog::get("http")) spdlog::null_logger_mt("http");
        http::ServerOptions opt;
        opt.host = "127.0.0.1";
        opt.port = 0;
        opt.body_policy = [this](const http::RequestHead& head) {
            {
                std::lock_guard lk(mu_);
                if (auto probe = head.headers.find("X-Probe")) probes_.push_back(*probe);
            }
            http::BodyPolicy p;
            p.limit = kLimit;
            p.tag = "head:" + head.method + " " + head.target;  // handed on to the handler
            p.too_large = [method = head.method](std::uint64_t limit) {
                http::Response r;
                r.status = 413;
                r.headers.set("x-amzn-ErrorType", "RequestEntityTooLargeException");
                r.body = method + " body over " + std::to_string(limit);
                return r;
            };
            return p;
        };
        opt.transport_error = [](unsigned status, const std::string& what) {
            http::Response r;
            r.status = status;
            r.body = "transport: " + what;
            return r;
        };
        server_ = std::make_unique<http::Server>(
            ioc_, opt, [this](http::Request req, http::Responder respond) {
                {
                    std::lock_guard lk(mu_);
                    seen_.push_back(req.method + " " + req.path);
                }
                http::Response r;
                if (req.path == "/held") {
                    r.status = 202;
                    r.may_wait = true;
                } else if (req.path == "/deferred") {
                    std::lock_guard lk(mu_);
                    deferred_ = std::move(respond);
                    cv_.notify_all();
                    return;
                }
                r.headers.set("Content-Type", "text/plain");
                r.body = req.method + " " + req.target + " " + req.body;
                if (req.method == "HEAD")
                    r.headers.set("Content-Length", "1234");  // what a GET would send
                if (auto q = req.query_param("q")) r.headers.set("x-query", *q);
                if (auto* tag = std::any_cast<std::string>(&req.tag)) r.headers.set("x-tag", *tag);
                respond(std::move(r));
            });
        server_->start();
        port_ = server_->port();
        io_thread_ = std::thread([this] { ioc_.run_for(std::chrono::seconds(30)); });
    }

    void TearDown() override {
        stop();
        server_.reset();
    }

    void stop() {
        if (!io_thread_.joinable()) return;
        server_->stop();
        io_thread_.join();
    }

    tcp::socket connect() {
        tcp::socket s(client_ioc_);
        s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
        return s;
    }

    static void send(tcp::socket& s, const std::string& raw) { asio::write(s, asio::buffer(raw)); }

    static bhttp::response<bhttp::string_body> receive(tcp::socket& s, beast::flat_buffer& buf) {
        bhttp::response<bhttp::string_body> res;
        bhttp::read(s, buf, res);
        return res;
    }

    // True when the server has closed the connection (EOF on the next read).
    static bool closed_by_server(tcp::socket& s, beast::flat_buffer& buf) {
        if (buf.size() > 0) return false;
        char c;
        boost::system::error_code ec;
        s.read_some(asio::buffer(&c, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

    asio::io_context ioc_;
    asio::io_context client_ioc_;
    std::unique_ptr<http::Server> server_;
    std::thread io_thread_;
    unsigned short port_ = 0;
    std::mutex mu_;
    std::vector<std::string> seen_;
    std::vector<std::string> probes_;  // X-Probe headers the body policy saw
    std::condition_variable cv_;
    http::Responder deferred_;  // the answer to GET /deferred, once asked
};

}  // namespace

TEST_F(HttpServer, BindsAnEphemeralPort) { EXPECT_NE(port_, 0); }

TEST_F(HttpServer, KeepAliveServesTwoRequestsOnOneConnection) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "GET /one?q=a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r1 = receive(s, buf);
    EXPECT_EQ(r1.result_int(), 200u);
    EXPECT_EQ(r1.body(), "GET /one?q=a%20b ");
    EXPECT_EQ(r1[bhttp::field::server], "lamina");
    EXPECT_EQ(r1["x-query"], "a b");
    EXPECT_TRUE(r1.keep_alive());

    send(s, "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    auto r2 = receive(s, buf);
    EXPECT_EQ(r2.result_int(), 200u);
    EXPECT_EQ(r2.body(), "POST /two hello");
    EXPECT_EQ(r2[bhttp::field::content_length], "15");

    std::lock_guard lk(mu_);
    EXPECT_EQ(seen_, (std::vector<std::string>{"GET /one", "POST /two"}));
}

TEST_F(HttpServer, HeadAnswerKeepsItsContentLengthAndSendsNoBody) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "HEAD /object HTTP/1.1\r\nHost: x\r\n\r\n");
    bhttp::response_parser<bhttp::empty_body> head;
    head.skip(true);  // a response to HEAD has no body, whatever its Content-Length
    bhttp::read(s, buf, head);
    EXPECT_EQ(head.get().result_int(), 200u);
    EXPECT_EQ(head.get()[bhttp::field::content_length], "1234");
    // the connection stays usable: no stray body bytes precede the next answer
    send(s, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(receive(s, buf).body(), "GET /next ");
}

TEST_F(HttpServer, BodyPolicySeesTheRequestHeaders) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s,
         "PUT /p HTTP/1.1\r\nHost: x\r\nX-Probe: bucket.localhost\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_EQ(receive(s, buf).result_int(), 200u);
    std::lock_guard lk(mu_);
    EXPECT_EQ(probes_, std::vector<std::string>{"bucket.localhost"});
}

TEST_F(HttpServer, WhatTheBodyPolicyLearntRidesWithTheRequest) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "POST /tagged?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    auto r = receive(s, buf);
    EXPECT_EQ(r["x-tag"], "head:POST /tagged?x=1");
}

TEST_F(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s,
         "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
         "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(receive(s, buf).body(), "POST /a abc");
    EXPECT_EQ(receive(s, buf).body(), "GET /b ");
    auto last = receive(s, buf);
    EXPECT_EQ(last.body(), "GET /c ");
    EXPECT_FALSE(last.keep_alive());
    EXPECT_TRUE(closed_by_server(s, buf));
}

TEST_F(HttpServer, AnAnswerThatMayWaitGoesOutWithThePipelinedNextOne) {
    auto s = connect();
    beast::flat_buffer buf;
    // alone, it is answered at once
    send(s, "POST /held HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(receive(s, buf).result_int(), 202);
    // pipelined with a request whose answer comes later: held until then
    send(s,
         "POST /held HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n");
    http::Responder respond;
    {
        std::unique_lock lk(mu_);
        ASSERT_TRUE(
            cv_.wait_for(lk, std::chrono::seconds(10), [&] { return deferred_ != nullptr; }));
        respond = std::move(deferred_);
    }
    EXPECT_EQ(s.available(), 0u);  // an answer written before the server read on would be here
    http::Response later;
    later.body = "later";
    respond(std::move(later));
    EXPECT_EQ(receive(s, buf).result_int(), 202);
    auto second = receive(s, buf);
    EXPECT_EQ(second.result_int(), 200);
    EXPECT_EQ(second.body(), "later");
}

TEST_F(HttpServer, DeclaredBodyOverLimitGetsPolicyResponse) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 413u);
    EXPECT_EQ(r["x-amzn-ErrorType"], "RequestEntityTooLargeException");
    EXPECT_EQ(r.body(), "POST body over 16");
    EXPECT_FALSE(r.keep_alive());
    EXPECT_TRUE(closed_by_server(s, buf));
    std::lock_guard lk(mu_);
    EXPECT_TRUE(seen_.empty());  // the handler never saw it
}

TEST_F(HttpServer, BodyAtTheLimitIsAccepted) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "PUT /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 200u);
    EXPECT_EQ(r.body(), "PUT /ok 0123456789abcdef");
}

TEST_F(HttpServer, ChunkedBodyOverLimitGetsPolicyResponse) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s,
         "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "10\r\n0123456789abcdef\r\n"
         "1\r\nX\r\n0\r\n\r\n");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 413u);
    EXPECT_EQ(r.body(), "POST body over 16");
    std::lock_guard lk(mu_);
    EXPECT_TRUE(seen_.empty());
}

TEST_F(HttpServer, ExpectContinueGets100ThenTheResponse) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    auto interim = receive(s, buf);
    EXPECT_EQ(interim.result(), bhttp::status::continue_);
    send(s, "data");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 200u);
    EXPECT_EQ(r.body(), "PUT /upload data");
}

TEST_F(HttpServer, ExpectContinueOverLimitGets413Without100) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s,
         "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 413u);  // not 100: the client must not send the body
    EXPECT_EQ(r.body(), "PUT body over 16");
}

TEST_F(HttpServer, MalformedRequestGetsTransportError) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "THIS IS NOT HTTP\r\n\r\n");
    auto r = receive(s, buf);
    EXPECT_EQ(r.result_int(), 400u);
    EXPECT_EQ(r.body().rfind("transport: Malformed HTTP request", 0), 0u) << r.body();
    EXPECT_TRUE(closed_by_server(s, buf));

    auto s2 = connect();
    beast::flat_buffer buf2;
    send(s2, "GET /x?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r2 = receive(s2, buf2);
    EXPECT_EQ(r2.result_int(), 400u);
    EXPECT_EQ(r2.body(), "transport: Malformed query string");
}

TEST_F(HttpServer, StopClosesIdleConnectionsAndEndsTheLoop) {
    auto s = connect();
    beast::flat_buffer buf;
    send(s, "GET /before HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(receive(s, buf).result_int(), 200u);
    stop();  // joins the io thread: returns only when all work is gone
    EXPECT_TRUE(ioc_.stopped());
    EXPECT_TRUE(closed_by_server(s, buf));
    // Nobody is listening any more.
    tcp::socket late(client_ioc_);
    boost::system::error_code ec;
    late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    EXPECT_TRUE(ec);
}
