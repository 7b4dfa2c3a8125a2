#include "lamina/store/zip_archive.hpp"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lamina::store {

const char* const kUnzipErrorMessage =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

namespace {

Error unzip_error(const std::string& detail) {
    std::string msg = kUnzipErrorMessage;
    if (!detail.empty()) msg += " (" + detail + ")";
    return Error{ErrorCode::InvalidParameterValue, msg};
}

// Calls fn(part, is_last) for each '/'-separated component of path.
template <typename Fn>
void for_each_component(std::string_view path, Fn&& fn) {
    std::size_t i = 0;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        bool last = j >= path.size() || path.find_first_not_of('/', j) == std::string_view::npos;
        fn(path.substr(i, j - i), last);
        i = j + 1;
    }
}

// Depth of a relative path applied from `depth` components ("." dropped,
// ".." going up); -1 once it climbs above the root.
int walk(std::string_view path, int depth) {
    for_each_component(path, [&](std::string_view part, bool) {
        if (depth < 0) return;
        if (part == "..")
            --depth;
        else if (!part.empty() && part != ".")
            ++depth;
    });
    return depth;
}

// Components of `path` applied to `base` with "." dropped and ".." popping
// (callers have checked that it never climbs above the root).
std::vector<std::string> normalised(std::vector<std::string> base, std::string_view path) {
    for_each_component(path, [&](std::string_view part, bool) {
        if (part == "..") {
            if (!base.empty()) base.pop_back();
        } else if (!part.empty() && part != ".") {
            base.emplace_back(part);
        }
    });
    return base;
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (std::size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
    return out;
}

// Whether walking `path` (from `base`) steps *through* one of the links: a
// link as an intermediate component means the OS would follow it, so the
// lexical containment check alone would not hold ("s/../x" with s -> ".").
bool passes_through_link(const std::vector<std::string>& base, std::string_view path,
                         const std::set<std::string>& links) {
    std::vector<std::string> parts = base;
    bool through = false;
    for_each_component(path, [&](std::string_view part, bool last) {
        if (part == "..") {
            if (!parts.empty()) parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.emplace_back(part);
            if (!last && links.contains(joined(parts))) through = true;
        }
    });
    return through;
}

}  // namespace

std::optional<std::string> entry_name_problem(std::string_view path) {
    if (path.size() > kMaxEntryPath)
        return "its name is longer than " + std::to_string(kMaxEntryPath) + " bytes";
    bool too_long = false;
    for_each_component(path, [&](std::string_view part, bool) {
        too_long = too_long || part.size() > kMaxEntryComponent;
    });
    if (too_long)
        return "a part of its name is longer than " + std::to_string(kMaxEntryComponent) + " bytes";
    return std::nullopt;
}

std::string shown_entry_name(std::string_view name) {
    constexpr std::size_t kShown = 120;
    if (name.size() <= kShown) return std::string(name);
    return std::string(name.substr(0, kShown)) + "...";
}

bool entry_path_is_contained(std::string_view path) {
    if (path.empty()) return false;
    if (path.front() == '/' || path.front() == '\\') return false;
    if (path.find('\\') != std::string_view::npos) return false;  // Windows separators
    if (path.size() >= 2 && path[1] == ':') return false;         // drive letters
    if (path.find('\0') != std::string_view::npos) return false;
    return walk(path, 0) >= 0;
}

bool symlink_is_contained(std::string_view link_path, std::string_view target) {
    if (target.empty() || target.front() == '/') return false;
    // symlink(2) stops at a NUL: "..\0" would be checked as a name and made as ".."
    if (target.find('\0') != std::string_view::npos) return false;
    // the link resolves relative to its own directory
    auto slash = link_path.rfind('/');
    std::string_view dir =
        slash == std::string_view::npos ? std::string_view{} : link_path.substr(0, slash);
    int depth = walk(dir, 0);
    if (depth < 0) return false;
    return walk(target, depth) >= 0;
}

Result<ZipSummary> inspect_zip(std::string_view bytes, std::optional<std::int64_t> verify_up_to) {
    if (bytes.size() < 22) return std::unexpected(unzip_error(""));
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (!src) {
        zip_error_fini(&err);
        return std::unexpected(unzip_error(""));
    }
    zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!za) {
        zip_source_free(src);
        zip_error_fini(&err);
        return std::unexpected(unzip_error(""));
    }
    zip_error_fini(&err);
    std::unique_ptr<zip_t, decltype(&zip_discard)> archive(za, &zip_discard);

    ZipSummary summary;
    zip_int64_t n = zip_get_num_entries(za, 0);
    std::set<std::string> symlinks;  // entries that are links, normalised
    std::vector<std::pair<std::string, std::string>> link_targets;  // link entry name -> target
    std::vector<std::string> names;
    for (zip_int64_t i = 0; i < n; ++i) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_NAME))
            return std::unexpected(unzip_error("unreadable entry"));
        std::string_view name(st.name);
        if (!entry_path_is_contained(name))
            return std::unexpected(unzip_error("entry '" + shown_entry_name(name) +
                                               "' would be extracted outside its folder"));
        if (auto problem = entry_name_problem(name))
            return std::unexpected(
                unzip_error("entry '" + shown_entry_name(name) + "': " + *problem));
        if (st.valid & ZIP_STAT_SIZE) summary.unzipped_size += static_cast<std::int64_t>(st.size);
        zip_uint8_t opsys = 0;
        zip_uint32_t attributes = 0;
        if (zip_file_get_external_attributes(za, static_cast<zip_uint64_t>(i), 0, &opsys,
                                             &attributes) == 0 &&
            opsys == ZIP_OPSYS_UNIX && S_ISLNK(attributes >> 16)) {
            if (st.size > 4096) return std::unexpected(unzip_error("symlink target too long"));
            zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
            if (!zf) return std::unexpected(unzip_error("unreadable symlink"));
            std::string target(static_cast<std::size_t>(st.size), '\0');
            zip_int64_t got = zip_fread(zf, target.data(), target.size());
            zip_fclose(zf);
            if (got != static_cast<zip_int64_t>(target.size()))
                return std::unexpected(unzip_error("unreadable symlink"));
            if (!symlink_is_contained(name, target))
                return std::unexpected(unzip_error("symlink '" + shown_entry_name(name) +
                                                   "' points outside its folder"));
            auto parts = normalised({}, name);
            symlinks.insert(joined(parts));
            link_targets.emplace_back(std::string(name), target);
        }
        names.emplace_back(name);
        ++summary.entries;
    }
    // An entry under a symlink would be written wherever the link points, and
    // a link whose target goes through another link may resolve outside:
    // refuse both ("link/x", "./link/../x", a -> "b/.." with b a link).
    for (const auto& entry : names)
        if (passes_through_link({}, entry, symlinks))
            return std::unexpected(
                unzip_error("entry '" + shown_entry_name(entry) + "' goes through a symlink"));
    for (const auto& [link, target] : link_targets) {
        auto dir = normalised({}, link);
        if (!dir.empty()) dir.pop_back();
        if (passes_through_link(dir, target, symlinks))
            return std::unexpected(unzip_error("symlink '" + shown_entry_name(link) +
                                               "' points through another symlink"));
    }
    if (!verify_up_to || summary.unzipped_size > *verify_up_to) return summary;
    // The data itself: libzip checks each entry's CRC when it reaches the end.
    std::int64_t actual = 0;
    // as large as the entries say they are, up to 64 KiB, and not zeroed: a
    // zeroed 64 KiB buffer was a fifth of checking a 1 KB zip
    const auto room = static_cast<std::size_t>(
        std::clamp<std::int64_t>(summary.unzipped_size + 1, 4096, std::int64_t{1} << 16));
    auto buf = std::make_unique_for_overwrite<char[]>(room);
    for (zip_int64_t i = 0; i < n && actual <= *verify_up_to; ++i) {
        zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
        if (!zf) return std::unexpected(unzip_error(""));
        zip_int64_t got;
        while ((got = zip_fread(zf, buf.get(), room)) > 0) {
            actual += got;
            if (actual > *verify_up_to) break;
        }
        zip_fclose(zf);
        if (got < 0) return std::unexpected(unzip_error(""));
    }
    summary.unzipped_size = std::max(summary.unzipped_size, actual);
    return summary;
}

}  // namespace lamina::store
