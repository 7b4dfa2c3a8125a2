#include "lamina/exec/provisioned.hpp"

namespace lamina::exec {

using control::FunctionRef;
using control::Scope;

ProvisionedConfigs::ProvisionedConfigs(control::Registry& registry, Invoker* invoker)
    : registry_(registry), invoker_(invoker) {}

void ProvisionedConfigs::apply(const Scope& scope, const control::ProvisionedView& pc) {
    if (!invoker_) return;
    auto view = registry_.get_configuration(scope, FunctionRef{pc.function_name, pc.version});
    if (!view) return;
    invoker_->provision(scope, pc.function_name, pc.qualifier, view->config, pc.config.requested);
}

void ProvisionedConfigs::drop(const Scope& scope, const std::string& function,
                              const std::string& qualifier) {
    if (invoker_) invoker_->provision(scope, function, qualifier, {}, 0);
}

Result<control::ProvisionedView> ProvisionedConfigs::put(const Scope& scope, const FunctionRef& ref,
                                                         int requested,
                                                         const CapacityQuota& limits) {
    std::lock_guard lock(mu_);
    LAMINA_TRY(pc, registry_.put_provisioned_concurrency(scope, ref, requested, limits));
    apply(scope, pc);
    return pc;
}

Status ProvisionedConfigs::remove(const Scope& scope, const FunctionRef& ref) {
    std::lock_guard lock(mu_);
    LAMINA_TRY(removed, registry_.delete_provisioned_concurrency(scope, ref));
    if (removed) drop(scope, removed->function_name, removed->qualifier);
    return {};
}

ProvisionedStatus ProvisionedConfigs::status(const Scope& scope,
                                             const control::ProvisionedView& pc) const {
    if (!invoker_) return {};
    return invoker_->provisioned_status(scope, pc.function_name, pc.qualifier);
}

void ProvisionedConfigs::restore() {
    std::lock_guard lock(mu_);
    for (const auto& [scope, pc] : registry_.all_provisioned()) apply(scope, pc);
}

Status ProvisionedConfigs::delete_function(const Scope& scope, const FunctionRef& ref) {
    std::lock_guard lock(mu_);
    auto before =
        registry_.list_provisioned_concurrency(scope, FunctionRef{ref.name, std::nullopt});
    LAMINA_CHECK(registry_.delete_function(scope, ref));
    if (before)
        for (const auto& pc : *before)
            if (!ref.qualifier || *ref.qualifier == pc.qualifier)
                drop(scope, pc.function_name, pc.qualifier);
    return {};
}

Result<control::AliasView> ProvisionedConfigs::update_alias(const Scope& scope,
                                                            const FunctionRef& ref,
                                                            const std::string& name,
                                                            control::AliasInput in) {
    std::lock_guard lock(mu_);
    LAMINA_TRY(alias, registry_.update_alias(scope, ref, name, std::move(in)));
    if (auto pc =
            registry_.get_provisioned_concurrency(scope, FunctionRef{alias.function_name, name}))
        apply(scope, *pc);
    return alias;
}

Status ProvisionedConfigs::delete_alias(const Scope& scope, const FunctionRef& ref,
                                        const std::string& name) {
    std::lock_guard lock(mu_);
    LAMINA_CHECK(registry_.delete_alias(scope, ref, name));
    drop(scope, ref.name, name);
    return {};
}

}  // namespace lamina::exec
