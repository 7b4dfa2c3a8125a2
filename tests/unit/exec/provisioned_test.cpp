#include "lamina/exec/provisioned.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/blob_store.hpp"

using namespace lamina;
using control::FunctionRef;

namespace {
const control::Scope kScope{"123456789012", "us-east-1"};
}

// Without a data plane ProvisionedConfigs still keeps the registry's configs
// in step with the changes that end them.
class ProvisionedConfigsTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto d = store::DocumentStore::open(dir_.path() / "meta.db", store::Durability::Crash);
        ASSERT_TRUE(d.has_value());
        docs_ = std::move(*d);
        blobs_ = std::make_unique<store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        registry_ = std::make_unique<control::Registry>(*docs_, clock_, ids_);
        ASSERT_TRUE(registry_->load().has_value());
        configs_ = std::make_unique<exec::ProvisionedConfigs>(*registry_, nullptr);
        control::CreateFunctionInput in;
        in.name = "fn";
        in.settings.runtime = "python3.12";
        in.settings.handler = "index.handler";
        in.settings.role = "arn:aws:iam::123456789012:role/r";
        std::string digest = sha256("zip");
        in.code = control::StoredCode{base64_encode(digest), to_hex(digest), 3, 3};
        ASSERT_TRUE(blobs_->put(in.code.sha256_hex, "zip").has_value());
        ASSERT_TRUE(registry_->create_function(kScope, std::move(in)).has_value());
        ASSERT_TRUE(registry_
                        ->publish_version(kScope, FunctionRef{"fn", std::nullopt}, std::nullopt,
                                          std::nullopt, std::nullopt)
                        .has_value());
        control::AliasInput alias;
        alias.function_version = "1";
        ASSERT_TRUE(registry_->create_alias(kScope, FunctionRef{"fn", std::nullopt}, "live", alias)
                        .has_value());
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<control::Registry> registry_;
    std::unique_ptr<exec::ProvisionedConfigs> configs_;
};

TEST_F(ProvisionedConfigsTest, PutStoresAndStatusIsEmptyWithoutDataPlane) {
    auto pc = configs_->put(kScope, FunctionRef{"fn", "live"}, 2, {});
    ASSERT_TRUE(pc.has_value()) << pc.error().message;
    EXPECT_EQ(pc->version, "1");
    EXPECT_EQ(pc->config.requested, 2);
    auto st = configs_->status(kScope, *pc);
    EXPECT_EQ(st.allocated, 0);
    EXPECT_EQ(st.available, 0);
    ASSERT_TRUE(configs_->remove(kScope, FunctionRef{"fn", "live"}).has_value());
    EXPECT_FALSE(
        registry_->get_provisioned_concurrency(kScope, FunctionRef{"fn", "live"}).has_value());
}

TEST_F(ProvisionedConfigsTest, DeletingTheAliasOrFunctionDropsConfigs) {
    ASSERT_TRUE(configs_->put(kScope, FunctionRef{"fn", "live"}, 1, {}).has_value());
    ASSERT_TRUE(
        configs_->delete_alias(kScope, FunctionRef{"fn", std::nullopt}, "live").has_value());
    EXPECT_FALSE(
        registry_->get_provisioned_concurrency(kScope, FunctionRef{"fn", "live"}).has_value());
    ASSERT_TRUE(configs_->put(kScope, FunctionRef{"fn", "1"}, 1, {}).has_value());
    ASSERT_TRUE(configs_->delete_function(kScope, FunctionRef{"fn", std::nullopt}).has_value());
    EXPECT_FALSE(
        registry_->get_provisioned_concurrency(kScope, FunctionRef{"fn", "1"}).has_value());
    // a failed delete changes nothing
    EXPECT_FALSE(configs_->delete_function(kScope, FunctionRef{"fn", std::nullopt}).has_value());
}
