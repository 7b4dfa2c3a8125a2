#pragma once
// `lamina image load FILE [--tag REPO:TAG]`: pushes the image(s) of a
// `docker save` archive (manifest.json + config + uncompressed layer tars)
// or an OCI image-layout archive (index.json, blobs/sha256) into a running
// lamina's registry over HTTP, creating each repository that is missing.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "lamina/common/error.hpp"
#include "lamina/sam/api_client.hpp"

namespace lamina::cli {

struct ImageLoadClients {
    sam::ApiClient& signed_client;    // the ECR API (SigV4, like the aws CLI)
    sam::ApiClient& registry_client;  // /v2 (unsigned; Basic auth from GetAuthorizationToken)
};

// Returns the "repo:tag" names loaded; `say` reports progress.
Result<std::vector<std::string>> load_image_archive(
    const std::filesystem::path& file, const std::string& tag, ImageLoadClients clients,
    const std::function<void(const std::string&)>& say);

}  // namespace lamina::cli
