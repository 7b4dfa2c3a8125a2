// The server's streamed bodies: a request body into a BodyPipe as it arrives
// (with its trailers), a response from a BodySource as chunks as they come.

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "lamina/http/server.hpp"

using namespace lamina;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Requests with "X-Stream: 1" have their body streamed into `sink_` (read by
// the test); the handler answers what it saw once the body ended. GET
// /stream answers with a body from `out_`, which the test writes.
class StreamServer : public ::testing::Test {
protected:
    void SetUp() override {
        if (!spdlog::get("http")) spdlog::null_logger_mt("http");
        http::ServerOptions opt;
        opt.body_policy = [this](const http::RequestHead& head) {
            http::BodyPolicy p;
            p.limit = 1000;
            if (head.headers.get("X-Stream") == "1") {
                std::lock_guard lk(mu_);
                p.sink = sink_;
            }
            return p;
        };
        server_ = std::make_unique<http::Server>(
            ioc_, opt, [this](http::Request req, http::Responder respond) {
                http::Response r;
                if (req.path == "/stream") {
                    r.headers.set("Content-Type", "text/plain");
                    r.stream = out_;
                } else {
                    // the handler ends what went to the sink (it alone knows from the
                    // trailers whether the body is good)
                    if (req.streamed && req.stream_error.empty()) sink_->finish();
                    if (req.streamed && !req.stream_error.empty()) sink_->fail(req.stream_error);
                    r.body = std::string(req.streamed ? "streamed" : "whole") +
                             " error=" + req.stream_error +
                             " trailer=" + req.headers.get("X-Error-Type", "none");
                }
                respond(std::move(r));
            });
        server_->start();
        port_ = server_->port();
        io_thread_ = std::thread([this] { ioc_.run_for(std::chrono::seconds(30)); });
    }

    void TearDown() override {
        server_->stop();
        io_thread_.join();
        server_.reset();
    }

    tcp::socket connect() {
        tcp::socket s(client_ioc_);
        s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
        return s;
    }

    // Everything the sink gets until it ends, as "data...|End" or "|Failed".
    std::future<std::string> drain_sink() {
        return std::async(std::launch::async, [this] {
            std::string out;
            for (;;) {
                std::promise<http::BodyPiece> next;
                sink_->next([&](http::BodyPiece p) { next.set_value(std::move(p)); });
                http::BodyPiece p = next.get_future().get();
                if (p.kind == http::BodyPiece::Kind::Data) {
                    out += p.data;
                    continue;
                }
                return out + (p.kind == http::BodyPiece::Kind::End ? "|End" : "|Failed");
            }
        });
    }

    static std::string read_until(tcp::socket& s, std::string& buf, const std::string& what) {
        asio::read_until(s, asio::dynamic_buffer(buf), what);
        auto at = buf.find(what) + what.size();
        std::string got = buf.substr(0, at);
        buf.erase(0, at);
        return got;
    }

    asio::io_context ioc_;
    asio::io_context client_ioc_;
    std::unique_ptr<http::Server> server_;
    std::thread io_thread_;
    unsigned short port_ = 0;
    std::mutex mu_;
    std::shared_ptr<http::BodyPipe> sink_ = std::make_shared<http::BodyPipe>();
    std::shared_ptr<http::BodyPipe> out_ = std::make_shared<http::BodyPipe>();
};

}  // namespace

TEST_F(StreamServer, ChunkedRequestBodyGoesToTheSinkAndTrailersToTheHandler) {
    auto drained = drain_sink();
    auto s = connect();
    asio::write(s,
                asio::buffer(std::string(
                    "POST /r HTTP/1.1\r\nHost: x\r\nX-Stream: 1\r\nTransfer-Encoding: chunked\r\n"
                    "Trailer: X-Error-Type\r\n\r\n"
                    "5\r\nhello\r\n")));
    // the first chunk is through before the rest is even sent
    std::string buf;
    asio::write(s, asio::buffer(std::string("6\r\n world\r\n0\r\nX-Error-Type: Boom\r\n\r\n")));
    std::string head = read_until(s, buf, "\r\n\r\n");
    EXPECT_NE(head.find("200 OK"), std::string::npos) << head;
    EXPECT_EQ(drained.get(), "hello world|End");
    asio::read_until(s, asio::dynamic_buffer(buf), "trailer=Boom");
    EXPECT_NE(buf.find("streamed error= trailer=Boom"), std::string::npos) << buf;
}

TEST_F(StreamServer, ABodyOverTheLimitIsReportedToTheHandler) {
    auto drained = drain_sink();
    auto s = connect();
    std::string big(600, 'x');
    asio::write(s, asio::buffer("POST /r HTTP/1.1\r\nHost: x\r\nX-Stream: 1\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n258\r\n" +
                                big + "\r\n258\r\n" + big + "\r\n0\r\n\r\n"));
    std::string buf;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(buf), ec);  // answered, then closed
    EXPECT_NE(buf.find("streamed error=too_large"), std::string::npos) << buf;
    std::string got = drained.get();
    EXPECT_EQ(got.substr(0, 600), big);
    EXPECT_LE(got.size(), 1000u + 7);  // never more than the limit (and "|Failed")
    EXPECT_EQ(got.substr(got.size() - 7), "|Failed");
}

TEST_F(StreamServer, AResponseStreamsChunkByChunk) {
    auto s = connect();
    asio::write(s, asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
    std::string buf;
    out_->write("first", nullptr);
    std::string head = read_until(s, buf, "\r\n\r\n");
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
    // the first piece arrives while the producer has not written the second
    EXPECT_EQ(read_until(s, buf, "first\r\n"), "5\r\nfirst\r\n");
    out_->write("second", nullptr);
    EXPECT_EQ(read_until(s, buf, "second\r\n"), "6\r\nsecond\r\n");
    out_->finish();
    EXPECT_EQ(read_until(s, buf, "0\r\n\r\n"), "0\r\n\r\n");
    // the connection is still good for another request
    asio::write(s, asio::buffer(std::string("GET /other HTTP/1.1\r\nHost: x\r\n\r\n")));
    EXPECT_NE(read_until(s, buf, "\r\n\r\n").find("200 OK"), std::string::npos);
}

TEST_F(StreamServer, ABrokenResponseEndsTheConnectionWithoutTheLastChunk) {
    auto s = connect();
    asio::write(s, asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
    out_->write("part", nullptr);
    out_->fail("function error");
    std::string buf;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(buf), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_NE(buf.find("4\r\npart\r\n"), std::string::npos);
    EXPECT_EQ(buf.find("0\r\n\r\n"), std::string::npos) << buf;
}

TEST_F(StreamServer, AClientThatLeavesCancelsTheSource) {
    {
        auto s = connect();
        asio::write(s, asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
        out_->write("x", nullptr);
        std::string buf;
        read_until(s, buf, "x\r\n");
    }  // closed
    // writes fail once the server notices; the producer is then never held back
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!out_->cancelled() && std::chrono::steady_clock::now() < deadline) {
        out_->write(std::string(64 * 1024, 'y'), nullptr);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(out_->cancelled());
}
