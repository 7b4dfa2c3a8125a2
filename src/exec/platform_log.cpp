#include "platform_log.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lamina/common/clock.hpp"

namespace lamina::exec {

namespace {

constexpr int kDebug = 1;
constexpr int kInfo = 2;

std::string format_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ms);
    return buf;
}

// A platform record as one line of a JSON log.
std::string line_of(const runtime::records::Json& event) { return event.dump() + "\n"; }

// Reads a JSON text without building it: validity, and the string value of
// the top-level "level" key if there is one (a DOM per printed line was most
// of JSON logging's cost on the invoke path).
class LevelScan : public nlohmann::json_sax<nlohmann::json> {
public:
    std::optional<std::string> level;

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t& s) override {
        bool is_level = depth_ == 1 && level_key_;
        level_key_ = false;
        if (is_level) level = std::move(s);
        return true;
    }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return open(); }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(); }
    bool end_array() override { return close(); }
    bool key(string_t& k) override {
        level_key_ = depth_ == 1 && k == "level";
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

private:
    bool value() {
        if (depth_ == 1 && level_key_) level.reset();  // the last "level" is not a string
        level_key_ = false;
        return true;
    }
    bool open() {
        if (depth_ == 1 && level_key_) level.reset();
        level_key_ = false;
        ++depth_;
        return true;
    }
    bool close() {
        --depth_;
        return true;
    }
    int depth_ = 0;
    bool level_key_ = false;
};

// The level of one line of a function's JSON log: its "level", INFO without one.
int line_level(std::string_view line) {
    std::size_t i = line.find_first_not_of(" \t");
    if (i == std::string_view::npos || line[i] != '{') return kInfo;
    // no "level" key to read (unless spelled with escapes)
    if (line.find("\"level\"", i) == std::string_view::npos &&
        line.find('\\', i) == std::string_view::npos)
        return kInfo;
    LevelScan scan;
    if (!nlohmann::json::sax_parse(line, &scan) || !scan.level) return kInfo;
    int rank = log_level_rank(*scan.level);
    return rank < 0 ? kInfo : rank;
}

}  // namespace

int log_level_rank(std::string_view name) {
    std::string upper(name);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "TRACE") return 0;
    if (upper == "DEBUG") return 1;
    if (upper == "INFO") return 2;
    if (upper == "WARN" || upper == "WARNING") return 3;
    if (upper == "ERROR") return 4;
    if (upper == "FATAL" || upper == "CRITICAL") return 5;
    return -1;
}

PlatformLog::PlatformLog(const control::VersionConfig& c, std::string tenant_id)
    : json_(c.log_format == "JSON"), tenant_id_(std::move(tenant_id)) {
    if (!json_) return;
    if (c.system_log_level) system_level_ = std::max(0, log_level_rank(*c.system_log_level));
    if (c.application_log_level)
        application_level_ = std::max(0, log_level_rank(*c.application_log_level));
}

std::string PlatformLog::start(const std::string& request_id, const std::string& version,
                               std::int64_t epoch_ms) const {
    if (!json_) return "START RequestId: " + request_id + " Version: " + version + "\n";
    if (system_level_ > kInfo) return "";
    return line_of(tagged(runtime::records::start(epoch_ms, request_id, version, "")));
}

std::string PlatformLog::init_start(const std::string& init_type, std::int64_t epoch_ms) const {
    if (!json_ || system_level_ > kInfo) return "";
    return line_of(runtime::records::init_start(epoch_ms, init_type));
}

std::string PlatformLog::init_done(const std::string& init_type, double duration_ms,
                                   std::int64_t epoch_ms) const {
    if (!json_ || system_level_ > kInfo) return "";
    std::string out;
    if (system_level_ <= kDebug)
        out = line_of(runtime::records::init_runtime_done(epoch_ms, init_type, "success", ""));
    return out +
           line_of(runtime::records::init_report(epoch_ms, init_type, "success", "", duration_ms));
}

std::string PlatformLog::restore_start(const runtime::records::RestoreStart& r,
                                       std::int64_t epoch_ms) const {
    if (!json_ || system_level_ > kInfo) return "";
    return line_of(runtime::records::restore_start(epoch_ms, r));
}

std::string PlatformLog::restore_done(const std::string& status, const std::string& error_type,
                                      double duration_ms, std::int64_t epoch_ms) const {
    if (!json_ || system_level_ > kInfo) return "";
    std::string out;
    if (system_level_ <= kDebug)
        out = line_of(runtime::records::restore_runtime_done(epoch_ms, status, error_type));
    return out +
           line_of(runtime::records::restore_report(epoch_ms, status, error_type, duration_ms));
}

runtime::records::Json PlatformLog::tagged(runtime::records::Json record) const {
    if (!tenant_id_.empty()) record["record"]["tenantId"] = tenant_id_;
    return record;
}

runtime::records::Invoke PlatformLog::invoke_record(const Report& r) {
    runtime::records::Invoke inv;
    inv.request_id = r.request_id;
    // REPORT's "Status: timeout\tError Type: X" as the record's status and errorType
    if (auto s = r.status.find("Status: "); s != std::string::npos) {
        inv.status = r.status.substr(s + 8, r.status.find('\t', s) - (s + 8));
        if (auto e = r.status.find("Error Type: "); e != std::string::npos)
            inv.error_type = r.status.substr(e + 12);
    }
    inv.duration_ms = r.duration_ms;
    inv.billed_ms = r.billed_ms;
    inv.memory_mb = r.memory_mb;
    inv.max_memory_mb = r.max_memory_mb;
    inv.init_ms = r.init_ms;
    inv.restore_ms = r.restore_ms;
    return inv;
}

std::string PlatformLog::end(const Report& r, std::int64_t epoch_ms) const {
    if (!json_) {
        std::string report = "REPORT RequestId: " + r.request_id +
                             "\tDuration: " + format_ms(r.duration_ms) +
                             " ms\tBilled Duration: " + std::to_string(r.billed_ms) +
                             " ms\tMemory Size: " + std::to_string(r.memory_mb) +
                             " MB\tMax Memory Used: " + std::to_string(r.max_memory_mb) + " MB\t";
        if (r.init_ms) report += "Init Duration: " + format_ms(*r.init_ms) + " ms\t";
        if (r.restore_ms)
            report += "Restore Duration: " + format_ms(*r.restore_ms) +
                      " ms\tBilled Restore Duration: " +
                      std::to_string(static_cast<long>(std::ceil(*r.restore_ms))) + " ms\t";
        return "END RequestId: " + r.request_id + "\n" + report + r.status + "\n";
    }
    if (system_level_ > kInfo) return "";
    auto inv = invoke_record(r);
    std::string out;
    if (system_level_ <= kDebug) out = line_of(runtime::records::runtime_done(epoch_ms, inv));
    return out + line_of(tagged(runtime::records::report(epoch_ms, inv)));
}

std::string PlatformLog::application(std::string text) const {
    if (!json_ || application_level_ == 0 || text.empty()) return text;
    std::string kept;
    kept.reserve(text.size());
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
        std::string_view line(text.data() + at, end - at);
        if (line_level(line.substr(0, line.size() - (nl == std::string::npos ? 0 : 1))) >=
            application_level_)
            kept.append(line);
        at = end;
    }
    return kept;
}

}  // namespace lamina::exec
