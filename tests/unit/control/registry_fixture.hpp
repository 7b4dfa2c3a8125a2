#pragma once
// The registry over a real document store in a temp dir, with a fake clock
// and counting ids: shared by the registry's test files.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/store/blob_store.hpp"

using namespace lamina;
using namespace lamina::control;
using nlohmann::json;

namespace registry_fixture {

inline const Scope kScope{"123456789012", "us-east-1"};
inline const std::string kArn = "arn:aws:lambda:us-east-1:123456789012:function:";
inline const std::string kRole = "arn:aws:iam::123456789012:role/lambda-role";

inline FunctionRef ref(const std::string& name, std::optional<std::string> q = std::nullopt) {
    return FunctionRef{name, std::move(q)};
}

template <typename T>
std::string err(const Result<T>& r) {
    return r ? std::string("(no error)") : r.error().message;
}

}  // namespace registry_fixture

using namespace registry_fixture;

class FunctionRegistry : public ::testing::Test {
protected:
    void SetUp() override { open(); }
    void TearDown() override { close(); }

    void open() {
        auto d = store::DocumentStore::open(dir_.path() / "meta.db", store::Durability::Crash);
        ASSERT_TRUE(d.has_value()) << d.error().message;
        docs_ = std::move(*d);
        blobs_ = std::make_unique<store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        reg_ = std::make_unique<Registry>(*docs_, clock_, ids_);
        auto st = reg_->load();
        ASSERT_TRUE(st.has_value()) << st.error().message;
        // as `lamina serve` does at start-up: blobs no function version uses go
        blobs_->collect_garbage(reg_->referenced_blobs());
    }
    void close() {
        reg_.reset();
        blobs_.reset();
        docs_.reset();
    }
    void reopen() {
        close();
        open();
    }

    StoredCode code(const std::string& bytes, std::int64_t unzipped = 1000) {
        auto digest = sha256(bytes);
        StoredCode c{base64_encode(digest), to_hex(digest), static_cast<std::int64_t>(bytes.size()),
                     unzipped};
        EXPECT_TRUE(blobs_->put(c.sha256_hex, bytes).has_value());
        return c;
    }

    CreateFunctionInput input(const std::string& name, const std::string& bytes = "zip-bytes-1") {
        CreateFunctionInput in;
        in.name = name;
        in.settings.runtime = "python3.12";
        in.settings.handler = "index.handler";
        in.settings.role = kRole;
        in.code = code(bytes);
        return in;
    }

    ConfigView create(const std::string& name, const std::string& bytes = "zip-bytes-1") {
        auto r = reg_->create_function(kScope, input(name, bytes));
        EXPECT_TRUE(r.has_value()) << err(r);
        return r.value();
    }

    // Changes $LATEST so that the next PublishVersion makes a new version
    // (a new description and a new timeout).
    void change(const std::string& name, const std::string& description) {
        FunctionSettings s;
        s.description = description;
        s.timeout = next_timeout_++;
        auto r = reg_->update_function_configuration(kScope, ref(name), s, std::nullopt);
        ASSERT_TRUE(r.has_value()) << err(r);
    }

    std::string publish(const std::string& name,
                        std::optional<std::string> description = std::nullopt) {
        auto r = reg_->publish_version(kScope, ref(name), std::nullopt, description, std::nullopt);
        EXPECT_TRUE(r.has_value()) << err(r);
        return r.value().config.version;
    }

    ConfigView get(const std::string& name, std::optional<std::string> q = std::nullopt) {
        auto r = reg_->get_configuration(kScope, ref(name, std::move(q)));
        EXPECT_TRUE(r.has_value()) << err(r);
        return r.value();
    }

    // Function "f" with versions 1, 2, 3 that all share one role.
    void make_three_versions() {
        create("f");
        for (int i = 1; i <= 3; ++i) {
            change("f", "v" + std::to_string(i));
            ASSERT_EQ(publish("f"), std::to_string(i));
        }
    }

    Result<AliasView> alias(const std::string& name, const std::string& version,
                            std::optional<std::map<std::string, double>> weights = std::nullopt) {
        AliasInput in;
        in.function_version = version;
        in.weights = std::move(weights);
        return reg_->create_alias(kScope, ref("f"), name, in);
    }

    int next_timeout_ = 10;
    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<Registry> reg_;
};
