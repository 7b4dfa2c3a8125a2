#include "exec/platform_log.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace lamina;
using namespace lamina::exec;

namespace {

control::VersionConfig json_config(const char* system) {
    control::VersionConfig c;
    c.log_format = "JSON";
    c.system_log_level = system;
    return c;
}

std::vector<std::string> types(const std::string& lines) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < lines.size()) {
        std::size_t nl = lines.find('\n', at);
        out.push_back(nlohmann::json::parse(lines.substr(at, nl - at))["type"]);
        at = nl + 1;
    }
    return out;
}

PlatformLog::Report report() {
    return {"r1", 12.5, 13, 128, 30, std::nullopt, "Status: error\tError Type: Runtime.ExitError"};
}

}  // namespace

TEST(PlatformLog, InitAndInvokeRecordsFollowTheSystemLevel) {
    PlatformLog debug(json_config("DEBUG")), info(json_config("INFO")), warn(json_config("WARN"));
    EXPECT_EQ(types(debug.init_start("on-demand", 0)),
              std::vector<std::string>{"platform.initStart"});
    EXPECT_EQ(types(debug.init_done("on-demand", 5, 0)),
              (std::vector<std::string>{"platform.initRuntimeDone", "platform.initReport"}));
    EXPECT_EQ(types(info.init_done("on-demand", 5, 0)),
              std::vector<std::string>{"platform.initReport"});
    EXPECT_EQ(types(debug.end(report(), 0)),
              (std::vector<std::string>{"platform.runtimeDone", "platform.report"}));
    EXPECT_EQ(types(info.end(report(), 0)), std::vector<std::string>{"platform.report"});
    EXPECT_EQ(warn.init_start("on-demand", 0), "");
    EXPECT_EQ(warn.end(report(), 0), "");
}

TEST(PlatformLog, RestoreRecordsTakeTheInitRecordsPlace) {
    PlatformLog debug(json_config("DEBUG")), info(json_config("INFO")), warn(json_config("WARN"));
    runtime::records::RestoreStart rs{"fn", "1", "i", 128, "python:3.12", "arn"};
    EXPECT_EQ(types(info.restore_start(rs, 0)), std::vector<std::string>{"platform.restoreStart"});
    EXPECT_EQ(types(debug.restore_done("success", "", 5, 0)),
              (std::vector<std::string>{"platform.restoreRuntimeDone", "platform.restoreReport"}));
    EXPECT_EQ(types(info.restore_done("failure", "Runtime.AfterRestoreError", 5, 0)),
              std::vector<std::string>{"platform.restoreReport"});
    EXPECT_EQ(warn.restore_start(rs, 0), "");
    EXPECT_EQ(warn.restore_done("success", "", 5, 0), "");
    PlatformLog text{control::VersionConfig{}};
    EXPECT_EQ(text.restore_start(rs, 0), "");  // Text has RESTORE_START / RESTORE_REPORT lines
    EXPECT_EQ(text.restore_done("success", "", 5, 0), "");
}

TEST(PlatformLog, TextLogsHaveNoInitRecords) {
    PlatformLog text{control::VersionConfig{}};
    EXPECT_EQ(text.init_start("on-demand", 0), "");
    EXPECT_EQ(text.init_done("on-demand", 5, 0), "");
    EXPECT_EQ(text.end(report(), 0).substr(0, 18), "END RequestId: r1\n");
}

TEST(PlatformLog, ReportStatusBecomesTheRecordsStatus) {
    auto inv = PlatformLog::invoke_record(report());
    EXPECT_EQ(inv.status, "error");
    EXPECT_EQ(inv.error_type, "Runtime.ExitError");
    auto line = nlohmann::json::parse(PlatformLog(json_config("INFO")).end(report(), 0));
    EXPECT_EQ(line["record"]["status"], "error");
    EXPECT_EQ(line["record"]["errorType"], "Runtime.ExitError");
    EXPECT_EQ(PlatformLog::invoke_record({"r", 1, 1, 128, 1, std::nullopt, ""}).status, "success");
}
