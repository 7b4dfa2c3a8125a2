#pragma once
// The query-protocol companions that Lambda workflows call through the same
// endpoint: STS GetCallerIdentity and IAM role management (stored, not enforced).

#include <map>
#include <string>

#include "lamina/api/request_context.hpp"
#include "lamina/control/iam.hpp"
#include "lamina/http/message.hpp"

namespace lamina::api {

// A query-protocol request's parameters: the form body, then the query string.
std::map<std::string, std::string> parse_form(const http::Request& req);

class QueryApi {
public:
    explicit QueryApi(control::IamRoles& roles);

    // A query-protocol call (api::classify tells them apart).
    http::Response handle(const RequestContext& ctx, const http::Request& req);

private:
    Result<std::string> sts(const RequestContext& ctx, const std::string& action,
                            const std::map<std::string, std::string>& form);
    Result<std::string> iam(const RequestContext& ctx, const std::string& action,
                            const std::map<std::string, std::string>& form);
    control::IamRoles& roles_;
};

}  // namespace lamina::api
