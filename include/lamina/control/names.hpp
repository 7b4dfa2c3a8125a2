#pragma once
// Parsing and validation of Lambda identifiers: FunctionName in its four
// forms (name, name:qualifier, partial ARN, full ARN), Qualifier, alias
// names, ARN building. All AWS validation messages for identifiers live here.

#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::control {

// The account and region a request acts in.
struct Scope {
    std::string account;
    std::string region;
    bool operator<(const Scope& o) const {
        return account != o.account ? account < o.account : region < o.region;
    }
    bool operator==(const Scope&) const = default;
};

// Which botocore shape a FunctionName value has in an operation.
enum class NameShape {
    Create,       // FunctionName: max 140, qualifier $LATEST|alias|version
    Read,         // NamespacedFunctionName: max 256, '.' allowed, $LATEST.PUBLISHED
    Unqualified,  // UnqualifiedFunctionName: no qualifier allowed
};

struct FunctionRef {
    std::string name;
    std::optional<std::string> qualifier;  // from name or Qualifier param
};

// Collects "Value 'x' at 'field' failed to satisfy constraint: ..." items
// into one ValidationException, as AWS's request validation does.
class ValidationErrors {
public:
    void add(const std::string& value, const std::string& field, const std::string& constraint);
    void add_null(const std::string& field);
    bool empty() const { return items_.empty(); }
    Error error(ErrorCode code = ErrorCode::Validation) const;

private:
    std::vector<std::string> items_;
};

// Validates `value` (and the Qualifier query parameter, if given) for an
// operation whose IAM action is `action` (e.g. "lambda:GetFunction"), then
// resolves it within `scope`: other regions and accounts get AWS's errors.
// With `other_account`, an ARN naming another account is resolved instead
// and that account stored there: the caller decides, by the function's
// resource policy, whether the action is allowed (see Registry::permits).
Result<FunctionRef> resolve_function_name(const std::string& value, NameShape shape,
                                          const std::optional<std::string>& qualifier_param,
                                          const Scope& scope, const std::string& action,
                                          std::optional<std::string>* other_account = nullptr);
// AccessDeniedException for `caller` doing `action` on a function ARN.
Error cross_account_denied(const std::string& caller_account, const std::string& action, const std::string& target);

std::string function_arn(const Scope& scope, const std::string& name);
std::string qualified_arn(const Scope& scope, const std::string& name, const std::string& qualifier);

// Alias names: 1-128, [a-zA-Z0-9-_]+, not all digits.
bool is_valid_alias_name(const std::string& name);
// Published version numbers: "1", "2", ...
bool is_version_number(const std::string& q);

struct ParsedArn {
    std::string partition, service, region, account, resource;
};
// Splits "arn:partition:service:region:account:resource" (resource may contain ':').
std::optional<ParsedArn> parse_arn(const std::string& arn);

extern const char* const kCreateNamePattern;
extern const char* const kReadNamePattern;
extern const char* const kQualifierPattern;
extern const char* const kAliasPattern;
extern const char* const kRolePattern;

}  // namespace lamina::control
