#pragma once
// Lambda identifiers, in one place: FunctionName in its four forms (name,
// name:qualifier, partial ARN, full ARN), Qualifier, alias names, layer
// names, StatementId; building function and layer ARNs; and AWS's
// AccessDenied message. The validation messages for identifiers live here;
// numeric and length limits of settings live in validation.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
// AccessDeniedException for `caller_account`'s root doing `action` (e.g.
// "lambda:GetLayerVersion") on `resource`, in AWS's words. AWS adds "because
// no resource-based policy allows ..." where such a policy could have allowed
// the call (functions, layer versions), and leaves it out where none can.
enum class PolicyClause { Absent, NoPolicyAllows };
Error access_denied(const std::string& caller_account, const std::string& action,
                    const std::string& resource,
                    PolicyClause clause = PolicyClause::NoPolicyAllows);

std::string function_arn(const Scope& scope, const std::string& name);
std::string qualified_arn(const Scope& scope, const std::string& name,
                          const std::string& qualifier);

// Function URLs. lamina hands out http://<url-id>.lambda-url.<region>.localhost:<port>/
// (AWS: https://<url-id>.lambda-url.<region>.on.aws/), where <port> is the one
// the client reached lamina on (`request_host`: "127.0.0.1:9001").
inline constexpr std::size_t kUrlIdLength = 32;
// A Host header (or address) split at its port's colon: "[::1]:9001" ->
// {"[::1]", "9001"}, "127.0.0.1" -> {"127.0.0.1", ""}; an IPv6 address
// without brackets ("::1") is all host. A port that is not 1-5 digits is
// dropped: "h:x" -> {"h", ""}.
struct HostPort {
    std::string host, port;
};
HostPort split_host_port(std::string_view host);
std::string function_url(const std::string& url_id, const std::string& region,
                         const std::string& request_host);
// The url id a Host header names ("<id>.lambda-url.<region>.localhost[:port]",
// also "...on.aws"), or nullopt when it names no function URL.
std::optional<std::string> url_id_from_host(const std::string& host);
// The Qualifier of the function URL operations: an alias name only
// ("((?!^\d+$)^[0-9a-zA-Z-_]+$)"; $LATEST and versions are refused).
void check_url_qualifier(ValidationErrors& v, const std::string& qualifier);
std::string layer_arn(const Scope& s, const std::string& name);
std::string layer_version_arn(const Scope& s, const std::string& name, std::int64_t version);

// A plain function name (no ARN, no qualifier): 1-64 of [a-zA-Z0-9_-], as
// templates give it.
bool is_plain_function_name(const std::string& name);

// StatementId of AddPermission and AddLayerVersionPermission: 1-100 of
// [a-zA-Z0-9-_]. Adds AWS's validation item to `errors` when it is not.
void check_statement_id(ValidationErrors& errors, const std::optional<std::string>& sid);

// Alias names: 1-128, [a-zA-Z0-9-_]+, not all digits.
bool is_valid_alias_name(const std::string& name);
// Published version numbers: "1", "2", ...
bool is_version_number(const std::string& q);

struct ParsedArn {
    std::string partition, service, region, account, resource;
};
// Splits "arn:partition:service:region:account:resource" (resource may contain ':').
std::optional<ParsedArn> parse_arn(const std::string& arn);

// What a taggable ARN (TagResource, UntagResource, ListTags) names, after
// AWS's checks (pattern, region, account): a function's name or an event
// source mapping's UUID (registry_resources.cpp).
struct TagTarget {
    enum class Kind { Function, EventSourceMapping };
    Kind kind;
    std::string id;
};
Result<TagTarget> tag_target(const Scope& s, const std::string& arn);

extern const char* const kCreateNamePattern;
extern const char* const kReadNamePattern;
extern const char* const kQualifierPattern;
extern const char* const kAliasPattern;
extern const char* const kRolePattern;
// LayerName path values: a name, or a layer ARN (possibly another account's).
extern const char* const kLayerNamePattern;
inline constexpr std::size_t kMaxLayerNameLength = 140;
// The pattern AWS checks layer version ARNs against (in function Layers and GetLayerVersionByArn).
extern const char* const kLayerVersionArnPattern;

}  // namespace lamina::control
