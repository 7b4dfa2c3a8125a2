#pragma once
// The OCI Distribution API (v1.1) under /v2/ on lamina's endpoint, over
// oci::Registry: blobs (HEAD/GET with Range), uploads (POST, monolithic
// POST ?digest=, cross-repository mount, PATCH chunks, PUT, status GET,
// cancel DELETE), manifests by tag or digest (PUT/GET/HEAD/DELETE), tags
// list and referrers; errors as the spec's {"errors":[{code,message,detail}]}.
// Upload bodies never sit in memory: body_policy gives the server a pipe
// that a drain empties into the upload's file on the worker pool, hashing
// as it goes; the handler answers once the drain has written everything.
// Every /v2 request acts in the server's default account and region.

#include <any>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>

#include "lamina/http/message.hpp"
#include "lamina/http/server.hpp"
#include "lamina/oci/registry.hpp"

namespace lamina::oci {

struct RegistryScope {
    std::string account;
    std::string region;
};

class DistributionApi {
public:
    DistributionApi(Registry& registry, boost::asio::any_io_executor workers)
        : registry_(registry), workers_(std::move(workers)) {}

    // "/v2" and everything below it.
    static bool owns(std::string_view path) { return path == "/v2" || path.starts_with("/v2/"); }
    // What to do with the body of the request with this head. `authorized`:
    // whether it may act at all (a refused upload's body is read and dropped).
    // The policy's tag is what handle() needs back as `prepared`.
    http::BodyPolicy body_policy(const http::RequestHead& head, const RegistryScope& scope,
                                 bool authorized) const;
    // Answers through `respond` (later, for a streamed body, once it is written).
    void handle(const http::Request& req, const std::any& prepared, const RegistryScope& scope,
                std::function<void(http::Response)> respond) const;

    // The spec's error answer.
    static http::Response error(const Failure& f, bool head = false);
    // 401 with WWW-Authenticate: Basic (docker login's challenge).
    static http::Response unauthorized(const std::string& realm);

private:
    Registry& registry_;
    boost::asio::any_io_executor workers_;
};

}  // namespace lamina::oci
