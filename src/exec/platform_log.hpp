#pragma once
// What LoggingConfig makes of an invocation's log: the platform's own lines
// (START / END / REPORT in Text; in JSON the Telemetry API's records, built by
// runtime/telemetry.hpp: platform.initStart, platform.initRuntimeDone and
// platform.initReport on a cold start, platform.restoreStart,
// platform.restoreRuntimeDone and platform.restoreReport on a SnapStart
// restore, platform.start, platform.runtimeDone,
// platform.report, kept or not by SystemLogLevel) and, in JSON, the
// function's lines filtered by ApplicationLogLevel as Lambda filters them (a
// line's "level", INFO when it has none).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lamina/control/model.hpp"
#include "lamina/runtime/telemetry.hpp"

namespace lamina::exec {

class PlatformLog {
public:
    // `tenant_id`: a tenant-isolated invocation's tenant, which JSON
    // platform.start and platform.report records carry as record.tenantId.
    explicit PlatformLog(const control::VersionConfig& c, std::string tenant_id = {});

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
        std::optional<double> restore_ms;  // SnapStart: a restored environment's first
    };
    // (In JSON: platform.runtimeDone at DEBUG, then platform.report.)
    std::string end(const Report& r, std::int64_t epoch_ms) const;
    // The report as the Telemetry API's records see it (REPORT's status part
    // as status and errorType).
    static runtime::records::Invoke invoke_record(const Report& r);
    // A cold start's records (JSON only): platform.initStart; then
    // platform.initRuntimeDone (DEBUG) and platform.initReport.
    std::string init_start(const std::string& init_type, std::int64_t epoch_ms) const;
    std::string init_done(const std::string& init_type, double duration_ms,
                          std::int64_t epoch_ms) const;
    // A restored (SnapStart) environment's records in their place (JSON only):
    // platform.restoreStart; then platform.restoreRuntimeDone (DEBUG) and
    // platform.restoreReport, with `status` success, failure or timeout.
    std::string restore_start(const runtime::records::RestoreStart& r, std::int64_t epoch_ms) const;
    std::string restore_done(const std::string& status, const std::string& error_type,
                             double duration_ms, std::int64_t epoch_ms) const;
    // The function's output as Lambda keeps it: all of it in Text, in JSON
    // the lines at or above ApplicationLogLevel.
    std::string application(std::string text) const;

    bool json() const { return json_; }
    // A platform.start / platform.report record with the invocation's tenant
    // (record.tenantId), as the Telemetry API delivers it for tenant isolation.
    runtime::records::Json tagged(runtime::records::Json record) const;

private:
    bool json_ = false;
    std::string tenant_id_;
    int system_level_ = 2;       // INFO
    int application_level_ = 0;  // TRACE: everything
};

// A log level's rank (TRACE 0 … FATAL 5; Python's WARNING and CRITICAL too),
// -1 for a name that is none.
int log_level_rank(std::string_view name);

}  // namespace lamina::exec
