#pragma once
// Validation of function settings with AWS's codes and messages.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::control {

// Runtimes AWS accepts for new functions, in the order AWS lists them.
const std::vector<std::string>& supported_runtimes();
// Runtimes that exist but may no longer be used to create or update.
bool is_deprecated_runtime(const std::string& runtime);

Status validate_runtime(const std::string& runtime);
// Environment.Variables: key pattern and the 4 KB limit. `measured` is the
// compact JSON of the map in the caller's order (AWS quotes it back).
Status validate_environment(const std::vector<std::pair<std::string, std::string>>& variables);

// Limits AWS enforces.
inline constexpr std::int64_t kMaxZippedCode = 52428800;          // 50 MiB direct upload
inline constexpr std::int64_t kMaxUnzippedCode = 262144000;       // 250 MiB code + layers
inline constexpr std::int64_t kCreateFunctionRequestLimit = 70167211;
inline constexpr std::int64_t kTotalCodeStorage = 80530636800;    // 75 GB per region
inline constexpr int kMaxTags = 50;
inline constexpr std::size_t kMaxPolicyBytes = 20480;

}  // namespace lamina::control
