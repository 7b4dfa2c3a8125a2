#pragma once
// The environments one provisioned concurrency config keeps initialised
// (private to exec/; the Invoker's provision(), top_up() and
// start_provisioned() in provisioned_pool.cpp manage them).

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "environment.hpp"
#include "lamina/control/model.hpp"
#include "lamina/control/names.hpp"

namespace lamina::exec {

struct Provisioned {
    control::Scope scope;
    std::string function, qualifier;
    control::VersionConfig config;
    int requested = 0;
    std::uint64_t generation = 0;  // bumped when the config changes: older environments are let go
    std::vector<EnvPtr> envs;      // alive: initialising or ready
    std::deque<EnvPtr> idle;       // ready and free
    int starting = 0;              // starts scheduled, not yet in envs
    bool failed = false;
    std::string reason;
};

}  // namespace lamina::exec
