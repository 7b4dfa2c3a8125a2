// Spare environments: one per function version, started in the background
// so that its next cold start finds the sandbox and lamina's runtime already
// up. A spare holds before it loads any function code (the Runtime API's
// hold, runtimes/*/bootstrap --spare); claiming it begins its init. Bounded
// by ExecSettings::spare_environments, the least recently used let go first.

#include <mutex>

#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"
#include "spare_starter.hpp"

namespace lamina::exec {

namespace {

std::string function_id(const InvokeRequest& req) {
    return req.scope.account + "/" + req.scope.region + "/" + req.function_name + "/" +
           req.config.version;
}

bool runs_spares(const InvokeRequest& req, const std::vector<DebugTarget>& debug, bool debug_wait) {
    const auto& c = req.config;
    bool runtime = c.runtime.rfind("python", 0) == 0 || c.runtime.rfind("nodejs", 0) == 0;
    if (!runtime || !c.hot_reload_folders().empty()) return false;
    // a tenant's environments are keyed by its id, unknown until an invoke names it
    if (c.tenant_isolation_mode) return false;
    // a SnapStart version's environments are restored from its snapshot, never started
    if (snap_start_on(c)) return false;
    if (req.reserved_concurrency && *req.reserved_concurrency == 0) return false;
    auto debugged = debug_launch_for(debug, debug_wait, req.function_name, req.qualifier, c);
    return debugged && !*debugged;
}

}  // namespace

void Invoker::prepare(const InvokeRequest& req) {
    if (settings_.spare_environments <= 0) return;
    const std::string function = function_id(req);
    const bool wanted = runs_spares(req, settings_.debug, settings_.debug_wait);
    const std::string key = pool_key(req);
    std::vector<EnvPtr> drop;
    std::uint64_t generation = 0;
    bool start = false;
    {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        generation = generation_;
        bool have = false;
        for (auto it = spares_.begin(); it != spares_.end();) {
            if (it->function != function) {
                ++it;
                continue;
            }
            if (wanted && it->key == key && (!it->env || !it->env->dead())) {
                spares_.splice(spares_.begin(), spares_, it);  // used again: kept longest
                have = true;
                break;
            }
            if (it->env) drop.push_back(it->env);  // of other code or configuration
            it = spares_.erase(it);
        }
        if (wanted && !have) {
            spares_.push_front(Spare{function, key, nullptr});
            start = true;
        }
        while (spares_.size() > static_cast<std::size_t>(settings_.spare_environments)) {
            if (spares_.back().env) drop.push_back(spares_.back().env);
            spares_.pop_back();
        }
    }
    for (auto& e : drop) retire(e, "spindown");
    if (!start) return;
    InvokeRequest tmpl;  // what an environment is started from: no payload, no caller
    tmpl.scope = req.scope;
    tmpl.function_name = req.function_name;
    tmpl.config = req.config;
    spare_starter_->add([this, tmpl = std::move(tmpl), function, key, generation] {
        start_spare(tmpl, function, key, generation);
    });
}

void SpareStarter::add(std::function<void()> start) {
    bool was_idle = false;
    {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        was_idle = waiting_.empty();
        waiting_.push_back(std::move(start));
        last_add_ = std::chrono::steady_clock::now();
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    }
    // Only a starter with nothing waiting sleeps without a deadline. One that
    // waits for quiet wakes at its deadline and finds the moment moved on, so
    // a burst of CreateFunction calls wakes it once, not once per call.
    if (was_idle) cv_.notify_all();
}

void SpareStarter::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        waiting_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void SpareStarter::loop() {
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return stopping_ || !waiting_.empty(); });
        if (stopping_) return;
        // quiet: no add() for quiet_ (each add() moves the moment on)
        while (!stopping_ && std::chrono::steady_clock::now() < last_add_ + quiet_)
            cv_.wait_until(lk, last_add_ + quiet_);
        if (stopping_) return;
        auto start = std::move(waiting_.back());
        waiting_.pop_back();
        lk.unlock();
        start();  // a start no longer wanted (let go, stopping) returns at once
        lk.lock();
    }
}

void Invoker::start_spare(const InvokeRequest& tmpl, const std::string& function,
                          const std::string& key, std::uint64_t generation) {
    auto still_wanted = [&] {  // under mu_
        if (stopping_ || generation != generation_) return spares_.end();
        for (auto it = spares_.begin(); it != spares_.end(); ++it)
            if (it->function == function && it->key == key && !it->env) return it;
        return spares_.end();
    };
    {
        std::lock_guard lk(mu_);
        if (still_wanted() == spares_.end()) return;
    }
    auto started = start_environment(tmpl, key, "on-demand", std::nullopt, true);
    std::unique_lock lk(mu_);
    auto it = still_wanted();
    if (!started) {
        if (it != spares_.end()) spares_.erase(it);
        logger("exec")->debug("exec.spare_skipped function={} reason=\"{}\"", function,
                              started.error().message);
        return;
    }
    EnvPtr env = *started;
    env->generation = generation_;
    prune_dead();
    all_.push_back(env);
    if (it == spares_.end()) {  // let go while it started (changed, deleted, evicted, stopping)
        lk.unlock();
        retire(env, "spindown");
        return;
    }
    it->env = env;
}

Invoker::EnvPtr Invoker::take_spare(const std::string& key) {
    for (auto it = spares_.begin(); it != spares_.end(); ++it) {
        if (it->key != key || !it->env) continue;
        EnvPtr env = it->env;
        spares_.erase(it);
        if (env->dead()) return nullptr;  // its process is gone (exit handled as any other)
        return env;
    }
    return nullptr;
}

void Invoker::claim_spare(const EnvPtr& env, const InvokeRequest& req) {
    begin_init(*env, req, clock_.now_ms());
    {
        std::lock_guard lk(env->mu);
        env->spawned_at = Environment::Clk::now();  // Init Duration counts from here
    }
    env->api->release();
    logger("exec")->debug("exec.spare_claimed function={} version={}", req.function_name,
                          req.config.version);
}

void Invoker::forget(const control::Scope& scope, const std::string& function) {
    const std::string prefix = scope.account + "/" + scope.region + "/" + function + "/";
    std::vector<EnvPtr> drop;
    {
        std::lock_guard lk(mu_);
        for (auto it = spares_.begin(); it != spares_.end();) {
            if (it->function.rfind(prefix, 0) != 0) {
                ++it;
                continue;
            }
            if (it->env) drop.push_back(it->env);
            it = spares_.erase(it);
        }
    }
    for (auto& e : drop) retire(e, "spindown");
}

std::size_t Invoker::spare_count_for_test() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& s : spares_)
        if (s.env && !s.env->dead()) ++n;
    return n;
}

}  // namespace lamina::exec
