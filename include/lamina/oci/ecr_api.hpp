#pragma once
// A minimal Amazon ECR API on lamina's endpoint (awsJson 1.1,
// X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>) over
// oci::Registry: CreateRepository, DescribeRepositories, DeleteRepository,
// DescribeImages, ListImages, BatchGetImage, BatchDeleteImage and
// GetAuthorizationToken with ECR's shapes and errors; any other operation
// answers an error naming it.

#include <string>

#include "lamina/http/message.hpp"
#include "lamina/oci/registry.hpp"

namespace lamina::oci {

inline constexpr const char* kEcrTargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";

struct EcrContext {
    std::string request_id;
    std::string account;
    std::string region;
    std::string host;  // the Host the client used: GetAuthorizationToken's proxyEndpoint
    // what GetAuthorizationToken's password is made with (auth_token.hpp)
    std::string token_key_id;
    std::string token_secret;
};

class EcrApi {
public:
    EcrApi(Registry& registry, Clock& clock) : registry_(registry), clock_(clock) {}
    http::Response handle(const EcrContext& ctx, const std::string& operation,
                          const http::Request& req);

private:
    Registry& registry_;
    Clock& clock_;
};

}  // namespace lamina::oci
