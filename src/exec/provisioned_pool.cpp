// Provisioned concurrency: environments initialised ahead of any invocation
// for one (function, qualifier), kept at the requested count, replaced when
// they die, let go when the config changes or goes.

#include "provisioned_pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"

namespace lamina::exec {

void Invoker::provision(const control::Scope& scope, const std::string& function,
                        const std::string& qualifier, const control::VersionConfig& config, int n) {
    std::vector<EnvPtr> drop;
    std::string key = scope.account + "/" + scope.region + "/" + function + "/" + qualifier;
    {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        auto& pc = provisioned_[key];
        if (!pc) {
            pc = std::make_shared<Provisioned>();
            pc->scope = scope;
            pc->function = function;
            pc->qualifier = qualifier;
            pc->config = config;
        }
        bool changed = pc->config.version != config.version ||
                       pc->config.code_sha256 != config.code_sha256 ||
                       pc->config.last_modified_ms != config.last_modified_ms;
        if (changed || n == 0) {
            ++pc->generation;
            // idle ones go; busy ones finish their invocation and become on-demand environments
            drop.assign(pc->idle.begin(), pc->idle.end());
            for (auto& e : pc->envs) e->pc.reset();
            pc->envs.clear();
            pc->idle.clear();
            pc->starting = 0;
            pc->failed = false;
            pc->reason.clear();
        }
        pc->config = config;
        pc->requested = n;
        // fewer wanted: idle ones go now; busy ones finish as on-demand environments
        while (static_cast<int>(pc->envs.size()) > n) {
            EnvPtr victim = pc->idle.empty() ? pc->envs.back() : pc->idle.back();
            if (!pc->idle.empty()) {
                pc->idle.pop_back();
                drop.push_back(victim);
            }
            victim->pc.reset();
            pc->envs.erase(std::find(pc->envs.begin(), pc->envs.end(), victim));
        }
        if (n == 0)
            provisioned_.erase(key);
        else
            top_up(pc);
    }
    for (auto& e : drop) retire(e, "spindown");
}

void Invoker::top_up(const std::shared_ptr<Provisioned>& pc) {
    if (pc->failed || stopping_) return;
    for (int have = static_cast<int>(pc->envs.size()) + pc->starting; have < pc->requested;
         ++have) {
        ++pc->starting;
        auto start = [this, pc, generation = pc->generation] { start_provisioned(pc, generation); };
        if (offload_)
            offload_(start);
        else
            boost::asio::post(ioc_, start);
    }
}

void Invoker::start_provisioned(const std::shared_ptr<Provisioned>& pc, std::uint64_t generation) {
    InvokeRequest tmpl;
    {
        std::lock_guard lk(mu_);
        if (pc->generation != generation || stopping_) return;
        tmpl.scope = pc->scope;
        tmpl.function_name = pc->function;
        tmpl.config = pc->config;
    }
    auto started = start_environment(tmpl, pool_key(tmpl), "provisioned-concurrency");
    std::unique_lock lk(mu_);
    if (pc->generation == generation) --pc->starting;
    bool current = pc->generation == generation && !stopping_ &&
                   static_cast<int>(pc->envs.size()) < pc->requested;
    if (!started) {
        if (current) {
            pc->failed = true;
            pc->reason = started.error().message;
        }
        return;
    }
    EnvPtr env = *started;
    env->generation = generation_;
    prune_dead();
    all_.push_back(env);
    if (!current) {
        lk.unlock();
        retire(env, "spindown");
        return;
    }
    env->pc = pc;
    env->pc_generation = generation;
    pc->envs.push_back(env);
    std::weak_ptr<Environment> weak = env;
    std::weak_ptr<Provisioned> weak_pc = pc;
    std::lock_guard elk(env->mu);
    auto ready = [this, weak, weak_pc] {
        auto e = weak.lock();
        if (!e) return;
        auto p = weak_pc.lock();
        bool kept = false;
        {
            std::lock_guard lk(mu_);
            // (a hot-reload folder that changed while it initialised: replaced instead)
            if (p && std::find(p->envs.begin(), p->envs.end(), e) != p->envs.end() && !stale(*e)) {
                p->idle.push_back(e);
                kept = true;
            }
        }
        // let go while it initialised (config deleted, lowered or moved): nothing will use it
        if (!kept) retire(e, "spindown");
    };
    if (env->initialised())
        pc->idle.push_back(env);
    else
        env->ready_hook = ready;
    auto gone = [this, weak, weak_pc] {
        auto e = weak.lock();
        auto p = weak_pc.lock();
        if (!e || !p) return;
        std::lock_guard lk(mu_);
        auto it = std::find(p->envs.begin(), p->envs.end(), e);
        if (it == p->envs.end()) return;
        p->envs.erase(it);
        p->idle.erase(std::remove(p->idle.begin(), p->idle.end(), e), p->idle.end());
        bool initialised;
        {
            std::lock_guard elk(e->mu);
            initialised = e->initialised();
        }
        if (!initialised) {
            p->failed = true;
            p->reason = "FUNCTION_ERROR_INIT_FAILURE";
            return;
        }
        top_up(p);  // a provisioned environment that dies is replaced
    };
    if (env->state == EnvState::Dead) {  // it exited before the hook was set: act as it would have
        boost::asio::post(ioc_, gone);
        return;
    }
    env->on_gone = gone;
    if (env->initialised()) return;
    // Its init limit: past it the environment is stopped, and on_gone marks
    // the config FAILED as for an init that crashed.
    auto limit = std::max<std::chrono::milliseconds>(settings_.provisioned_init_timeout,
                                                     std::chrono::seconds(pc->config.timeout));
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, limit);
    timer->async_wait([weak, timer, limit, function = pc->function,
                       qualifier = pc->qualifier](const boost::system::error_code& ec) {
        if (ec) return;
        auto e = weak.lock();
        if (!e) return;
        {
            std::lock_guard lk(e->mu);
            if (e->initialised() || e->state == EnvState::Dead) return;
        }
        lamina::logger("exec")->warn(
            "provisioned.init_timeout function={} qualifier={} limit_ms={}", function, qualifier,
            limit.count());
        e->kill();
    });
}

ProvisionedStatus Invoker::provisioned_status(const control::Scope& scope,
                                              const std::string& function,
                                              const std::string& qualifier) const {
    std::lock_guard lk(mu_);
    ProvisionedStatus out;
    auto it =
        provisioned_.find(scope.account + "/" + scope.region + "/" + function + "/" + qualifier);
    if (it == provisioned_.end()) return out;
    const auto& pc = *it->second;
    out.requested = pc.requested;
    int ready = 0;
    for (const auto& e : pc.envs) {
        std::lock_guard elk(e->mu);
        if (e->initialised() && e->state != EnvState::Dead) ++ready;
    }
    out.allocated = std::min(ready, pc.requested);
    out.available = out.allocated;
    if (pc.failed) {
        out.status = "FAILED";
        out.reason = pc.reason;
    } else {
        out.status = out.allocated >= pc.requested ? "READY" : "IN_PROGRESS";
    }
    return out;
}

}  // namespace lamina::exec
