#pragma once
// What LoggingConfig makes of an invocation's log: the platform's own lines
// (START / END / REPORT in Text; platform.start / platform.report records in
// JSON, kept or not by SystemLogLevel) and, in JSON, the function's lines
// filtered by ApplicationLogLevel as Lambda filters them (a line's "level",
// INFO when it has none).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lamina/control/model.hpp"

namespace lamina::exec {

class PlatformLog {
public:
    explicit PlatformLog(const control::VersionConfig& c);

    // The line(s) opening an invocation's log ("" when filtered out).
    std::string start(const std::string& request_id, const std::string& version,
                      std::int64_t epoch_ms) const;
    // The lines closing it: END and REPORT, or the platform.report record.
    // `status` is REPORT's status part ("" on success, "Status: timeout", ...).
    struct Report {
        std::string request_id;
        double duration_ms = 0;
        long billed_ms = 0;
        int memory_mb = 0;
        long max_memory_mb = 0;
        std::optional<double> init_ms;
        std::string status;
    };
    std::string end(const Report& r, std::int64_t epoch_ms) const;
    // The function's output as Lambda keeps it: all of it in Text, in JSON
    // the lines at or above ApplicationLogLevel.
    std::string application(std::string text) const;

    bool json() const { return json_; }

private:
    bool json_ = false;
    int system_level_ = 2;       // INFO
    int application_level_ = 0;  // TRACE: everything
};

// A log level's rank (TRACE 0 … FATAL 5; Python's WARNING and CRITICAL too),
// -1 for a name that is none.
int log_level_rank(std::string_view name);

}  // namespace lamina::exec
