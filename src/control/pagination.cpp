#include "lamina/control/pagination.hpp"

#include "lamina/common/encoding.hpp"

namespace lamina::control {

std::string make_marker(const std::string& tag, const std::string& position) {
    return base64_encode(tag + "\n" + position);
}

Result<std::string> read_marker(const std::string& tag, const std::string& marker) {
    auto raw = base64_decode(marker);
    if (!raw || raw->rfind(tag + "\n", 0) != 0)
        return fail(ErrorCode::InvalidParameterValue, "Invalid Marker: " + marker);
    return raw->substr(tag.size() + 1);
}

}  // namespace lamina::control
