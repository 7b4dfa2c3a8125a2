#include "lamina/http/server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <set>

#include "lamina/common/log.hpp"

namespace lamina::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Beast receives at most 64 KiB per read (http::read_some); this much buffer room lets it.
constexpr std::uint64_t kBodyReadChunk = 64 * 1024;
constexpr std::size_t kHeadReadRoom = 4096;  // a request head in one read

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    asio::io_context& ioc;
    ServerOptions opt;
    Handler handler;
    tcp::acceptor acceptor;
    std::atomic<bool> stopping{false};
    std::mutex sessions_mu;
    std::set<std::shared_ptr<beast::tcp_stream>> sessions;

    Impl(asio::io_context& c, ServerOptions o, Handler h)
        : ioc(c), opt(std::move(o)), handler(std::move(h)), acceptor(c) {}

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!stopping) {
            // g++ 12 may destroy temporaries inside a co_await expression twice:
            // every co_await in this file takes only named objects.
            auto strand = asio::make_strand(ioc);
            auto [ec, socket] = co_await acceptor.async_accept(strand, kTuple);
            if (ec) {
                if (stopping || ec == asio::error::operation_aborted) break;
                lamina::logger("http")->warn("http.accept_error error={}", ec.message());
                continue;
            }
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
            {
                std::lock_guard lk(sessions_mu);
                sessions.insert(stream);
            }
            asio::co_spawn(stream->get_executor(), session(stream),
                           [self, stream](const std::exception_ptr& e) {
                               if (e) {
                                   try {
                                       std::rethrow_exception(e);
                                   } catch (const std::exception& ex) {
                                       lamina::logger("http")->error(
                                           "http.session_exception what={}", ex.what());
                                   }
                               }
                               // Drop the stream (and with it the last handle on its strand)
                               // from outside that strand: never destroy a strand from inside it.
                               asio::post(self->ioc, [self, stream] {
                                   std::lock_guard lk(self->sessions_mu);
                                   self->sessions.erase(stream);
                               });
                           });
        }
    }

    // Awaits the handler's Responder, which may be called from any thread.
    asio::awaitable<Response> call_handler(Request req, beast::tcp_stream& stream) {
        // NOLINTNEXTLINE(performance-unnecessary-value-param): r is moved into handler, a false positive
        auto initiate = [this, s = &stream](auto completion, Request r) {
            auto exec = s->get_executor();
            struct Call {
                decltype(completion) resume;
                std::atomic<bool> handling{true};  // the handler has not returned yet
            };
            auto call = std::make_shared<Call>(std::move(completion));
            handler(std::move(r), [exec, call](Response resp) mutable {
                // An answer that comes later from elsewhere (the runtime's /response
                // for an invoke) is written at once, on this thread when it may run
                // the connection's strand, before its producer goes on with what
                // follows an answer (the log files, metrics, the dashboard's record).
                // An answer given while the handler is still running, one that may
                // wait for the next request, or a stream continues after its producer
                // instead (defer, not post: on this io thread, not by waking another).
                const bool after =
                    call->handling.load(std::memory_order_acquire) || resp.may_wait || resp.stream;
                auto resume = [call, resp = std::move(resp)]() mutable {
                    call->resume(std::move(resp));
                };
                if (after)
                    asio::defer(exec, std::move(resume));
                else
                    asio::dispatch(exec, std::move(resume));
            });
            call->handling.store(false, std::memory_order_release);
        };
        Response res = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
            initiate, asio::use_awaitable, std::move(req));
        co_return res;
    }

    // Writes `data` into `pipe`, resuming once the pipe has room.
    static asio::awaitable<void> pipe_write(BodyPipe& pipe, std::string data,
                                            beast::tcp_stream& stream) {
        // NOLINTNEXTLINE(performance-unnecessary-value-param): d is moved into the pipe
        auto initiate = [&pipe, s = &stream](auto completion, std::string d) {
            auto exec = s->get_executor();
            auto shared = std::make_shared<decltype(completion)>(std::move(completion));
            pipe.write(std::move(d),
                       [exec, shared] { asio::post(exec, [shared]() mutable { (*shared)(); }); });
        };
        co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
            initiate, asio::use_awaitable, std::move(data));
    }

    // The next piece of a streamed response body.
    static asio::awaitable<BodyPiece> next_piece(BodySource& source, beast::tcp_stream& stream) {
        auto initiate = [&source, s = &stream](auto completion) {
            auto exec = s->get_executor();
            auto shared = std::make_shared<decltype(completion)>(std::move(completion));
            source.next([exec, shared](BodyPiece piece) {
                asio::post(exec, [shared, piece = std::move(piece)]() mutable {
                    (*shared)(std::move(piece));
                });
            });
        };
        BodyPiece piece =
            co_await asio::async_initiate<decltype(asio::use_awaitable), void(BodyPiece)>(
                initiate, asio::use_awaitable);
        co_return piece;
    }

    // A response whose body comes from r.stream: its head, then each piece as
    // a chunk as soon as it is there. A body that breaks off ends the
    // connection without the last chunk, so the client cannot take it as
    // whole. Returns false when the connection cannot go on.
    asio::awaitable<bool> write_streamed(beast::tcp_stream& stream, Response r, unsigned version,
                                         bool keep_alive) {
        std::shared_ptr<BodySource> source = std::move(r.stream);
        bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(r.status), version};
        for (auto& [k, v] : r.headers.items) res.insert(k, v);
        res.set(bhttp::field::server, "lamina");
        res.keep_alive(keep_alive);
        res.chunked(true);
        bhttp::response_serializer<bhttp::empty_body> sr{res};
        stream.expires_after(opt.body_timeout);
        auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kTuple);
        if (ec) {
            source->cancel();
            co_return false;
        }
        // Shaping: past the free bytes, each chunk waits until the bytes sent
        // beyond them fit the rate since the free bytes ran out. Waiting here
        // holds the producer back through the body pipe.
        const bool shaped = r.lambda_stream && opt.stream_shaping.bytes_per_second > 0;
        std::size_t sent = 0;
        std::optional<std::chrono::steady_clock::time_point> capped_since;
        for (;;) {
            stream.expires_never();
            BodyPiece piece = co_await next_piece(*source, stream);
            stream.expires_after(opt.body_timeout);
            if (piece.kind == BodyPiece::Kind::Failed) co_return false;
            if (piece.kind == BodyPiece::Kind::End) {
                auto last = bhttp::make_chunk_last();
                auto [lec, ln] = co_await asio::async_write(stream, last, kTuple);
                co_return !lec;
            }
            if (piece.data.empty()) continue;
            if (shaped) {
                const auto& cap = opt.stream_shaping;
                if (sent >= cap.free_bytes) {
                    auto now = std::chrono::steady_clock::now();
                    if (!capped_since) capped_since = now;
                    auto due =
                        *capped_since +
                        std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::duration<double>(
                                static_cast<double>(sent - cap.free_bytes) / cap.bytes_per_second));
                    if (due > now) {
                        asio::steady_timer pause(stream.get_executor(), due - now);
                        stream.expires_after(opt.body_timeout + (due - now));
                        auto [pec] = co_await pause.async_wait(kTuple);
                        (void)pec;
                    }
                }
                sent += piece.data.size();
            }
            auto chunk = bhttp::make_chunk(asio::buffer(piece.data));
            auto [wec, wn] = co_await asio::async_write(stream, chunk, kTuple);
            if (wec) {
                source->cancel();  // the client is gone: the producer goes on, unheard
                co_return false;
            }
        }
    }

    // Reads the body of the request whose head `head_parser` holds into
    // `sink`, piece by piece as it arrives. Returns "" when it ended whole,
    // else "too_large" or "broken"; trailer fields land in `fields`.
    asio::awaitable<std::string> read_streamed(
        beast::tcp_stream& stream, beast::flat_buffer& buffer,
        bhttp::request_parser<bhttp::empty_body>& head_parser, std::uint64_t limit, BodyPipe& sink,
        Headers& fields) {
        bhttp::request_parser<bhttp::buffer_body> parser(std::move(head_parser));
        parser.body_limit(limit);
        std::string chunk(kBodyReadChunk, '\0');
        std::string error;
        // room for a full read: a buffer only as large as the head was makes a
        // chunked body arrive ~1.5 KB per read (25 MB/s, all CPU, on this machine)
        buffer.reserve(kBodyReadChunk);
        while (!parser.is_done()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            stream.expires_after(opt.body_timeout);
            // read_some: hand on what has arrived, not wait for the buffer to fill
            auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kTuple);
            if (ec == bhttp::error::need_buffer) ec = {};
            std::size_t got = chunk.size() - parser.get().body().size;
            if (got > 0) {
                std::string data(chunk.data(), got);
                co_await pipe_write(sink, std::move(data), stream);
            }
            if (ec) {
                error = ec == bhttp::error::body_limit ? "too_large" : "broken";
                break;
            }
        }
        for (const auto& f : parser.get())
            fields.items.emplace_back(std::string(f.name_string()), std::string(f.value()));
        co_return error;
    }

    // An answer to HEAD has no body but may state the Content-Length a GET
    // would have (S3's HeadObject): it is kept as the handler set it.
    static bhttp::response<bhttp::string_body> to_beast(Response&& r, unsigned version,
                                                        bool keep_alive, bool head = false) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
        // inserted, not set: a name may repeat on purpose (Set-Cookie)
        for (auto& [k, v] : r.headers.items) res.insert(k, v);
        res.set(bhttp::field::server, "lamina");
        res.keep_alive(keep_alive);
        if (head && r.headers.find("Content-Length")) return res;
        res.body() = std::move(r.body);
        res.prepare_payload();
        return res;
    }

    // Writes `r`, behind the answer `held` back for it (see Response::may_wait),
    // in one write.
    asio::awaitable<boost::system::error_code> write(beast::tcp_stream& stream, Response r,
                                                     unsigned version, bool keep_alive,
                                                     std::string& held, bool head = false) {
        auto res = to_beast(std::move(r), version, keep_alive, head);
        stream.expires_after(opt.body_timeout);
        if (held.empty()) {
            auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple);
            co_return ec;
        }
        held += serialized(res);
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(held), kTuple);
        held.clear();
        co_return ec;
    }

    // A whole response as the bytes on the wire.
    static std::string serialized(bhttp::response<bhttp::string_body>& res) {
        std::string out;
        bhttp::response_serializer<bhttp::string_body> sr{res};
        boost::system::error_code ec;
        while (!ec && !sr.is_done()) {
            sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
                std::size_t n = 0;
                for (auto b : beast::buffers_range_ref(buffers)) {
                    out.append(static_cast<const char*>(b.data()), b.size());
                    n += b.size();
                }
                sr.consume(n);
            });
        }
        return out;
    }

    // Sends what was held back, alone (before an answer that cannot join it).
    asio::awaitable<boost::system::error_code> flush_held(beast::tcp_stream& stream,
                                                          std::string& held) {
        if (held.empty()) co_return boost::system::error_code{};
        stream.expires_after(opt.body_timeout);
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(held), kTuple);
        held.clear();
        co_return ec;
    }

    Response transport_error(unsigned status, const std::string& what) {
        if (opt.transport_error) return opt.transport_error(status, what);
        Response r;
        r.status = status;
        r.body = what;
        return r;
    }

    asio::awaitable<void> session(std::shared_ptr<beast::tcp_stream> sp) {
        auto& stream = *sp;
        beast::flat_buffer buffer;
        // Beast reads at most the buffer's free room (at least 512 bytes): a
        // signed API request's head (~650 bytes) would take two reads
        buffer.reserve(kHeadReadRoom);
        std::string remote;
        {
            boost::system::error_code ec;
            auto ep = stream.socket().remote_endpoint(ec);
            if (!ec) remote = ep.address().to_string();
        }
        bool first = true;
        std::string held;  // an answer held back for the next one (Response::may_wait)
        while (!stopping) {
            bhttp::request_parser<bhttp::empty_body> head_parser;
            head_parser.header_limit(static_cast<std::uint32_t>(opt.header_limit));
            head_parser.body_limit(boost::none);
            stream.expires_after(first ? opt.header_timeout : opt.idle_timeout);
            first = false;
            auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, head_parser, kTuple);
            const auto arrived = std::chrono::steady_clock::now();
            if (ec) {
                std::optional<Response> reply;
                if (ec == bhttp::error::header_limit) {
                    reply = transport_error(431, "Request header fields too large");
                } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                           ec != asio::error::eof && ec != asio::error::connection_reset &&
                           ec != asio::error::operation_aborted) {
                    reply = transport_error(400, "Malformed HTTP request: " + ec.message());
                }
                if (reply) co_await write(stream, std::move(*reply), 11, false, held);
                break;
            }
            auto& h = head_parser.get();
            RequestHead head;
            head.method = std::string(h.method_string());
            head.target = std::string(h.target());
            if (auto cl = head_parser.content_length()) head.content_length = *cl;
            for (const auto& f : h)
                head.headers.items.emplace_back(std::string(f.name_string()),
                                                std::string(f.value()));
            unsigned version = h.version();
            bool keep_alive = h.keep_alive();

            BodyPolicy policy;
            policy.limit = 8 * 1024 * 1024;
            if (opt.body_policy) policy = opt.body_policy(head);
            auto too_large = [&] {
                return policy.too_large ? policy.too_large(policy.limit)
                                        : transport_error(413, "Request entity too large");
            };
            if (head.content_length && *head.content_length > policy.limit) {
                if (policy.sink) policy.sink->fail("too_large");
                Response reply = too_large();
                co_await write(stream, std::move(reply), version, false, held);
                break;
            }
            if (auto expect = h[bhttp::field::expect]; beast::iequals(expect, "100-continue")) {
                if (auto fec = co_await flush_held(stream, held)) {
                    if (policy.sink) policy.sink->fail("broken");
                    break;
                }
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
                stream.expires_after(opt.header_timeout);
                auto [wec, wn] = co_await bhttp::async_write(stream, cont, kTuple);
                if (wec) {
                    if (policy.sink) policy.sink->fail("broken");
                    break;
                }
            }

            if (policy.sink) {
                Request req;
                req.arrived = arrived;
                req.method = head.method;
                req.target = head.target;
                req.remote_address = remote;
                req.streamed = true;
                if (!parse_target(req.target, req.path, req.query)) {
                    policy.sink->fail("malformed query string");
                    Response reply = transport_error(400, "Malformed query string");
                    co_await write(stream, std::move(reply), version, false, held);
                    break;
                }
                req.stream_error = co_await read_streamed(stream, buffer, head_parser, policy.limit,
                                                          *policy.sink, req.headers);
                req.tag = std::move(policy.tag);
                bool whole = req.stream_error.empty();
                bool broken = req.stream_error == "broken";
                stream.expires_never();
                Response res = co_await call_handler(std::move(req), stream);
                if (broken) break;  // nobody to answer
                bool keep = keep_alive && whole && !stopping;
                auto wec = co_await write(stream, std::move(res), version, keep, held);
                if (wec || !keep) break;
                continue;
            }

            bhttp::request_parser<bhttp::string_body> parser(std::move(head_parser));
            parser.body_limit(policy.limit);
            // Beast reads at most the buffer's free capacity per receive, and the
            // buffer is only as large as the header was: without room, a 70 MB
            // upload arrives in ~40,000 reads of ~1.6 KB each, slow enough under
            // a sanitizer build that a client's send timeout fires.
            if (head.content_length && *head.content_length > 0) {
                buffer.reserve(static_cast<std::size_t>(
                    std::min<std::uint64_t>(*head.content_length, kBodyReadChunk)));
            }
            stream.expires_after(opt.body_timeout);
            auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
            if (bec) {
                std::optional<Response> reply;
                if (bec == bhttp::error::body_limit) {
                    reply = too_large();
                } else if (bec != beast::error::timeout && bec != asio::error::eof &&
                           bec != asio::error::connection_reset &&
                           bec != bhttp::error::partial_message) {
                    reply = transport_error(400, "Malformed HTTP request: " + bec.message());
                }
                if (reply) co_await write(stream, std::move(*reply), version, false, held);
                break;
            }
            auto msg = parser.release();
            Request req;
            req.arrived = arrived;
            req.method = head.method;
            req.target = std::move(head.target);
            req.remote_address = remote;
            if (!parse_target(req.target, req.path, req.query)) {
                Response reply = transport_error(400, "Malformed query string");
                co_await write(stream, std::move(reply), version, false, held);
                break;
            }
            // the head's fields, copied once; a chunked body's trailer fields follow them
            const std::size_t in_head = head.headers.items.size();
            req.headers = std::move(head.headers);
            std::size_t field = 0;
            for (const auto& f : msg)
                if (field++ >= in_head)
                    req.headers.items.emplace_back(std::string(f.name_string()),
                                                   std::string(f.value()));
            req.body = std::move(msg.body());
            req.tag = std::move(policy.tag);

            stream.expires_never();
            Response res = co_await call_handler(std::move(req), stream);
            bool keep = keep_alive && !stopping;
            if (res.stream) {
                if (auto fec = co_await flush_held(stream, held)) {
                    res.stream->cancel();
                    break;
                }
                bool whole = co_await write_streamed(stream, std::move(res), version, keep);
                if (!whole || !keep_alive) break;
                continue;
            }
            bool head_request = head.method == "HEAD";
            // The client has already sent its next request (pipelined): an answer
            // that may wait goes out with that one's, one write and one wake-up
            // for the client instead of two.
            if (res.may_wait && keep_alive && !stopping && buffer.size() > 0) {
                auto r = to_beast(std::move(res), version, keep, head_request);
                held += serialized(r);
                continue;
            }
            auto wec = co_await write(stream, std::move(res), version, keep, held, head_request);
            if (wec || !keep_alive) break;
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
    }
};

Server::Server(asio::io_context& ioc, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), std::move(handler))) {}

Server::~Server() { stop(); }

void Server::start() {
    auto addr = asio::ip::make_address(impl_->opt.host);
    tcp::endpoint ep(addr, impl_->opt.port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
}

void Server::stop() {
    if (!impl_ || impl_->stopping.exchange(true)) return;
    auto impl = impl_;
    asio::post(impl->ioc, [impl] {
        boost::system::error_code ignored;
        impl->acceptor.close(ignored);
        std::lock_guard lk(impl->sessions_mu);
        for (auto& s : impl->sessions) {
            asio::post(s->get_executor(), [s] { s->cancel(); });
        }
    });
}

unsigned short Server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace lamina::http
