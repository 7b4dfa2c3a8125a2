#include "registry_fixture.hpp"

// POST /_lamina/reset's part in the registry: everything goes, stored too.

TEST_F(FunctionRegistry, ClearForgetsFunctionsVersionsAliasesAndUrls) {
    create("a");
    publish("a");
    create("b");
    AliasInput ai;
    ai.function_version = "1";
    ASSERT_TRUE(reg_->create_alias(kScope, ref("a"), "live", ai).has_value());
    ASSERT_TRUE(reg_->clear().has_value());
    EXPECT_EQ(reg_->total_functions(), 0u);
    EXPECT_TRUE(reg_->referenced_blobs().empty());
    EXPECT_FALSE(reg_->get_function(kScope, ref("a")).has_value());
    reopen();  // nothing comes back from the store
    EXPECT_EQ(reg_->total_functions(), 0u);
    // the names are free again, and versions count from 1
    create("a");
    EXPECT_EQ(publish("a"), "1");
}
