#include "lamina/control/names.hpp"

#include <algorithm>
#include <cctype>

#include "lamina/common/regex.hpp"

namespace lamina::control {

const char* const kCreateNamePattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?)";
const char* const kReadNamePattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?)";
const char* const kUnqualifiedNamePattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+))";
const char* const kQualifierPattern = R"(\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+)";
const char* const kAliasPattern = R"((?!^[0-9]+$)([a-zA-Z0-9-_]+))";
const char* const kRolePattern = R"(arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)";
const char* const kLayerNamePattern =
    R"((arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)";
const char* const kLayerVersionArnPattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))";

namespace {

// std::regex has no possessive/atomic groups; the patterns above are simple
// enough that ECMAScript semantics match Java's for full matches.
const std::regex& regex_for(const char* pattern) {
    static const std::regex kCreate(kCreateNamePattern);
    static const std::regex kRead(kReadNamePattern);
    static const std::regex kUnqualified(kUnqualifiedNamePattern);
    static const std::regex kQualifier(kQualifierPattern);
    static const std::regex kAlias(R"([a-zA-Z0-9\-_]+)");
    if (pattern == kCreateNamePattern) return kCreate;
    if (pattern == kReadNamePattern) return kRead;
    if (pattern == kUnqualifiedNamePattern) return kUnqualified;
    if (pattern == kQualifierPattern) return kQualifier;
    return kAlias;
}

}  // namespace

void ValidationErrors::add(const std::string& value, const std::string& field,
                           const std::string& constraint) {
    items_.push_back("Value '" + value + "' at '" + field +
                     "' failed to satisfy constraint: " + constraint);
}

void ValidationErrors::add_null(const std::string& field) {
    items_.push_back("Value null at '" + field +
                     "' failed to satisfy constraint: Member must not be null");
}

Error ValidationErrors::error(ErrorCode code) const {
    std::string msg =
        std::to_string(items_.size()) +
        (items_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < items_.size(); ++i) {
        if (i) msg += "; ";
        msg += items_[i];
    }
    return Error{code, msg};
}

std::string function_arn(const Scope& scope, const std::string& name) {
    return "arn:aws:lambda:" + scope.region + ":" + scope.account + ":function:" + name;
}

std::string qualified_arn(const Scope& scope, const std::string& name,
                          const std::string& qualifier) {
    return function_arn(scope, name) + ":" + qualifier;
}

HostPort split_host_port(std::string_view host) {
    const auto colon = host.rfind(':');
    const auto bracket = host.rfind(']');
    const bool bare_ipv6 = bracket == std::string_view::npos && host.find(':') != colon;
    if (colon == std::string_view::npos || bare_ipv6 ||
        (bracket != std::string_view::npos && colon < bracket))
        return {std::string(host), ""};
    std::string_view port = host.substr(colon + 1);
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    return {std::string(host.substr(0, colon)), digits ? std::string(port) : ""};
}

std::string function_url(const std::string& url_id, const std::string& region,
                         const std::string& request_host) {
    // the port the client reached lamina on, when its Host header has one
    const std::string port = split_host_port(request_host).port;
    return "http://" + url_id + ".lambda-url." + region + ".localhost" +
           (port.empty() ? "" : ":" + port) + "/";
}

std::optional<std::string> url_id_from_host(const std::string& host) {
    // every request's Host comes here: one without the URL suffix is not matched further
    constexpr std::string_view kUrlHostPart = ".lambda-url.";
    auto same = [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
    };
    if (std::search(host.begin(), host.end(), kUrlHostPart.begin(), kUrlHostPart.end(), same) ==
        host.end())
        return std::nullopt;
    static const std::regex kUrlHost(
        R"(([0-9a-z]{32})\.lambda-url\.[a-z]{2}(-gov)?-[a-z]+-\d\.(localhost|on\.aws)\.?(:\d{1,5})?)",
        std::regex::icase);
    std::smatch m;
    if (!regex_full_match(host, m, kUrlHost)) return std::nullopt;
    std::string id = m[1].str();
    for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return id;
}

void check_url_qualifier(ValidationErrors& v, const std::string& qualifier) {
    static const std::regex kAliasOnly(R"([0-9a-zA-Z_-]+)");
    const bool digits =
        !qualifier.empty() && std::all_of(qualifier.begin(), qualifier.end(),
                                          [](unsigned char c) { return std::isdigit(c) != 0; });
    if (qualifier.size() > 128)
        v.add(qualifier, "qualifier", "Member must have length less than or equal to 128");
    if (digits || !regex_full_match(qualifier, kAliasOnly))
        v.add(qualifier, "qualifier",
              "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)");
}

bool is_version_number(const std::string& q) {
    if (q.empty() || q.size() > 10) return false;
    for (char c : q)
        if (c < '0' || c > '9') return false;
    return q[0] != '0';
}

bool is_valid_alias_name(const std::string& name) {
    if (name.empty() || name.size() > 128) return false;
    bool all_digits = true;
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
        if (c < '0' || c > '9') all_digits = false;
    }
    return !all_digits;
}

std::optional<ParsedArn> parse_arn(const std::string& arn) {
    ParsedArn p;
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
        auto c = arn.find(':', start);
        if (c == std::string::npos) return std::nullopt;
        parts.push_back(arn.substr(start, c - start));
        start = c + 1;
    }
    if (parts[0] != "arn") return std::nullopt;
    p.partition = parts[1];
    p.service = parts[2];
    p.region = parts[3];
    p.account = parts[4];
    p.resource = arn.substr(start);
    return p;
}

Error access_denied(const std::string& caller_account, const std::string& action,
                    const std::string& resource, PolicyClause clause) {
    std::string message = "User: arn:aws:iam::" + caller_account +
                          ":root is not authorized to perform: " + action +
                          " on resource: " + resource;
    if (clause == PolicyClause::NoPolicyAllows)
        message += " because no resource-based policy allows the " + action + " action";
    return Error{ErrorCode::AccessDenied, std::move(message)};
}

std::string layer_arn(const Scope& s, const std::string& name) {
    return "arn:aws:lambda:" + s.region + ":" + s.account + ":layer:" + name;
}

std::string layer_version_arn(const Scope& s, const std::string& name, std::int64_t version) {
    return layer_arn(s, name) + ":" + std::to_string(version);
}

bool is_plain_function_name(const std::string& name) {
    static const std::regex kPlain("[a-zA-Z0-9_-]{1,64}");
    return regex_full_match(name, kPlain);
}

void check_statement_id(ValidationErrors& errors, const std::optional<std::string>& sid) {
    static const std::regex kSid(R"([a-zA-Z0-9-_]+)");
    if (!sid)
        errors.add_null("statementId");
    else if (sid->size() > 100)
        errors.add(*sid, "statementId", "Member must have length less than or equal to 100");
    else if (!regex_full_match(*sid, kSid))
        errors.add(*sid, "statementId",
                   "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
}

Result<FunctionRef> resolve_function_name(const std::string& value, NameShape shape,
                                          const std::optional<std::string>& qualifier_param,
                                          const Scope& scope, const std::string& action,
                                          std::optional<std::string>* other_account) {
    ValidationErrors errors;
    if (qualifier_param) {
        const auto& q = *qualifier_param;
        if (q.size() > 128)
            errors.add(q, "qualifier", "Member must have length less than or equal to 128");
        else if (q.empty())
            errors.add(q, "qualifier", "Member must have length greater than or equal to 1");
        else if (!regex_full_match(q, regex_for(kQualifierPattern)))
            errors.add(q, "qualifier",
                       std::string("Member must satisfy regular expression pattern: ") +
                           kQualifierPattern);
    }
    const char* pattern = shape == NameShape::Create ? kCreateNamePattern
                          : shape == NameShape::Read ? kReadNamePattern
                                                     : kUnqualifiedNamePattern;
    std::size_t max_len = shape == NameShape::Read ? 256 : 140;
    if (value.size() > max_len)
        errors.add(value, "functionName",
                   "Member must have length less than or equal to " + std::to_string(max_len));
    // A bare name (the usual case, on every invoke) is what every pattern's
    // name group takes whole: no regex needed to read it.
    const bool bare =
        !value.empty() && std::all_of(value.begin(), value.end(), [](unsigned char c) {
            return std::isalnum(c) != 0 || c == '-' || c == '_';
        });
    std::smatch m;
    if (!bare && !regex_full_match(value, m, regex_for(pattern)))
        errors.add(value, "functionName",
                   std::string("Member must satisfy regular expression pattern: ") + pattern);
    if (!errors.empty()) return std::unexpected(errors.error());

    FunctionRef ref;
    std::string region, account;
    if (bare) {
        ref.name = value;
    } else {
        // Groups: 1 arn prefix, 3 region "xx-yyy-1:", 9 account "123:", 10 "function:", 11 name,
        // 13 qualifier
        region = m[3].matched ? m[3].str() : "";
        if (!region.empty()) region.pop_back();
        account = m[9].matched ? m[9].str() : "";
        if (!account.empty()) account.pop_back();
        ref.name = m[11].str();
        if (shape != NameShape::Unqualified && m.size() > 13 && m[13].matched)
            ref.qualifier = m[13].str();
    }

    // A partial ARN needs "function:" with an account; a bare "function:x"
    // or "region:name" that the pattern accepts is read as AWS reads it.
    if (!region.empty() && region != scope.region) {
        return fail(ErrorCode::ResourceNotFound, "Functions from '" + region +
                                                     "' are not reachable in this region ('" +
                                                     scope.region + "')");
    }
    if (!account.empty() && account != scope.account) {
        if (other_account) {
            *other_account = account;
        } else {
            std::string target = function_arn(Scope{account, scope.region}, ref.name);
            if (ref.qualifier) target += ":" + *ref.qualifier;
            return std::unexpected(access_denied(scope.account, action, target));
        }
    }
    if (qualifier_param && ref.qualifier && *ref.qualifier != *qualifier_param) {
        return fail(
            ErrorCode::InvalidParameterValue,
            "The derived qualifier from the function name does not match the specified qualifier.");
    }
    if (qualifier_param && !ref.qualifier) ref.qualifier = *qualifier_param;
    return ref;
}

}  // namespace lamina::control
