// Cost of one admission decision of the concurrency controller (acquire and
// release of a Slot), the step every invocation takes before it runs.
// Prints nanoseconds per decision for the kinds of pools; asserts nothing.
//
//   cmake --build build --target bench_admission && build/bench_admission

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "lamina/exec/concurrency.hpp"

using namespace lamina;

namespace {

class WallClock final : public Clock {
public:
    std::int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

double ns_per_decision(exec::ConcurrencyController& c, const exec::Demand& d, int rounds) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) {
        auto slot = c.acquire(d);
        if (!slot) std::abort();
    }  // each slot is released at the end of its iteration
    auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    return ns / rounds;
}

}  // namespace

int main() {
    WallClock clock;
    exec::CapacitySettings settings;
    settings.scaling_per_function = 1 << 30;  // never the limit here
    settings.quota.account_limit = 1 << 30;
    exec::ConcurrencyController c(settings, clock);
    const control::Scope scope{"123456789012", "us-east-1"};
    // other functions and accounts in the maps, as in a busy server
    std::vector<exec::Slot> background;
    for (int i = 0; i < 1000; ++i)
        background.push_back(
            std::move(*c.acquire({scope, "fn-" + std::to_string(i), std::nullopt, 0, 0, false})));
    const int rounds = 2'000'000;
    std::printf(
        "admission decision (acquire + release), %d rounds each, 1,000 other functions running\n",
        rounds);
    std::printf("  unreserved, warm environment : %6.1f ns\n",
                ns_per_decision(c, {scope, "f", std::nullopt, 100, 0, false}, rounds));
    std::printf("  unreserved, new environment  : %6.1f ns\n",
                ns_per_decision(c, {scope, "f", std::nullopt, 100, 0, true}, rounds));
    std::printf("  reserved, warm environment   : %6.1f ns\n",
                ns_per_decision(c, {scope, "r", 50, 100, 0, false}, rounds));
    std::printf("  target                       : %6.1f ns\n", 2000.0);
    return 0;
}
