#pragma once
// The OCI and Docker vocabulary the registry checks untrusted input against:
// digests, repository names, tags, and manifests / indexes parsed from their
// pushed bytes (OCI image-spec manifest.md and image-index.md, Docker image
// manifest v2 schema 2 and manifest list). Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/oci/image_source.hpp"

namespace lamina::oci {

inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

// The most manifest bytes a PUT may carry (the distribution spec asks
// registries to take at least 4 MB; ECR's limit is the same).
inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;

// "sha256:<64 lowercase hex>". Other algorithms are refused (lamina verifies
// every digest it stores, with SHA-256).
bool is_digest(std::string_view s);
// "sha256:<hex>" of bytes.
std::string digest_of(std::string_view bytes);
// A tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool is_tag(std::string_view s);
// An ECR repository name: 2-256 characters of lowercase path components
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* separated by '/'.
bool is_repository_name(std::string_view s);

// One of the four manifest media types lamina stores.
bool is_manifest_media_type(std::string_view s);
bool is_index_media_type(std::string_view s);

struct ParsedManifest {
    std::string media_type;  // the effective one (Content-Type, else the mediaType field)
    bool is_index = false;
    Descriptor config;                  // manifests only
    std::vector<Descriptor> layers;     // manifests only
    std::vector<Descriptor> manifests;  // indexes only: the children
    std::optional<Descriptor> subject;  // OCI 1.1 referrers
    std::string artifact_type;          // OCI 1.1 artifactType, when set
};

struct ManifestProblem {
    std::string message;
};

// Parses pushed manifest bytes. `content_type` is the PUT's Content-Type
// (may be empty or a generic JSON type); a mediaType field that names
// another type than a specific Content-Type is refused, as is any
// descriptor without a valid digest, media type or non-negative size.
std::expected<ParsedManifest, ManifestProblem> parse_manifest(std::string_view bytes,
                                                              std::string_view content_type);

}  // namespace lamina::oci
