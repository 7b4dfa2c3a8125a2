#pragma once
// The extraction cache behind /opt. Each layer zip is extracted once, into
// <data-dir>/extracted/<sha256>/, keeping unix file modes and the symlinks
// that stay inside the layer, with the unzipped-size limit enforced while
// writing. The /opt view of a function version is a hard-link farm under
// <data-dir>/opt/<key>/ built from those trees in layer order (later layers
// override earlier ones on the same path): no file is copied, nothing needs
// root, and one farm serves every version with the same layer list.

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/store/blob_store.hpp"

namespace lamina::store {

class LayerCache {
public:
    LayerCache(std::filesystem::path data_dir, BlobStore& blobs, std::int64_t unzipped_limit);

    // Creates the folders and removes what an interrupted run left half-made.
    Status init();
    // Extracts `zip` (whose blob name is `hex`) unless already extracted.
    Result<std::filesystem::path> extract(const std::string& hex, std::string_view zip);
    // The extracted tree of a stored blob, re-extracting it from the blob when missing.
    Result<std::filesystem::path> ensure_extracted(const std::string& hex);
    // The /opt tree for these layer blobs, in order.
    Result<std::filesystem::path> assemble(const std::vector<std::string>& layer_hexes);
    // Removes extracted trees whose blob is not in keep, and every assembled view.
    void collect_garbage(const std::set<std::string>& keep);

    std::filesystem::path extracted_dir() const { return root_ / "extracted"; }
    std::filesystem::path opt_dir() const { return root_ / "opt"; }

private:
    std::filesystem::path root_;
    BlobStore& blobs_;
    std::int64_t limit_;
};

}  // namespace lamina::store
