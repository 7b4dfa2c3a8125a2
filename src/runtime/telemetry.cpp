// TelemetryHub: the subscriptions of one environment, each with its buffer,
// delivered as HTTP POSTs of JSON arrays from one strand, one POST at a time
// per subscription (records stay in order). A POST that fails or is not
// answered within 5 s is given up: its records are reported to the next
// batch as platform.logsDropped.

#include "lamina/runtime/telemetry.hpp"

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <map>

#include "lamina/common/clock.hpp"

namespace lamina::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// the wall clock lamina's records carry (common/clock's SystemClock)
std::int64_t now_ms() { return SystemClock().now_ms(); }

constexpr auto kPostTimeout = std::chrono::seconds(5);

}  // namespace

struct TelemetryHub::State : std::enable_shared_from_this<TelemetryHub::State> {
    explicit State(asio::io_context& ioc) : strand(asio::make_strand(ioc)) {}

    struct Sub {
        std::string name;
        Subscription s;
        TelemetryBuffer buffer;
        std::unique_ptr<asio::steady_timer> timer;
        bool timer_armed = false;
        bool sending = false;
    };
    struct Flush {
        std::function<void()> done;
        std::shared_ptr<asio::steady_timer> timer;
    };

    asio::strand<asio::io_context::executor_type> strand;
    std::atomic<unsigned> kinds{0};  // RecordKind bits some subscription takes
    std::atomic<bool> subscribed{false};
    // on the strand
    std::string host = "127.0.0.1";
    bool in_init = true;
    bool stopped = false;
    std::vector<std::pair<RecordKind, records::Json>> backlog;  // published during init
    std::map<std::string, std::unique_ptr<Sub>> subs;           // by extension id + api
    std::vector<std::shared_ptr<Flush>> flushes;

    void add(Sub& sub, RecordKind kind, const records::Json& event) {
        if (!(sub.s.kinds & static_cast<unsigned>(kind))) return;
        if (sub.s.api == TelemetryApi::Telemetry) {
            sub.buffer.push(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        } else {
            for (const auto& e : records::to_logs_api(event))
                sub.buffer.push(e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
        schedule(sub);
    }

    // Sends at once when a batch is due, else makes sure the timeout is running.
    void schedule(Sub& sub) {
        if (sub.buffer.empty() || sub.sending) return;
        if (sub.buffer.full() || !flushes.empty()) {
            send(sub);
            return;
        }
        if (sub.timer_armed) return;
        sub.timer_armed = true;
        sub.timer->expires_after(std::chrono::milliseconds(sub.s.buffering.timeout_ms));
        sub.timer->async_wait(
            asio::bind_executor(strand, [self = shared_from_this(), sub = &sub](auto ec) {
                if (ec || self->stopped) return;
                sub->timer_armed = false;
                self->send(*sub);
            }));
    }

    void send(Sub& sub) {
        if (sub.sending || stopped) return;
        if (sub.timer_armed) {
            sub.timer->cancel();
            sub.timer_armed = false;
        }
        std::size_t count = 0;
        std::string body = sub.buffer.take_batch(now_ms(), &count);
        if (body.empty()) return check_flushes();
        sub.sending = true;
        auto req = std::make_shared<bhttp::request<bhttp::string_body>>(bhttp::verb::post,
                                                                        sub.s.target, 11);
        req->set(bhttp::field::host, "sandbox.localdomain:" + std::to_string(sub.s.port));
        req->set(bhttp::field::content_type, "application/json");
        req->body() = std::move(body);
        req->prepare_payload();
        auto stream = std::make_shared<beast::tcp_stream>(strand);
        stream->expires_after(kPostTimeout);
        boost::system::error_code ec;
        auto address = asio::ip::make_address(host, ec);
        asio::ip::tcp::endpoint ep(address, sub.s.port);
        auto self = shared_from_this();
        auto finished = [self, sub = &sub, req, stream, count](bool ok) {
            if (!ok) sub->buffer.dropped(count, req->body().size());
            sub->sending = false;
            if (self->stopped) return;
            self->schedule(*sub);
            self->check_flushes();
        };
        stream->async_connect(ep, [stream, req, finished](beast::error_code ec) {
            if (ec) return finished(false);
            bhttp::async_write(
                *stream, *req, [stream, finished](beast::error_code ec, std::size_t) {
                    if (ec) return finished(false);
                    auto buf = std::make_shared<beast::flat_buffer>();
                    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
                    bhttp::async_read(
                        *stream, *buf, *res,
                        [stream, buf, res, finished](beast::error_code ec, std::size_t) {
                            beast::error_code ignored;
                            stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                      ignored);
                            finished(!ec && res->result_int() < 300);
                        });
                });
        });
    }

    bool idle() const {
        for (const auto& [id, sub] : subs)
            if (sub->sending || !sub->buffer.empty()) return false;
        return true;
    }

    void check_flushes() {
        if (flushes.empty() || !idle()) return;
        auto done = std::move(flushes);
        flushes.clear();
        for (auto& f : done) {
            f->timer->cancel();
            if (f->done) std::exchange(f->done, nullptr)();
        }
    }
};

TelemetryHub::TelemetryHub(asio::io_context& ioc) : state_(std::make_shared<State>(ioc)) {}

TelemetryHub::~TelemetryHub() { stop(); }

void TelemetryHub::set_host(std::string ip) {
    asio::post(state_->strand, [s = state_, ip = std::move(ip)] { s->host = ip; });
}

void TelemetryHub::subscribe(const std::string& extension_id, const std::string& name,
                             Subscription sub) {
    state_->subscribed = true;
    state_->kinds |= sub.kinds;
    // the key is made before `sub` moves (a closure's members initialise in no set order)
    std::string key = extension_id + "/" + std::to_string(static_cast<int>(sub.api));
    asio::post(state_->strand,
               [s = state_, key = std::move(key), name, sub = std::move(sub)]() mutable {
                   if (s->stopped) return;
                   auto& slot = s->subs[key];
                   auto buffering = sub.buffering;
                   auto fresh = std::make_unique<State::Sub>(
                       State::Sub{name, std::move(sub), TelemetryBuffer(buffering),
                                  std::make_unique<asio::steady_timer>(s->strand)});
                   if (slot) {
                       slot->timer->cancel();
                       if (slot->sending) return;  // a POST in flight refers to it: keep the first
                   }
                   slot = std::move(fresh);
                   State::Sub& added = *slot;
                   if (s->in_init)
                       for (const auto& [kind, event] : s->backlog) s->add(added, kind, event);
                   auto record = records::telemetry_subscription(now_ms(), name, added.s.types);
                   for (auto& [k, other] : s->subs) s->add(*other, RecordKind::Platform, record);
               });
}

void TelemetryHub::end_init() {
    asio::post(state_->strand, [s = state_] {
        s->in_init = false;
        s->backlog.clear();
    });
}

bool TelemetryHub::wants(RecordKind kind) const {
    return (state_->kinds.load() & static_cast<unsigned>(kind)) != 0;
}

bool TelemetryHub::any() const { return state_->subscribed.load(); }

void TelemetryHub::publish(RecordKind kind, records::Json event) {
    asio::post(state_->strand, [s = state_, kind, event = std::move(event)]() mutable {
        if (s->stopped) return;
        for (auto& [k, sub] : s->subs) s->add(*sub, kind, event);
        if (s->in_init && s->backlog.size() < 10000)
            s->backlog.emplace_back(kind, std::move(event));
    });
}

void TelemetryHub::flush(std::function<void()> done, std::chrono::milliseconds limit) {
    auto f = std::make_shared<State::Flush>();
    f->done = std::move(done);
    f->timer = std::make_shared<asio::steady_timer>(state_->strand);
    asio::post(state_->strand, [s = state_, f, limit] {
        if (s->stopped || s->idle()) {
            if (f->done) std::exchange(f->done, nullptr)();
            return;
        }
        s->flushes.push_back(f);
        f->timer->expires_after(limit);
        f->timer->async_wait(asio::bind_executor(s->strand, [f](auto ec) {
            if (!ec && f->done) std::exchange(f->done, nullptr)();
        }));
        for (auto& [k, sub] : s->subs) s->schedule(*sub);
    });
}

void TelemetryHub::stop() {
    asio::post(state_->strand, [s = state_] {
        s->stopped = true;
        for (auto& [k, sub] : s->subs) sub->timer->cancel();
        for (auto& f : s->flushes) {
            f->timer->cancel();
            if (f->done) std::exchange(f->done, nullptr)();
        }
        s->flushes.clear();
    });
}

}  // namespace lamina::runtime
