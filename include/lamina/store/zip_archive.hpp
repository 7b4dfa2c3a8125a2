#pragma once
// Inspection of uploaded zip archives (function code, layers): is it a zip,
// how big is it unzipped, and would every entry stay inside its folder when
// extracted (no "../", no absolute paths, no symlinks pointing outside).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lamina/common/error.hpp"

namespace lamina::store {

struct ZipSummary {
    std::int64_t entries = 0;
    std::int64_t unzipped_size = 0;  // sum of the entries' declared sizes
};

// InvalidParameterValue with AWS's "Could not unzip uploaded file..." message
// (plus lamina's reason) when the bytes are not a safe zip.
// With `verify_up_to`, every entry is also decompressed (CRCs checked) and
// unzipped_size is what the data really holds, counted until it passes that
// limit: headers that understate the size, or deflate data that is corrupt,
// are caught at upload rather than at the first invoke.
Result<ZipSummary> inspect_zip(std::string_view bytes,
                               std::optional<std::int64_t> verify_up_to = std::nullopt);

// Whether a path inside an archive stays inside the extraction root,
// resolving "." and ".." lexically ("a/../b" is fine, "a/../../b" is not).
bool entry_path_is_contained(std::string_view path);
// Names the OS cannot create under the extraction root: a part longer than
// NAME_MAX, or a whole name so long that root + name would pass PATH_MAX
// (AWS extracts under /var/task; lamina's root is longer, so it keeps room).
// The reason, or nullopt when the name fits.
inline constexpr std::size_t kMaxEntryComponent = 255;
inline constexpr std::size_t kMaxEntryPath = 3072;
std::optional<std::string> entry_name_problem(std::string_view path);
// An entry name cut to a length an error message can carry.
std::string shown_entry_name(std::string_view name);
// Whether a symlink stored at `link_path` with target `target` stays inside.
bool symlink_is_contained(std::string_view link_path, std::string_view target);

extern const char* const kUnzipErrorMessage;

}  // namespace lamina::store
