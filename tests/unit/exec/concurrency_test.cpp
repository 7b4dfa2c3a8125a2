#include "lamina/exec/concurrency.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "../fakes/fake_clock.hpp"

using namespace lamina;
using namespace lamina::exec;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};

Demand demand(const std::string& fn, std::optional<int> reserved = std::nullopt,
              std::int64_t reserved_total = 0, bool cold = false) {
    return Demand{kScope, fn, reserved, reserved_total, 0, cold};
}

}  // namespace

TEST(Concurrency, ReservedConcurrencyCapsTheFunctionAndZeroThrottlesEverything) {
    fakes::FakeClock clock;
    ConcurrencyController c({}, clock);
    std::vector<Slot> held;
    for (int i = 0; i < 3; ++i) {
        auto s = c.acquire(demand("f", 3, 3));
        ASSERT_TRUE(s.has_value()) << i;
        held.push_back(std::move(*s));
    }
    auto refused = c.acquire(demand("f", 3, 3));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
    EXPECT_EQ(refused.error().message, "Rate Exceeded.");
    EXPECT_EQ(c.concurrent(kScope, "f"), 3);
    held.pop_back();  // one finishes: one more fits
    EXPECT_TRUE(c.acquire(demand("f", 3, 3)).has_value());
    EXPECT_EQ(c.acquire(demand("g", 0, 3)).error().reason,
              "ReservedFunctionConcurrentInvocationLimitExceeded");
}

TEST(Concurrency, UnreservedFunctionsShareWhatReservationsLeave) {
    fakes::FakeClock clock;
    CapacitySettings settings;
    settings.quota.account_limit = 10;
    ConcurrencyController c(settings, clock);
    std::vector<Slot> held;
    for (int i = 0; i < 4; ++i)
        held.push_back(std::move(*c.acquire(demand(i % 2 ? "a" : "b", std::nullopt, 6))));
    auto refused = c.acquire(demand("c", std::nullopt, 6));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().reason, "ConcurrentInvocationLimitExceeded");
    // a reserved function still has its own slice
    auto reserved = c.acquire(demand("r", 6, 6));
    ASSERT_TRUE(reserved.has_value());
    EXPECT_EQ(c.usage(kScope).concurrent, 5);
    EXPECT_EQ(c.usage(kScope).unreserved_concurrent, 4);
    held.clear();
    reserved->release();
    EXPECT_EQ(c.usage(kScope).concurrent, 0);
    // other accounts and regions have their own pools
    EXPECT_EQ(c.usage({"123456789012", "eu-west-1"}).concurrent, 0);
}

TEST(Concurrency, PerFunctionScalingAddsAtMostNEnvironmentsPerTenSecondsRefilledContinuously) {
    fakes::FakeClock clock;
    CapacitySettings settings;
    settings.scaling_per_function = 10;
    ConcurrencyController c(settings, clock);
    std::vector<Slot> held;
    for (int i = 0; i < 10; ++i)
        held.push_back(std::move(*c.acquire(demand("f", std::nullopt, 0, true))));
    auto refused = c.acquire(demand("f", std::nullopt, 0, true));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().reason, "FunctionInvocationRateLimitExceeded");
    EXPECT_TRUE(c.acquire(demand("f", std::nullopt, 0, false))
                    .has_value());  // a warm environment needs no token
    EXPECT_TRUE(c.acquire(demand("other", std::nullopt, 0, true))
                    .has_value());  // functions scale independently
    clock.advance(1000);            // 10 per 10 s: one more per second
    EXPECT_TRUE(c.acquire(demand("f", std::nullopt, 0, true)).has_value());
    EXPECT_FALSE(c.acquire(demand("f", std::nullopt, 0, true)).has_value());
    clock.advance(3'600'000);  // tokens do not accumulate beyond N
    for (int i = 0; i < 10; ++i)
        EXPECT_TRUE(c.acquire(demand("f", std::nullopt, 0, true)).has_value()) << i;
    held.clear();  // nothing runs, but the bucket is empty: a reserved function hears the reserved rate reason
    EXPECT_EQ(c.acquire(demand("f", 5, 5, true)).error().reason,
              "ReservedFunctionInvocationRateLimitExceeded");
}

TEST(Concurrency, RegionalBurstThenGrowthPerMinute) {
    fakes::FakeClock clock;
    CapacitySettings settings;
    settings.scaling = ScalingModel::RegionalBurst;
    settings.burst = 5;
    settings.burst_per_minute = 2;
    ConcurrencyController c(settings, clock);
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(c.acquire(demand(i % 2 ? "a" : "b", std::nullopt, 0, true)).has_value());
    EXPECT_EQ(c.acquire(demand("c", std::nullopt, 0, true)).error().reason,
              "FunctionInvocationRateLimitExceeded");
    clock.advance(30'000);  // +2 per minute: one after 30 s, shared by the region
    EXPECT_TRUE(c.acquire(demand("c", std::nullopt, 0, true)).has_value());
    EXPECT_FALSE(c.acquire(demand("a", std::nullopt, 0, true)).has_value());
    EXPECT_EQ(default_burst_for_region("us-east-1"), 3000);
    EXPECT_EQ(default_burst_for_region("eu-central-1"), 1000);
    EXPECT_EQ(default_burst_for_region("sa-east-1"), 500);
}

TEST(Concurrency, MovedSlotsReleaseOnce) {
    fakes::FakeClock clock;
    ConcurrencyController c({}, clock);
    {
        Slot a = std::move(*c.acquire(demand("f")));
        Slot b = std::move(a);
        EXPECT_FALSE(static_cast<bool>(a));
        EXPECT_EQ(c.concurrent(kScope, "f"), 1);
        b.release();
        b.release();
    }
    EXPECT_EQ(c.usage(kScope).concurrent, 0);
}

TEST(Concurrency, ProvisionedConcurrencyIsSetAsideWithinTheReservation) {
    fakes::FakeClock clock;
    ConcurrencyController c({}, clock);
    Demand d = demand("f", 3, 3);
    d.provisioned_total = 2;  // one on-demand execution left in the reservation
    auto first = c.acquire(d);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(c.acquire(d).error().reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
    // provisioned environments are counted, never refused
    Slot p1 = c.acquire_provisioned(kScope, "f"), p2 = c.acquire_provisioned(kScope, "f");
    EXPECT_EQ(c.concurrent(kScope, "f"), 3);
    EXPECT_EQ(c.usage(kScope).unreserved_concurrent, 0);
    p1.release();
    EXPECT_FALSE(c.acquire(d).has_value());  // a freed provisioned slot is not on-demand capacity
    first->release();
    EXPECT_TRUE(c.acquire(d).has_value());
}
