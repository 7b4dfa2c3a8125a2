#pragma once
// Injectable time and id sources: wall-clock times lamina records or
// answers and every random id or draw come from here (tests use fakes);
// only durations are measured with std::chrono::steady_clock directly.

#include <chrono>
#include <cstdint>
#include <string>

namespace lamina {

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time in milliseconds since the Unix epoch.
    virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override;
};

class IdSource {
public:
    virtual ~IdSource() = default;
    // A random UUID v4 in its canonical 36-character form.
    virtual std::string uuid() = 0;
    // n random lowercase hex characters.
    virtual std::string hex(std::size_t n) = 0;
    // A uniform draw in [0, 1) (a weighted alias's routing), from hex().
    virtual double unit_draw() {
        return static_cast<double>(std::stoull(hex(13), nullptr, 16)) /
               static_cast<double>(1ull << 52);
    }
};

class RandomIdSource final : public IdSource {
public:
    std::string uuid() override;
    std::string hex(std::size_t n) override;
};

// "2024-01-01T00:00:00.000+0000", the format of Lambda's LastModified.
std::string format_lambda_time(std::int64_t epoch_ms);
// "2024-01-01T00:00:00Z" (IAM, STS).
std::string format_iso8601(std::int64_t epoch_ms);
// "2024-01-01T00:00:00.000Z" (S3's XML times).
std::string format_iso8601_ms(std::int64_t epoch_ms);
// "Mon, 01 Jan 2024 00:00:00 GMT" (HTTP dates: Last-Modified).
std::string format_http_date(std::int64_t epoch_ms);

}  // namespace lamina
