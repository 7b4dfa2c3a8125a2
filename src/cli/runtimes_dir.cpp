#include "runtimes_dir.hpp"

#include <system_error>

// The only file compiled with the source tree's path (CMakeLists.txt), so
// that every other object is the same in any checkout.
#ifndef LAMINA_DEFAULT_RUNTIMES_DIR
#error \
    "CMakeLists.txt defines LAMINA_DEFAULT_RUNTIMES_DIR (the source tree's runtimes/) for this file"
#endif
#ifndef LAMINA_INSTALLED_RUNTIMES_DIR
#define LAMINA_INSTALLED_RUNTIMES_DIR "../share/lamina/runtimes"
#endif

namespace lamina::cli {

namespace fs = std::filesystem;

RuntimesDir resolve_runtimes_dir(const fs::path& given) {
    if (!given.empty()) return {given, "--runtimes-dir"};
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path installed = (exe.parent_path() / LAMINA_INSTALLED_RUNTIMES_DIR).lexically_normal();
        if (fs::is_directory(installed, ec)) return {installed, "installed"};
    }
    return {fs::path(LAMINA_DEFAULT_RUNTIMES_DIR), "source tree"};
}

}  // namespace lamina::cli
