// How environments leave service: back to the pool after an invocation
// (release, settle), retired (retire: timeouts, failures, idle expiry, hot
// reload's folder changes) and all at once (shutdown, reset). invoker.cpp
// admits, starts and runs invocations; this file ends environments.
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>

#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"
#include "provisioned_pool.hpp"
#include "spare_starter.hpp"

namespace lamina::exec {

using Clk = std::chrono::steady_clock;

bool Invoker::stale(const Environment& env) const {
    for (const auto& [folder, seen] : env.hot_folders) {
        auto it = folder_changes_.find(folder);
        if ((it == folder_changes_.end() ? 0 : it->second) != seen) return true;
    }
    return false;
}

void Invoker::folder_changed(const std::string& folder) {
    std::vector<EnvPtr> drop;
    std::size_t busy = 0;
    {
        std::lock_guard lk(mu_);
        ++folder_changes_[folder];
        for (auto it = idle_.begin(); it != idle_.end();) {
            if (stale(*it->second)) {
                drop.push_back(it->second);
                it = idle_.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& [key, pc] : provisioned_)
            for (auto it = pc->idle.begin(); it != pc->idle.end();) {
                if (stale(**it)) {
                    drop.push_back(*it);  // replaced once gone (its on_gone tops the config up)
                    it = pc->idle.erase(it);
                } else {
                    ++it;
                }
            }
        for (const auto& e : all_)
            if (!e->hot_folders.empty() && stale(*e) &&
                std::find(drop.begin(), drop.end(), e) == drop.end() && !e->dead())
                ++busy;  // retired when free again (release)
    }
    for (auto& e : drop) retire(e, "spindown");
    logger("exec")->info("hot_reload.changed folder={} retired_idle={} retiring_busy={}", folder,
                         drop.size(), busy);
}

void Invoker::release(const EnvPtr& env) {
    env->release_slot();
    std::unique_lock lk(mu_);
    if (stale(*env)) {  // hot reload: its folder changed while it worked
        lk.unlock();
        retire(env, "spindown");
        return;
    }
    if (auto pc = env->pc.lock();
        pc && env->pc_generation == pc->generation && !stopping_ &&
        std::find(pc->envs.begin(), pc->envs.end(), env) != pc->envs.end()) {
        pc->idle.push_back(env);  // kept warm for its config: never reaped for idling
        return;
    }
    if (stopping_ || env->generation != generation_) {
        // shutting down, or started before a reset: one that shutdown() or
        // reset() is stopping gets its extensions' SHUTDOWN from them first
        if (!env->being_stopped) env->kill();
        return;
    }
    idle_.emplace(env->key, env);
    if (!env->idle_timer) env->idle_timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    env->idle_timer->expires_after(settings_.idle_timeout);
    std::weak_ptr<Environment> weak = env;
    env->idle_timer->async_wait([this, weak](const boost::system::error_code& ec) {
        if (ec) return;
        auto e = weak.lock();
        if (!e) return;
        bool reaped = false;
        {
            std::lock_guard lk(mu_);
            for (auto it = idle_.begin(); it != idle_.end(); ++it)
                if (it->second == e) {
                    idle_.erase(it);
                    reaped = true;
                    break;
                }
        }
        if (reaped) retire(e, "spindown");
    });
}

void Invoker::settle(const EnvPtr& env, const std::shared_ptr<std::atomic<int>>& gate,
                     Clk::time_point deadline) {
    int left = gate->fetch_sub(1) - 1;
    if (left == 1 && env->api->extension_count() == 0) {
        // nothing else holds the environment: it is free now, before the
        // caller hears the answer (a caller's next invocation finds it warm);
        // the Runtime API's own "settled" later finds the gate closed
        int expected = 1;
        if (gate->compare_exchange_strong(expected, -1000)) left = 0;
    }
    if (left == 1) {
        // the runtime answered first: extensions still hold the invocation;
        // they get what is left of the function's timeout, then the environment goes
        auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, deadline);
        {
            std::lock_guard lk(env->mu);
            env->settle_timer = timer;
        }
        std::weak_ptr<Environment> weak = env;
        timer->async_wait([this, weak, gate](const boost::system::error_code& ec) {
            if (ec) return;
            int expected = 1;
            if (!gate->compare_exchange_strong(expected, -1000)) return;  // settled meanwhile
            if (auto e = weak.lock()) {
                e->api->abandon();
                retire(e, "timeout");
            }
        });
        return;
    }
    if (left != 0) return;  // lost to the timeout above
    {
        std::lock_guard lk(env->mu);
        if (env->settle_timer) env->settle_timer->cancel();
        env->settle_timer.reset();
    }
    // free again, unless it is already on its way out (a timeout, a crash)
    if (!env->fire(EnvEvent::Settle)) return;
    if (env->api->healthy())
        release(env);
    else
        retire(env, "failure");
}

void Invoker::retire(const EnvPtr& env, const std::string& reason) {
    env->release_slot();
    if (!env->fire(EnvEvent::Retire)) return;  // its process is gone already
    std::weak_ptr<Environment> weak = env;
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_);
    // Extensions subscribed to SHUTDOWN get it and up to 2 s (AWS's budget
    // for external extensions); the rest of the environment is killed then.
    bool waiting = env->api->shutdown(reason, clock_.now_ms() + 2000, [weak, timer] {
        timer->cancel();
        if (auto e = weak.lock()) e->kill();
    });
    if (!waiting) {
        env->kill();
        return;
    }
    timer->expires_after(std::chrono::seconds(2));
    timer->async_wait([weak](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto e = weak.lock()) e->kill();
    });
    std::lock_guard lk(env->mu);
    env->shutdown_timer = timer;
}

void Invoker::shutdown() {
    std::vector<EnvPtr> envs;
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    // a spare being started sees stopping_ and is retired, or is in all_ by now
    spare_starter_->stop();
    envs = take_ready_environments();  // Python restores made ready: never in all_
    {
        std::lock_guard lk(mu_);
        envs.insert(envs.end(), all_.begin(), all_.end());
        for (auto& e : envs) e->being_stopped = true;
        idle_.clear();
        spares_.clear();
        provisioned_.clear();
    }
    stop_environments(envs);
    drop_ready_restores();
    std::lock_guard lk(mu_);
    all_.clear();
    if (settings_.memory) settings_.memory->remove_all();
}

void Invoker::reset() {
    std::vector<EnvPtr> envs = take_ready_environments();
    {
        std::lock_guard lk(mu_);
        ++generation_;
        envs.insert(envs.end(), all_.begin(), all_.end());
        for (auto& e : envs) e->being_stopped = true;
        idle_.clear();
        spares_.clear();
        debug_lanes_.clear();
        for (auto& [key, pc] : provisioned_) ++pc->generation;  // starts in flight are retired
        provisioned_.clear();
    }
    stop_environments(envs);
    std::lock_guard lk(mu_);
    std::erase_if(all_, [&envs](const EnvPtr& e) {
        return std::find(envs.begin(), envs.end(), e) != envs.end();
    });
}

void Invoker::stop_environments(const std::vector<EnvPtr>& envs) {
    // Extensions subscribed to SHUTDOWN get it, and up to 2 s in all; then
    // every process is killed and, for up to 2 s more, its exit handled
    // (those callbacks reach this invoker and the event queue). The waits are
    // on a condition the acknowledgements and exits signal, not a poll; they
    // need an io thread other than this one to deliver them (App::run stops
    // from a thread of its own; lamina run keeps two io threads).
    struct Waiter {
        std::mutex mu;
        std::condition_variable cv;
        int pending = 0;
    };
    auto acks = std::make_shared<Waiter>();
    for (auto& e : envs) {
        if (e->idle_timer) e->idle_timer->cancel();
        if (e->dead()) continue;
        {
            std::lock_guard lk(acks->mu);
            ++acks->pending;  // counted before: the acknowledgement may come at once
        }
        auto acknowledged = [acks] {
            {
                std::lock_guard lk(acks->mu);
                --acks->pending;
            }
            acks->cv.notify_all();
        };
        if (!e->api->shutdown("spindown", clock_.now_ms() + 2000, acknowledged)) acknowledged();
    }
    {
        std::unique_lock lk(acks->mu);
        acks->cv.wait_for(lk, std::chrono::seconds(2), [&] { return acks->pending <= 0; });
    }
    for (auto& e : envs) e->kill();
    {
        std::unique_lock lk(exits_mu_);
        exits_cv_.wait_for(lk, std::chrono::seconds(2), [&] {
            return std::all_of(envs.begin(), envs.end(), [](const EnvPtr& e) {
                std::lock_guard elk(e->mu);
                return e->exit_handled;
            });
        });
    }
    // Nothing reports to this invoker after it: a process not yet reaped is
    // killed and reaped here, with its exit report dropped.
    for (auto& e : envs) {
        std::unique_ptr<sandbox::Process> p;
        {
            std::lock_guard lk(e->mu);
            if (!e->exit_handled) p = std::move(e->process);
        }
    }
}

}  // namespace lamina::exec
