#include "architecture.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <optional>

namespace lamina::exec {

namespace fs = std::filesystem;

namespace {

constexpr std::uint16_t kElfMachineAmd64 = 62;   // EM_X86_64
constexpr std::uint16_t kElfMachineArm64 = 183;  // EM_AARCH64

std::uint16_t machine_of(const std::string& architecture) {
    return architecture == "arm64" ? kElfMachineArm64 : kElfMachineAmd64;
}

// The ELF machine of a file, or nullopt when it is not a little-endian ELF file.
std::optional<std::uint16_t> elf_machine(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::array<unsigned char, 20> head{};
    if (!in.read(reinterpret_cast<char*>(head.data()), head.size())) return std::nullopt;
    if (head[0] != 0x7f || head[1] != 'E' || head[2] != 'L' || head[3] != 'F' || head[5] != 1)
        return std::nullopt;
    return static_cast<std::uint16_t>(head[18] | (head[19] << 8));
}

// The first regular file under `root` that is ELF code for `machine`, relative to root.
std::optional<std::string> first_elf_for(const fs::path& root, std::uint16_t machine) {
    std::error_code ec;
    if (root.empty() || !fs::is_directory(root, ec)) return std::nullopt;
    for (fs::recursive_directory_iterator
             it(root, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
        if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
        if (elf_machine(it->path()) == machine) return it->path().lexically_relative(root).string();
    }
    return std::nullopt;
}

}  // namespace

const char* host_architecture() {
#if defined(__aarch64__)
    return "arm64";
#else
    return "x86_64";
#endif
}

Status check_architecture(const std::string& function_name, const std::string& runtime,
                          const std::string& architecture, const fs::path& code_dir,
                          const fs::path& opt_dir) {
    std::string host = host_architecture();
    if (architecture.empty() || architecture == host) return {};
    std::string intro = "lamina runs code natively on this " + host + " host and cannot run " +
                        architecture + " code: function " + function_name + " has Architectures [" +
                        architecture + "]";
    std::string advice = " Set Architectures to [" + host +
                         "] for local runs, or run lamina on an " + architecture + " host.";
    if (runtime.rfind("provided", 0) == 0)
        return fail(ErrorCode::NotImplemented, intro + " and runtime " + runtime +
                                                   ", whose bootstrap is native code." + advice);
    // interpreted runtimes run the same code on either architecture, unless it has native parts
    std::uint16_t foreign = machine_of(architecture);
    if (auto file = first_elf_for(code_dir, foreign))
        return fail(ErrorCode::NotImplemented, intro + " and its code has native " + architecture +
                                                   " files (" + *file + ")." + advice);
    if (auto file = first_elf_for(opt_dir, foreign))
        return fail(ErrorCode::NotImplemented, intro + " and its layers have native " +
                                                   architecture + " files (/opt/" + *file + ")." +
                                                   advice);
    return {};
}

}  // namespace lamina::exec
