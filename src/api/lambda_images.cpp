// Container-image functions' code: ImageUri resolved against lamina's
// registry at CreateFunction / UpdateFunctionCode, as Lambda resolves it
// against ECR (the tag is read once; the function keeps the digest).

#include <regex>

#include "lambda_input.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/oci/unpack.hpp"

namespace lamina::api {

namespace {

Error not_valid(const std::string& uri) {
    return Error{ErrorCode::InvalidParameterValue,
                 "Source image " + uri + " is not valid. Provide a valid source image."};
}

// The port of a Host header value ("127.0.0.1:9001", "[::1]:9001").
std::string port_of(const std::string& host) {
    auto colon = host.rfind(':');
    if (colon == std::string::npos || host.find(']', colon) != std::string::npos) return "";
    return host.substr(colon + 1);
}

bool names_lamina(const std::string& registry, const std::string& request_host,
                  unsigned short port) {
    if (!request_host.empty() && registry == request_host) return true;
    auto colon = registry.rfind(':');
    if (colon == std::string::npos) return false;
    std::string name = registry.substr(0, colon), p = registry.substr(colon + 1);
    if (name != "127.0.0.1" && name != "localhost" && name != "[::1]") return false;
    return (!request_host.empty() && p == port_of(request_host)) ||
           (port != 0 && p == std::to_string(port));
}

}  // namespace

Result<control::StoredCode> resolve_image_code(const oci::ImageSource* source,
                                               const control::Scope& scope, const std::string& uri,
                                               const std::string& request_host,
                                               unsigned short port) {
    auto slash = uri.find('/');
    if (slash == std::string::npos || slash + 1 >= uri.size())
        return std::unexpected(not_valid(uri));
    std::string registry = uri.substr(0, slash);
    std::string rest = uri.substr(slash + 1);
    static const std::regex kEcr(R"(([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com)");
    std::smatch m;
    if (regex_full_match(registry, kEcr)) {
        std::regex_match(registry, m, kEcr);
        if (m[1].str() != scope.account || m[2].str() != scope.region)
            return std::unexpected(not_valid(uri));
    } else if (!names_lamina(registry, request_host, port)) {
        return std::unexpected(not_valid(uri));
    }
    std::string repository, reference;
    if (auto at = rest.find('@'); at != std::string::npos) {
        repository = rest.substr(0, at);
        reference = rest.substr(at + 1);
        static const std::regex kDigest(R"(sha256:[0-9a-f]{64})");
        if (!regex_full_match(reference, kDigest)) return std::unexpected(not_valid(uri));
    } else {
        auto colon = rest.rfind(':');
        if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
            repository = rest.substr(0, colon);
            reference = rest.substr(colon + 1);
        } else {
            repository = rest;
            reference = "latest";
        }
        static const std::regex kTag(R"([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})");
        if (!regex_full_match(reference, kTag)) return std::unexpected(not_valid(uri));
    }
    static const std::regex kRepo(
        R"([a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)");
    if (repository.size() < 2 || repository.size() > 256 || !regex_full_match(repository, kRepo))
        return std::unexpected(not_valid(uri));
    if (!source)
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina's image registry is not available in this server, so " + uri +
                        " cannot be resolved.");
    auto image = source->resolve(scope.account, scope.region, repository, reference);
    if (!image)
        return fail(ErrorCode::InvalidParameterValue,
                    "Source image " + uri + " does not exist. Provide a valid source image.");
    bool supported =
        !image->is_index && oci::is_manifest_media_type(image->manifest_media_type) &&
        (image->config.media_type == "application/vnd.oci.image.config.v1+json" ||
         image->config.media_type == "application/vnd.docker.container.image.v1+json") &&
        oci::parse_image_config(image->config_json).has_value();
    std::int64_t compressed = 0;
    for (const auto& l : image->layers) {
        // Lambda takes gzip and plain tar layers (zstd is refused as unsupported)
        if (!oci::is_layer_media_type(l.media_type) || l.media_type.ends_with("+zstd"))
            supported = false;
        compressed += l.size;
    }
    if (!supported)
        return fail(ErrorCode::InvalidParameterValue,
                    "The image manifest, config or layer media type for the source image " + uri +
                        " is not supported.");
    if (compressed > oci::kMaxImageUnpackedSize)
        return fail(ErrorCode::InvalidParameterValue,
                    "Image size must be smaller than " +
                        std::to_string(oci::kMaxImageUnpackedSize) + " bytes");
    const std::string& digest = image->manifest_digest;
    control::StoredCode code;
    code.sha256_b64 = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
    code.image_uri = uri;
    code.image_repository = repository;
    return code;
}

std::string resolved_image_uri(const control::Scope& scope, const control::VersionConfig& c) {
    return scope.account + ".dkr.ecr." + scope.region + ".amazonaws.com/" + c.image_repository +
           "@sha256:" + c.code_sha256;
}

}  // namespace lamina::api
