// Uploaded zips (function code, layers): store::inspect_zip, then, for what
// it accepts, LayerCache::extract into a temp data dir (unix modes,
// symlinks, the unzipped-size limit while writing) and LayerCache::assemble
// (the hard-link /opt farm), cleaned up after each run.
//
// Input: the zip's bytes, or (first byte odd) entries to build one from,
// so that the fuzzer drives names, modes and symlinks rather than CRCs: one
// per line, "<kind> <name>=<data or link target>", kind f (file), x
// (executable), z (deflated file), d (directory), l (symlink).
// Checked beyond the sanitizers: extraction never
// writes outside the data dir, never leaves a symlink pointing outside its
// tree, and never fails with ServiceException (lamina's own failure: a bad
// upload must be InvalidParameterValue / the size error).

#include <sys/stat.h>
#include <zip.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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
    for (auto it = fs::recursive_directory_iterator(sandbox, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!inside(data, it->path()))
            finding("extraction wrote outside the data dir: " + it->path().string());
    }
    if (tree.empty()) return;
    for (auto it = fs::recursive_directory_iterator(tree, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_symlink(ec)) continue;
        fs::path target = fs::read_symlink(it->path(), ec);
        if (ec) continue;
        if (target.is_absolute() || !inside(tree, it->path().parent_path() / target))
            finding("a symlink points outside its tree: " + it->path().string() + " -> " +
                    target.string());
    }
}

// The archive described by `spec` (see above); nullopt when libzip will not
// write it (the fuzzer should not spend time there). Unlike the unit tests'
// zip_builder, every failure path frees what libzip allocated.
std::optional<std::string> build_zip(std::string_view spec) {
    struct Spec {
        std::string name, data;
        mode_t mode;
        bool deflate;
    };
    std::vector<Spec> entries;
    std::set<std::string> names;
    while (!spec.empty() && entries.size() < 64) {
        auto nl = spec.find('\n');
        std::string_view line = spec.substr(0, nl);
        spec = nl == std::string_view::npos ? std::string_view{} : spec.substr(nl + 1);
        if (line.size() < 3 || line[1] != ' ') continue;
        auto eq = line.find('=', 2);
        std::string name(
            line.substr(2, eq == std::string_view::npos ? std::string_view::npos : eq - 2));
        std::string data(eq == std::string_view::npos ? std::string_view{} : line.substr(eq + 1));
        name = name.c_str();  // libzip stops at a NUL
        if (name.empty()) continue;
        Spec e{name, data, S_IFREG | 0644, false};
        switch (line[0]) {
            case 'f':
                break;
            case 'x':
                e.mode = S_IFREG | 0755;
                break;
            case 'z':
                e.deflate = true;
                break;
            case 'd':
                e.mode = S_IFDIR | 0755;
                if (e.name.back() != '/') e.name += '/';
                break;
            case 'l':
                e.mode = S_IFLNK | 0777;
                break;
            default:
                continue;
        }
        if (!names.insert(e.name).second) continue;  // libzip refuses duplicates
        entries.push_back(std::move(e));
    }
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
    zip_t* za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &err) : nullptr;
    zip_error_fini(&err);
    if (!za) {
        if (src) zip_source_free(src);
        return std::nullopt;
    }
    zip_source_keep(src);
    bool ok = true;
    for (const auto& e : entries) {
        zip_int64_t idx;
        if (S_ISDIR(e.mode)) {
            idx = zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8);
        } else {
            zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
            idx = data ? zip_file_add(za, e.name.c_str(), data, ZIP_FL_ENC_UTF_8) : -1;
            if (idx < 0 && data) zip_source_free(data);
            if (idx >= 0)
                zip_set_file_compression(za, static_cast<zip_uint64_t>(idx),
                                         e.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
        }
        if (idx < 0 ||
            zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                             static_cast<zip_uint32_t>(e.mode) << 16) < 0) {
            ok = false;
            break;
        }
    }
    std::optional<std::string> out;
    if (!ok) {
        zip_discard(za);
    } else if (zip_close(za) < 0) {
        zip_discard(za);
    } else if (zip_source_open(src) == 0) {
        zip_source_seek(src, 0, SEEK_END);
        zip_int64_t size = zip_source_tell(src);
        zip_source_seek(src, 0, SEEK_SET);
        std::string bytes(static_cast<std::size_t>(size), '\0');
        if (zip_source_read(src, bytes.data(), bytes.size()) == size) out = std::move(bytes);
        zip_source_close(src);
    }
    zip_source_free(src);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string built;
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (size > 0 && (data[0] & 1)) {
        auto zip = build_zip(bytes.substr(1));
        if (!zip) return -1;
        built = std::move(*zip);
        bytes = built;
    }
    auto summary = store::inspect_zip(bytes);
    if (!summary) {
        if (summary.error().code != ErrorCode::InvalidParameterValue)
            finding("inspect_zip failed with another error than InvalidParameterValue: " +
                    summary.error().message);
        return 0;
    }
    if (summary->entries < 0 || summary->unzipped_size < 0)
        finding("negative sizes in the zip summary");

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
    for (auto it = fs::recursive_directory_iterator(sandbox, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    fs::remove_all(sandbox, ec);
    if (ec) finding("cannot remove the sandbox " + sandbox.string() + ": " + ec.message());
    return 0;
}
