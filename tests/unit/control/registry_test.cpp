#include "lamina/control/registry.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lamina/common/encoding.hpp"
#include "lamina/store/blob_store.hpp"
#include "registry_fixture.hpp"

using namespace lamina;
using namespace lamina::control;
using nlohmann::json;

// ---- create --------------------------------------------------------------------------

TEST_F(FunctionRegistry, CreateAppliesAwsDefaults) {
    auto in = input("my-fn");
    auto view = reg_->create_function(kScope, in);
    ASSERT_TRUE(view.has_value()) << err(view);
    const VersionConfig& c = get("my-fn").config;
    EXPECT_EQ(c.version, "$LATEST");
    EXPECT_EQ(c.description, "");
    EXPECT_EQ(c.timeout, 3);
    EXPECT_EQ(c.memory_size, 128);
    EXPECT_EQ(c.ephemeral_storage, 512);
    EXPECT_EQ(c.architecture, "x86_64");
    EXPECT_EQ(c.package_type, "Zip");
    EXPECT_EQ(c.tracing_mode, "PassThrough");
    EXPECT_EQ(c.log_format, "Text");
    EXPECT_EQ(c.log_group, "/aws/lambda/my-fn");
    EXPECT_EQ(c.snap_start_apply_on, "None");
    EXPECT_FALSE(c.environment.has_value());
    EXPECT_TRUE(c.layers.empty());
    EXPECT_EQ(c.runtime, "python3.12");
    EXPECT_EQ(c.handler, "index.handler");
    EXPECT_EQ(c.role, kRole);
    EXPECT_EQ(c.code_sha256, in.code.sha256_b64);
    EXPECT_EQ(c.code_blob, in.code.sha256_hex);
    EXPECT_EQ(c.code_size, static_cast<std::int64_t>(std::string("zip-bytes-1").size()));
    EXPECT_EQ(c.unzipped_size, 1000);
    EXPECT_EQ(c.last_modified_ms, clock_.now_ms());
    EXPECT_EQ(c.runtime_version_arn, Registry::runtime_version_arn("us-east-1", "python3.12"));
    EXPECT_EQ(c.runtime_version_arn.rfind("arn:aws:lambda:us-east-1::runtime:", 0), 0u);
    EXPECT_EQ(c.runtime_version_arn.size(),
              std::string("arn:aws:lambda:us-east-1::runtime:").size() + 64);
}

TEST_F(FunctionRegistry, CreateAnswersPendingButStoresActiveWithNewRevision) {
    auto view = reg_->create_function(kScope, input("f"));
    ASSERT_TRUE(view.has_value()) << err(view);
    EXPECT_EQ(view->phase, Phase::Creating);
    EXPECT_EQ(view->arn_qualifier, "");
    auto stored = get("f");
    EXPECT_EQ(stored.phase, Phase::Steady);
    EXPECT_FALSE(view->config.revision_id.empty());
    EXPECT_FALSE(stored.config.revision_id.empty());
    // AWS replaces the RevisionId when the function turns Active.
    EXPECT_NE(view->config.revision_id, stored.config.revision_id);
}

TEST_F(FunctionRegistry, CreateRejectsDuplicateName) {
    create("f");
    auto again = reg_->create_function(kScope, input("f"));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(again.error().message, "Function already exist: f");
    // Same name in another region is a different function.
    EXPECT_TRUE(reg_->create_function(Scope{"123456789012", "eu-west-1"}, input("f")).has_value());
}

TEST_F(FunctionRegistry, CreateRejectsNameLongerThan64) {
    std::string name(65, 'a');
    auto r = reg_->create_function(kScope, input(name));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message,
              "1 validation error detected: Value '" + name +
                  "' at 'functionName' failed to satisfy constraint: Member must have "
                  "length less than or equal to 64");
    EXPECT_TRUE(reg_->create_function(kScope, input(std::string(64, 'a'))).has_value());
    EXPECT_EQ(reg_->total_functions(), 1u);
}

TEST_F(FunctionRegistry, CreateNeedsRuntimeAndHandlerAndAValidRuntime) {
    const std::string mandatory =
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages.";
    auto no_handler = input("f");
    no_handler.settings.handler.reset();
    auto r1 = reg_->create_function(kScope, no_handler);
    ASSERT_FALSE(r1.has_value());
    EXPECT_EQ(r1.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r1.error().message, mandatory);

    auto no_runtime = input("f");
    no_runtime.settings.runtime.reset();
    auto r2 = reg_->create_function(kScope, no_runtime);
    ASSERT_FALSE(r2.has_value());
    EXPECT_EQ(r2.error().message, mandatory);

    auto deprecated = input("f");
    deprecated.settings.runtime = "python2.7";
    auto r3 = reg_->create_function(kScope, deprecated);
    ASSERT_FALSE(r3.has_value());
    EXPECT_NE(r3.error().message.find("The runtime parameter of python2.7 is no longer supported"),
              std::string::npos);
    EXPECT_EQ(reg_->total_functions(), 0u);
}

TEST_F(FunctionRegistry, CreateRejectsMoreThan50Tags) {
    auto in = input("f");
    for (int i = 0; i < 51; ++i) in.tags["k" + std::to_string(i)] = "v";
    auto r = reg_->create_function(kScope, in);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message, "Number of tags exceeds resource tag limit.");
    EXPECT_EQ(reg_->total_functions(), 0u);
}

TEST_F(FunctionRegistry, CreateWithPublishReturnsVersionOneUnqualified) {
    auto in = input("f");
    in.publish = true;
    auto r = reg_->create_function(kScope, in);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->config.version, "1");
    EXPECT_EQ(r->arn_qualifier, "");
    EXPECT_EQ(get("f", "1").config.version, "1");
    // Nothing changed since: publishing again returns version 1.
    EXPECT_EQ(publish("f"), "1");
}

TEST_F(FunctionRegistry, GetUnknownFunctionOrQualifierIs404) {
    auto missing = reg_->get_function(kScope, ref("nope"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(missing.error().message, "Function not found: " + kArn + "nope");

    create("f");
    auto version = reg_->get_function(kScope, ref("f", "1221"));
    ASSERT_FALSE(version.has_value());
    EXPECT_EQ(version.error().message, "Function not found: " + kArn + "f:1221");
    auto lower_latest = reg_->get_function(kScope, ref("f", "$latest"));
    ASSERT_FALSE(lower_latest.has_value());
    EXPECT_EQ(lower_latest.error().message, "Function not found: " + kArn + "f:$latest");

    auto latest = reg_->get_function(kScope, ref("f", "$LATEST"));
    ASSERT_TRUE(latest.has_value()) << err(latest);
    EXPECT_EQ(latest->view.arn_qualifier, "$LATEST");
}

// ---- versions ------------------------------------------------------------------------

TEST_F(FunctionRegistry, PublishNumbersVersionsFromOne) {
    create("f");
    auto v1 = reg_->publish_version(kScope, ref("f"), std::nullopt, std::nullopt, std::nullopt);
    ASSERT_TRUE(v1.has_value()) << err(v1);
    EXPECT_EQ(v1->config.version, "1");
    EXPECT_EQ(v1->arn_qualifier, "1");
    change("f", "second");
    EXPECT_EQ(publish("f"), "2");
    EXPECT_EQ(get("f", "1").config.description, "");
    EXPECT_EQ(get("f", "2").config.description, "second");
}

TEST_F(FunctionRegistry, PublishFreezesConfiguration) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    FunctionSettings s;
    s.memory_size = 1024;
    s.environment = std::map<std::string, std::string>{{"A", "b"}};
    ASSERT_TRUE(reg_->update_function_configuration(kScope, ref("f"), s, std::nullopt).has_value());
    EXPECT_EQ(get("f", "1").config.memory_size, 128);
    EXPECT_FALSE(get("f", "1").config.environment.has_value());
    EXPECT_EQ(get("f").config.memory_size, 1024);
}

TEST_F(FunctionRegistry, RepublishWithoutChangesReturnsNewestVersion) {
    create("f");
    ASSERT_EQ(publish("f", "first"), "1");
    auto again =
        reg_->publish_version(kScope, ref("f"), std::nullopt, std::string("another"), std::nullopt);
    ASSERT_TRUE(again.has_value()) << err(again);
    EXPECT_EQ(again->config.version, "1");
    EXPECT_EQ(again->config.description, "first");
    auto versions = reg_->list_versions(kScope, ref("f"), Page{});
    ASSERT_TRUE(versions.has_value());
    EXPECT_EQ(versions->first.size(), 2u);  // $LATEST and 1
}

// Recorded: TestLambdaVersions::test_version_lifecycle publishes version 2
// after an UpdateFunctionConfiguration that changed only the Description.
TEST_F(FunctionRegistry, DescriptionOnlyUpdateThenPublishMakesANewVersion) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    FunctionSettings s;
    s.description = "Second version :))";
    ASSERT_TRUE(reg_->update_function_configuration(kScope, ref("f"), s, std::nullopt).has_value());
    EXPECT_EQ(publish("f"), "2");
}

TEST_F(FunctionRegistry, PublishDescriptionDefaultsToLatest) {
    auto in = input("f");
    in.settings.description = "from latest";
    ASSERT_TRUE(reg_->create_function(kScope, in).has_value());
    ASSERT_EQ(publish("f"), "1");
    EXPECT_EQ(get("f", "1").config.description, "from latest");

    FunctionSettings s;
    s.timeout = 10;
    ASSERT_TRUE(reg_->update_function_configuration(kScope, ref("f"), s, std::nullopt).has_value());
    ASSERT_EQ(publish("f", "only v2"), "2");
    EXPECT_EQ(get("f", "2").config.description, "only v2");
    EXPECT_EQ(get("f").config.description, "from latest");
}

TEST_F(FunctionRegistry, PublishChecksCodeSha256) {
    create("f");
    const std::string actual = get("f").config.code_sha256;
    auto r = reg_->publish_version(kScope, ref("f"), std::string("somenonexistentsha256"),
                                   std::nullopt, std::nullopt);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message,
              "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in "
              "$LATEST (" +
                  actual + "). Please try again with the CodeSHA256 in $LATEST.");
    auto ok = reg_->publish_version(kScope, ref("f"), actual, std::nullopt, std::nullopt);
    ASSERT_TRUE(ok.has_value()) << err(ok);
    EXPECT_EQ(ok->config.version, "1");
}

TEST_F(FunctionRegistry, PublishChecksRevisionIdAndReplacesLatestRevision) {
    create("f");
    const std::string before = get("f").config.revision_id;
    auto stale =
        reg_->publish_version(kScope, ref("f"), std::nullopt, std::nullopt, std::string("stale"));
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(stale.error().message,
              "The Revision Id provided does not match the latest Revision Id. Call the "
              "GetFunction/GetAlias API to retrieve the latest Revision Id");
    auto ok = reg_->publish_version(kScope, ref("f"), std::nullopt, std::nullopt, before);
    ASSERT_TRUE(ok.has_value()) << err(ok);
    const std::string after = get("f").config.revision_id;
    EXPECT_NE(after, before);
    EXPECT_NE(ok->config.revision_id, after);
    EXPECT_NE(ok->config.revision_id, before);
}

TEST_F(FunctionRegistry, VersionNumbersAreNeverReused) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    change("f", "two");
    ASSERT_EQ(publish("f"), "2");
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f", "2")).has_value());
    change("f", "three");
    EXPECT_EQ(publish("f"), "3");
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f", "3")).has_value());
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f", "1")).has_value());
    change("f", "four");
    EXPECT_EQ(publish("f"), "4");
}

TEST_F(FunctionRegistry, ListVersionsPaginatesEveryRowOnce) {
    create("f");
    for (int i = 1; i <= 11; ++i) {
        change("f", "d" + std::to_string(i));
        ASSERT_EQ(publish("f"), std::to_string(i));
    }
    std::vector<std::string> seen;
    Page page;
    page.max_items = 4;
    int pages = 0;
    while (true) {
        auto r = reg_->list_versions(kScope, ref("f"), page);
        ASSERT_TRUE(r.has_value()) << err(r);
        ++pages;
        ASSERT_LE(r->first.size(), 4u);
        for (const auto& v : r->first) seen.push_back(v.config.version);
        if (!r->second) break;
        page.marker = r->second;
        ASSERT_LT(pages, 10);
    }
    EXPECT_EQ(pages, 3);
    std::vector<std::string> want = {"$LATEST", "1", "2", "3", "4",  "5",
                                     "6",       "7", "8", "9", "10", "11"};
    EXPECT_EQ(seen, want);
}

// ---- updates -------------------------------------------------------------------------

TEST_F(FunctionRegistry, UpdateCodeChecksRevisionAndReportsUpdating) {
    create("f");
    const std::string rev = get("f").config.revision_id;
    UpdateCodeInput stale;
    stale.code = code("zip-bytes-2");
    stale.revision_id = "not-the-revision";
    auto r = reg_->update_function_code(kScope, ref("f"), stale);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(get("f").config.code_blob, to_hex(sha256("zip-bytes-1")));

    clock_.advance(5000);
    UpdateCodeInput in;
    in.code = code("zip-bytes-2", 2222);
    in.revision_id = rev;
    auto ok = reg_->update_function_code(kScope, ref("f"), in);
    ASSERT_TRUE(ok.has_value()) << err(ok);
    EXPECT_EQ(ok->phase, Phase::Updating);
    EXPECT_EQ(ok->config.code_sha256, in.code.sha256_b64);
    auto stored = get("f").config;
    EXPECT_EQ(stored.code_blob, in.code.sha256_hex);
    EXPECT_EQ(stored.unzipped_size, 2222);
    EXPECT_EQ(stored.last_modified_ms, clock_.now_ms());
    EXPECT_NE(stored.revision_id, rev);
    EXPECT_NE(ok->config.revision_id,
              stored.revision_id);  // InProgress -> Successful replaces it again
}

TEST_F(FunctionRegistry, UpdateCodeDryRunChangesNothing) {
    create("f");
    auto before = get("f").config;
    UpdateCodeInput in;
    in.code = code("zip-bytes-2");
    in.dry_run = true;
    auto r = reg_->update_function_code(kScope, ref("f"), in);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->config.code_sha256, in.code.sha256_b64);
    auto after = get("f").config;
    EXPECT_EQ(after.code_sha256, before.code_sha256);
    EXPECT_EQ(after.revision_id, before.revision_id);
}

TEST_F(FunctionRegistry, UpdateCodeWithPublishReturnsTheNewVersion) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    UpdateCodeInput in;
    in.code = code("zip-bytes-2");
    in.publish = true;
    auto r = reg_->update_function_code(kScope, ref("f"), in);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->config.version, "2");
    EXPECT_EQ(r->arn_qualifier, "2");
    EXPECT_EQ(get("f", "2").config.code_sha256, in.code.sha256_b64);
    EXPECT_EQ(get("f", "1").config.code_sha256, code("zip-bytes-1").sha256_b64);

    // Same code again with Publish: nothing new.
    auto again = reg_->update_function_code(kScope, ref("f"), in);
    ASSERT_TRUE(again.has_value()) << err(again);
    EXPECT_EQ(again->config.version, "2");
}

TEST_F(FunctionRegistry, UpdateConfigurationKeepsUnsetFieldsAndChecksRevision) {
    auto in = input("f");
    in.settings.description = "keep me";
    in.settings.environment = std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}};
    ASSERT_TRUE(reg_->create_function(kScope, in).has_value());
    const std::string rev = get("f").config.revision_id;

    FunctionSettings s;
    s.memory_size = 512;
    auto stale = reg_->update_function_configuration(kScope, ref("f"), s, std::string("stale"));
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(get("f").config.memory_size, 128);

    s.environment = std::map<std::string, std::string>{{"C", "3"}};
    auto ok = reg_->update_function_configuration(kScope, ref("f"), s, rev);
    ASSERT_TRUE(ok.has_value()) << err(ok);
    EXPECT_EQ(ok->phase, Phase::Updating);
    auto c = get("f").config;
    EXPECT_EQ(c.memory_size, 512);
    EXPECT_EQ(c.description, "keep me");
    EXPECT_EQ(c.handler, "index.handler");
    // Environment is replaced wholesale, not merged.
    EXPECT_EQ(c.environment, (std::map<std::string, std::string>{{"C", "3"}}));
    EXPECT_NE(c.revision_id, rev);
    EXPECT_NE(ok->config.revision_id, c.revision_id);

    FunctionSettings bad;
    bad.runtime = "nodejs12.x";
    auto refused = reg_->update_function_configuration(kScope, ref("f"), bad, std::nullopt);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(get("f").config.runtime, "python3.12");
}

TEST_F(FunctionRegistry, UpdatesOnMissingFunctionAre404) {
    auto a =
        reg_->update_function_configuration(kScope, ref("nope"), FunctionSettings{}, std::nullopt);
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(a.error().message, "Function not found: " + kArn + "nope");
    UpdateCodeInput in;
    in.code = code("x");
    auto b = reg_->update_function_code(kScope, ref("nope"), in);
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(b.error().code, ErrorCode::ResourceNotFound);
}

// ---- aliases -------------------------------------------------------------------------

TEST_F(FunctionRegistry, AliasLifecycle) {
    make_three_versions();
    auto created = alias("live", "1");
    ASSERT_TRUE(created.has_value()) << err(created);
    EXPECT_EQ(created->alias.name, "live");
    EXPECT_EQ(created->alias.function_version, "1");
    EXPECT_EQ(created->alias.description, "");
    EXPECT_TRUE(created->alias.additional_weights.empty());
    EXPECT_FALSE(created->alias.revision_id.empty());

    auto got = reg_->get_alias(kScope, ref("f"), "live");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->alias.revision_id, created->alias.revision_id);
    // The alias resolves to its version's configuration.
    EXPECT_EQ(get("f", "live").config.version, "1");

    AliasInput stale;
    stale.function_version = "2";
    stale.revision_id = "stale";
    auto refused = reg_->update_alias(kScope, ref("f"), "live", stale);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::PreconditionFailed);

    AliasInput upd;
    upd.function_version = "2";
    upd.description = "now two";
    upd.revision_id = created->alias.revision_id;
    auto updated = reg_->update_alias(kScope, ref("f"), "live", upd);
    ASSERT_TRUE(updated.has_value()) << err(updated);
    EXPECT_EQ(updated->alias.function_version, "2");
    EXPECT_EQ(updated->alias.description, "now two");
    EXPECT_NE(updated->alias.revision_id, created->alias.revision_id);
    EXPECT_EQ(get("f", "live").config.version, "2");

    ASSERT_TRUE(reg_->delete_alias(kScope, ref("f"), "live").has_value());
    auto gone = reg_->get_alias(kScope, ref("f"), "live");
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(gone.error().message, "Cannot find alias arn: " + kArn + "f:live");
    // DeleteAlias of a missing alias succeeds, as on AWS.
    EXPECT_TRUE(reg_->delete_alias(kScope, ref("f"), "live").has_value());
}

TEST_F(FunctionRegistry, AliasErrors) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    auto dup = alias("live", "2");
    ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(dup.error().message, "Alias already exists: " + kArn + "f:live");

    auto missing_version = alias("other", "9");
    ASSERT_FALSE(missing_version.has_value());
    EXPECT_EQ(missing_version.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(missing_version.error().message, "Function not found: " + kArn + "f:9");

    AliasInput in;
    in.function_version = "1";
    auto upd = reg_->update_alias(kScope, ref("f"), "non-existent", in);
    ASSERT_FALSE(upd.has_value());
    EXPECT_EQ(upd.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(upd.error().message, "Alias not found: " + kArn + "f:non-existent");

    AliasInput in_missing;
    in_missing.function_version = "1";
    auto missing_fn = reg_->create_alias(kScope, ref("nope"), "live", in_missing);
    ASSERT_FALSE(missing_fn.has_value());
    EXPECT_EQ(missing_fn.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(missing_fn.error().message, "Function not found: " + kArn + "nope:1");

    auto to_latest = alias("edge", "$LATEST");
    ASSERT_TRUE(to_latest.has_value()) << err(to_latest);
    EXPECT_EQ(get("f", "edge").config.version, "$LATEST");
}

TEST_F(FunctionRegistry, AliasRoutingRules) {
    make_three_versions();
    struct Case {
        std::string name, primary;
        std::map<std::string, double> weights;
        ErrorCode code;
        std::string message;
    };
    const std::string value_constraint =
        "' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value "
        "must satisfy "
        "constraint: [Member must have value less than or equal to 1.0, Member must have value "
        "greater than or "
        "equal to 0.0, Member must not be null]";
    const Case cases[] = {
        {"two",
         "1",
         {{"2", 0.5}, {"3", 0.1}},
         ErrorCode::InvalidParameterValue,
         "Number of items in AdditionalVersionWeights cannot be greater than 1"},
        {"over",
         "1",
         {{"2", 2.0}},
         ErrorCode::Validation,
         "1 validation error detected: Value '{2=2.0}" + value_constraint},
        {"under",
         "1",
         {{"2", -1.0}},
         ErrorCode::Validation,
         "1 validation error detected: Value '{2=-1.0}" + value_constraint},
        {"same",
         "1",
         {{"1", 0.5}},
         ErrorCode::InvalidParameterValue,
         "Invalid function version 1. Function version 1 is already included in routing "
         "configuration."},
        {"latest",
         "$LATEST",
         {{"1", 0.5}},
         ErrorCode::InvalidParameterValue,
         "$LATEST is not supported for an alias pointing to more than 1 version"},
        {"key",
         "1",
         {{"$LATEST", 0.5}},
         ErrorCode::Validation,
         "1 validation error detected: Value '{$LATEST=0.5}' at "
         "'routingConfig.additionalVersionWeights' "
         "failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length "
         "less than or "
         "equal to 1024, Member must have length greater than or equal to 1, Member must satisfy "
         "regular "
         "expression pattern: [0-9]+]"},
        {"gone",
         "1",
         {{"9", 0.5}},
         ErrorCode::ResourceNotFound,
         "Function not found: " + kArn + "f:9"},
    };
    for (const auto& c : cases) {
        auto r = alias(c.name, c.primary, c.weights);
        ASSERT_FALSE(r.has_value()) << c.name;
        EXPECT_EQ(r.error().code, c.code) << c.name;
        EXPECT_EQ(r.error().message, c.message) << c.name;
        EXPECT_FALSE(reg_->get_alias(kScope, ref("f"), c.name).has_value()) << c.name;
    }

    auto ok = alias("canary", "1", std::map<std::string, double>{{"2", 0.25}});
    ASSERT_TRUE(ok.has_value()) << err(ok);
    EXPECT_EQ(ok->alias.additional_weights, (std::map<std::string, double>{{"2", 0.25}}));
    for (double edge : {0.0, 1.0}) {
        AliasInput in;
        in.weights = std::map<std::string, double>{{"3", edge}};
        EXPECT_TRUE(reg_->update_alias(kScope, ref("f"), "canary", in).has_value()) << edge;
    }

    // UpdateAlias applies the same rules to the merged alias.
    AliasInput to_latest;
    to_latest.function_version = "$LATEST";
    auto r = reg_->update_alias(kScope, ref("f"), "canary", to_latest);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message,
              "$LATEST is not supported for an alias pointing to more than 1 version");
    EXPECT_EQ(reg_->get_alias(kScope, ref("f"), "canary")->alias.function_version, "1");
}

TEST_F(FunctionRegistry, AliasRoutingNeedsSameRoleAndDeadLetterConfig) {
    make_three_versions();
    FunctionSettings s;
    s.role = "arn:aws:iam::123456789012:role/other";
    ASSERT_TRUE(reg_->update_function_configuration(kScope, ref("f"), s, std::nullopt).has_value());
    ASSERT_EQ(publish("f"), "4");
    auto r = alias("mixed", "1", std::map<std::string, double>{{"4", 0.5}});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message,
              "The versions in the routing configuration must have the same execution role and "
              "dead-letter "
              "queue configuration.");
}

TEST_F(FunctionRegistry, ListAliasesPaginatesAndFilters) {
    make_three_versions();
    const std::vector<std::string> names = {"a1", "a2", "b1", "b2", "c1"};
    for (const auto& n : names) ASSERT_TRUE(alias(n, n.back() == '1' ? "1" : "2").has_value()) << n;

    std::vector<std::string> seen;
    Page page;
    page.max_items = 2;
    for (int i = 0; i < 10; ++i) {
        auto r = reg_->list_aliases(kScope, ref("f"), std::nullopt, page);
        ASSERT_TRUE(r.has_value()) << err(r);
        for (const auto& a : r->first) seen.push_back(a.alias.name);
        if (!r->second) break;
        page.marker = r->second;
    }
    EXPECT_EQ(seen, names);

    auto only_two = reg_->list_aliases(kScope, ref("f"), std::string("2"), Page{});
    ASSERT_TRUE(only_two.has_value());
    ASSERT_EQ(only_two->first.size(), 2u);
    EXPECT_EQ(only_two->first[0].alias.name, "a2");
    EXPECT_EQ(only_two->first[1].alias.name, "b2");
    EXPECT_FALSE(only_two->second.has_value());
}

// ---- delete --------------------------------------------------------------------------

TEST_F(FunctionRegistry, DeleteWithQualifier) {
    make_three_versions();
    ASSERT_TRUE(alias("A", "1").has_value());
    ASSERT_TRUE(alias("canary", "1", std::map<std::string, double>{{"2", 0.1}}).has_value());

    auto latest = reg_->delete_function(kScope, ref("f", "$LATEST"));
    ASSERT_FALSE(latest.has_value());
    EXPECT_EQ(latest.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(latest.error().message,
              "$LATEST version cannot be deleted without deleting the function.");

    auto by_alias = reg_->delete_function(kScope, ref("f", "A"));
    ASSERT_FALSE(by_alias.has_value());
    EXPECT_EQ(by_alias.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(by_alias.error().message, "Deletion of aliases is not currently supported.");
    // Any alias-shaped qualifier is refused, whether or not such an alias exists.
    auto no_such_alias = reg_->delete_function(kScope, ref("f", "nosuch"));
    ASSERT_FALSE(no_such_alias.has_value());
    EXPECT_EQ(no_such_alias.error().code, ErrorCode::InvalidParameterValue);

    ASSERT_TRUE(reg_->delete_alias(kScope, ref("f"), "canary").has_value());
    auto aliased = reg_->delete_function(kScope, ref("f", "1"));
    ASSERT_FALSE(aliased.has_value());
    EXPECT_EQ(aliased.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(aliased.error().message,
              "Unable to delete version because the following aliases reference it: [A]");

    // A version that is only an alias's additional weight is referenced too.
    ASSERT_TRUE(alias("canary", "1", std::map<std::string, double>{{"2", 0.1}}).has_value());
    auto weighted = reg_->delete_function(kScope, ref("f", "2"));
    ASSERT_FALSE(weighted.has_value());
    EXPECT_EQ(weighted.error().code, ErrorCode::ResourceConflict);
    EXPECT_NE(weighted.error().message.find("[canary]"), std::string::npos);

    EXPECT_TRUE(reg_->delete_function(kScope, ref("f", "1233")).has_value());
    EXPECT_TRUE(reg_->get_configuration(kScope, ref("f", "3")).has_value());
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f", "3")).has_value());
    EXPECT_FALSE(reg_->get_configuration(kScope, ref("f", "3")).has_value());
    EXPECT_TRUE(reg_->get_configuration(kScope, ref("f")).has_value());
}

TEST_F(FunctionRegistry, DeleteQualifierChecksComeBeforeExistence) {
    // AWS answers 400 for $LATEST and alias qualifiers even when the function is missing.
    auto latest = reg_->delete_function(kScope, ref("nope", "$LATEST"));
    ASSERT_FALSE(latest.has_value());
    EXPECT_EQ(latest.error().code, ErrorCode::InvalidParameterValue);
    auto by_alias = reg_->delete_function(kScope, ref("nope", "live"));
    ASSERT_FALSE(by_alias.has_value());
    EXPECT_EQ(by_alias.error().code, ErrorCode::InvalidParameterValue);
    auto version = reg_->delete_function(kScope, ref("nope", "1233"));
    ASSERT_FALSE(version.has_value());
    EXPECT_EQ(version.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(version.error().message, "Function not found: " + kArn + "nope");
}

TEST_F(FunctionRegistry, DeleteFunctionRemovesEverything) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "2").has_value());
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f")).has_value());
    auto gone = reg_->get_function(kScope, ref("f"));
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, ErrorCode::ResourceNotFound);
    EXPECT_FALSE(reg_->get_configuration(kScope, ref("f", "2")).has_value());
    auto again = reg_->delete_function(kScope, ref("f"));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(again.error().message, "Function not found: " + kArn + "f");
    EXPECT_EQ(reg_->total_functions(), 0u);

    // A new function with the same name starts from scratch.
    create("f");
    EXPECT_FALSE(reg_->get_alias(kScope, ref("f"), "live").has_value());
    auto versions = reg_->list_versions(kScope, ref("f"), Page{});
    ASSERT_TRUE(versions.has_value());
    EXPECT_EQ(versions->first.size(), 1u);
    EXPECT_EQ(publish("f"), "1");
}

// ---- list functions ------------------------------------------------------------------

TEST_F(FunctionRegistry, ListFunctionsPagesThroughEveryFunctionOnce) {
    std::vector<std::string> names = {"a", "a-b", "a_b", "b", "c1", "c2", "zz"};
    for (const auto& n : names) create(n);
    create("other-region-fn");
    ASSERT_TRUE(reg_->create_function(Scope{"123456789012", "eu-west-1"}, input("x")).has_value());
    names.insert(names.begin() + 6, "other-region-fn");

    std::vector<std::string> seen;
    Page page;
    page.max_items = 3;
    int pages = 0;
    for (; pages < 20; ++pages) {
        auto r = reg_->list_functions(kScope, false, page);
        ASSERT_TRUE(r.has_value()) << err(r);
        ASSERT_LE(r->first.size(), 3u);
        for (const auto& v : r->first) {
            seen.push_back(v.name);
            EXPECT_EQ(v.arn_qualifier, "");
            EXPECT_EQ(v.config.version, "$LATEST");
        }
        if (!r->second) break;
        page.marker = r->second;
    }
    EXPECT_EQ(pages, 2);  // 8 rows in three pages of 3 + 3 + 2: two markers
    std::vector<std::string> want = names;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(seen, want);
}

TEST_F(FunctionRegistry, ListFunctionsAllVersionsSplitsPagesInsideAFunction) {
    std::set<std::pair<std::string, std::string>> expected;
    for (std::string name : {"alpha", "beta", "gamma"}) {
        create(name);
        expected.insert({name, "$LATEST"});
        for (int i = 1; i <= 3; ++i) {
            change(name, name + std::to_string(i));
            ASSERT_EQ(publish(name), std::to_string(i));
            expected.insert({name, std::to_string(i)});
        }
    }
    for (int size : {1, 2, 3, 5, 50}) {
        std::vector<std::pair<std::string, std::string>> seen;
        Page page;
        page.max_items = size;
        for (int i = 0; i < 40; ++i) {
            auto r = reg_->list_functions(kScope, true, page);
            ASSERT_TRUE(r.has_value()) << err(r);
            for (const auto& v : r->first) {
                seen.emplace_back(v.name, v.config.version);
                EXPECT_EQ(v.arn_qualifier, v.config.version);
            }
            if (!r->second) break;
            page.marker = r->second;
        }
        std::set<std::pair<std::string, std::string>> unique(seen.begin(), seen.end());
        EXPECT_EQ(seen.size(), unique.size()) << "page size " << size;
        EXPECT_EQ(unique, expected) << "page size " << size;
    }
}

TEST_F(FunctionRegistry, ListFunctionsCapsPagesAt50) {
    for (int i = 0; i < 52; ++i) create("fn" + std::to_string(100 + i));
    Page page;
    page.max_items = 1000;
    auto r = reg_->list_functions(kScope, false, page);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first.size(), 50u);
    ASSERT_TRUE(r->second.has_value());
    page.marker = r->second;
    auto rest = reg_->list_functions(kScope, false, page);
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(rest->first.size(), 2u);
    EXPECT_FALSE(rest->second.has_value());
}

TEST_F(FunctionRegistry, GarbageMarkersAreRefused) {
    make_three_versions();
    ASSERT_TRUE(alias("a1", "1").has_value());
    ASSERT_TRUE(alias("a2", "1").has_value());
    for (std::string marker :
         {std::string("garbage"), std::string("!!!!"), base64_encode("no-tag-here")}) {
        Page page;
        page.marker = marker;
        auto fns = reg_->list_functions(kScope, false, page);
        ASSERT_FALSE(fns.has_value()) << marker;
        EXPECT_EQ(fns.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(fns.error().message, "Invalid Marker: " + marker);
        EXPECT_FALSE(reg_->list_versions(kScope, ref("f"), page).has_value()) << marker;
        EXPECT_FALSE(reg_->list_aliases(kScope, ref("f"), std::nullopt, page).has_value())
            << marker;
    }
    // A marker from one listing is no good for another.
    Page small;
    small.max_items = 1;
    auto versions = reg_->list_versions(kScope, ref("f"), small);
    ASSERT_TRUE(versions.has_value());
    ASSERT_TRUE(versions->second.has_value());
    Page reuse;
    reuse.marker = versions->second;
    EXPECT_FALSE(reg_->list_aliases(kScope, ref("f"), std::nullopt, reuse).has_value());
    EXPECT_FALSE(reg_->list_functions(kScope, false, reuse).has_value());
}

// ---- permissions ---------------------------------------------------------------------

TEST_F(FunctionRegistry, AddPermissionBuildsStatements) {
    create("f");
    PermissionInput s3;
    s3.statement_id = "s3";
    s3.action = "lambda:InvokeFunction";
    s3.principal = "s3.amazonaws.com";
    s3.source_arn = "arn:aws:s3:::bucket";
    s3.source_account = "123456789012";
    auto st = reg_->add_permission(kScope, ref("f"), s3);
    ASSERT_TRUE(st.has_value()) << err(st);
    EXPECT_EQ(*st, json::parse(R"({
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}})"));

    PermissionInput acct;
    acct.statement_id = "acct";
    acct.action = "lambda:GetFunction";
    acct.principal = "111122223333";
    auto st2 = reg_->add_permission(kScope, ref("f"), acct);
    ASSERT_TRUE(st2.has_value()) << err(st2);
    EXPECT_EQ((*st2)["Principal"], json({{"AWS", "arn:aws:iam::111122223333:root"}}));
    EXPECT_FALSE(st2->contains("Condition"));

    PermissionInput any;
    any.statement_id = "any";
    any.action = "lambda:InvokeFunction";
    any.principal = "*";
    auto st3 = reg_->add_permission(kScope, ref("f"), any);
    ASSERT_TRUE(st3.has_value());
    EXPECT_EQ((*st3)["Principal"], json("*"));

    PermissionInput bad = any;
    bad.statement_id = "bad";
    bad.principal = "not a principal";
    auto r = reg_->add_permission(kScope, ref("f"), bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);

    auto policy = reg_->get_policy(kScope, ref("f"));
    ASSERT_TRUE(policy.has_value()) << err(policy);
    ASSERT_EQ(policy->statements.size(), 3u);
    EXPECT_EQ(policy->statements[0].sid, "s3");
    EXPECT_EQ(policy->statements[1].sid, "acct");
    EXPECT_EQ(policy->statements[2].sid, "any");
    EXPECT_FALSE(policy->revision_id.empty());
}

TEST_F(FunctionRegistry, PermissionErrors) {
    make_three_versions();
    PermissionInput p;
    p.statement_id = "s1";
    p.action = "lambda:InvokeFunction";
    p.principal = "sns.amazonaws.com";

    auto missing_fn = reg_->add_permission(kScope, ref("nope"), p);
    ASSERT_FALSE(missing_fn.has_value());
    EXPECT_EQ(missing_fn.error().code, ErrorCode::ResourceNotFound);

    auto latest = reg_->add_permission(kScope, ref("f", "$LATEST"), p);
    ASSERT_FALSE(latest.has_value());
    EXPECT_EQ(latest.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(latest.error().message, "We currently do not support adding policies for $LATEST.");

    auto no_policy = reg_->get_policy(kScope, ref("f"));
    ASSERT_FALSE(no_policy.has_value());
    EXPECT_EQ(no_policy.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(no_policy.error().message, "The resource you requested does not exist.");

    auto remove_none = reg_->remove_permission(kScope, ref("f"), "s1", std::nullopt);
    ASSERT_FALSE(remove_none.has_value());
    EXPECT_EQ(remove_none.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(remove_none.error().message, "No policy is associated with the given resource.");

    auto remove_missing_fn =
        reg_->remove_permission(kScope, ref("doesnotexist"), "s1", std::nullopt);
    ASSERT_FALSE(remove_missing_fn.has_value());
    EXPECT_EQ(remove_missing_fn.error().message, "No policy found for: " + kArn + "doesnotexist");

    ASSERT_TRUE(reg_->add_permission(kScope, ref("f"), p).has_value());
    auto dup = reg_->add_permission(kScope, ref("f"), p);
    ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(dup.error().message,
              "The statement id (s1) provided already exists. Please provide a new statement "
              "id, or remove the existing statement.");

    auto unknown_sid = reg_->remove_permission(kScope, ref("f"), "doesnotexist", std::nullopt);
    ASSERT_FALSE(unknown_sid.has_value());
    EXPECT_EQ(unknown_sid.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(unknown_sid.error().message,
              "Statement doesnotexist is not found in resource policy.");

    auto stale = reg_->remove_permission(kScope, ref("f"), "s1", std::string("stale"));
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(stale.error().message,
              "The Revision Id provided does not match the latest Revision Id. Call the "
              "GetPolicy API to retrieve the latest Revision Id");

    const std::string rev = reg_->get_policy(kScope, ref("f"))->revision_id;
    ASSERT_TRUE(reg_->remove_permission(kScope, ref("f"), "s1", rev).has_value());
    EXPECT_FALSE(reg_->get_policy(kScope, ref("f")).has_value());
}

TEST_F(FunctionRegistry, PolicyRevisionFollowsTheFunction) {
    create("f");
    PermissionInput p;
    p.statement_id = "s3";
    p.action = "lambda:InvokeFunction";
    p.principal = "s3.amazonaws.com";
    // Before the first statement the precondition is the function's RevisionId.
    p.revision_id = "wrong";
    auto stale = reg_->add_permission(kScope, ref("f"), p);
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed);
    EXPECT_FALSE(reg_->get_policy(kScope, ref("f")).has_value());

    const std::string before = get("f").config.revision_id;
    p.revision_id = before;
    ASSERT_TRUE(reg_->add_permission(kScope, ref("f"), p).has_value());
    // Recorded (test_function_revisions_permissions): the function's RevisionId
    // changes and GetPolicy reports that same value.
    const std::string after = get("f").config.revision_id;
    EXPECT_NE(after, before);
    EXPECT_EQ(reg_->get_policy(kScope, ref("f"))->revision_id, after);

    ASSERT_TRUE(reg_->remove_permission(kScope, ref("f"), "s3", after).has_value());
    EXPECT_NE(get("f").config.revision_id, after);
}

// In the recorded test_lambda_permission_revisions, GetFunction's $LATEST
// RevisionId is the same before and after a permission is added to version 1,
// while version 1's RevisionId changes and GetPolicy(Qualifier=1) reports it.
TEST_F(FunctionRegistry, PermissionOnAVersionLeavesLatestRevisionAlone) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    const std::string latest_before = get("f").config.revision_id;
    const std::string v1_before = get("f", "1").config.revision_id;
    PermissionInput p;
    p.statement_id = "s1";
    p.action = "lambda:InvokeFunction";
    p.principal = "s3.amazonaws.com";
    ASSERT_TRUE(reg_->add_permission(kScope, ref("f", "1"), p).has_value());
    EXPECT_EQ(get("f").config.revision_id, latest_before);
    const std::string v1_after = get("f", "1").config.revision_id;
    EXPECT_NE(v1_after, v1_before);
    EXPECT_EQ(reg_->get_policy(kScope, ref("f", "1"))->revision_id, v1_after);
}

TEST_F(FunctionRegistry, PermissionsArePerQualifier) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    PermissionInput p;
    p.statement_id = "s1";
    p.action = "lambda:InvokeFunction";
    p.principal = "events.amazonaws.com";
    auto on_alias = reg_->add_permission(kScope, ref("f", "live"), p);
    ASSERT_TRUE(on_alias.has_value()) << err(on_alias);
    EXPECT_EQ((*on_alias)["Resource"], kArn + "f:live");
    auto on_version = reg_->add_permission(kScope, ref("f", "2"), p);  // same sid, other policy
    ASSERT_TRUE(on_version.has_value()) << err(on_version);
    EXPECT_EQ((*on_version)["Resource"], kArn + "f:2");

    EXPECT_FALSE(reg_->get_policy(kScope, ref("f")).has_value());
    EXPECT_TRUE(reg_->get_policy(kScope, ref("f", "live")).has_value());

    auto missing_alias = reg_->add_permission(kScope, ref("f", "nosuch"), p);
    ASSERT_FALSE(missing_alias.has_value());
    EXPECT_EQ(missing_alias.error().message, "Cannot find alias arn: " + kArn + "f:nosuch");
    auto missing_version = reg_->add_permission(kScope, ref("f", "77"), p);
    ASSERT_FALSE(missing_version.has_value());
    EXPECT_EQ(missing_version.error().message, "Function not found: " + kArn + "f:77");
}

// ---- tags ----------------------------------------------------------------------------

TEST_F(FunctionRegistry, TagLifecycle) {
    create("f");
    const std::string arn = kArn + "f";
    const std::string rev = get("f").config.revision_id;
    ASSERT_TRUE(reg_->tag_resource(kScope, arn, {{"a", "1"}, {"b", "2"}}).has_value());
    ASSERT_TRUE(reg_->tag_resource(kScope, arn, {{"b", "3"}, {"c", "4"}}).has_value());
    auto tags = reg_->list_tags(kScope, arn);
    ASSERT_TRUE(tags.has_value()) << err(tags);
    EXPECT_EQ(*tags, (std::map<std::string, std::string>{{"a", "1"}, {"b", "3"}, {"c", "4"}}));
    EXPECT_NE(get("f").config.revision_id, rev);

    ASSERT_TRUE(reg_->untag_resource(kScope, arn, {"a", "not-there"}).has_value());
    EXPECT_EQ(*reg_->list_tags(kScope, arn),
              (std::map<std::string, std::string>{{"b", "3"}, {"c", "4"}}));
    auto details = reg_->get_function(kScope, ref("f"));
    ASSERT_TRUE(details.has_value());
    EXPECT_EQ(details->tags.size(), 2u);
}

TEST_F(FunctionRegistry, TagErrors) {
    create("f");
    const std::string arn = kArn + "f";
    ASSERT_EQ(publish("f"), "1");

    for (std::string qualified : {arn + ":1", arn + ":$LATEST", arn + ":live"}) {
        auto r = reg_->tag_resource(kScope, qualified, {{"a", "1"}});
        ASSERT_FALSE(r.has_value()) << qualified;
        EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(r.error().message,
                  "Tags on function aliases and versions are not supported. Please specify a "
                  "function ARN.");
    }

    auto empty = reg_->tag_resource(kScope, arn, {});
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(empty.error().message, "An error occurred and the request cannot be processed.");

    std::map<std::string, std::string> fifty;
    for (int i = 0; i < 50; ++i) fifty["k" + std::to_string(i)] = "v";
    ASSERT_TRUE(reg_->tag_resource(kScope, arn, fifty).has_value());
    ASSERT_TRUE(reg_->tag_resource(kScope, arn, {{"k0", "overwrite is fine"}}).has_value());
    auto over = reg_->tag_resource(kScope, arn, {{"one-more", "v"}});
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(over.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(over.error().message, "Number of tags exceeds resource tag limit.");
    EXPECT_EQ(reg_->list_tags(kScope, arn)->size(), 50u);
    EXPECT_FALSE(reg_->list_tags(kScope, arn)->contains("one-more"));

    auto missing = reg_->tag_resource(kScope, kArn + "nope", {{"a", "1"}});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(missing.error().message, "Function not found: " + kArn + "nope");

    auto other_region = reg_->list_tags(kScope, "arn:aws:lambda:eu-west-1:123456789012:function:f");
    ASSERT_FALSE(other_region.has_value());
    EXPECT_EQ(other_region.error().code, ErrorCode::ResourceNotFound);
    auto other_account =
        reg_->list_tags(kScope, "arn:aws:lambda:us-east-1:111111111111:function:f");
    ASSERT_FALSE(other_account.has_value());
    EXPECT_EQ(other_account.error().code, ErrorCode::AccessDenied);
    auto not_an_arn = reg_->list_tags(kScope, "f");
    ASSERT_FALSE(not_an_arn.has_value());
    EXPECT_EQ(not_an_arn.error().code, ErrorCode::Validation);
}

// ---- event invoke configs ------------------------------------------------------------

TEST_F(FunctionRegistry, EventInvokeConfigPutUpdateGetDelete) {
    create("f");
    create("target");
    EventInvokeConfigInput put;
    put.maximum_retry_attempts = 1;
    put.on_failure = "arn:aws:sns:us-east-1:123456789012:topic";
    put.has_destination_config = true;
    // not emulated yet: refused at configuration, nothing stored
    auto sns = reg_->put_event_invoke_config(kScope, ref("f"), put, false);
    ASSERT_FALSE(sns.has_value());
    EXPECT_NE(sns.error().message.find("lamina does not emulate Amazon SNS yet"),
              std::string::npos);
    put.on_failure = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo";  // standard queues only
    EXPECT_FALSE(reg_->put_event_invoke_config(kScope, ref("f"), put, false).has_value());
    EXPECT_FALSE(reg_->get_event_invoke_config(kScope, ref("f")).has_value());
    put.on_failure = kArn + "target";
    clock_.set(1'700'000'123'456);
    auto r = reg_->put_event_invoke_config(kScope, ref("f"), put, false);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->function_arn, kArn + "f:$LATEST");
    EXPECT_DOUBLE_EQ(r->config.last_modified, 1'700'000'123.456);

    EventInvokeConfigInput update;
    update.maximum_event_age_seconds = 100;
    auto merged = reg_->put_event_invoke_config(kScope, ref("f"), update, true);
    ASSERT_TRUE(merged.has_value()) << err(merged);
    EXPECT_EQ(merged->config.maximum_retry_attempts, 1);
    EXPECT_EQ(merged->config.maximum_event_age_seconds, 100);
    EXPECT_EQ(merged->config.on_failure, kArn + "target");

    auto got = reg_->get_event_invoke_config(kScope, ref("f"));
    ASSERT_TRUE(got.has_value()) << err(got);
    EXPECT_EQ(got->config.maximum_event_age_seconds, 100);
    EXPECT_EQ(got->config.maximum_retry_attempts, 1);

    // Put replaces: what is not given is gone.
    EventInvokeConfigInput replace;
    replace.on_success = kArn + "target";
    replace.has_destination_config = true;
    auto replaced = reg_->put_event_invoke_config(kScope, ref("f", "$LATEST"), replace, false);
    ASSERT_TRUE(replaced.has_value()) << err(replaced);
    got = reg_->get_event_invoke_config(kScope, ref("f"));
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(got->config.maximum_retry_attempts.has_value());
    EXPECT_FALSE(got->config.maximum_event_age_seconds.has_value());
    EXPECT_FALSE(got->config.on_failure.has_value());
    EXPECT_EQ(got->config.on_success, kArn + "target");

    ASSERT_TRUE(reg_->delete_event_invoke_config(kScope, ref("f")).has_value());
    auto gone = reg_->get_event_invoke_config(kScope, ref("f"));
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(gone.error().message,
              "The function " + kArn + "f:$LATEST doesn't have an EventInvokeConfig");
    auto delete_again = reg_->delete_event_invoke_config(kScope, ref("f"));
    ASSERT_FALSE(delete_again.has_value());
    EXPECT_EQ(delete_again.error().message, gone.error().message);
}

TEST_F(FunctionRegistry, EventInvokeConfigErrors) {
    create("f");
    EventInvokeConfigInput nothing;
    auto r = reg_->put_event_invoke_config(kScope, ref("f"), nothing, false);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message,
              "You must specify at least one of error handling or destination setting.");

    // Checked before the function is looked up.
    auto nothing_missing_fn = reg_->put_event_invoke_config(kScope, ref("nope"), nothing, false);
    ASSERT_FALSE(nothing_missing_fn.has_value());
    EXPECT_EQ(nothing_missing_fn.error().code, ErrorCode::InvalidParameterValue);

    EventInvokeConfigInput retry;
    retry.maximum_retry_attempts = 0;
    auto missing_fn = reg_->put_event_invoke_config(kScope, ref("nope"), retry, false);
    ASSERT_FALSE(missing_fn.has_value());
    EXPECT_EQ(missing_fn.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(missing_fn.error().message, "The function doesn't exist.");
    auto missing_alias = reg_->put_event_invoke_config(kScope, ref("f", "nosuch"), retry, false);
    ASSERT_FALSE(missing_alias.has_value());
    EXPECT_EQ(missing_alias.error().message, "The function doesn't exist.");

    auto update_missing = reg_->put_event_invoke_config(kScope, ref("f"), retry, true);
    ASSERT_FALSE(update_missing.has_value());
    EXPECT_EQ(update_missing.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(update_missing.error().message,
              "The function " + kArn + "f:$LATEST doesn't have an EventInvokeConfig");

    EventInvokeConfigInput self;
    self.on_success = kArn + "f";
    self.has_destination_config = true;
    auto to_self = reg_->put_event_invoke_config(kScope, ref("f"), self, false);
    ASSERT_FALSE(to_self.has_value());
    EXPECT_EQ(to_self.error().message,
              "You can't specify the function as a destination for itself.");

    EventInvokeConfigInput absent;
    absent.on_failure = kArn + "not-there";
    absent.has_destination_config = true;
    auto to_absent = reg_->put_event_invoke_config(kScope, ref("f"), absent, false);
    ASSERT_FALSE(to_absent.has_value());
    EXPECT_EQ(to_absent.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(to_absent.error().message, "The destination ARN " + kArn + "not-there is invalid.");

    EventInvokeConfigInput iam;
    iam.on_success = "arn:aws:iam:us-east-1:123456789012:function:f";
    iam.has_destination_config = true;
    auto to_iam = reg_->put_event_invoke_config(kScope, ref("f"), iam, false);
    ASSERT_FALSE(to_iam.has_value());
    EXPECT_EQ(to_iam.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(to_iam.error().message,
              "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
              "arn:aws:iam:us-east-1:123456789012:function:f), onFailure=null) is invalid.");
    EXPECT_FALSE(reg_->get_event_invoke_config(kScope, ref("f")).has_value());
}

TEST_F(FunctionRegistry, EventInvokeConfigsArePerQualifier) {
    create("f");
    ASSERT_EQ(publish("f"), "1");
    AliasInput ai;
    ai.function_version = "1";
    ASSERT_TRUE(reg_->create_alias(kScope, ref("f"), "live", ai).has_value());
    EventInvokeConfigInput in;
    in.maximum_retry_attempts = 2;
    ASSERT_TRUE(reg_->put_event_invoke_config(kScope, ref("f", "live"), in, false).has_value());
    ASSERT_TRUE(reg_->put_event_invoke_config(kScope, ref("f", "1"), in, false).has_value());
    EXPECT_FALSE(reg_->get_event_invoke_config(kScope, ref("f")).has_value());
    auto live = reg_->get_event_invoke_config(kScope, ref("f", "live"));
    ASSERT_TRUE(live.has_value());
    EXPECT_EQ(live->function_arn, kArn + "f:live");

    auto list = reg_->list_event_invoke_configs(kScope, ref("f"), Page{});
    ASSERT_TRUE(list.has_value());
    EXPECT_EQ(list->first.size(), 2u);

    // Deleting the alias takes its config along.
    ASSERT_TRUE(reg_->delete_alias(kScope, ref("f"), "live").has_value());
    ASSERT_TRUE(reg_->create_alias(kScope, ref("f"), "live", ai).has_value());
    EXPECT_FALSE(reg_->get_event_invoke_config(kScope, ref("f", "live")).has_value());
}

// ---- account usage -------------------------------------------------------------------

TEST_F(FunctionRegistry, AccountUsageCountsFunctionsAndEveryVersionsCode) {
    EXPECT_EQ(reg_->account_usage(kScope).function_count, 0);
    create("a", std::string(100, 'a'));
    create("b", std::string(30, 'b'));
    ASSERT_EQ(publish("a"), "1");
    ASSERT_TRUE(
        reg_->create_function(Scope{"123456789012", "eu-west-1"}, input("c", std::string(7, 'c')))
            .has_value());
    auto u = reg_->account_usage(kScope);
    EXPECT_EQ(u.function_count, 2);
    EXPECT_EQ(u.total_code_size, 100 + 100 + 30);
    EXPECT_EQ(reg_->account_usage(Scope{"123456789012", "eu-west-1"}).total_code_size, 7);
    EXPECT_EQ(reg_->total_functions(), 3u);
    EXPECT_TRUE(reg_->blob_is_referenced(to_hex(sha256(std::string(30, 'b')))));
    EXPECT_FALSE(reg_->blob_is_referenced(to_hex(sha256("nothing uses this"))));
}

// ---- persistence ---------------------------------------------------------------------

TEST_F(FunctionRegistry, EverythingSurvivesARestart) {
    auto in = input("f");
    in.settings.description = "persisted";
    in.settings.environment = std::map<std::string, std::string>{{"KEY", "value"}};
    in.settings.memory_size = 256;
    in.tags = {{"team", "core"}};
    ASSERT_TRUE(reg_->create_function(kScope, in).has_value());
    ASSERT_EQ(publish("f"), "1");
    change("f", "second");
    ASSERT_EQ(publish("f", "v2 only"), "2");
    change("f", "third");
    ASSERT_EQ(publish("f"), "3");
    AliasInput ai;
    ai.function_version = "1";
    ai.description = "prod traffic";
    ai.weights = std::map<std::string, double>{{"2", 0.3}};
    ASSERT_TRUE(reg_->create_alias(kScope, ref("f"), "live", ai).has_value());
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f", "3"))
                    .has_value());  // newest: counter must stay at 3
    PermissionInput p;
    p.statement_id = "s1";
    p.action = "lambda:InvokeFunction";
    p.principal = "s3.amazonaws.com";
    p.source_arn = "arn:aws:s3:::bucket";
    ASSERT_TRUE(reg_->add_permission(kScope, ref("f"), p).has_value());
    p.statement_id = "on-alias";
    ASSERT_TRUE(reg_->add_permission(kScope, ref("f", "live"), p).has_value());
    EventInvokeConfigInput eic;
    eic.maximum_retry_attempts = 0;
    eic.maximum_event_age_seconds = 60;
    ASSERT_TRUE(reg_->put_event_invoke_config(kScope, ref("f"), eic, false).has_value());
    ASSERT_TRUE(reg_->put_recursion_config(kScope, ref("f"), "Allow").has_value());
    create("g");

    auto latest_before = get("f").config;
    auto v1_before = get("f", "1").config;
    auto v2_before = get("f", "2").config;
    auto alias_before = reg_->get_alias(kScope, ref("f"), "live").value().alias;
    auto policy_before = reg_->get_policy(kScope, ref("f")).value();
    auto alias_policy_before = reg_->get_policy(kScope, ref("f", "live")).value();
    auto eic_before = reg_->get_event_invoke_config(kScope, ref("f")).value();

    reopen();

    EXPECT_EQ(reg_->total_functions(), 2u);
    auto latest = get("f").config;
    EXPECT_EQ(latest.to_doc(), latest_before.to_doc());
    EXPECT_EQ(latest.environment, (std::map<std::string, std::string>{{"KEY", "value"}}));
    EXPECT_EQ(latest.memory_size, 256);
    EXPECT_EQ(get("f", "1").config.to_doc(), v1_before.to_doc());
    EXPECT_EQ(get("f", "2").config.to_doc(), v2_before.to_doc());
    EXPECT_EQ(get("f", "2").config.description, "v2 only");
    EXPECT_FALSE(reg_->get_configuration(kScope, ref("f", "3")).has_value());

    auto a = reg_->get_alias(kScope, ref("f"), "live");
    ASSERT_TRUE(a.has_value()) << err(a);
    EXPECT_EQ(a->alias.to_doc(), alias_before.to_doc());
    EXPECT_EQ(a->alias.additional_weights, (std::map<std::string, double>{{"2", 0.3}}));

    auto policy = reg_->get_policy(kScope, ref("f"));
    ASSERT_TRUE(policy.has_value()) << err(policy);
    ASSERT_EQ(policy->statements.size(), 1u);
    EXPECT_EQ(policy->statements[0].sid, "s1");
    EXPECT_EQ(policy->statements[0].statement, policy_before.statements[0].statement);
    EXPECT_EQ(policy->revision_id, policy_before.revision_id);
    auto alias_policy = reg_->get_policy(kScope, ref("f", "live"));
    ASSERT_TRUE(alias_policy.has_value());
    EXPECT_EQ(alias_policy->statements[0].statement, alias_policy_before.statements[0].statement);
    // Duplicate detection works on the loaded statements.
    p.statement_id = "s1";
    auto dup = reg_->add_permission(kScope, ref("f"), p);
    ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error().code, ErrorCode::ResourceConflict);

    EXPECT_EQ(reg_->list_tags(kScope, kArn + "f").value(),
              (std::map<std::string, std::string>{{"team", "core"}}));
    auto e = reg_->get_event_invoke_config(kScope, ref("f"));
    ASSERT_TRUE(e.has_value()) << err(e);
    EXPECT_EQ(e->config.maximum_retry_attempts, 0);
    EXPECT_EQ(e->config.maximum_event_age_seconds, 60);
    EXPECT_DOUBLE_EQ(e->config.last_modified, eic_before.config.last_modified);
    EXPECT_EQ(reg_->get_recursion_config(kScope, ref("f")).value(), "Allow");

    // The version counter came back too: 3 was deleted, the next one is 4.
    change("f", "fourth");
    EXPECT_EQ(publish("f"), "4");
    EXPECT_TRUE(get("g").config.revision_id.size() > 0);
}

TEST_F(FunctionRegistry, MutationsAfterRestartPersistAgain) {
    create("f");
    reopen();
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f")).has_value());
    create("h");
    reopen();
    EXPECT_FALSE(reg_->get_configuration(kScope, ref("f")).has_value());
    EXPECT_TRUE(reg_->get_configuration(kScope, ref("h")).has_value());
    EXPECT_EQ(reg_->total_functions(), 1u);
}

TEST_F(FunctionRegistry, StartupCollectsUnreferencedBlobsAndTempFiles) {
    create("f", "code-v1");
    ASSERT_EQ(publish("f"), "1");  // version 1 keeps code-v1 alive
    UpdateCodeInput in;
    in.code = code("code-v2");
    ASSERT_TRUE(reg_->update_function_code(kScope, ref("f"), in).has_value());
    create("doomed", "code-doomed");
    ASSERT_TRUE(reg_->delete_function(kScope, ref("doomed")).has_value());
    code("orphan never referenced");
    const auto blob_dir = dir_.path() / "blobs";
    {
        std::ofstream(blob_dir / ".tmp-0123abcd-leftover") << "partial";
        std::ofstream(blob_dir / "README") << "not a blob: left alone";
    }
    const std::string v1 = to_hex(sha256("code-v1")), v2 = to_hex(sha256("code-v2"));
    const std::string doomed = to_hex(sha256("code-doomed")),
                      orphan = to_hex(sha256("orphan never referenced"));
    ASSERT_TRUE(blobs_->exists(doomed));
    ASSERT_TRUE(blobs_->exists(orphan));

    reopen();

    EXPECT_TRUE(blobs_->exists(v1));
    EXPECT_TRUE(blobs_->exists(v2));
    EXPECT_FALSE(blobs_->exists(doomed));
    EXPECT_FALSE(blobs_->exists(orphan));
    EXPECT_FALSE(std::filesystem::exists(blob_dir / ".tmp-0123abcd-leftover"));
    EXPECT_TRUE(std::filesystem::exists(blob_dir / "README"));
    EXPECT_EQ(blobs_->read(v2).value(), "code-v2");
}

TEST_F(FunctionRegistry, StartupWithoutFunctionsCollectsAllBlobsAndTempFiles) {
    create("doomed", "code-doomed");
    ASSERT_EQ(publish("doomed"), "1");
    ASSERT_TRUE(reg_->delete_function(kScope, ref("doomed")).has_value());
    code("orphan never referenced");
    const auto blob_dir = dir_.path() / "blobs";
    {
        std::ofstream(blob_dir / ".tmp-0123abcd-leftover") << "partial";
        std::ofstream(blob_dir / "README") << "not a blob: left alone";
    }
    reopen();
    EXPECT_EQ(reg_->total_functions(), 0u);
    EXPECT_FALSE(blobs_->exists(to_hex(sha256("code-doomed"))));
    EXPECT_FALSE(blobs_->exists(to_hex(sha256("orphan never referenced"))));
    EXPECT_FALSE(std::filesystem::exists(blob_dir / ".tmp-0123abcd-leftover"));
    EXPECT_TRUE(std::filesystem::exists(blob_dir / "README"));
    // The store is usable after the reload.
    create("fresh");
    EXPECT_TRUE(reg_->get_configuration(kScope, ref("fresh")).has_value());
}

TEST_F(FunctionRegistry, ScopesAreIsolated) {
    create("f");
    const Scope eu{"123456789012", "eu-west-1"};
    const Scope other{"111111111111", "us-east-1"};
    EXPECT_FALSE(reg_->get_function(eu, ref("f")).has_value());
    EXPECT_FALSE(reg_->get_function(other, ref("f")).has_value());
    ASSERT_TRUE(reg_->create_function(other, input("f")).has_value());
    ASSERT_TRUE(reg_->delete_function(other, ref("f")).has_value());
    EXPECT_TRUE(reg_->get_function(kScope, ref("f")).has_value());
    reopen();
    EXPECT_TRUE(reg_->get_function(kScope, ref("f")).has_value());
    EXPECT_FALSE(reg_->get_function(other, ref("f")).has_value());
}

// Hot reload: the folder is the code, kept across a restart, reported to the
// folder observer while any version of the function runs it.
TEST_F(FunctionRegistry, HotReloadFoldersAreReportedWhileAVersionUsesThem) {
    std::map<std::string, std::set<std::string>> seen;
    reg_->set_folder_observer([&](const std::string& key, std::set<std::string> folders) {
        seen[key] = std::move(folders);
    });
    const std::string key = "123456789012/us-east-1/hot";
    CreateFunctionInput in = input("hot");
    in.code = StoredCode{kHotReloadCodeSha256, "", 0, 0, "/srv/code"};
    auto made = reg_->create_function(kScope, in);
    ASSERT_TRUE(made.has_value()) << err(made);
    EXPECT_EQ(made->config.code_sha256, kHotReloadCodeSha256);
    EXPECT_EQ(seen[key], std::set<std::string>{"/srv/code"});
    EXPECT_EQ(publish("hot"), "1");  // the version keeps pointing at the folder
    EXPECT_EQ(get("hot", "1").config.code_path, "/srv/code");

    UpdateCodeInput zip;
    zip.code = code("zip-bytes-2");
    ASSERT_TRUE(reg_->update_function_code(kScope, ref("hot"), zip).has_value());
    EXPECT_EQ(get("hot").config.code_path, "");
    EXPECT_EQ(seen[key], std::set<std::string>{"/srv/code"});  // version 1 still runs it
    ASSERT_TRUE(reg_->delete_function(kScope, ref("hot", "1")).has_value());
    EXPECT_TRUE(seen[key].empty());

    UpdateCodeInput back;
    back.code = StoredCode{kHotReloadCodeSha256, "", 0, 0, "/srv/other"};
    ASSERT_TRUE(reg_->update_function_code(kScope, ref("hot"), back).has_value());
    EXPECT_EQ(seen[key], std::set<std::string>{"/srv/other"});
    reopen();
    EXPECT_EQ(get("hot").config.code_path, "/srv/other");
    EXPECT_EQ(get("hot").config.code_sha256, kHotReloadCodeSha256);
    std::set<std::string> after_load;
    reg_->set_folder_observer([&](const std::string&, std::set<std::string> folders) {
        after_load = std::move(folders);
    });
    ASSERT_TRUE(reg_->delete_function(kScope, ref("hot")).has_value());
    EXPECT_TRUE(after_load.empty());
}

TEST_F(FunctionRegistry, TenancyIsKeptByEveryVersionAndSurvivesARestart) {
    auto in = input("t");
    in.tenant_isolation_mode = "PER_TENANT";
    ASSERT_TRUE(reg_->create_function(kScope, std::move(in)).has_value());
    change("t", "second");
    EXPECT_EQ(publish("t"), "1");
    create("plain");
    reopen();
    EXPECT_EQ(get("t").config.tenant_isolation_mode, "PER_TENANT");
    EXPECT_EQ(get("t", "1").config.tenant_isolation_mode, "PER_TENANT");
    EXPECT_EQ(get("t").config.description, "second") << "updates keep the tenancy";
    EXPECT_FALSE(get("plain").config.tenant_isolation_mode.has_value());
}
