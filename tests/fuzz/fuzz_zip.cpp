// Uploaded zips (function code, layers): store::inspect_zip, then, for what
// it accepts, LayerCache::extract into a temp data dir (unix modes,
// symlinks, the unzipped-size limit while writing) and LayerCache::assemble
// (the hard-link /opt farm), cleaned up after each run.
//
// Input: the zip's bytes. Checked beyond the sanitizers: extraction never
// writes outside the data dir, never leaves a symlink pointing outside its
// tree, and never fails with ServiceException (lamina's own failure: a bad
// upload must be InvalidParameterValue / the size error).

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_stack.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"
#include "lamina/store/zip_archive.hpp"

namespace {

using namespace lamina;
namespace fs = std::filesystem;

// Small enough that a zip bomb costs little, large enough for the seeds.
constexpr std::int64_t kFuzzUnzippedLimit = 4 * 1024 * 1024;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_zip: %s\n", what.c_str());
    std::abort();
}

bool inside(const fs::path& root, const fs::path& p) {
    auto r = root.lexically_normal().string();
    auto s = p.lexically_normal().string();
    return s.rfind(r, 0) == 0;
}

// Every path under `sandbox` is under `data`; every symlink in `tree`
// resolves (lexically) inside `tree`.
void check_tree(const fs::path& sandbox, const fs::path& data, const fs::path& tree) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(sandbox, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!inside(data, it->path())) finding("extraction wrote outside the data dir: " + it->path().string());
    }
    if (tree.empty()) return;
    for (auto it = fs::recursive_directory_iterator(tree, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_symlink(ec)) continue;
        fs::path target = fs::read_symlink(it->path(), ec);
        if (ec) continue;
        if (target.is_absolute() || !inside(tree, it->path().parent_path() / target))
            finding("a symlink points outside its tree: " + it->path().string() + " -> " + target.string());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto summary = store::inspect_zip(bytes);
    if (!summary) {
        if (summary.error().code != ErrorCode::InvalidParameterValue)
            finding("inspect_zip failed with another error than InvalidParameterValue: " + summary.error().message);
        return 0;
    }
    if (summary->entries < 0 || summary->unzipped_size < 0) finding("negative sizes in the zip summary");

    fs::path sandbox = fuzz::make_temp_dir("lamina-fuzz-zip");
    fs::path data_dir = sandbox / "data";
    {
        store::BlobStore blobs(data_dir / "blobs");
        fuzz::must(blobs.init(), "blob store");
        store::LayerCache cache(data_dir, blobs, kFuzzUnzippedLimit);
        fuzz::must(cache.init(), "layer cache");
        std::string hex = to_hex(sha256(bytes));
        auto tree = cache.extract(hex, bytes);
        if (!tree && tree.error().code == ErrorCode::Service)
            finding("extraction failed with ServiceException: " + tree.error().message);
        check_tree(sandbox, data_dir, tree ? *tree : fs::path());
        if (tree) {
            fuzz::must(blobs.put(hex, bytes), "blob put");
            auto view = cache.assemble({hex, hex});
            if (!view && view.error().code == ErrorCode::Service)
                finding("assembling /opt failed with ServiceException: " + view.error().message);
            check_tree(sandbox, data_dir, view ? *view : fs::path());
        }
        cache.collect_garbage({});
    }
    std::error_code ec;
    // extracted trees may hold read-only directories: make them removable
    for (auto it = fs::recursive_directory_iterator(sandbox, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    fs::remove_all(sandbox, ec);
    if (ec) finding("cannot remove the sandbox " + sandbox.string() + ": " + ec.message());
    return 0;
}
