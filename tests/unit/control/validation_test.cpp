#include "lamina/control/validation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using namespace lamina;
using namespace lamina::control;

namespace {

using Vars = std::vector<std::pair<std::string, std::string>>;

const char* const kRuntimeList =
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, "
    "python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, "
    "nodejs16.x, "
    "dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]";

}  // namespace

TEST(Validation, SupportedRuntimesAreAccepted) {
    for (const auto& r : supported_runtimes()) {
        EXPECT_TRUE(validate_runtime(r).has_value()) << r;
        EXPECT_FALSE(is_deprecated_runtime(r)) << r;
    }
    EXPECT_EQ(supported_runtimes().size(), 25u);
}

TEST(Validation, UnknownRuntimeQuotesTheEnumInAwsOrder) {
    // Recorded: CreateFunction with Runtime=PYTHON3.9 (the check is case-sensitive).
    for (std::string runtime : {"PYTHON3.9", "non-existent-runtime"}) {
        auto st = validate_runtime(runtime);
        ASSERT_FALSE(st.has_value()) << runtime;
        EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(st.error().message,
                  "Value " + runtime +
                      " at 'runtime' failed to satisfy constraint: Member must satisfy "
                      "enum value set: " +
                      kRuntimeList + " or be a valid ARN");
    }
}

TEST(Validation, DeprecatedRuntimeHasItsOwnMessage) {
    for (std::string runtime : {"java8", "nodejs14.x", "provided", "ruby2.7", "go1.x", "python3.7",
                                "dotnetcore3.1", "nodejs12.x"}) {
        EXPECT_TRUE(is_deprecated_runtime(runtime)) << runtime;
        auto st = validate_runtime(runtime);
        ASSERT_FALSE(st.has_value()) << runtime;
        EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(st.error().message,
                  "The runtime parameter of " + runtime +
                      " is no longer supported for creating or updating AWS Lambda functions. We "
                      "recommend "
                      "you use a supported runtime while creating or updating functions.");
    }
}

TEST(Validation, EnvironmentWithinFourKilobytesIsAccepted) {
    EXPECT_TRUE(validate_environment({}).has_value());
    // {"LARGE_VAR":"x...x"} is 16 bytes of framing: 4080 x's make exactly 4096.
    Vars at_limit = {{"LARGE_VAR", std::string(4080, 'x')}};
    EXPECT_TRUE(validate_environment(at_limit).has_value());
}

TEST(Validation, EnvironmentOverFourKilobytesQuotesCompactJson) {
    // Recorded: one 4081-byte value gives a 4097-byte measured string.
    std::string big(4081, 'x');
    auto st = validate_environment({{"LARGE_VAR", big}});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(st.error().message,
              "Lambda was unable to configure your environment variables because the environment "
              "variables "
              "you have provided exceeded the 4KB limit. String measured: {\"LARGE_VAR\":\"" +
                  big + "\"}");
}

TEST(Validation, EnvironmentMeasurementKeepsCallerOrder) {
    // Recorded: SMALL_VAR comes first even though it sorts after LARGE_VAR.
    std::string big(4064, 'x');
    auto st = validate_environment({{"SMALL_VAR", "ok"}, {"LARGE_VAR", big}});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(st.error().message,
              "Lambda was unable to configure your environment variables because the environment "
              "variables "
              "you have provided exceeded the 4KB limit. String measured: "
              "{\"SMALL_VAR\":\"ok\",\"LARGE_VAR\":\"" +
                  big + "\"}");
}

TEST(Validation, EnvironmentMeasurementEscapesLikeJson) {
    // A quote in a value is measured as \" (two bytes), so 4079 bytes of
    // payload plus one quote is already over the limit.
    std::string v(4079, 'x');
    v += '"';
    auto st = validate_environment({{"LARGE_VAR", v}});
    ASSERT_FALSE(st.has_value());
    EXPECT_NE(st.error().message.find("String measured: {\"LARGE_VAR\":\"" +
                                      std::string(4079, 'x') + "\\\"\"}"),
              std::string::npos);
}

TEST(Validation, ReservedKeysAreRefused) {
    for (std::string key : {"AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID",
                            "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API", "AWS_SESSION_TOKEN"}) {
        auto st = validate_environment({{"FINE", "1"}, {key, "x"}});
        ASSERT_FALSE(st.has_value()) << key;
        EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(st.error().message,
                  "Lambda was unable to configure your environment variables because the "
                  "environment variables "
                  "you have provided contains reserved keys that are currently not supported for "
                  "modification. "
                  "Reserved keys used in this request: " +
                      key);
    }
    // "_HANDLER" is reserved too, but the key pattern refuses it first.
    auto handler = validate_environment({{"_HANDLER", "x"}});
    ASSERT_FALSE(handler.has_value());
    EXPECT_EQ(handler.error().code, ErrorCode::Validation);
    // Not reserved: look-alikes and AWS_ keys outside the list.
    EXPECT_TRUE(validate_environment({{"AWS_REGION2", "x"}, {"MY_AWS_REGION", "x"}}).has_value());
}

TEST(Validation, EnvironmentKeysMustMatchPattern) {
    const std::string msg =
        "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys "
        "must satisfy constraint: [Member must satisfy regular expression pattern: "
        "[a-zA-Z]([a-zA-Z0-9_])+]";
    for (std::string key : {"1ABC", "_X", "A-B", "A.B", "", "A", "É1"}) {
        auto st = validate_environment({{key, "v"}});
        ASSERT_FALSE(st.has_value()) << "'" << key << "'";
        EXPECT_EQ(st.error().code, ErrorCode::Validation);
        EXPECT_EQ(st.error().message, msg);
    }
    for (std::string key : {"Ab", "a1", "A_B_C", "x_"})
        EXPECT_TRUE(validate_environment({{key, "v"}}).has_value()) << key;
}

TEST(Validation, LimitsMatchAws) {
    EXPECT_EQ(kMaxZippedCode, 50 * 1024 * 1024);
    EXPECT_EQ(kMaxUnzippedCode, 250 * 1024 * 1024);
    EXPECT_EQ(kTotalCodeStorage, 75LL * 1024 * 1024 * 1024);
    EXPECT_EQ(kMaxTags, 50);
}

TEST(Validation, ModelRangeItemsNameTheMemberAndTheBound) {
    ValidationErrors v;
    check_model_range(v, limits::kMemorySize, 64);
    check_model_range(v, limits::kMaximumEventAge, 21601);
    check_model_range(v, limits::kTimeout, 900000);  // no model bound: the service's check answers
    check_model_range(v, limits::kMemorySize, std::nullopt);
    check_model_range(v, limits::kMemorySize, 128);
    ASSERT_FALSE(v.empty());
    EXPECT_EQ(v.error().message,
              "2 validation errors detected: Value '64' at 'memorySize' failed to satisfy "
              "constraint: Member must "
              "have value greater than or equal to 128; Value '21601' at "
              "'maximumEventAgeInSeconds' failed to "
              "satisfy constraint: Member must have value less than or equal to 21600");
}

TEST(Validation, TheTableHoldsAwsLimitsAndDefaults) {
    // The API and the SAM deployer both read these rows: one place to be right.
    EXPECT_EQ(limits::kTimeout.max(), 900);
    EXPECT_EQ(limits::kTimeout.default_value, 3);
    EXPECT_EQ(limits::kMemorySize.model_max, 32768);
    EXPECT_EQ(limits::kMemorySize.max(), 10240);
    EXPECT_EQ(limits::kEphemeralStorage.model_min, 512);
    EXPECT_EQ(limits::kEphemeralStorage.max(), 10240);
    EXPECT_EQ(limits::kMaximumRetryAttempts.max(), 2);
    EXPECT_EQ(limits::kMaximumEventAge.model_min, 60);
    ValidationErrors v;
    check_length(v, "description", std::string(limits::kDescriptionLength, 'd'),
                 limits::kDescriptionLength);
    EXPECT_TRUE(v.empty());
    check_length(v, "description", std::string(limits::kDescriptionLength + 1, 'd'),
                 limits::kDescriptionLength);
    ASSERT_FALSE(v.empty());
    EXPECT_NE(v.error().message.find("Member must have length less than or equal to 256"),
              std::string::npos);
}

TEST(Validation, SnapStartOnPython312AndJava11AndLaterOnlyDotnetRefusedSayingWhy) {
    for (const char* r : {"python3.12", "python3.13", "python3.14", "java11", "java17", "java21"})
        EXPECT_TRUE(validate_snap_start(r).has_value()) << r;
    auto java8 = validate_snap_start("java8.al2");
    ASSERT_FALSE(java8.has_value());
    EXPECT_EQ(java8.error().code, lamina::ErrorCode::InvalidParameterValue);
    EXPECT_NE(java8.error().message.find("java8.al2 is not supported for SnapStart"),
              std::string::npos);
    auto dotnet = validate_snap_start("dotnet8");
    ASSERT_FALSE(dotnet.has_value());
    EXPECT_NE(dotnet.error().message.find(".NET"), std::string::npos);
    for (const char* r : {"python3.11", "nodejs22.x", "ruby3.3", "provided.al2023"}) {
        auto st = validate_snap_start(r);
        ASSERT_FALSE(st.has_value()) << r;
        EXPECT_EQ(st.error().message,
                  std::string(r) + " is not supported for SnapStart enabled functions.");
    }
}

namespace {
std::int64_t at(const char* date) { return *utc_date_ms(date); }
const char* const kNoLonger =
    " is no longer supported for creating or updating AWS Lambda functions. We recommend you use "
    "a supported runtime while creating or updating functions.";
}  // namespace

TEST(Validation, UtcDatesAreMidnightUtc) {
    EXPECT_EQ(at("2026-12-06"), 1796515200000);
    EXPECT_EQ(at("1970-01-02"), 86400000);
    for (const char* bad : {"2026-02-30", "2026-1-06", "20261206", "2026-12-0x", ""})
        EXPECT_FALSE(utc_date_ms(bad).has_value()) << bad;
}

TEST(Validation, RuntimeLifecycleRowsAreWellFormed) {
    for (const auto& row : runtime_lifecycles()) {
        ASSERT_TRUE(utc_date_ms(row.deprecated) && utc_date_ms(row.block_create) &&
                    utc_date_ms(row.block_update))
            << row.id;
        EXPECT_LE(at(row.block_create), at(row.block_update)) << row.id;
    }
    EXPECT_EQ(runtime_lifecycle("python3.13"), nullptr);  // no date in our sources
}

TEST(Validation, DeprecatedRuntimeIsAcceptedUntilItsBlockDates) {
    // python3.9: deprecated 2025-12-15, create blocked 2026-08-31, updates 2026-09-30
    EXPECT_FALSE(is_runtime_deprecated_at("python3.9", at("2025-12-14")));
    EXPECT_TRUE(is_runtime_deprecated_at("python3.9", at("2025-12-15")));
    const std::int64_t deprecated_only = at("2026-05-15");
    EXPECT_TRUE(check_runtime_lifecycle("python3.9", RuntimeUse::Create, deprecated_only));
    EXPECT_TRUE(check_runtime_lifecycle("python3.9", RuntimeUse::Update, deprecated_only));
    // the day before the create block, and the day of it
    EXPECT_TRUE(check_runtime_lifecycle("python3.9", RuntimeUse::Create, at("2026-08-31") - 1));
    auto create = check_runtime_lifecycle("python3.9", RuntimeUse::Create, at("2026-08-31"));
    ASSERT_FALSE(create);
    EXPECT_EQ(create.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(create.error().message,
              std::string("The runtime parameter of python3.9") + kNoLonger);
    // existing functions may still be updated for a month
    EXPECT_TRUE(check_runtime_lifecycle("python3.9", RuntimeUse::Update, at("2026-09-29")));
    EXPECT_FALSE(check_runtime_lifecycle("python3.9", RuntimeUse::Update, at("2026-09-30")));
}

TEST(Validation, RuntimesBlockedOnTheSixthOfDecember2026) {
    const std::int64_t today = at("2026-12-06");
    for (std::string r : {"python3.8", "python3.9", "nodejs16.x", "nodejs18.x", "nodejs20.x",
                          "dotnet6", "python3.7", "go1.x"}) {
        for (auto use : {RuntimeUse::Create, RuntimeUse::Update}) {
            auto st = check_runtime_lifecycle(r, use, today);
            ASSERT_FALSE(st) << r;
            EXPECT_EQ(st.error().message, "The runtime parameter of " + r + kNoLonger);
        }
    }
    for (std::string r : {"python3.12", "python3.14", "nodejs22.x", "nodejs24.x", "java21",
                          "ruby3.4", "provided.al2023", "dotnet10"}) {
        EXPECT_TRUE(check_runtime_lifecycle(r, RuntimeUse::Create, today)) << r;
        EXPECT_FALSE(is_runtime_deprecated_at(r, today)) << r;
    }
    // still in AWS's enum (botocore lists them), so not "deprecated" in the enum sense
    EXPECT_FALSE(is_deprecated_runtime("python3.9"));
    EXPECT_TRUE(is_deprecated_runtime("python3.7"));
}
