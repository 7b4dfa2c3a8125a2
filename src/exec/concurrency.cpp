#include "lamina/exec/concurrency.hpp"

#include <algorithm>

namespace lamina::exec {

int default_burst_for_region(const std::string& region) {
    if (region == "us-east-1" || region == "us-west-2" || region == "eu-west-1") return 3000;
    if (region == "ap-northeast-1" || region == "eu-central-1" || region == "us-east-2")
        return 1000;
    return 500;
}

Slot::Slot(Slot&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)),
      scope_(std::move(o.scope_)),
      function_(std::move(o.function_)),
      reserved_(o.reserved_),
      provisioned_(o.provisioned_) {}

Slot& Slot::operator=(Slot&& o) noexcept {
    if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
        scope_ = std::move(o.scope_);
        function_ = std::move(o.function_);
        reserved_ = o.reserved_;
        provisioned_ = o.provisioned_;
    }
    return *this;
}

Slot::~Slot() { release(); }

void Slot::release() {
    if (auto* owner = std::exchange(owner_, nullptr)) owner->release(*this);
}

ConcurrencyController::ConcurrencyController(CapacitySettings settings, Clock& clock)
    : settings_(settings), clock_(clock) {}

bool ConcurrencyController::take_token(Bucket& b, double cap, double per_ms) {
    std::int64_t now = clock_.now_ms();
    if (!b.started) {
        b = Bucket{cap, now, true};
    } else if (now > b.last_ms) {
        b.tokens = std::min(cap, b.tokens + static_cast<double>(now - b.last_ms) * per_ms);
        b.last_ms = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

std::expected<Slot, Throttle> ConcurrencyController::acquire(const Demand& d) {
    std::lock_guard lk(mu_);
    ScopeState& s = scopes_[d.scope];
    auto found = s.on_demand.find(d.function);
    int mine = found == s.on_demand.end() ? 0 : found->second;
    auto refuse = [&](std::string reason) { return std::unexpected(Throttle{std::move(reason)}); };
    if (d.reserved) {
        // the function's own slice, and its cap (0 throttles everything); its
        // provisioned concurrency is set aside within it
        if (mine >= *d.reserved - d.provisioned_total)
            return refuse("ReservedFunctionConcurrentInvocationLimitExceeded");
    } else {
        std::int64_t pool = settings_.quota.account_limit - d.reserved_total;
        if (s.unreserved >= pool) return refuse("ConcurrentInvocationLimitExceeded");
    }
    if (d.new_environment) {
        bool ok;
        if (settings_.scaling == ScalingModel::PerFunction) {
            double cap = settings_.scaling_per_function;
            ok = take_token(s.function_buckets[d.function], cap, cap / 10000.0);
        } else {
            ok = take_token(s.regional, settings_.burst, settings_.burst_per_minute / 60000.0);
        }
        if (!ok)
            return refuse(d.reserved ? "ReservedFunctionInvocationRateLimitExceeded"
                                     : "FunctionInvocationRateLimitExceeded");
    }
    ++s.on_demand[d.function];
    ++s.per_function[d.function];
    ++s.total;
    if (!d.reserved) ++s.unreserved;
    Slot slot;
    slot.owner_ = this;
    slot.scope_ = d.scope;
    slot.function_ = d.function;
    slot.reserved_ = d.reserved.has_value();
    return slot;
}

Slot ConcurrencyController::acquire_provisioned(const control::Scope& scope,
                                                const std::string& function) {
    std::lock_guard lk(mu_);
    ScopeState& s = scopes_[scope];
    ++s.per_function[function];
    ++s.total;
    Slot slot;
    slot.owner_ = this;
    slot.scope_ = scope;
    slot.function_ = function;
    slot.reserved_ = true;  // not out of the unreserved pool
    slot.provisioned_ = true;
    return slot;
}

void ConcurrencyController::release(const Slot& slot) {
    std::lock_guard lk(mu_);
    auto it = scopes_.find(slot.scope_);
    if (it == scopes_.end()) return;
    ScopeState& s = it->second;
    auto fn = s.per_function.find(slot.function_);
    if (fn != s.per_function.end() && --fn->second <= 0) s.per_function.erase(fn);
    if (!slot.provisioned_) {
        auto od = s.on_demand.find(slot.function_);
        if (od != s.on_demand.end() && --od->second <= 0) s.on_demand.erase(od);
    }
    --s.total;
    if (!slot.reserved_) --s.unreserved;
}

Usage ConcurrencyController::usage(const control::Scope& scope) const {
    std::lock_guard lk(mu_);
    auto it = scopes_.find(scope);
    if (it == scopes_.end()) return {};
    return {it->second.total, it->second.unreserved};
}

int ConcurrencyController::concurrent(const control::Scope& scope,
                                      const std::string& function) const {
    std::lock_guard lk(mu_);
    auto it = scopes_.find(scope);
    if (it == scopes_.end()) return 0;
    auto fn = it->second.per_function.find(function);
    return fn == it->second.per_function.end() ? 0 : fn->second;
}

}  // namespace lamina::exec
