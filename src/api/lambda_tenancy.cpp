#include "lambda_tenancy.hpp"

#include <regex>

#include "lamina/common/regex.hpp"
#include "lamina/control/names.hpp"

namespace lamina::api {

Result<std::optional<std::string>> read_tenancy_config(const ojson& body) {
    auto it = body.find("TenancyConfig");
    if (it == body.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_object()) return std::unexpected(wrong_type("TenancyConfig", "a structure"));
    LAMINA_TRY(mode, opt_string(*it, "TenantIsolationMode"));
    control::ValidationErrors v;
    if (!mode)
        v.add_null("tenancyConfig.tenantIsolationMode");
    else if (*mode != "PER_TENANT")
        v.add(*mode, "tenancyConfig.tenantIsolationMode",
              "Member must satisfy enum value set: [PER_TENANT]");
    if (!v.empty()) return std::unexpected(v.error());
    return mode;
}

Result<std::optional<std::string>> read_tenant_id(const http::Request& req) {
    const std::string* tenant = req.headers.find("X-Amz-Tenant-Id");
    if (!tenant) return std::optional<std::string>{};
    static const std::regex kTenant(kTenantIdPattern);
    control::ValidationErrors v;
    if (tenant->empty())
        v.add(*tenant, "tenantId", "Member must have length greater than or equal to 1");
    else if (tenant->size() > kTenantIdMax)
        v.add(*tenant, "tenantId", "Member must have length less than or equal to 256");
    else if (!regex_full_match(*tenant, kTenant))
        v.add(*tenant, "tenantId",
              std::string("Member must satisfy regular expression pattern: ") + kTenantIdPattern);
    if (!v.empty()) return std::unexpected(v.error());
    return std::optional<std::string>(*tenant);
}

Status check_tenant_id(const control::VersionConfig& config,
                       const std::optional<std::string>& tenant) {
    // AWS: InvalidParameterValueException either way ("Troubleshooting tenant isolation")
    if (config.tenant_isolation_mode && !tenant)
        return fail(ErrorCode::InvalidParameterValue,
                    "The function has tenant isolation enabled (TenantIsolationMode " +
                        *config.tenant_isolation_mode +
                        "): specify a tenant ID (TenantId, header X-Amz-Tenant-Id) to invoke it.");
    if (!config.tenant_isolation_mode && tenant)
        return fail(ErrorCode::InvalidParameterValue,
                    "The function does not have tenant isolation enabled: remove the tenant ID "
                    "(TenantId, header X-Amz-Tenant-Id) to invoke it.");
    return {};
}

Error not_with_tenancy(const std::string& function, const std::string& feature) {
    return Error{ErrorCode::InvalidParameterValue,
                 feature + " cannot be used with function " + function +
                     " because it has tenant isolation enabled (TenantIsolationMode PER_TENANT)."};
}

bool asks_snap_start(const ojson& body) {
    const ojson* snap = opt_object(body, "SnapStart");
    if (!snap) return false;
    auto it = snap->find("ApplyOn");
    return it != snap->end() && it->is_string() && *it == "PublishedVersions";
}

Status refuse_tenancy_update(const ojson& body) {
    if (auto it = body.find("TenancyConfig"); it != body.end() && !it->is_null())
        return fail(ErrorCode::InvalidParameterValue,
                    "TenancyConfig cannot be changed after the function is created: tenant "
                    "isolation is chosen at CreateFunction only.");
    return {};
}

}  // namespace lamina::api
