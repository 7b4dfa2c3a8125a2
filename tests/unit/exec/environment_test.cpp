#include "exec/environment.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <utility>

namespace {

using lamina::exec::EnvEvent;
using lamina::exec::EnvState;
using lamina::exec::transition;

constexpr EnvState kStates[] = {EnvState::Starting, EnvState::StartingInvoked, EnvState::Idle,
                                EnvState::Busy,     EnvState::Settling,        EnvState::Retiring,
                                EnvState::Dead};
constexpr EnvEvent kEvents[] = {EnvEvent::Invoke, EnvEvent::InitDone, EnvEvent::Answer,
                                EnvEvent::Settle, EnvEvent::Retire,   EnvEvent::Exit};

// Every allowed transition; every other (state, event) pair must be refused.
const std::map<std::pair<EnvState, EnvEvent>, EnvState> kAllowed = {
    {{EnvState::Starting, EnvEvent::Invoke}, EnvState::StartingInvoked},
    {{EnvState::Starting, EnvEvent::InitDone}, EnvState::Idle},
    {{EnvState::Starting, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::Starting, EnvEvent::Exit}, EnvState::Dead},
    {{EnvState::StartingInvoked, EnvEvent::InitDone}, EnvState::Busy},
    {{EnvState::StartingInvoked, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::StartingInvoked, EnvEvent::Exit}, EnvState::Dead},
    {{EnvState::Idle, EnvEvent::Invoke}, EnvState::Busy},
    {{EnvState::Idle, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::Idle, EnvEvent::Exit}, EnvState::Dead},
    {{EnvState::Busy, EnvEvent::Answer}, EnvState::Settling},
    {{EnvState::Busy, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::Busy, EnvEvent::Exit}, EnvState::Dead},
    {{EnvState::Settling, EnvEvent::Settle}, EnvState::Idle},
    {{EnvState::Settling, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::Settling, EnvEvent::Exit}, EnvState::Dead},
    {{EnvState::Retiring, EnvEvent::Retire}, EnvState::Retiring},
    {{EnvState::Retiring, EnvEvent::Exit}, EnvState::Dead},
};

TEST(Environment, TransitionTable) {
    for (auto s : kStates)
        for (auto e : kEvents) {
            auto got = transition(s, e);
            auto it = kAllowed.find({s, e});
            if (it == kAllowed.end()) {
                EXPECT_FALSE(got.has_value())
                    << to_string(s) << " + " << to_string(e) << " must be refused";
            } else {
                EXPECT_EQ(got, std::optional(it->second)) << to_string(s) << " + " << to_string(e);
            }
        }
}

TEST(Environment, ARetiredEnvironmentNeverServesAgain) {
    for (auto e : kEvents) {
        auto next = transition(EnvState::Retiring, e);
        if (next) {
            EXPECT_TRUE(*next == EnvState::Retiring || *next == EnvState::Dead) << to_string(e);
        }
    }
    for (auto e : kEvents) EXPECT_FALSE(transition(EnvState::Dead, e).has_value()) << to_string(e);
}

TEST(Environment, InitDoneMarksItInitialised) {
    lamina::exec::Environment env;
    std::lock_guard lk(env.mu);
    EXPECT_FALSE(env.initialised());
    EXPECT_TRUE(env.apply(EnvEvent::Invoke));
    EXPECT_FALSE(env.initialised());
    EXPECT_TRUE(env.apply(EnvEvent::InitDone));
    EXPECT_EQ(env.state, EnvState::Busy);
    EXPECT_TRUE(env.initialised());
    EXPECT_FALSE(env.apply(EnvEvent::InitDone)) << "init happens once";
    EXPECT_EQ(env.state, EnvState::Busy) << "a refused event changes nothing";
}

}  // namespace
