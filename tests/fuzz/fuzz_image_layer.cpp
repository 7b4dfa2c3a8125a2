// Container-image layers: oci::apply_tar over a temp root, twice (the second
// pass meets the first's files: replacement, whiteouts, opaque directories),
// then finish_root.
//
// Input: a tar stream, or (first byte odd) entries to build one from, so
// that the fuzzer drives names, types and link targets rather than header
// checksums: one per line, "<kind> <name>=<data or link target>", kind f
// (file), x (setuid executable), d (directory), l (symlink), h (hard link),
// c (char device), p (fifo).
// Checked beyond the sanitizers: nothing is written outside the root, no
// setuid/setgid bit or device node is left in it, no symlink climbs above it,
// and a bad layer fails with InvalidParameterValue, never ServiceException.

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/tar_builder.hpp"
#include "fuzz_stack.hpp"
#include "lamina/oci/unpack.hpp"
#include "lamina/store/zip_archive.hpp"

namespace {

using namespace lamina;
namespace fs = std::filesystem;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_image_layer: %s\n", what.c_str());
    std::abort();
}

std::string build_tar(std::string_view spec) {
    std::vector<fakes::TarEntry> entries;
    while (!spec.empty() && entries.size() < 64) {
        auto nl = spec.find('\n');
        std::string_view line = spec.substr(0, nl);
        spec = nl == std::string_view::npos ? std::string_view{} : spec.substr(nl + 1);
        if (line.size() < 3 || line[1] != ' ') continue;
        auto eq = line.find('=', 2);
        std::string name(
            line.substr(2, eq == std::string_view::npos ? std::string_view::npos : eq - 2));
        std::string data(eq == std::string_view::npos ? std::string_view{} : line.substr(eq + 1));
        if (name.empty() || name.size() > 250) continue;
        switch (line[0]) {
            case 'f':
                entries.push_back(fakes::tar_file(name, data));
                break;
            case 'x':
                entries.push_back(fakes::tar_file(name, data, 06755));
                break;
            case 'd':
                entries.push_back(fakes::tar_dir(name, 0555));
                break;
            case 'l':
                entries.push_back(fakes::tar_symlink(name, data.substr(0, 99)));
                break;
            case 'h':
                entries.push_back(fakes::tar_hardlink(name, data.substr(0, 99)));
                break;
            case 'c':
                entries.push_back({'3', name, "", 0666});
                break;
            case 'p':
                entries.push_back({'6', name, "", 0644});
                break;
            default:
                break;
        }
    }
    return fakes::make_tar(entries);
}

void check_root(const fs::path& sandbox, const fs::path& root) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(sandbox, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::string p = it->path().lexically_normal().string();
        if (p.rfind(root.string(), 0) != 0) finding("written outside the root: " + p);
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0) continue;
        if (st.st_mode & (S_ISUID | S_ISGID)) finding("setuid/setgid bit kept: " + p);
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode))
            finding("device or fifo kept: " + p);
        if (S_ISLNK(st.st_mode)) {
            fs::path target = fs::read_symlink(it->path(), ec);
            if (ec || target.is_absolute()) continue;
            // lexically: fs::relative would follow the link itself (u/x -> ".." became ".")
            std::string rel = it->path().lexically_relative(root).string();
            if (!store::symlink_is_contained(rel, target.string()))
                finding("symlink climbs above the root: " + p + " -> " + target.string());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    std::string tar = size > 0 && (data[0] & 1) ? build_tar(bytes.substr(1)) : std::string(bytes);
    fs::path sandbox = fuzz::make_temp_dir("lamina-fuzz-image");
    fs::path root = sandbox / "root";
    fs::create_directories(root);
    oci::UnpackState state;
    state.limit = 1 << 20;
    for (int pass = 0; pass < 2; ++pass) {
        std::size_t pos = 0;
        oci::Reader r = [&](char* b, std::size_t n) -> Result<std::size_t> {
            std::size_t k = std::min(n, tar.size() - pos);
            std::memcpy(b, tar.data() + pos, k);
            pos += k;
            return k;
        };
        auto st = oci::apply_tar(root, r, state);
        if (!st && st.error().code != ErrorCode::InvalidParameterValue)
            finding("apply_tar failed with another error than InvalidParameterValue: " +
                    st.error().message);
        check_root(sandbox, root);
        if (!st) break;
    }
    auto fin = oci::finish_root(root, state);
    if (!fin) finding("finish_root failed: " + fin.error().message);
    check_root(sandbox, root);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(sandbox, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    fs::remove_all(sandbox, ec);
    if (ec) finding("cannot remove the sandbox: " + ec.message());
    return 0;
}
