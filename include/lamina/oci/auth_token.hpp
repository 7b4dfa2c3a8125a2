#pragma once
// The registry password GetAuthorizationToken hands out (base64 of
// "AWS:<password>", as ECR) and `docker login -u AWS` sends back as Basic
// auth: "<access key id>.<expiry ms>.<hex HMAC-SHA256 of both under the
// key's secret>", so lamina checks it without keeping any state.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace lamina::oci {

inline constexpr std::int64_t kTokenLifetimeMs = 12LL * 60 * 60 * 1000;  // ECR: 12 hours

std::string make_registry_password(const std::string& key_id, const std::string& secret,
                                   std::int64_t expires_ms);
// The password of an "Authorization: Basic ..." value for user AWS.
std::optional<std::string> basic_password(std::string_view authorization);
// Whether `password` was made by the key `secret_of` knows and has not expired.
bool verify_registry_password(
    std::string_view password,
    const std::function<std::optional<std::string>(const std::string& key_id)>& secret_of,
    std::int64_t now_ms);

}  // namespace lamina::oci
