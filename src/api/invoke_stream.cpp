#include "invoke_stream.hpp"

#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"
#include "lamina/common/eventstream.hpp"
#include "url_http.hpp"

namespace lamina::api {

using json = nlohmann::json;

std::string payload_chunk_event(std::string_view bytes) {
    return eventstream_message({{":event-type", "PayloadChunk"},
                                {":content-type", "application/octet-stream"},
                                {":message-type", "event"}},
                               bytes);
}

std::string invoke_complete_event(const exec::InvokeResult& r, bool tail) {
    json out = json::object();
    if (r.function_error) {
        // the runtime's error type (the payload's errorType when it gave none,
        // as for a timeout or a crash), and the error object itself
        std::string code = r.error_type;
        json error = json::parse(r.payload, nullptr, false);
        if ((code.empty() || code == "Unhandled") && error.is_object() &&
            error.value("errorType", json()).is_string())
            code = error["errorType"].get<std::string>();
        out["ErrorCode"] = code.empty() ? std::string("Unhandled") : code;
        out["ErrorDetails"] = r.payload;
    }
    if (tail) {
        std::string_view log(r.log);
        if (log.size() > 4096) log.remove_prefix(log.size() - 4096);
        out["LogResult"] = base64_encode(log);
    }
    return eventstream_message({{":event-type", "InvokeComplete"},
                                {":content-type", "application/json"},
                                {":message-type", "event"}},
                               out.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string buffered_stream_body(const exec::InvokeResult& r, bool tail) {
    std::string body;
    if (!r.function_error && !r.payload.empty()) body = payload_chunk_event(r.payload);
    body += invoke_complete_event(r, tail);
    return body;
}

InvokeStream::InvokeStream(std::shared_ptr<http::BodySource> inner, std::string lead, Encode encode,
                           Finish finish)
    : inner_(std::move(inner)),
      lead_(std::move(lead)),
      encode_(std::move(encode)),
      finish_(std::move(finish)) {}

http::BodyPiece InvokeStream::take(std::deque<http::BodyPiece>& q) {
    if (q.size() > 1) {
        http::BodyPiece p = std::move(q.front());
        q.pop_front();
        return p;
    }
    return q.front();  // the ending, every time it is asked for
}

void InvokeStream::complete(const exec::InvokeResult& r) {
    std::function<void(http::BodyPiece)> reader;
    http::BodyPiece piece;
    {
        std::lock_guard lk(mu_);
        if (complete_) return;
        complete_ = true;
        for (auto& p : finish_(r)) rest_.push_back(std::move(p));
        if (rest_.empty()) rest_.push_back(http::BodyPiece::end());
        if (waiting_) {
            reader = std::move(waiting_);
            waiting_ = nullptr;
            piece = take(rest_);
        }
    }
    if (reader) reader(std::move(piece));
}

void InvokeStream::after_data(std::function<void(http::BodyPiece)> fn) {
    http::BodyPiece piece;
    {
        std::lock_guard lk(mu_);
        if (!complete_) {
            waiting_ = std::move(fn);
            return;
        }
        piece = take(rest_);
    }
    fn(std::move(piece));
}

void InvokeStream::next(std::function<void(http::BodyPiece)> fn) {
    std::string lead;
    bool inner_done = false;
    {
        std::lock_guard lk(mu_);
        lead = std::move(lead_);
        lead_.clear();
        inner_done = inner_done_;
    }
    if (!lead.empty()) {
        fn(http::BodyPiece::bytes(encode_ ? encode_(std::move(lead)) : std::move(lead)));
        return;
    }
    if (inner_done) {
        after_data(std::move(fn));
        return;
    }
    auto self = shared_from_this();
    inner_->next([self, fn = std::move(fn)](http::BodyPiece p) mutable {
        if (p.kind == http::BodyPiece::Kind::Data) {
            fn(http::BodyPiece::bytes(self->encode_ ? self->encode_(std::move(p.data))
                                                    : std::move(p.data)));
            return;
        }
        {
            std::lock_guard lk(self->mu_);
            self->inner_done_ = true;
        }
        self->after_data(std::move(fn));
    });
}

void InvokeStream::cancel() {
    std::function<void(http::BodyPiece)> reader;
    {
        std::lock_guard lk(mu_);
        reader = std::move(waiting_);
        waiting_ = nullptr;
    }
    inner_->cancel();
    if (reader) reader(http::BodyPiece::failed("cancelled"));
}

namespace {

struct PreludeReader : std::enable_shared_from_this<PreludeReader> {
    std::shared_ptr<http::BodySource> source;
    std::function<void(std::optional<std::pair<std::string, std::string>>)> done;
    std::string seen;

    void pull() {
        auto self = shared_from_this();
        source->next([self](const http::BodyPiece& p) {
            if (p.kind != http::BodyPiece::Kind::Data) {
                self->done(std::nullopt);
                return;
            }
            // the delimiter may straddle two pieces: look a little before the new bytes
            const std::size_t from =
                self->seen.size() >= kPreludeDelimiter.size() ? self->seen.size() - 7 : 0;
            self->seen += p.data;
            if (auto at = self->seen.find(kPreludeDelimiter, from); at != std::string::npos) {
                std::string rest = self->seen.substr(at + kPreludeDelimiter.size());
                self->seen.resize(at);
                self->done(std::make_pair(std::move(self->seen), std::move(rest)));
                return;
            }
            if (self->seen.size() > kMaxPreludeBytes) {
                self->done(std::nullopt);
                return;
            }
            self->pull();
        });
    }
};

}  // namespace

void read_prelude(const std::shared_ptr<http::BodySource>& source,
                  std::function<void(std::optional<std::pair<std::string, std::string>>)> done) {
    auto reader = std::make_shared<PreludeReader>();
    reader->source = source;
    reader->done = std::move(done);
    reader->pull();
}

}  // namespace lamina::api
