#include "lamina/common/clock.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace lamina {

std::int64_t SystemClock::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

// RAND_bytes costs a few microseconds a call (its fork check is a getpid
// system call) and a warm invocation draws five ids: the bytes come from it
// in blocks, one per thread, dropped in a forked child.
constexpr std::size_t kRandomBlock = 512;

struct RandomBlock {
    std::array<unsigned char, kRandomBlock> bytes{};
    std::size_t used = kRandomBlock;
};

thread_local RandomBlock t_random;

void random_bytes(unsigned char* out, std::size_t n) {
    static const bool kForkSafe =
        pthread_atfork(nullptr, nullptr, [] { t_random.used = kRandomBlock; }) == 0;
    (void)kForkSafe;
    while (n > 0) {
        if (t_random.used == kRandomBlock) {
            if (RAND_bytes(t_random.bytes.data(), static_cast<int>(kRandomBlock)) != 1)
                throw std::runtime_error("RAND_bytes failed");
            t_random.used = 0;
        }
        std::size_t take = std::min(n, kRandomBlock - t_random.used);
        std::memcpy(out, t_random.bytes.data() + t_random.used, take);
        t_random.used += take;
        out += take;
        n -= take;
    }
}

constexpr char kHex[] = "0123456789abcdef";

std::tm utc_tm(std::int64_t epoch_ms) {
    auto secs = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

}  // namespace

std::string RandomIdSource::uuid() {
    std::array<unsigned char, 16> b{};
    random_bytes(b.data(), b.size());
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0x0f]);
    }
    return out;
}

std::string RandomIdSource::hex(std::size_t n) {
    std::string bytes((n + 1) / 2, '\0');
    random_bytes(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size());
    std::string out;
    out.reserve(n);
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0x0f]);
    }
    out.resize(n);
    return out;
}

namespace {
// "2024-01-01T00:00:00.000" and the zone's suffix
std::string with_millis(std::int64_t epoch_ms, const char* zone) {
    std::tm tm = utc_tm(epoch_ms);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(epoch_ms % 1000), zone);
    return buf;
}
}  // namespace

std::string format_lambda_time(std::int64_t epoch_ms) { return with_millis(epoch_ms, "+0000"); }

std::string format_iso8601_ms(std::int64_t epoch_ms) { return with_millis(epoch_ms, "Z"); }

std::string format_http_date(std::int64_t epoch_ms) {
    std::tm tm = utc_tm(epoch_ms);
    char buf[40];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::string format_iso8601(std::int64_t epoch_ms) {
    std::tm tm = utc_tm(epoch_ms);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace lamina
