#include "lamina/http/body_stream.hpp"

namespace lamina::http {

void BodyPipe::write(std::string data, std::function<void()> resume) {
    std::function<void(BodyPiece)> reader;
    std::optional<BodyPiece> handed;                  // straight to a waiting reader
    std::function<void()> go_on = std::move(resume);  // unless the producer is held back
    {
        std::lock_guard lk(mu_);
        if (!cancelled_ && !ending_ && !data.empty()) {
            total_ += data.size();
            if (reader_ && queue_.empty()) {
                reader = std::move(reader_);  // nothing waits in between
                reader_ = nullptr;
                handed = BodyPiece::bytes(std::move(data));
            } else {
                queued_bytes_ += data.size();
                queue_.push_back(std::move(data));
                if (queued_bytes_ >= high_water_) {
                    resume_ = std::move(go_on);
                    go_on = nullptr;
                }
            }
        }
    }
    if (reader) reader(std::move(*handed));
    if (go_on) go_on();
}

void BodyPipe::end_with(BodyPiece piece) {
    std::function<void(BodyPiece)> reader;
    std::function<void()> resume;
    {
        std::lock_guard lk(mu_);
        if (ending_) return;
        ending_ = piece;
        if (reader_ && queue_.empty()) {
            reader = std::move(reader_);
            reader_ = nullptr;
        }
        // a producer held back (the pipe was ended from elsewhere: a timeout) goes
        // on: whatever it writes now is dropped
        resume = std::move(resume_);
        resume_ = nullptr;
    }
    if (resume) resume();
    if (reader) reader(std::move(piece));
}

void BodyPipe::finish() { end_with(BodyPiece::end()); }

void BodyPipe::fail(std::string why) { end_with(BodyPiece::failed(std::move(why))); }

bool BodyPipe::cancelled() const {
    std::lock_guard lk(mu_);
    return cancelled_;
}

std::size_t BodyPipe::bytes_written() const {
    std::lock_guard lk(mu_);
    return total_;
}

void BodyPipe::next(std::function<void(BodyPiece)> fn) {
    BodyPiece piece;
    std::function<void()> resume;
    {
        std::lock_guard lk(mu_);
        if (queue_.empty()) {
            if (!ending_) {
                reader_ = std::move(fn);
                return;
            }
            piece = *ending_;
        } else {
            piece.kind = BodyPiece::Kind::Data;
            piece.data = std::move(queue_.front());
            queue_.pop_front();
            // what else is waiting goes along, up to kMaxPiece: fewer, larger writes downstream
            while (!queue_.empty() && piece.data.size() + queue_.front().size() <= kMaxPiece) {
                piece.data += queue_.front();
                queue_.pop_front();
            }
            queued_bytes_ = 0;
            for (const auto& q : queue_) queued_bytes_ += q.size();
            if (resume_ && queued_bytes_ < high_water_) {
                resume = std::move(resume_);
                resume_ = nullptr;
            }
        }
    }
    if (resume) resume();
    fn(std::move(piece));
}

void BodyPipe::cancel() {
    std::function<void()> resume;
    std::function<void(BodyPiece)> reader;
    {
        std::lock_guard lk(mu_);
        cancelled_ = true;
        queue_.clear();
        queued_bytes_ = 0;
        resume = std::move(resume_);
        resume_ = nullptr;
        reader = std::move(reader_);
        reader_ = nullptr;
    }
    if (resume) resume();
    if (reader) reader(BodyPiece::failed("cancelled"));
}

}  // namespace lamina::http
