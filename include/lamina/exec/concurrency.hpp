#pragma once
// AWS's concurrency rules for the data plane: the account's pool per region,
// functions' reserved concurrency, and the rate at which a function may add
// execution environments. Every invocation holds a Slot while it runs; a
// request that no pool can take is throttled with the Reason AWS gives for
// that pool. Time comes from the injected Clock, so the scaling rules are
// tested without sleeping.

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "lamina/common/capacity_quota.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/control/names.hpp"

namespace lamina::exec {

enum class ScalingModel {
    PerFunction,    // since late 2023: each function adds up to N environments per 10 s
    RegionalBurst,  // the tutorial's: a regional initial burst, then +M environments per minute
};

struct CapacitySettings {
    CapacityQuota quota;  // per account and region
    ScalingModel scaling = ScalingModel::PerFunction;
    int scaling_per_function =
        1000;                    // PerFunction: new environments per 10 s, refilled continuously
    int burst = 3000;            // RegionalBurst: initial burst
    int burst_per_minute = 500;  // RegionalBurst: growth after it
};

// The regional initial burst AWS documents for the legacy model.
int default_burst_for_region(const std::string& region);

// Why an invocation was refused (429 TooManyRequestsException).
struct Throttle {
    std::string reason;  // the body's Reason
    std::string message = "Rate Exceeded.";
};

// One invocation's claim on capacity, released when destroyed.
class ConcurrencyController;
class Slot {
public:
    Slot() = default;
    Slot(Slot&& o) noexcept;
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();
    void release();
    explicit operator bool() const { return owner_ != nullptr; }

private:
    friend class ConcurrencyController;
    ConcurrencyController* owner_ = nullptr;
    control::Scope scope_;
    std::string function_;
    bool reserved_ = false;
    bool provisioned_ = false;
};

struct Demand {
    control::Scope scope;
    std::string function;
    std::optional<int> reserved;      // the function's reserved concurrency, if any
    std::int64_t reserved_total = 0;  // the account's reservations in this region (all functions)
    int provisioned_total =
        0;  // the function's provisioned concurrency, set aside within its reservation
    bool new_environment = false;  // no idle environment can take it: one must start
};

struct Usage {
    int concurrent = 0;             // all executions in the account and region
    int unreserved_concurrent = 0;  // executions of functions without a reservation
};

class ConcurrencyController {
public:
    ConcurrencyController(CapacitySettings settings, Clock& clock);

    std::expected<Slot, Throttle> acquire(const Demand& d);
    // An invocation served by a provisioned environment: its capacity was set
    // aside when the config was made, so it is only counted, never refused.
    Slot acquire_provisioned(const control::Scope& scope, const std::string& function);
    Usage usage(const control::Scope& scope) const;
    int concurrent(const control::Scope& scope, const std::string& function) const;
    const CapacitySettings& settings() const { return settings_; }

private:
    friend class Slot;
    struct Bucket {
        double tokens = 0;
        std::int64_t last_ms = 0;
        bool started = false;
    };
    struct ScopeState {
        int total = 0;
        int unreserved = 0;
        std::map<std::string, int> per_function;
        std::map<std::string, int> on_demand;  // of those, not in provisioned environments
        std::map<std::string, Bucket> function_buckets;  // PerFunction model
        Bucket regional;                                 // RegionalBurst model
    };
    // Takes one new-environment token from the bucket, refilled at `per_ms` up to `cap`.
    bool take_token(Bucket& b, double cap, double per_ms);
    void release(const Slot& slot);

    CapacitySettings settings_;
    Clock& clock_;
    mutable std::mutex mu_;
    std::map<control::Scope, ScopeState> scopes_;
};

}  // namespace lamina::exec
