#pragma once
// Validation of function settings with AWS's codes and messages.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"

namespace lamina::control {

struct VersionConfig;
struct FunctionSettings;

// Runtimes AWS accepts for new functions, in the order AWS lists them.
const std::vector<std::string>& supported_runtimes();
// Runtimes AWS no longer lists at all (gone from the enum): never usable.
bool is_deprecated_runtime(const std::string& runtime);

// One row of AWS's deprecation schedule ("Lambda runtimes"): dates (UTC,
// YYYY-MM-DD) from which the runtime is deprecated, from which CreateFunction
// refuses it, and from which updates of functions that use it are refused.
struct RuntimeLifecycle {
    const char* id;
    const char* deprecated;
    const char* block_create;
    const char* block_update;
};
const std::vector<RuntimeLifecycle>& runtime_lifecycles();
const RuntimeLifecycle* runtime_lifecycle(const std::string& runtime);
// Midnight UTC of a YYYY-MM-DD date, in ms since the epoch (nullopt if malformed).
std::optional<std::int64_t> utc_date_ms(const std::string& date);
enum class RuntimeUse { Create, Update };
// Whether `runtime` may be used for `use` at `epoch_ms`: refused with AWS's
// message from the block date on; deprecated but not yet blocked is accepted
// (AWS accepts, and its API says nothing of the deprecation).
Status check_runtime_lifecycle(const std::string& runtime, RuntimeUse use, std::int64_t epoch_ms);
bool is_runtime_deprecated_at(const std::string& runtime, std::int64_t epoch_ms);

Status validate_runtime(const std::string& runtime);
// SnapStart ApplyOn PublishedVersions on `runtime`: lamina snapshots
// python3.12 and later; Java and .NET, which AWS also accepts, are refused
// naming why; other runtimes as AWS refuses them.
Status validate_snap_start(const std::string& runtime);
// Applies `in`'s LoggingConfig to `c` as AWS merges it (levels only with JSON).
Status merge_logging_config(VersionConfig& c, const FunctionSettings& in);
// Environment.Variables: key pattern and the 4 KB limit. `measured` is the
// compact JSON of the map in the caller's order (AWS quotes it back).
Status validate_environment(const std::vector<std::pair<std::string, std::string>>& variables);

// Function settings with numeric bounds, one row each. `model_min` and
// `model_max` are the API model's constraints (a ValidationException naming
// `member`); `service_max`, where tighter than the model, is the limit the
// service itself enforces (InvalidParameterValueException: MemorySize up to
// 10240 although the model allows 32768; Timeout up to 900, no model bound).
// The API handlers and the SAM deployer both check against these rows.
struct SettingLimit {
    const char* key;     // request field ("MemorySize"; nested: "Size" of EphemeralStorage)
    const char* member;  // as AWS's validation messages name it ("memorySize")
    std::int64_t model_min;
    std::int64_t model_max;
    std::int64_t service_max;
    std::int64_t default_value;
    std::int64_t max() const { return std::min(model_max, service_max); }
};

namespace limits {
inline constexpr std::int64_t kNone = INT64_MAX;
inline constexpr SettingLimit kTimeout{"Timeout", "timeout", 1, kNone, 900, 3};
inline constexpr SettingLimit kMemorySize{"MemorySize", "memorySize", 128, 32768, 10240, 128};
inline constexpr SettingLimit kEphemeralStorage{"Size", "ephemeralStorage.size", 512, 10240, 10240,
                                                512};
inline constexpr SettingLimit kMaximumRetryAttempts{
    "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2, 2, 2};
inline constexpr SettingLimit kMaximumEventAge{
    "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600, 21600, 21600};
// Lengths of string settings (model constraints).
inline constexpr std::size_t kDescriptionLength = 256;
inline constexpr std::size_t kHandlerLength = 128;
inline constexpr std::size_t kLicenseInfoLength = 512;
// Layers one function may use.
inline constexpr std::size_t kMaxLayers = 5;
}  // namespace limits

// Adds the model's validation item for `value` out of [model_min, model_max].
void check_model_range(ValidationErrors& errors, const SettingLimit& limit,
                       std::optional<std::int64_t> value);
// Adds the model's length item for a string longer than `max_length`.
void check_length(ValidationErrors& errors, const char* member,
                  const std::optional<std::string>& value, std::size_t max_length);

// Limits AWS enforces.
inline constexpr std::int64_t kMaxZippedCode = 52428800;     // 50 MiB direct upload
inline constexpr std::int64_t kMaxUnzippedCode = 262144000;  // 250 MiB code + layers
inline constexpr std::int64_t kCreateFunctionRequestLimit = 70167211;
inline constexpr std::int64_t kTotalCodeStorage = 80530636800;  // 75 GB per region
inline constexpr int kMaxTags = 50;
inline constexpr std::size_t kMaxPolicyBytes = 20480;

}  // namespace lamina::control
