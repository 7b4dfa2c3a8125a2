#pragma once
// Bodies that travel while they are still being produced: a function's
// streamed response, from the Runtime API's request body to a client's
// chunked response. A BodySource hands out pieces one at a time; BodyPipe is
// the bounded one between a producer and a consumer on different threads:
// its producer is held back while the consumer is behind, so no body is ever
// held whole in memory.

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace lamina::http {

struct BodyPiece {
    enum class Kind {
        Data,    // `data` is the next bytes
        End,     // the body is complete
        Failed,  // the body broke off (`data` says why): the receiver must not take it as whole
    };
    Kind kind = Kind::End;
    std::string data;

    static BodyPiece bytes(std::string d) { return {Kind::Data, std::move(d)}; }
    static BodyPiece end() { return {Kind::End, {}}; }
    static BodyPiece failed(std::string why) { return {Kind::Failed, std::move(why)}; }
};

class BodySource {
public:
    virtual ~BodySource() = default;
    // Calls `fn` exactly once with the next piece, from any thread (possibly
    // this one, before returning). After End or Failed, every call gets the
    // same again. One call at a time: the next only after `fn` ran.
    virtual void next(std::function<void(BodyPiece)> fn) = 0;
    // The consumer is gone: whatever is still produced is dropped.
    virtual void cancel() = 0;
};

class BodyPipe final : public BodySource {
public:
    // Data waiting beyond this many bytes holds the producer back.
    static constexpr std::size_t kDefaultHighWater = 1 << 20;
    // The most one next() hands out at once (queued writes are joined up to it).
    static constexpr std::size_t kMaxPiece = 1 << 20;

    explicit BodyPipe(std::size_t high_water = kDefaultHighWater) : high_water_(high_water) {}

    // Producer side. Queues `data` (dropped once cancelled or ended); `resume`
    // runs once the consumer has caught up: at once, on this thread, when it
    // is not behind. The producer writes again only after `resume` ran.
    void write(std::string data, std::function<void()> resume);
    void finish();
    void fail(std::string why);
    bool cancelled() const;
    std::size_t bytes_written() const;  // accepted so far (not counting dropped writes)

    // Consumer side.
    void next(std::function<void(BodyPiece)> fn) override;
    void cancel() override;

private:
    void end_with(BodyPiece piece);

    mutable std::mutex mu_;
    std::deque<std::string> queue_;
    std::size_t queued_bytes_ = 0;
    std::size_t total_ = 0;
    std::optional<BodyPiece> ending_;
    bool cancelled_ = false;
    std::function<void(BodyPiece)> reader_;  // a consumer waiting for data
    std::function<void()> resume_;           // a producer waiting for room
    std::size_t high_water_;
};

}  // namespace lamina::http
