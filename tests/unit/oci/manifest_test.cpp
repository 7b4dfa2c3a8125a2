#include "lamina/oci/manifest.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace lamina::oci;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

std::string manifest(const std::string& media_type = kOciManifest) {
    nlohmann::json j = {
        {"schemaVersion", 2},
        {"mediaType", media_type},
        {"config", {{"mediaType", kOciConfig}, {"digest", kDigestA}, {"size", 10}}},
        {"layers", {{{"mediaType", kOciLayerGzip}, {"digest", kDigestB}, {"size", 20}}}}};
    return j.dump();
}

}  // namespace

TEST(OciNames, Digests) {
    EXPECT_TRUE(is_digest(kDigestA));
    EXPECT_FALSE(is_digest("sha256:" + std::string(64, 'A')));  // lowercase only
    EXPECT_FALSE(is_digest("sha256:" + std::string(63, 'a')));
    EXPECT_FALSE(is_digest("sha512:" + std::string(64, 'a')));
    EXPECT_FALSE(is_digest(""));
    EXPECT_EQ(digest_of(""),
              "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(OciNames, Tags) {
    EXPECT_TRUE(is_tag("latest"));
    EXPECT_TRUE(is_tag("_v1.2-rc"));
    EXPECT_TRUE(is_tag(std::string(128, 'a')));
    EXPECT_FALSE(is_tag(std::string(129, 'a')));
    EXPECT_FALSE(is_tag(".hidden"));
    EXPECT_FALSE(is_tag("-x"));
    EXPECT_FALSE(is_tag("a:b"));
    EXPECT_FALSE(is_tag(""));
}

TEST(OciNames, RepositoryNames) {
    EXPECT_TRUE(is_repository_name("ab"));
    EXPECT_TRUE(is_repository_name("team/app-1"));
    EXPECT_TRUE(is_repository_name("a__b/c.d/e--f"));
    EXPECT_FALSE(is_repository_name("a"));  // ECR: at least 2 characters
    EXPECT_FALSE(is_repository_name("Upper"));
    EXPECT_FALSE(is_repository_name("a//b"));
    EXPECT_FALSE(is_repository_name("/ab"));
    EXPECT_FALSE(is_repository_name("ab/"));
    EXPECT_FALSE(is_repository_name("a..b"));
    EXPECT_FALSE(is_repository_name("a___b"));
    EXPECT_FALSE(is_repository_name("a-"));
    EXPECT_FALSE(is_repository_name(std::string(257, 'a')));
}

TEST(OciManifest, ParsesOciManifest) {
    auto m = parse_manifest(manifest(), kOciManifest);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    EXPECT_FALSE(m->is_index);
    EXPECT_EQ(m->media_type, kOciManifest);
    EXPECT_EQ(m->config.digest, kDigestA);
    ASSERT_EQ(m->layers.size(), 1u);
    EXPECT_EQ(m->layers[0].size, 20);
}

TEST(OciManifest, MediaTypeFromFieldOrMembers) {
    EXPECT_EQ(parse_manifest(manifest(kDockerManifest), "")->media_type, kDockerManifest);
    nlohmann::json no_type = nlohmann::json::parse(manifest());
    no_type.erase("mediaType");
    EXPECT_EQ(parse_manifest(no_type.dump(), "application/json")->media_type, kOciManifest);
    nlohmann::json index = {{"schemaVersion", 2}, {"manifests", nlohmann::json::array()}};
    auto i = parse_manifest(index.dump(), "");
    ASSERT_TRUE(i.has_value());
    EXPECT_TRUE(i->is_index);
}

TEST(OciManifest, RefusesMismatchAndBadDescriptors) {
    EXPECT_FALSE(parse_manifest(manifest(kDockerManifest), kOciManifest).has_value());
    EXPECT_FALSE(parse_manifest("{", kOciManifest).has_value());
    EXPECT_FALSE(parse_manifest("[]", kOciManifest).has_value());
    auto j = nlohmann::json::parse(manifest());
    j["schemaVersion"] = 1;
    EXPECT_FALSE(parse_manifest(j.dump(), "").has_value());
    j = nlohmann::json::parse(manifest());
    j["layers"][0]["digest"] = "md5:x";
    EXPECT_FALSE(parse_manifest(j.dump(), "").has_value());
    j = nlohmann::json::parse(manifest());
    j["layers"][0]["size"] = -1;
    EXPECT_FALSE(parse_manifest(j.dump(), "").has_value());
    j = nlohmann::json::parse(manifest());
    j.erase("config");
    EXPECT_FALSE(parse_manifest(j.dump(), "").has_value());
    EXPECT_FALSE(parse_manifest(manifest("application/vnd.example+json"), "").has_value());
    EXPECT_FALSE(parse_manifest(std::string(kMaxManifestBytes + 1, ' '), "").has_value());
}

TEST(OciManifest, IndexChildrenAndSubject) {
    nlohmann::json j = {
        {"schemaVersion", 2},
        {"mediaType", kDockerList},
        {"manifests", {{{"mediaType", kDockerManifest}, {"digest", kDigestA}, {"size", 5}}}},
        {"subject", {{"mediaType", kOciManifest}, {"digest", kDigestB}, {"size", 7}}}};
    auto m = parse_manifest(j.dump(), kDockerList);
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->is_index);
    ASSERT_EQ(m->manifests.size(), 1u);
    ASSERT_TRUE(m->subject.has_value());
    EXPECT_EQ(m->subject->digest, kDigestB);
}
