#pragma once
// Provisioned concurrency configs and their environments, kept in step. A
// config lives in the registry; its environments live in the invoker. Every
// change that adds, moves or ends a config (put, delete, an alias updated or
// deleted, a function deleted) goes through here, under one mutex, so that
// concurrent changes cannot leave environments for a config that no longer
// exists, or a config without its environments.

#include <mutex>
#include <string>

#include "lamina/common/error.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/exec/invoker.hpp"

namespace lamina::exec {

class ProvisionedConfigs {
public:
    // Without an invoker (no data plane) only the registry changes.
    ProvisionedConfigs(control::Registry& registry, Invoker* invoker);

    // PutProvisionedConcurrencyConfig: stores the config, then starts (or
    // resizes) its environments in the background.
    Result<control::ProvisionedView> put(const control::Scope& scope,
                                         const control::FunctionRef& ref, int requested,
                                         const CapacityQuota& limits);
    // DeleteProvisionedConcurrencyConfig: the config and its environments go.
    Status remove(const control::Scope& scope, const control::FunctionRef& ref);
    // How a config's environments stand (all zero without a data plane).
    ProvisionedStatus status(const control::Scope& scope, const control::ProvisionedView& pc) const;
    // Starts the environments of every stored config (at start-up).
    void restore();

    // DeleteFunction (of the function, or of one version): the configs on
    // what is deleted lose their environments.
    Status delete_function(const control::Scope& scope, const control::FunctionRef& ref);
    // UpdateAlias: a config on the alias follows it to its new version.
    Result<control::AliasView> update_alias(const control::Scope& scope,
                                            const control::FunctionRef& ref,
                                            const std::string& name, control::AliasInput in);
    // DeleteAlias: a config on the alias goes with it.
    Status delete_alias(const control::Scope& scope, const control::FunctionRef& ref,
                        const std::string& name);

private:
    // Hands a config to the data plane (its version's environments). Called with mu_ held.
    void apply(const control::Scope& scope, const control::ProvisionedView& pc);
    void drop(const control::Scope& scope, const std::string& function,
              const std::string& qualifier);

    control::Registry& registry_;
    Invoker* invoker_;
    std::mutex mu_;
};

}  // namespace lamina::exec
