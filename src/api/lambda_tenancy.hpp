#pragma once
// Tenant isolation (TenancyConfig PER_TENANT): reading and checking what the
// Lambda operations take of it, with AWS's validation. Private to the api
// module; the data plane keys environments by the tenant id (exec::Invoker).

#include <optional>
#include <string>

#include "json_input.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/model.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

// The model's TenantId: 1..256 characters of [a-zA-Z0-9._:/=+\-@ ].
inline constexpr const char* kTenantIdPattern = R"([a-zA-Z0-9\._:\/=+\-@ ]+)";
inline constexpr std::size_t kTenantIdMax = 256;

// CreateFunction's TenancyConfig: nullopt when absent (or null), else its
// TenantIsolationMode (the model's one value, PER_TENANT).
Result<std::optional<std::string>> read_tenancy_config(const ojson& body);

// The X-Amz-Tenant-Id header of Invoke / InvokeWithResponseStream, validated
// as the model says (ValidationException); nullopt when absent.
Result<std::optional<std::string>> read_tenant_id(const http::Request& req);

// Whether an invocation of `config` may carry `tenant`: a tenant-isolated
// function needs one, any other function refuses one (InvalidParameterValue).
Status check_tenant_id(const control::VersionConfig& config,
                       const std::optional<std::string>& tenant);

// What AWS answers when `feature` (e.g. "provisioned concurrency") is asked
// of a function with tenant isolation.
Error not_with_tenancy(const std::string& function, const std::string& feature);

// Whether the body turns SnapStart on (SnapStart.ApplyOn PublishedVersions).
bool asks_snap_start(const ojson& body);

// TenancyConfig at UpdateFunctionConfiguration: it cannot change after creation.
Status refuse_tenancy_update(const ojson& body);

}  // namespace lamina::api
