#pragma once
// Where lamina's runtime bootstraps (python/, node/, extensions/) are.

#include <filesystem>
#include <string>

namespace lamina::cli {

struct RuntimesDir {
    std::filesystem::path path;
    std::string source;  // --runtimes-dir | installed | source tree
};

// `given` (--runtimes-dir or LAMINA_RUNTIMES_DIR) when not empty; else the
// installed layout's <bindir>/../share/lamina/runtimes next to this binary,
// when it exists; else the runtimes/ of the source tree lamina was built from.
RuntimesDir resolve_runtimes_dir(const std::filesystem::path& given);

}  // namespace lamina::cli
