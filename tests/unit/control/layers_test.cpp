#include "lamina/control/layers.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/document_store.hpp"

using namespace lamina;
using namespace lamina::control;
using nlohmann::json;

namespace {

const Scope kOwner{"111111111111", "us-east-1"};
const Scope kOther{"222222222222", "us-east-1"};
const Scope kThird{"333333333333", "us-east-1"};
const Scope kOwnerWest{"111111111111", "us-west-2"};

// The pattern in AWS's ValidationException messages (test_lambda_api.snapshot.json).
const std::string kAwsArnPattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))";

const std::string kStaleRevision =
    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API "
    "to retrieve the "
    "latest Revision Id";

template <typename T>
std::string err(const Result<T>& r) {
    return r ? std::string("(no error)") : r.error().message;
}

template <typename T>
void expect_error(const Result<T>& r, ErrorCode code, const std::string& message) {
    ASSERT_FALSE(r.has_value()) << "expected: " << message;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_EQ(r.error().message, message);
}

std::string arn(const Scope& s, const std::string& name, std::int64_t v) {
    return "arn:aws:lambda:" + s.region + ":" + s.account + ":layer:" + name + ":" +
           std::to_string(v);
}

std::vector<std::int64_t> numbers(const std::vector<LayerVersionView>& views) {
    std::vector<std::int64_t> out;
    for (const auto& v : views) out.push_back(v.version.version);
    return out;
}

}  // namespace

class LayerRegistryTest : public ::testing::Test {
protected:
    void SetUp() override { open(); }

    void open() {
        auto d = store::DocumentStore::open(dir_.path() / "meta.db", store::Durability::Crash);
        ASSERT_TRUE(d.has_value()) << d.error().message;
        docs_ = std::move(*d);
        reg_ = std::make_unique<LayerRegistry>(*docs_, clock_, ids_);
        auto st = reg_->load();
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }
    void reopen() {
        reg_.reset();
        docs_.reset();
        open();
    }

    PublishLayerInput input(const std::string& name,
                            std::vector<std::string> runtimes = {"python3.12"},
                            std::vector<std::string> archs = {"x86_64"},
                            const std::string& bytes = "zip") {
        PublishLayerInput in;
        in.name = name;
        in.compatible_runtimes = std::move(runtimes);
        in.compatible_architectures = std::move(archs);
        auto digest = sha256(bytes + name);
        in.code_sha256 = base64_encode(digest);
        in.code_blob = to_hex(digest);
        in.code_size = static_cast<std::int64_t>(bytes.size() + name.size());
        in.unzipped_size = 10 * in.code_size;
        return in;
    }

    LayerVersionView publish(const Scope& s, PublishLayerInput in) {
        auto r = reg_->publish(s, std::move(in));
        EXPECT_TRUE(r.has_value()) << err(r);
        return r.value();
    }
    std::int64_t publish(const std::string& name,
                         std::vector<std::string> runtimes = {"python3.12"},
                         std::vector<std::string> archs = {"x86_64"}) {
        return publish(kOwner, input(name, std::move(runtimes), std::move(archs))).version.version;
    }

    void remove(const std::string& name, std::int64_t v) {
        auto st = reg_->remove(kOwner, name, v);
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }

    std::string grant(const std::string& name, std::int64_t v, const std::string& sid,
                      const std::string& principal, std::optional<std::string> org = std::nullopt) {
        LayerPermissionInput in;
        in.statement_id = sid;
        in.action = "lambda:GetLayerVersion";
        in.principal = principal;
        in.organization_id = std::move(org);
        auto r = reg_->add_permission(kOwner, name, v, in);
        EXPECT_TRUE(r.has_value()) << err(r);
        return r ? r->second : std::string();
    }

    std::vector<std::string> list_names(const std::optional<std::string>& runtime = std::nullopt,
                                        const std::optional<std::string>& arch = std::nullopt) {
        auto r = reg_->list_layers(kOwner, runtime, arch, std::nullopt, 50);
        EXPECT_TRUE(r.has_value()) << err(r);
        std::vector<std::string> out;
        if (r)
            for (const auto& item : r->first)
                out.push_back(item.name + ":" + std::to_string(item.latest.version.version));
        return out;
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<LayerRegistry> reg_;
};

// ---- publish, numbering, get, delete ---------------------------------------------

TEST_F(LayerRegistryTest, PublishNumbersVersionsFromOnePerLayer) {
    auto in = input("lib");
    in.description = "shared code";
    in.license_info = "MIT";
    auto v1 = publish(kOwner, in);
    EXPECT_EQ(v1.version.version, 1);
    EXPECT_EQ(v1.owner, kOwner);
    EXPECT_EQ(v1.version.layer_name, "lib");
    EXPECT_EQ(v1.version.description, "shared code");
    EXPECT_EQ(v1.version.license_info, std::optional<std::string>("MIT"));
    EXPECT_EQ(v1.version.created_ms, clock_.now_ms());
    EXPECT_EQ(publish("lib"), 2);
    EXPECT_EQ(publish("lib"), 3);
    EXPECT_EQ(publish("other"), 1);
    // another account has its own numbering for the same name
    EXPECT_EQ(publish(kOther, input("lib")).version.version, 1);
    EXPECT_EQ(layer_version_arn(kOwner, "lib", 3),
              "arn:aws:lambda:us-east-1:111111111111:layer:lib:3");
    EXPECT_EQ(layer_arn(kOwner, "lib"), "arn:aws:lambda:us-east-1:111111111111:layer:lib");
}

TEST_F(LayerRegistryTest, DeletedVersionNumbersAreNeverReused) {
    ASSERT_EQ(publish("lib"), 1);
    ASSERT_EQ(publish("lib"), 2);
    remove("lib", 1);
    remove("lib", 2);
    EXPECT_EQ(publish("lib"), 3);
    remove("lib", 3);
    // the layer has no versions left, and the store is all that remains of "3"
    reopen();
    EXPECT_EQ(publish("lib"), 4);
    reopen();
    EXPECT_EQ(publish("lib"), 5);
}

TEST_F(LayerRegistryTest, GetReturnsThePublishedVersion) {
    publish("lib");
    auto in = input("lib", {"nodejs20.x", "python3.12"}, {"arm64"}, "other bytes");
    in.description = "v2";
    auto published = publish(kOwner, in);

    auto r = reg_->get(kOwner, kOwner, "lib", 2);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->version.description, "v2");
    EXPECT_EQ(r->version.compatible_runtimes,
              (std::vector<std::string>{"nodejs20.x", "python3.12"}));
    EXPECT_EQ(r->version.compatible_architectures, std::vector<std::string>{"arm64"});
    EXPECT_EQ(r->version.code_sha256, published.version.code_sha256);
    EXPECT_EQ(r->version.code_blob, published.version.code_blob);
    EXPECT_EQ(r->version.code_size, published.version.code_size);
}

TEST_F(LayerRegistryTest, GetOfMissingOrDeletedVersionIsNotFound) {
    publish("lib");
    publish("lib");
    remove("lib", 1);
    const std::string msg = "The resource you requested does not exist.";
    expect_error(reg_->get(kOwner, kOwner, "lib", 1), ErrorCode::ResourceNotFound, msg);
    expect_error(reg_->get(kOwner, kOwner, "lib", 3), ErrorCode::ResourceNotFound, msg);
    expect_error(reg_->get(kOwner, kOwner, "nope", 1), ErrorCode::ResourceNotFound, msg);
    // same account, another region: not found there
    expect_error(reg_->get(kOwnerWest, kOwner, "lib", 2), ErrorCode::ResourceNotFound, msg);
    // deleting again (or something that never was) is not an error
    EXPECT_TRUE(reg_->remove(kOwner, "lib", 1).has_value());
    EXPECT_TRUE(reg_->remove(kOwner, "nope", 7).has_value());
    EXPECT_TRUE(reg_->get(kOwner, kOwner, "lib", 2).has_value());
}

TEST_F(LayerRegistryTest, GetByArn) {
    publish("lib");
    auto r = reg_->get_by_arn(kOwner, arn(kOwner, "lib", 1));
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(r->version.layer_name, "lib");
    EXPECT_EQ(r->version.version, 1);
    EXPECT_EQ(r->owner, kOwner);

    expect_error(reg_->get_by_arn(kOwner, arn(kOwner, "lib", 2)), ErrorCode::ResourceNotFound,
                 "The resource you requested does not exist.");
    expect_error(reg_->get_by_arn(kOwner, arn(kOwner, "nope", 1)), ErrorCode::ResourceNotFound,
                 "The resource you requested does not exist.");
}

TEST_F(LayerRegistryTest, GetByMalformedArnIsAValidationError) {
    publish("lib");
    for (const std::string& bad :
         {std::string("arn:aws:lambda:us-east-1:111111111111:layer:lib"), std::string("lib:1"),
          std::string("arn:aws:lambda:us-east-1:111111111111:function:lib:1"),
          std::string("arn:aws:lambda:us-east-1:1111:layer:lib:1")}) {
        SCOPED_TRACE(bad);
        expect_error(
            reg_->get_by_arn(kOwner, bad), ErrorCode::Validation,
            "1 validation error detected: Value '" + bad +
                "' at 'arn' failed to satisfy constraint: Member must satisfy regular expression "
                "pattern: " +
                kAwsArnPattern);
    }
}

// A version number of more than 19 digits matches AWS's pattern ([0-9]+) but
// fits no integer: it is answered as a missing version, not an exception.
TEST_F(LayerRegistryTest, GetByArnWithHugeVersionIsAnErrorNotAnException) {
    const std::string huge = "arn:aws:lambda:us-east-1:111111111111:layer:lib:99999999999999999999";
    Result<LayerVersionView> r = fail(ErrorCode::Service, "not run");
    EXPECT_NO_THROW(r = reg_->get_by_arn(kOwner, huge));
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().code, ErrorCode::Service);
}

// ---- listing ----------------------------------------------------------------------

TEST_F(LayerRegistryTest, ListLayersShowsEachLayersLatestMatchingVersion) {
    publish("alpha", {"python3.12"}, {"x86_64"});
    publish("alpha", {"nodejs20.x"}, {"arm64"});
    publish("beta", {"python3.12", "nodejs20.x"}, {"x86_64", "arm64"});
    publish("gamma");
    remove("gamma", 1);  // no versions left: not listed
    publish(kOther, input("other-account"));

    EXPECT_EQ(list_names(), (std::vector<std::string>{"alpha:2", "beta:1"}));
    EXPECT_EQ(list_names("python3.12"), (std::vector<std::string>{"alpha:1", "beta:1"}));
    EXPECT_EQ(list_names(std::nullopt, "arm64"), (std::vector<std::string>{"alpha:2", "beta:1"}));
    EXPECT_EQ(list_names("python3.12", "arm64"), std::vector<std::string>{"beta:1"});
    EXPECT_EQ(list_names("nodejs20.x", "x86_64"), std::vector<std::string>{"beta:1"});
    EXPECT_TRUE(list_names("java21").empty());

    auto r = reg_->list_layers(kOther, std::nullopt, std::nullopt, std::nullopt, 50);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->first.size(), 1u);
    EXPECT_EQ(r->first[0].name, "other-account");
    EXPECT_EQ(r->first[0].latest.owner, kOther);
}

TEST_F(LayerRegistryTest, ListLayersPagesCoverEveryLayerOnce) {
    for (const char* n : {"e", "a", "d", "b", "c", "f", "g"}) publish(n);
    publish("c-skipped", {"nodejs20.x"});  // no python version: not listed
    for (int page_size : {1, 2, 3, 7, 50}) {
        SCOPED_TRACE(page_size);
        std::multiset<std::string> seen;
        std::optional<std::string> marker;
        int pages = 0;
        do {
            auto r = reg_->list_layers(kOwner, std::string("python3.12"), std::nullopt, marker,
                                       page_size);
            ASSERT_TRUE(r.has_value()) << err(r);
            ASSERT_LE(static_cast<int>(r->first.size()), page_size);
            ASSERT_FALSE(r->first.empty()) << "an empty page";
            for (const auto& item : r->first) seen.insert(item.name);
            marker = r->second;
            ASSERT_LT(++pages, 20);
        } while (marker);
        EXPECT_EQ(seen, (std::multiset<std::string>{"a", "b", "c", "d", "e", "f", "g"}));
        EXPECT_EQ(pages, (7 + page_size - 1) / page_size);
    }
    auto bad =
        reg_->list_layers(kOwner, std::nullopt, std::nullopt, std::string("not-a-marker"), 10);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::InvalidParameterValue);
}

TEST_F(LayerRegistryTest, ListVersionsNewestFirstWithMarkers) {
    for (int i = 1; i <= 6; ++i) publish("lib", {i % 2 ? "python3.12" : "nodejs20.x"});
    remove("lib", 3);

    auto all = reg_->list_versions(kOwner, "lib", std::nullopt, std::nullopt, std::nullopt, 50);
    ASSERT_TRUE(all.has_value()) << err(all);
    EXPECT_EQ(numbers(all->first), (std::vector<std::int64_t>{6, 5, 4, 2, 1}));
    EXPECT_FALSE(all->second.has_value());

    std::vector<std::int64_t> paged;
    std::optional<std::string> marker;
    int pages = 0;
    do {
        auto r = reg_->list_versions(kOwner, "lib", std::nullopt, std::nullopt, marker, 2);
        ASSERT_TRUE(r.has_value()) << err(r);
        ASSERT_FALSE(r->first.empty());
        for (auto n : numbers(r->first)) paged.push_back(n);
        marker = r->second;
        ASSERT_LT(++pages, 10);
    } while (marker);
    EXPECT_EQ(paged, (std::vector<std::int64_t>{6, 5, 4, 2, 1}));
    EXPECT_EQ(pages, 3);

    auto py = reg_->list_versions(kOwner, "lib", std::string("python3.12"), std::nullopt,
                                  std::nullopt, 50);
    ASSERT_TRUE(py.has_value());
    EXPECT_EQ(numbers(py->first), (std::vector<std::int64_t>{5, 1}));

    auto none = reg_->list_versions(kOwner, "nope", std::nullopt, std::nullopt, std::nullopt, 50);
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->first.empty());
}

TEST_F(LayerRegistryTest, ListVersionsRefusesAnotherLayersMarker) {
    for (int i = 0; i < 3; ++i) publish("a");
    publish("b");
    auto first = reg_->list_versions(kOwner, "a", std::nullopt, std::nullopt, std::nullopt, 1);
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(first->second.has_value());
    auto r = reg_->list_versions(kOwner, "b", std::nullopt, std::nullopt, first->second, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
}

// A marker is a client-supplied string: one that decodes to "layers\n<name>|x"
// is answered "Invalid Marker", not with an exception.
TEST_F(LayerRegistryTest, ListVersionsWithForgedMarkerIsAnErrorNotAnException) {
    publish("lib");
    const std::string forged = base64_encode("layers\nlib|x");
    Result<std::pair<std::vector<LayerVersionView>, std::optional<std::string>>> r =
        fail(ErrorCode::Service, "not run");
    EXPECT_NO_THROW(r = reg_->list_versions(kOwner, "lib", std::nullopt, std::nullopt, forged, 10));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
}

// ---- permissions --------------------------------------------------------------------

TEST_F(LayerRegistryTest, AddPermissionReturnsStatementAndPolicyHasIt) {
    publish("lib");
    LayerPermissionInput in{"s1", "lambda:GetLayerVersion", "*", std::nullopt, std::nullopt};
    auto added = reg_->add_permission(kOwner, "lib", 1, in);
    ASSERT_TRUE(added.has_value()) << err(added);
    const json s1 = {{"Sid", "s1"},
                     {"Effect", "Allow"},
                     {"Principal", "*"},
                     {"Action", "lambda:GetLayerVersion"},
                     {"Resource", arn(kOwner, "lib", 1)}};
    EXPECT_EQ(added->first, s1);
    const std::string rev1 = added->second;
    EXPECT_FALSE(rev1.empty());

    auto policy = reg_->get_policy(kOwner, "lib", 1);
    ASSERT_TRUE(policy.has_value()) << err(policy);
    EXPECT_EQ(
        json::parse(policy->first),
        (json{{"Version", "2012-10-17"}, {"Id", "default"}, {"Statement", json::array({s1})}}));
    EXPECT_EQ(policy->second, rev1);

    // an account id becomes its root principal; the org condition is kept
    std::string rev2 = grant("lib", 1, "s2", "222222222222", std::string("o-abc123"));
    EXPECT_NE(rev2, rev1);
    policy = reg_->get_policy(kOwner, "lib", 1);
    ASSERT_TRUE(policy.has_value());
    auto doc = json::parse(policy->first);
    ASSERT_EQ(doc["Statement"].size(), 2u);
    EXPECT_EQ(doc["Statement"][0], s1);
    EXPECT_EQ(doc["Statement"][1]["Principal"], (json{{"AWS", "arn:aws:iam::222222222222:root"}}));
    EXPECT_EQ(doc["Statement"][1]["Condition"],
              (json{{"StringEquals", {{"aws:PrincipalOrgID", "o-abc123"}}}}));
    EXPECT_EQ(policy->second, rev2);

    // the policy belongs to that version only
    publish("lib");
    expect_error(reg_->get_policy(kOwner, "lib", 2), ErrorCode::ResourceNotFound,
                 "No policy is associated with the given resource.");
}

TEST_F(LayerRegistryTest, DuplicateStatementIdIsAConflict) {
    publish("lib");
    grant("lib", 1, "s1", "*");
    LayerPermissionInput in{"s1", "lambda:GetLayerVersion", "222222222222", std::nullopt,
                            std::nullopt};
    expect_error(reg_->add_permission(kOwner, "lib", 1, in), ErrorCode::ResourceConflict,
                 "The statement id (s1) provided already exists. Please provide a new statement "
                 "id, or remove the "
                 "existing statement.");
}

TEST_F(LayerRegistryTest, RevisionIdMustBeTheLatest) {
    publish("lib");
    std::string rev1 = grant("lib", 1, "s1", "*");
    LayerPermissionInput stale{"s2", "lambda:GetLayerVersion", "*", std::nullopt,
                               std::string("wrong")};
    expect_error(reg_->add_permission(kOwner, "lib", 1, stale), ErrorCode::PreconditionFailed,
                 kStaleRevision);

    LayerPermissionInput fresh{"s2", "lambda:GetLayerVersion", "*", std::nullopt, rev1};
    auto added = reg_->add_permission(kOwner, "lib", 1, fresh);
    ASSERT_TRUE(added.has_value()) << err(added);
    // rev1 is stale now
    expect_error(reg_->remove_permission(kOwner, "lib", 1, "s1", rev1),
                 ErrorCode::PreconditionFailed, kStaleRevision);
    EXPECT_TRUE(reg_->remove_permission(kOwner, "lib", 1, "s1", added->second).has_value());
    auto policy = reg_->get_policy(kOwner, "lib", 1);
    ASSERT_TRUE(policy.has_value());
    EXPECT_NE(policy->second, added->second);
    auto doc = json::parse(policy->first);
    ASSERT_EQ(doc["Statement"].size(), 1u);
    EXPECT_EQ(doc["Statement"][0]["Sid"], "s2");
}

TEST_F(LayerRegistryTest, RemovePermissionErrors) {
    publish("lib");
    expect_error(reg_->get_policy(kOwner, "lib", 1), ErrorCode::ResourceNotFound,
                 "No policy is associated with the given resource.");
    grant("lib", 1, "s1", "*");
    expect_error(reg_->remove_permission(kOwner, "lib", 1, "doesnotexist", std::nullopt),
                 ErrorCode::ResourceNotFound,
                 "Statement doesnotexist is not found in resource policy.");
    ASSERT_TRUE(reg_->remove_permission(kOwner, "lib", 1, "s1", std::nullopt).has_value());
    expect_error(reg_->get_policy(kOwner, "lib", 1), ErrorCode::ResourceNotFound,
                 "No policy is associated with the given resource.");
    expect_error(reg_->remove_permission(kOwner, "lib", 1, "s1", std::nullopt),
                 ErrorCode::ResourceNotFound, "Statement s1 is not found in resource policy.");
}

TEST_F(LayerRegistryTest, PermissionsOnMissingVersionNameTheVersionArn) {
    publish("lib");
    const std::string missing = "Layer version " + arn(kOwner, "lib", 2) + " does not exist.";
    const std::string missing_layer =
        "Layer version " + arn(kOwner, "lib-doesnotexist", 1) + " does not exist.";
    LayerPermissionInput in{"s1", "lambda:GetLayerVersion", "*", std::nullopt, std::nullopt};
    expect_error(reg_->add_permission(kOwner, "lib", 2, in), ErrorCode::ResourceNotFound, missing);
    expect_error(reg_->get_policy(kOwner, "lib", 2), ErrorCode::ResourceNotFound, missing);
    expect_error(reg_->remove_permission(kOwner, "lib", 2, "s1", std::nullopt),
                 ErrorCode::ResourceNotFound, missing);
    expect_error(reg_->add_permission(kOwner, "lib-doesnotexist", 1, in),
                 ErrorCode::ResourceNotFound, missing_layer);
    expect_error(reg_->get_policy(kOwner, "lib-doesnotexist", 1), ErrorCode::ResourceNotFound,
                 missing_layer);
}

// ---- cross-account use ------------------------------------------------------------

TEST_F(LayerRegistryTest, AnotherAccountNeedsAGrant) {
    publish("lib");
    const std::string v1 = arn(kOwner, "lib", 1);
    auto denied = reg_->get(kOther, kOwner, "lib", 1);
    ASSERT_FALSE(denied.has_value());
    EXPECT_EQ(denied.error().code, ErrorCode::AccessDenied);
    EXPECT_NE(denied.error().message.find("arn:aws:iam::222222222222:root"), std::string::npos);
    EXPECT_NE(denied.error().message.find(v1), std::string::npos);
    EXPECT_EQ(reg_->get_by_arn(kOther, v1).error().code, ErrorCode::AccessDenied);
    // a missing foreign version does not tell it is missing
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 9).error().code, ErrorCode::AccessDenied);

    grant("lib", 1, "other", "222222222222");
    auto ok = reg_->get_by_arn(kOther, v1);
    ASSERT_TRUE(ok.has_value()) << err(ok);
    EXPECT_EQ(ok->owner, kOwner);
    EXPECT_TRUE(reg_->get(kOther, kOwner, "lib", 1).has_value());
    // the grant names one account and one version
    EXPECT_EQ(reg_->get(kThird, kOwner, "lib", 1).error().code, ErrorCode::AccessDenied);
    publish("lib");
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 2).error().code, ErrorCode::AccessDenied);

    ASSERT_TRUE(reg_->remove_permission(kOwner, "lib", 1, "other", std::nullopt).has_value());
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 1).error().code, ErrorCode::AccessDenied);
}

TEST_F(LayerRegistryTest, PublicGrantAdmitsEveryAccount) {
    publish("lib");
    grant("lib", 1, "public", "*");
    EXPECT_TRUE(reg_->get(kOther, kOwner, "lib", 1).has_value());
    EXPECT_TRUE(reg_->get(kThird, kOwner, "lib", 1).has_value());
    ASSERT_TRUE(reg_->remove_permission(kOwner, "lib", 1, "public", std::nullopt).has_value());
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 1).error().code, ErrorCode::AccessDenied);
}

TEST_F(LayerRegistryTest, OrganizationGrantDoesNotAdmitAPlainAccount) {
    publish("lib");
    grant("lib", 1, "org", "*", std::string("o-abc123"));
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 1).error().code, ErrorCode::AccessDenied);
    grant("lib", 1, "org-acct", "222222222222", std::string("o-abc123"));
    EXPECT_EQ(reg_->get(kOther, kOwner, "lib", 1).error().code, ErrorCode::AccessDenied);
    auto refs = reg_->resolve_for_function(kOther, {arn(kOwner, "lib", 1)});
    ASSERT_FALSE(refs.has_value());
    EXPECT_EQ(refs.error().code, ErrorCode::AccessDenied);
}

// ---- layers of a function -----------------------------------------------------------

TEST_F(LayerRegistryTest, ResolveReturnsRefsInOrder) {
    auto a = publish(kOwner, input("a", {}, {}, "aaaa"));
    auto b = publish(kOwner, input("b", {}, {}, "bbbbbbbb"));
    auto refs = reg_->resolve_for_function(kOwner, {arn(kOwner, "b", 1), arn(kOwner, "a", 1)});
    ASSERT_TRUE(refs.has_value()) << err(refs);
    ASSERT_EQ(refs->size(), 2u);
    EXPECT_EQ((*refs)[0].arn, arn(kOwner, "b", 1));
    EXPECT_EQ((*refs)[0].blob, b.version.code_blob);
    EXPECT_EQ((*refs)[0].code_size, b.version.code_size);
    EXPECT_EQ((*refs)[0].unzipped_size, b.version.unzipped_size);
    EXPECT_EQ((*refs)[1].arn, arn(kOwner, "a", 1));
    EXPECT_EQ((*refs)[1].blob, a.version.code_blob);

    auto none = reg_->resolve_for_function(kOwner, {});
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->empty());
}

TEST_F(LayerRegistryTest, ResolveAllowsFiveLayersAndRefusesSix) {
    std::vector<std::string> arns;
    for (int i = 0; i < 6; ++i) {
        std::string name = "l" + std::to_string(i);
        publish(name);
        arns.push_back(arn(kOwner, name, 1));
    }
    expect_error(reg_->resolve_for_function(kOwner, arns), ErrorCode::InvalidParameterValue,
                 "Cannot reference more than 5 layers.");
    arns.pop_back();
    auto five = reg_->resolve_for_function(kOwner, arns);
    ASSERT_TRUE(five.has_value()) << err(five);
    EXPECT_EQ(five->size(), 5u);
}

TEST_F(LayerRegistryTest, ResolveMalformedArnQuotesTheWholeList) {
    publish("lib");
    const std::string good = arn(kOwner, "lib", 1);
    const std::string bad = "arn:aws:lambda:us-east-1:111111111111:layer:lib";
    expect_error(reg_->resolve_for_function(kOwner, {good, bad}), ErrorCode::Validation,
                 "1 validation error detected: Value '[" + good + ", " + bad +
                     "]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: "
                     "[Member must "
                     "have length less than or equal to 2048, Member must have length greater than "
                     "or equal to 1, "
                     "Member must satisfy regular expression pattern: " +
                     kAwsArnPattern + ", Member must not be null]");
    auto empty = reg_->resolve_for_function(kOwner, {""});
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error().code, ErrorCode::Validation);
}

TEST_F(LayerRegistryTest, ResolveRefusesTwoVersionsOfOneLayer) {
    publish("lib");
    publish("lib");
    publish("other");
    const std::string v1 = arn(kOwner, "lib", 1), v2 = arn(kOwner, "lib", 2);
    auto two = [](const std::string& x, const std::string& y) {
        return "Two different versions of the same layer are not allowed to be referenced in the "
               "same function. " +
               x + " and " + y + " are versions of the same layer.";
    };
    expect_error(reg_->resolve_for_function(kOwner, {v1, v2}), ErrorCode::InvalidParameterValue,
                 two(v1, v2));
    expect_error(reg_->resolve_for_function(kOwner, {v1, arn(kOwner, "other", 1), v2}),
                 ErrorCode::InvalidParameterValue, two(v1, v2));
    expect_error(reg_->resolve_for_function(kOwner, {v1, v1}), ErrorCode::InvalidParameterValue,
                 two(v1, v1));
}

TEST_F(LayerRegistryTest, ResolveRefusesLayersFromAnotherRegion) {
    publish("lib");
    publish(kOwnerWest, input("west"));
    expect_error(
        reg_->resolve_for_function(kOwner, {arn(kOwner, "lib", 1), arn(kOwnerWest, "west", 1)}),
        ErrorCode::InvalidParameterValue,
        "Layers are not in the same region as the function. Layers are expected to be in region "
        "us-east-1.");
}

TEST_F(LayerRegistryTest, ResolveMissingLayerOrVersion) {
    publish("lib");
    publish("present");
    for (const std::string& missing : {arn(kOwner, "doesnotexist", 1), arn(kOwner, "lib", 9)}) {
        expect_error(reg_->resolve_for_function(kOwner, {arn(kOwner, "present", 1), missing}),
                     ErrorCode::InvalidParameterValue,
                     "Layer version " + missing + " does not exist.");
    }
    remove("lib", 1);
    expect_error(reg_->resolve_for_function(kOwner, {arn(kOwner, "lib", 1)}),
                 ErrorCode::InvalidParameterValue,
                 "Layer version " + arn(kOwner, "lib", 1) + " does not exist.");
}

TEST_F(LayerRegistryTest, ResolveForeignLayerNeedsAGrant) {
    auto foreign = publish(kOther, input("shared", {}, {}, "foreign-bytes"));
    const std::string v1 = arn(kOther, "shared", 1);
    auto denied = reg_->resolve_for_function(kOwner, {v1});
    ASSERT_FALSE(denied.has_value());
    EXPECT_EQ(denied.error().code, ErrorCode::AccessDenied);

    LayerPermissionInput in{"owner", "lambda:GetLayerVersion", kOwner.account, std::nullopt,
                            std::nullopt};
    ASSERT_TRUE(reg_->add_permission(kOther, "shared", 1, in).has_value());
    auto refs = reg_->resolve_for_function(kOwner, {v1});
    ASSERT_TRUE(refs.has_value()) << err(refs);
    ASSERT_EQ(refs->size(), 1u);
    EXPECT_EQ((*refs)[0].arn, v1);
    EXPECT_EQ((*refs)[0].code_size, foreign.version.code_size);
    EXPECT_EQ((*refs)[0].blob, foreign.version.code_blob);
    // a foreign layer's size is not the caller's storage
    EXPECT_EQ(reg_->total_code_size(kOwner), 0);
}

// ---- storage accounting --------------------------------------------------------------

TEST_F(LayerRegistryTest, TotalCodeSizeAndReferencedBlobs) {
    EXPECT_EQ(reg_->total_code_size(kOwner), 0);
    auto a1 = publish(kOwner, input("a", {}, {}, "one"));
    auto a2 = publish(kOwner, input("a", {}, {}, "two-two"));
    auto b1 = publish(kOwner, input("b", {}, {}, "three"));
    auto o1 = publish(kOther, input("o", {}, {}, "four"));
    EXPECT_EQ(reg_->total_code_size(kOwner),
              a1.version.code_size + a2.version.code_size + b1.version.code_size);
    EXPECT_EQ(reg_->total_code_size(kOther), o1.version.code_size);
    EXPECT_EQ(reg_->referenced_blobs(),
              (std::set<std::string>{a1.version.code_blob, a2.version.code_blob,
                                     b1.version.code_blob, o1.version.code_blob}));

    remove("a", 1);
    EXPECT_EQ(reg_->total_code_size(kOwner), a2.version.code_size + b1.version.code_size);
    EXPECT_FALSE(reg_->referenced_blobs().contains(a1.version.code_blob));
    EXPECT_FALSE(reg_->blob_is_referenced(a1.version.code_blob));
    EXPECT_TRUE(reg_->blob_is_referenced(o1.version.code_blob));
}

TEST_F(LayerRegistryTest, BlobSharedByTwoVersionsStaysReferencedUntilBothGo) {
    auto in = input("a", {}, {}, "same");
    auto v1 = publish(kOwner, in);
    auto v2 = publish(kOwner, in);
    ASSERT_EQ(v1.version.code_blob, v2.version.code_blob);
    remove("a", 1);
    EXPECT_TRUE(reg_->blob_is_referenced(v1.version.code_blob));
    remove("a", 2);
    EXPECT_FALSE(reg_->blob_is_referenced(v1.version.code_blob));
}

// ---- persistence ----------------------------------------------------------------------

TEST_F(LayerRegistryTest, EverythingSurvivesAReload) {
    auto in = input("lib", {"python3.12", "nodejs20.x"}, {"arm64"}, "bytes");
    in.description = "desc";
    in.license_info = "Apache-2.0";
    auto v1 = publish(kOwner, in);
    publish("lib");
    publish("lib");
    remove("lib", 2);
    grant("lib", 1, "s1", "222222222222");
    std::string rev = grant("lib", 1, "s2", "*", std::string("o-abc123"));
    auto before = reg_->get_policy(kOwner, "lib", 1);
    ASSERT_TRUE(before.has_value());
    clock_.advance(60'000);

    reopen();

    auto got = reg_->get(kOwner, kOwner, "lib", 1);
    ASSERT_TRUE(got.has_value()) << err(got);
    EXPECT_EQ(got->version.description, "desc");
    EXPECT_EQ(got->version.license_info, std::optional<std::string>("Apache-2.0"));
    EXPECT_EQ(got->version.compatible_runtimes,
              (std::vector<std::string>{"python3.12", "nodejs20.x"}));
    EXPECT_EQ(got->version.compatible_architectures, std::vector<std::string>{"arm64"});
    EXPECT_EQ(got->version.code_sha256, v1.version.code_sha256);
    EXPECT_EQ(got->version.code_blob, v1.version.code_blob);
    EXPECT_EQ(got->version.code_size, v1.version.code_size);
    EXPECT_EQ(got->version.unzipped_size, v1.version.unzipped_size);
    EXPECT_EQ(got->version.created_ms, v1.version.created_ms);
    EXPECT_FALSE(reg_->get(kOwner, kOwner, "lib", 2).has_value());

    auto after = reg_->get_policy(kOwner, "lib", 1);
    ASSERT_TRUE(after.has_value()) << err(after);
    EXPECT_EQ(json::parse(after->first), json::parse(before->first));
    EXPECT_EQ(after->second, rev);
    EXPECT_TRUE(reg_->get(kOther, kOwner, "lib", 1).has_value());
    EXPECT_FALSE(reg_->get(kThird, kOwner, "lib", 1).has_value());
    // the revision from before the reload is still the latest
    EXPECT_TRUE(reg_->remove_permission(kOwner, "lib", 1, "s1", rev).has_value());

    auto versions =
        reg_->list_versions(kOwner, "lib", std::nullopt, std::nullopt, std::nullopt, 50);
    ASSERT_TRUE(versions.has_value());
    EXPECT_EQ(numbers(versions->first), (std::vector<std::int64_t>{3, 1}));
    EXPECT_EQ(publish("lib"), 4);
}
