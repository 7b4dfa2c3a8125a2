#include "lamina/exec/recent_invocations.hpp"

#include <algorithm>

namespace lamina::exec {

namespace {

constexpr std::string_view kCut = "\n[...]\n";

// Head and tail of a log longer than `max` bytes (the tail holds REPORT).
void cap(std::string& log, std::size_t max) {
    if (log.size() <= max || max <= kCut.size()) return;
    std::size_t keep = max - kCut.size();
    std::size_t head = keep / 4;
    std::size_t tail = keep - head;
    log = log.substr(0, head) + std::string(kCut) + log.substr(log.size() - tail);
}

}  // namespace

RecentInvocations::RecentInvocations(std::size_t capacity, std::size_t max_log_bytes)
    : capacity_(std::max<std::size_t>(capacity, 1)), max_log_bytes_(max_log_bytes) {}

void RecentInvocations::record(InvocationRecord r) {
    cap(r.log, max_log_bytes_);
    std::lock_guard lk(mu_);
    if (ring_.size() < capacity_) {
        ring_.push_back(std::move(r));
        return;
    }
    ring_[next_] = std::move(r);
    next_ = (next_ + 1) % capacity_;
}

std::vector<InvocationRecord> RecentInvocations::snapshot(const control::Scope& scope,
                                                          const std::string& function) const {
    std::vector<InvocationRecord> out;
    std::lock_guard lk(mu_);
    // oldest is at next_ once the ring is full, else at 0; walk newest to oldest
    const std::size_t n = ring_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto& r = ring_[(next_ + n - 1 - i) % n];
        if (r.scope == scope && (function.empty() || r.function == function)) out.push_back(r);
    }
    return out;
}

void RecentInvocations::clear() {
    std::lock_guard lk(mu_);
    ring_.clear();
    next_ = 0;
}

std::size_t RecentInvocations::size() const {
    std::lock_guard lk(mu_);
    return ring_.size();
}

}  // namespace lamina::exec
