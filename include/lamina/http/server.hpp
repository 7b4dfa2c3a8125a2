#pragma once
// Boost.Beast HTTP/1.1 server: keep-alive sessions on one io_context, read
// timeouts, per-request body limits decided from the request head, single
// write responses with TCP_NODELAY, and bodies streamed both ways (a
// request body into a BodyPipe as it arrives, a response from a BodySource
// as chunks) for the Runtime API's streaming mode. Handlers complete asynchronously through
// a Responder, so nothing slow ever runs on an io thread.

#include <any>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "lamina/http/body_stream.hpp"
#include "lamina/http/message.hpp"

namespace lamina::http {

struct RequestHead {
    std::string method;
    std::string target;
    std::optional<std::uint64_t> content_length;
    Headers headers;  // e.g. Host and Authorization, which tell S3 requests apart
};

// What to do with a request once its head is read: accept a body of at most
// `limit` bytes; a larger one (by Content-Length, or once the body outgrows
// it) gets `too_large`'s answer, or a plain 413, and the connection closes.
struct BodyPolicy {
    std::uint64_t limit = 0;
    std::function<Response(std::uint64_t limit)> too_large;  // reply when exceeded
    std::any tag;  // passed on as the Request's tag (e.g. what the owner made of the head)
    // When set, the body is written here as it arrives (not kept in the
    // Request); the handler is called once it has ended (Request::streamed).
    std::shared_ptr<BodyPipe> sink;
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::chrono::milliseconds header_timeout{30'000};
    std::chrono::milliseconds body_timeout{120'000};
    std::chrono::milliseconds idle_timeout{120'000};
    std::size_t header_limit = 64 * 1024;
    // AWS's bandwidth shaping of streamed Lambda responses: the first
    // `free_bytes` at full speed, the rest at `bytes_per_second` (off: 0).
    struct StreamShaping {
        std::size_t free_bytes = 6 * 1024 * 1024;
        double bytes_per_second = 0;
    } stream_shaping;
    std::function<BodyPolicy(const RequestHead&)> body_policy;
    std::function<Response(unsigned status, const std::string& what)> transport_error;
};

class Server {
public:
    Server(boost::asio::io_context& ioc, ServerOptions options, Handler handler);
    ~Server();

    // Binds and starts accepting; throws std::system_error when binding fails.
    void start();
    // Stops accepting and closes idle connections.
    void stop();
    unsigned short port() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace lamina::http
