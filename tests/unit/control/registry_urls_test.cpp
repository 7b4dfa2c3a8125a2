// Function URL configs in the registry: AWS's errors, what Update keeps,
// aliases, the url-id index, and persistence.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "lamina/control/registry.hpp"
#include "registry_fixture.hpp"

namespace {

FunctionUrlInput url_input(std::optional<std::string> auth = "NONE",
                           std::optional<std::string> mode = std::nullopt) {
    FunctionUrlInput in;
    in.auth_type = std::move(auth);
    in.invoke_mode = std::move(mode);
    return in;
}

}  // namespace

class FunctionUrls : public FunctionRegistry {};

TEST_F(FunctionUrls, CreateGivesAStableUrlIdAndTheUnqualifiedArn) {
    create("f");
    auto made = reg_->create_function_url(kScope, ref("f"), url_input());
    ASSERT_TRUE(made.has_value()) << err(made);
    EXPECT_EQ(made->function_arn, kArn + "f");
    EXPECT_EQ(made->config.auth_type, "NONE");
    EXPECT_EQ(made->config.url_id.size(), kUrlIdLength);
    EXPECT_FALSE(made->config.invoke_mode.has_value());  // never sent: Create does not echo it
    EXPECT_EQ(made->config.effective_invoke_mode(), "BUFFERED");
    auto got = reg_->get_function_url(kScope, ref("f"));
    ASSERT_TRUE(got.has_value()) << err(got);
    EXPECT_EQ(got->config.url_id, made->config.url_id);
    EXPECT_EQ(got->config.creation_time, made->config.creation_time);
}

TEST_F(FunctionUrls, ASecondCreateConflictsWithAwsMessage) {
    create("f");
    ASSERT_TRUE(reg_->create_function_url(kScope, ref("f"), url_input()).has_value());
    auto again = reg_->create_function_url(kScope, ref("f"), url_input("AWS_IAM"));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(again.error().message,
              "Failed to create function url config for [functionArn = " + kArn +
                  "f]. Error message:  FunctionUrlConfig exists for this Lambda function");
    EXPECT_EQ(reg_->get_function_url(kScope, ref("f"))->config.auth_type, "NONE");
}

TEST_F(FunctionUrls, MissingFunctionAliasOrConfigAnswerAsAwsDoesPerOperation) {
    auto c = reg_->create_function_url(kScope, ref("nope"), url_input());
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(c.error().message, "Function does not exist");
    auto u = reg_->update_function_url(kScope, ref("nope"), url_input());
    EXPECT_EQ(err(u), "Function does not exist");
    auto g = reg_->get_function_url(kScope, ref("nope"));
    EXPECT_EQ(err(g), "The resource you requested does not exist.");
    auto d = reg_->delete_function_url(kScope, ref("nope"));
    EXPECT_EQ(err(d), "The resource you requested does not exist.");
    auto l = reg_->list_function_urls(kScope, ref("nope"), Page{});
    EXPECT_EQ(err(l), "Function does not exist");

    create("f");
    EXPECT_EQ(err(reg_->create_function_url(kScope, ref("f", "missing"), url_input())),
              "Function does not exist");
    EXPECT_EQ(err(reg_->get_function_url(kScope, ref("f", "missing"))),
              "The resource you requested does not exist.");
    // the function exists, its URL does not
    EXPECT_EQ(err(reg_->get_function_url(kScope, ref("f"))),
              "The resource you requested does not exist.");
    EXPECT_EQ(err(reg_->update_function_url(kScope, ref("f"), url_input())),
              "The resource you requested does not exist.");
}

TEST_F(FunctionUrls, UpdateChangesOnlyWhatIsSentAndKeepsTheUrl) {
    create("f");
    auto made = reg_->create_function_url(kScope, ref("f"), url_input("NONE", "BUFFERED"));
    ASSERT_TRUE(made.has_value());
    clock_.advance(5000);
    FunctionUrlInput in;
    in.invoke_mode = "RESPONSE_STREAM";
    in.cors = nlohmann::json{{"AllowOrigins", {"https://example.com"}}, {"MaxAge", 60}};
    auto up = reg_->update_function_url(kScope, ref("f"), in);
    ASSERT_TRUE(up.has_value()) << err(up);
    EXPECT_EQ(up->config.url_id, made->config.url_id);
    EXPECT_EQ(up->config.auth_type, "NONE");
    EXPECT_EQ(up->config.invoke_mode, "RESPONSE_STREAM");
    EXPECT_EQ(up->config.creation_time, made->config.creation_time);
    EXPECT_NE(up->config.last_modified_time, made->config.last_modified_time);
    // an Update without InvokeMode keeps the mode
    auto again = reg_->update_function_url(kScope, ref("f"), url_input("AWS_IAM"));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->config.invoke_mode, "RESPONSE_STREAM");
    EXPECT_EQ(again->config.auth_type, "AWS_IAM");
    EXPECT_EQ((*again->config.cors)["MaxAge"], 60);
}

TEST_F(FunctionUrls, AliasesHaveTheirOwnUrlAndDeletingTheAliasDropsIt) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    auto fn = reg_->create_function_url(kScope, ref("f"), url_input());
    auto live = reg_->create_function_url(kScope, ref("f", "live"), url_input("AWS_IAM"));
    ASSERT_TRUE(fn.has_value() && live.has_value());
    EXPECT_EQ(live->function_arn, kArn + "f:live");
    EXPECT_NE(live->config.url_id, fn->config.url_id);

    auto listed = reg_->list_function_urls(kScope, ref("f"), Page{});
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->first.size(), 2u);
    EXPECT_EQ(listed->first[0].function_arn, kArn + "f");
    EXPECT_EQ(listed->first[1].function_arn, kArn + "f:live");

    auto target = reg_->find_function_url(live->config.url_id);
    ASSERT_TRUE(target.has_value());
    EXPECT_EQ(target->function_name, "f");
    EXPECT_EQ(target->qualifier, "live");
    EXPECT_EQ(target->scope, kScope);

    // deleting the unqualified URL leaves the alias's
    ASSERT_TRUE(reg_->delete_function_url(kScope, ref("f")).has_value());
    EXPECT_FALSE(reg_->find_function_url(fn->config.url_id).has_value());
    EXPECT_TRUE(reg_->get_function_url(kScope, ref("f", "live")).has_value());

    ASSERT_TRUE(reg_->delete_alias(kScope, ref("f"), "live").has_value());
    EXPECT_FALSE(reg_->find_function_url(live->config.url_id).has_value());
    // a new alias of the same name starts without a URL
    ASSERT_TRUE(alias("live", "2").has_value());
    EXPECT_FALSE(reg_->get_function_url(kScope, ref("f", "live")).has_value());
}

TEST_F(FunctionUrls, DeletingTheFunctionDropsEveryUrlFromTheIndex) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    auto fn = reg_->create_function_url(kScope, ref("f"), url_input());
    auto live = reg_->create_function_url(kScope, ref("f", "live"), url_input());
    ASSERT_TRUE(fn.has_value() && live.has_value());
    ASSERT_TRUE(reg_->delete_function(kScope, ref("f")).has_value());
    EXPECT_FALSE(reg_->find_function_url(fn->config.url_id).has_value());
    EXPECT_FALSE(reg_->find_function_url(live->config.url_id).has_value());
    create("f");
    EXPECT_FALSE(reg_->get_function_url(kScope, ref("f")).has_value());
}

TEST_F(FunctionUrls, UrlsSurviveARestartWithTheirIdsAndSettings) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    FunctionUrlInput in = url_input("AWS_IAM", "RESPONSE_STREAM");
    in.cors = nlohmann::json{{"AllowCredentials", true}, {"AllowMethods", {"GET", "POST"}}};
    auto fn = reg_->create_function_url(kScope, ref("f"), in);
    auto live = reg_->create_function_url(kScope, ref("f", "live"), url_input());
    ASSERT_TRUE(fn.has_value() && live.has_value());
    reopen();
    auto got = reg_->get_function_url(kScope, ref("f"));
    ASSERT_TRUE(got.has_value()) << err(got);
    EXPECT_EQ(got->config.url_id, fn->config.url_id);
    EXPECT_EQ(got->config.auth_type, "AWS_IAM");
    EXPECT_EQ(got->config.invoke_mode, "RESPONSE_STREAM");
    EXPECT_EQ(got->config.cors, in.cors);
    EXPECT_EQ(got->config.creation_time, fn->config.creation_time);
    // the index is rebuilt from the store
    auto target = reg_->find_function_url(live->config.url_id);
    ASSERT_TRUE(target.has_value());
    EXPECT_EQ(target->qualifier, "live");
    EXPECT_FALSE(target->config.invoke_mode.has_value());
}

TEST_F(FunctionUrls, ListPagesWithMarkers) {
    make_three_versions();
    ASSERT_TRUE(reg_->create_function_url(kScope, ref("f"), url_input()).has_value());
    for (const char* a : {"a1", "a2", "a3"}) {
        ASSERT_TRUE(alias(a, "1").has_value());
        ASSERT_TRUE(reg_->create_function_url(kScope, ref("f", a), url_input()).has_value());
    }
    std::set<std::string> seen;
    Page page;
    page.max_items = 3;
    auto first = reg_->list_function_urls(kScope, ref("f"), page);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(first->first.size(), 3u);
    ASSERT_TRUE(first->second.has_value());
    for (const auto& v : first->first) seen.insert(v.function_arn);
    page.marker = first->second;
    auto second = reg_->list_function_urls(kScope, ref("f"), page);
    ASSERT_TRUE(second.has_value());
    ASSERT_EQ(second->first.size(), 1u);
    EXPECT_FALSE(second->second.has_value());
    seen.insert(second->first[0].function_arn);
    EXPECT_EQ(seen.size(), 4u);
}

TEST_F(FunctionUrls, AnUnknownUrlIdFindsNothing) {
    EXPECT_FALSE(reg_->find_function_url("0123456789abcdef0123456789abcdef").has_value());
    EXPECT_FALSE(reg_->find_function_url("").has_value());
}

namespace {

PermissionInput url_permission(const std::string& sid, const std::string& principal,
                               std::optional<std::string> auth) {
    PermissionInput in;
    in.statement_id = sid;
    in.action = "lambda:InvokeFunctionUrl";
    in.principal = principal;
    in.function_url_auth_type = std::move(auth);
    return in;
}

}  // namespace

TEST_F(FunctionUrls, PermitsUrlNeedsAnAllowForThatAuthType) {
    create("f");
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f"), "NONE", ""));  // no policy at all
    ASSERT_TRUE(
        reg_->add_permission(kScope, ref("f"), url_permission("iam", "*", "AWS_IAM")).has_value());
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f"), "NONE", ""));  // the other auth type
    EXPECT_TRUE(reg_->permits_url(kScope, ref("f"), "AWS_IAM", "210987654321"));
    ASSERT_TRUE(
        reg_->add_permission(kScope, ref("f"), url_permission("none", "*", "NONE")).has_value());
    EXPECT_TRUE(reg_->permits_url(kScope, ref("f"), "NONE", ""));
    // another action does not count
    PermissionInput invoke = url_permission("inv", "*", std::nullopt);
    invoke.action = "lambda:InvokeFunction";
    create("g");
    ASSERT_TRUE(reg_->add_permission(kScope, ref("g"), invoke).has_value());
    EXPECT_FALSE(reg_->permits_url(kScope, ref("g"), "NONE", ""));
    EXPECT_FALSE(reg_->permits_url(kScope, ref("nope"), "NONE", ""));
}

TEST_F(FunctionUrls, PermitsUrlAdmitsAnAccountPrincipalOnlyForThatSignedCaller) {
    create("f");
    ASSERT_TRUE(
        reg_->add_permission(kScope, ref("f"), url_permission("acct", "210987654321", "AWS_IAM"))
            .has_value());
    EXPECT_TRUE(reg_->permits_url(kScope, ref("f"), "AWS_IAM", "210987654321"));
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f"), "AWS_IAM", "111111111111"));
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f"), "AWS_IAM", ""));  // unsigned
}

TEST_F(FunctionUrls, PermitsUrlReadsTheAliasPolicyForAnAliasUrl) {
    make_three_versions();
    ASSERT_TRUE(alias("live", "1").has_value());
    ASSERT_TRUE(reg_->add_permission(kScope, ref("f", "live"), url_permission("n", "*", "NONE"))
                    .has_value());
    EXPECT_TRUE(reg_->permits_url(kScope, ref("f", "live"), "NONE", ""));
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f"), "NONE", ""));  // the function's own is empty
    EXPECT_FALSE(reg_->permits_url(kScope, ref("f", "gone"), "NONE", ""));
}
