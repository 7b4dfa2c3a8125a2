#pragma once
// Whether a function's architecture can run on this host. lamina runs code
// natively, without emulation: an arm64 function runs on an x86_64 host only
// when its runtime is an interpreter (Python, Node.js, Ruby, Java) and neither
// its code nor its layers carry native files built for arm64.

#include <filesystem>
#include <string>

#include "lamina/common/error.hpp"

namespace lamina::exec {

// "x86_64" or "arm64": the Lambda name of the architecture lamina was built for.
const char* host_architecture();

// NotImplemented naming the architecture (and the first foreign ELF file found)
// when `architecture` cannot run here; ok otherwise.
Status check_architecture(const std::string& function_name, const std::string& runtime,
                          const std::string& architecture, const std::filesystem::path& code_dir,
                          const std::filesystem::path& opt_dir);

}  // namespace lamina::exec
