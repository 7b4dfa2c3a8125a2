#pragma once
// What the function side (control plane and execution environments) needs
// from lamina's image registry: find the image a function's ImageUri names
// and read its blobs. The registry (src/oci: the OCI Distribution API and
// the minimal ECR API on lamina's endpoint) implements it; unit tests use a
// fake. Repositories are per account and region, as in ECR.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::oci {

// A content descriptor (OCI image-spec descriptor.md).
struct Descriptor {
    std::string media_type;
    std::string digest;  // "sha256:<64 lowercase hex>"
    std::int64_t size = 0;
};

// A manifest found by repository and tag or digest, as it was pushed.
struct ResolvedImage {
    std::string account;
    std::string region;
    std::string repository;
    std::string manifest_digest;      // "sha256:<hex>" of the manifest's exact bytes
    std::string manifest_media_type;  // as pushed
    // An OCI image index or a Docker manifest list: Lambda refuses these
    // (even with one platform), so `config` and `layers` stay empty.
    bool is_index = false;
    Descriptor config;
    std::vector<Descriptor> layers;  // base layer first
    // The config blob's bytes (architecture, os, config.Env, Entrypoint, Cmd,
    // WorkingDir); empty for an index.
    std::string config_json;
};

enum class ResolveFailure {
    RepositoryNotFound,
    ImageNotFound,  // no such tag or digest in the repository
};

class ImageSource {
public:
    virtual ~ImageSource() = default;
    // `reference` is a tag or "sha256:<hex>". The error side names why.
    virtual std::expected<ResolvedImage, ResolveFailure> resolve(
        const std::string& account, const std::string& region, const std::string& repository,
        const std::string& reference) const = 0;
    // The host path of a stored, verified blob; nullopt when it is not stored.
    virtual std::optional<std::filesystem::path> blob_path(const std::string& digest) const = 0;
};

}  // namespace lamina::oci
