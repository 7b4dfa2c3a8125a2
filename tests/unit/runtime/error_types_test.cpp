#include "lamina/runtime/error_types.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

namespace rt = lamina::runtime;

namespace {

TEST(ErrorTypes, NamesRoundTrip) {
    for (auto t : {rt::ErrorType::RuntimeExitError, rt::ErrorType::RuntimeOutOfMemory,
                   rt::ErrorType::RuntimeUnavailable, rt::ErrorType::RuntimeInvalidEntrypoint,
                   rt::ErrorType::SandboxTimedout, rt::ErrorType::ExtensionCrash,
                   rt::ErrorType::ExtensionInitError})
        EXPECT_EQ(rt::parse_error_type(rt::to_string(t)), t) << rt::to_string(t);
    EXPECT_EQ(rt::to_string(rt::ErrorType::SandboxTimedout), "Sandbox.Timedout");  // AWS's spelling
    EXPECT_FALSE(rt::parse_error_type("ValueError").has_value())
        << "a function's own error type is not the platform's";
}

TEST(ErrorTypes, PayloadIsAwsShapedAndEscaped) {
    rt::PlatformError e{rt::ErrorType::RuntimeUnavailable, "say \"hi\"\n"};
    EXPECT_EQ(e.payload(), R"({"errorType":"Runtime.Unavailable","errorMessage":"say \"hi\"\n"})");
    auto j = nlohmann::json::parse(e.payload());
    EXPECT_EQ(j["errorMessage"], "say \"hi\"\n");
}

TEST(ErrorTypes, AwsWording) {
    EXPECT_EQ(rt::timed_out("r1", 3).message,
              "RequestId: r1 Error: Task timed out after 3.00 seconds");
    EXPECT_EQ(rt::timed_out("r1", 3).report_status(), "Status: timeout");
    EXPECT_EQ(rt::exit_error("r1", 0, 0).message,
              "RequestId: r1 Error: Runtime exited without providing a reason");
    EXPECT_EQ(rt::exit_error("r1", 2, 0).message,
              "RequestId: r1 Error: Runtime exited with error: exit status 2");
    EXPECT_EQ(rt::exit_error("r1", 0, SIGKILL).message,
              "RequestId: r1 Error: Runtime exited with error: signal: killed");
    EXPECT_EQ(rt::exit_error("r1", 0, SIGKILL).report_status(),
              "Status: error\tError Type: Runtime.ExitError");
    EXPECT_EQ(rt::out_of_memory("r1").message,
              "RequestId: r1 Error: Runtime exited with error: signal: killed");
    EXPECT_EQ(rt::out_of_memory("r1").report_status(),
              "Status: error\tError Type: Runtime.OutOfMemory");
    EXPECT_EQ(rt::invalid_entrypoint("r1").message,
              "RequestId: r1 Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap "
              "/opt/bootstrap]");
    EXPECT_TRUE(rt::is_extension_error(rt::ErrorType::ExtensionCrash));
    EXPECT_FALSE(rt::is_extension_error(rt::ErrorType::RuntimeExitError));
}

}  // namespace
