#pragma once
// What the Registry's source files share (private to control/): the errors
// they word alike and the document kinds they store.

#include <optional>
#include <string>

#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"

namespace lamina::control::registry_detail {

inline constexpr const char* kAliasKind = "alias";

inline Error not_found_function(const Scope& s, const std::string& name,
                                const std::optional<std::string>& q = {}) {
    return Error{ErrorCode::ResourceNotFound,
                 "Function not found: " + (q ? qualified_arn(s, name, *q) : function_arn(s, name))};
}

inline Error stale_revision() {
    return Error{ErrorCode::PreconditionFailed,
                 "The Revision Id provided does not match the latest Revision Id. Call the "
                 "GetFunction/GetAlias API to retrieve the latest Revision Id"};
}

}  // namespace lamina::control::registry_detail
