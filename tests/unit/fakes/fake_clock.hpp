#pragma once
// Deterministic Clock and IdSource for unit tests: time only moves when a
// test moves it, and ids count up so every one is distinct and predictable.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "lamina/common/clock.hpp"

namespace lamina::fakes {

class FakeClock final : public Clock {
public:
    explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_; }
    void set(std::int64_t ms) { now_ = ms; }
    void advance(std::int64_t ms) { now_ += ms; }

private:
    std::int64_t now_;
};

// uuid() returns "00000000-0000-4000-8000-<12-digit counter>", hex(n) the
// counter as n hex digits; both share one counter.
class CountingIds final : public IdSource {
public:
    std::string uuid() override {
        char buf[40];
        std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                      static_cast<unsigned long long>(++count_));
        return buf;
    }
    std::string hex(std::size_t n) override {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(++count_));
        std::string s = buf;
        while (s.size() < n) s.insert(0, "0");
        return s.substr(s.size() - n);
    }
    std::uint64_t issued() const { return count_; }

private:
    std::atomic<std::uint64_t> count_{0};  // several threads may ask
};

}  // namespace lamina::fakes
