#pragma once
// A streamed invocation as its caller receives it: the function's response
// stream (from the Runtime API, as it arrives), each piece encoded for the
// caller, followed by what the invocation's end adds once it is known
// (InvokeWithResponseStream's InvokeComplete event; for a RESPONSE_STREAM
// URL, whether the body ends whole or breaks off). Private to the api module.

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/exec/invoker.hpp"
#include "lamina/http/body_stream.hpp"

namespace lamina::api {

// InvokeWithResponseStream's event-stream messages.
std::string payload_chunk_event(std::string_view bytes);
// {ErrorCode, ErrorDetails} for a failed invocation, LogResult (the last
// 4 KB of its log, base64) when `tail`.
std::string invoke_complete_event(const exec::InvokeResult& r, bool tail);
// A whole InvokeWithResponseStream body for a response that was not streamed
// (a runtime that answered at once): one PayloadChunk, then InvokeComplete.
std::string buffered_stream_body(const exec::InvokeResult& r, bool tail);

class InvokeStream final : public http::BodySource,
                           public std::enable_shared_from_this<InvokeStream> {
public:
    // How each piece of data is sent (identity when null).
    using Encode = std::function<std::string(std::string)>;
    // What follows the data once the invocation ended: pieces ending in End or Failed.
    using Finish = std::function<std::vector<http::BodyPiece>(const exec::InvokeResult&)>;

    // `lead`: bytes already taken off `inner` (after an HTTP prelude), sent first.
    InvokeStream(std::shared_ptr<http::BodySource> inner, std::string lead, Encode encode,
                 Finish finish);

    // The invocation ended (after its stream did, or broke off).
    void complete(const exec::InvokeResult& r);

    void next(std::function<void(http::BodyPiece)> fn) override;
    void cancel() override;

private:
    void after_data(std::function<void(http::BodyPiece)> fn);
    static http::BodyPiece take(std::deque<http::BodyPiece>& q);

    std::mutex mu_;
    std::shared_ptr<http::BodySource> inner_;
    std::string lead_;
    Encode encode_;
    Finish finish_;
    bool inner_done_ = false;
    bool complete_ = false;
    std::deque<http::BodyPiece> rest_;              // what follows the data, once complete
    std::function<void(http::BodyPiece)> waiting_;  // a reader waiting for the end
};

// Reads an HTTP prelude off the start of `source` (up to kPreludeDelimiter,
// at most kMaxPreludeBytes): `done` gets the prelude and the bytes after it,
// or nullopt when the body ended, broke off or ran long before one.
void read_prelude(const std::shared_ptr<http::BodySource>& source,
                  std::function<void(std::optional<std::pair<std::string, std::string>>)> done);

}  // namespace lamina::api
