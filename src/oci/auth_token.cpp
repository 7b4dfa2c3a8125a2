#include "lamina/oci/auth_token.hpp"

#include <charconv>

#include "lamina/common/encoding.hpp"

namespace lamina::oci {

std::string make_registry_password(const std::string& key_id, const std::string& secret,
                                   std::int64_t expires_ms) {
    std::string head = key_id + "." + std::to_string(expires_ms);
    return head + "." + to_hex(hmac_sha256(secret, head));
}

std::optional<std::string> basic_password(std::string_view authorization) {
    if (authorization.size() < 6 || ascii_lower(authorization.substr(0, 6)) != "basic ")
        return std::nullopt;
    auto decoded = base64_decode(authorization.substr(6));
    if (!decoded) return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos || decoded->substr(0, colon) != "AWS") return std::nullopt;
    return decoded->substr(colon + 1);
}

bool verify_registry_password(
    std::string_view password,
    const std::function<std::optional<std::string>(const std::string& key_id)>& secret_of,
    std::int64_t now_ms) {
    auto last = password.rfind('.');
    if (last == std::string_view::npos || last == 0) return false;
    auto mid = password.rfind('.', last - 1);
    if (mid == std::string_view::npos) return false;
    std::string key_id(password.substr(0, mid));
    std::string_view exp = password.substr(mid + 1, last - mid - 1);
    std::int64_t expires = 0;
    auto [end, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), expires);
    if (ec != std::errc() || end != exp.data() + exp.size() || expires < now_ms) return false;
    auto secret = secret_of(key_id);
    if (!secret) return false;
    return make_registry_password(key_id, *secret, expires) == password;
}

}  // namespace lamina::oci
