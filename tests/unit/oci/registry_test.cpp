#include "lamina/oci/registry.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/oci/auth_token.hpp"

using namespace lamina;
using namespace lamina::oci;

namespace {

struct Fixture {
    fakes::TempDir dir;
    fakes::FakeClock clock;
    fakes::CountingIds ids;
    std::unique_ptr<store::DocumentStore> docs =
        *store::DocumentStore::open(dir.path() / "db", store::Durability::Temporary);
    store::BlobStore blobs{dir.path() / "blobs"};
    std::unique_ptr<Registry> reg;
    RepoId repo{"123456789012", "us-east-1", "app"};

    Fixture() {
        EXPECT_TRUE(blobs.init().has_value());
        reopen();
        Repository r;
        r.id = repo;
        EXPECT_TRUE(reg->create_repository(r).has_value());
    }
    void reopen() {
        reg = std::make_unique<Registry>(
            *docs, blobs, clock, ids,
            Registry::Options{dir.path() / "uploads", store::Durability::Temporary, 1000});
        EXPECT_TRUE(reg->load().has_value());
    }
    std::string push_blob(const std::string& bytes) {
        auto a = reg->begin_monolithic(repo);
        EXPECT_TRUE(a.has_value());
        EXPECT_TRUE((*a)->write(bytes).has_value());
        EXPECT_TRUE(reg->finish(std::move(*a), repo, digest_of(bytes)).has_value());
        return digest_of(bytes);
    }
    std::string manifest(const std::string& config, const std::string& layer) {
        nlohmann::json j = {
            {"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"config",
             {{"mediaType", kOciConfig}, {"digest", digest_of(config)}, {"size", config.size()}}},
            {"layers",
             {{{"mediaType", kOciLayerGzip},
               {"digest", digest_of(layer)},
               {"size", layer.size()}}}}};
        return j.dump(2);
    }
};

}  // namespace

TEST(OciRegistry, ChunkedUploadCommitsAndFinishes) {
    Fixture f;
    auto id = f.reg->start_upload(f.repo);
    ASSERT_TRUE(id.has_value());
    auto a = f.reg->begin_append(f.repo, *id, 0);
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE((*a)->write("abc").has_value());
    EXPECT_EQ(*f.reg->commit(std::move(*a)), 3);
    EXPECT_EQ(*f.reg->upload_size(f.repo, *id), 3);
    // out of order: refused, nothing changes
    auto late = f.reg->begin_append(f.repo, *id, 7);
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().fault, Fault::RangeInvalid);
    // the last chunk with a wrong digest: the upload stays as it was
    auto b = f.reg->begin_append(f.repo, *id, std::nullopt);
    ASSERT_TRUE((*b)->write("def").has_value());
    auto wrong = f.reg->finish(std::move(*b), f.repo, digest_of("nope"));
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().fault, Fault::DigestInvalid);
    EXPECT_EQ(*f.reg->upload_size(f.repo, *id), 3);
    auto c = f.reg->begin_append(f.repo, *id, std::nullopt);
    ASSERT_TRUE((*c)->write("def").has_value());
    ASSERT_TRUE(f.reg->finish(std::move(*c), f.repo, digest_of("abcdef")).has_value());
    EXPECT_EQ(*f.reg->blob_size(f.repo, digest_of("abcdef")), 6);
    EXPECT_FALSE(f.reg->upload_size(f.repo, *id).has_value());  // gone once finished
}

TEST(OciRegistry, OneWriterPerUploadAndIdleUploadsCollected) {
    Fixture f;
    auto id = f.reg->start_upload(f.repo);
    auto a = f.reg->begin_append(f.repo, *id, std::nullopt);
    ASSERT_TRUE(a.has_value());
    auto second = f.reg->begin_append(f.repo, *id, std::nullopt);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().fault, Fault::BlobUploadInvalid);
    f.reg->abort(std::move(*a));
    f.clock.advance(1001);
    EXPECT_EQ(f.reg->collect_idle_uploads(), 1u);
    EXPECT_EQ(f.reg->upload_size(f.repo, *id).error().fault, Fault::BlobUploadUnknown);
}

TEST(OciRegistry, ManifestsTagsAndResolve) {
    Fixture f;
    std::string config = R"({"architecture":"arm64","os":"linux"})";
    std::string m = f.manifest(config, "layer");
    auto missing = f.reg->put_manifest(f.repo, "v1", m, kOciManifest);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().fault, Fault::ManifestBlobUnknown);
    f.push_blob(config);
    f.push_blob("layer");
    auto digest = f.reg->put_manifest(f.repo, "v1", m, kOciManifest);
    ASSERT_TRUE(digest.has_value());
    EXPECT_EQ(*digest, digest_of(m));
    auto got = f.reg->get_manifest(f.repo, "v1");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, m);  // byte-exact
    auto img = f.reg->resolve("123456789012", "us-east-1", "app", "v1");
    ASSERT_TRUE(img.has_value());
    EXPECT_EQ(img->manifest_digest, *digest);
    EXPECT_EQ(img->config_json, config);
    ASSERT_EQ(img->layers.size(), 1u);
    EXPECT_TRUE(f.reg->blob_path(img->layers[0].digest).has_value());
    EXPECT_EQ(f.reg->resolve("123456789012", "us-east-1", "app", "v2").error(),
              ResolveFailure::ImageNotFound);
    EXPECT_EQ(f.reg->resolve("123456789012", "us-east-1", "other", "v1").error(),
              ResolveFailure::RepositoryNotFound);
    // survives a reload
    f.reopen();
    EXPECT_EQ(f.reg->get_manifest(f.repo, *digest)->bytes, m);
    EXPECT_EQ(*f.reg->tags(f.repo), std::vector<std::string>{"v1"});
    auto keep = f.reg->referenced_blobs();
    EXPECT_TRUE(keep.contains(digest->substr(7)));
    EXPECT_TRUE(keep.contains(digest_of("layer").substr(7)));
}

TEST(OciRegistry, ImmutableTagsAndDeletes) {
    Fixture f;
    Repository r;
    r.id = RepoId{"123456789012", "us-east-1", "frozen"};
    r.tag_mutability = "IMMUTABLE";
    ASSERT_TRUE(f.reg->create_repository(r).has_value());
    EXPECT_EQ(f.reg->create_repository(r).error().fault, Fault::RepositoryAlreadyExists);
    f.repo = r.id;
    f.push_blob("c1");
    f.push_blob("l1");
    f.push_blob("l2");
    std::string m1 = f.manifest("c1", "l1"), m2 = f.manifest("c1", "l2");
    ASSERT_TRUE(f.reg->put_manifest(f.repo, "v1", m1, kOciManifest).has_value());
    EXPECT_EQ(f.reg->put_manifest(f.repo, "v1", m2, kOciManifest).error().fault, Fault::TagInvalid);
    EXPECT_TRUE(f.reg->put_manifest(f.repo, "v1", m1, kOciManifest).has_value());  // same digest
    EXPECT_EQ(f.reg->delete_repository(f.repo, false).error().fault, Fault::RepositoryNotEmpty);
    ASSERT_TRUE(f.reg->delete_manifest(f.repo, "v1", true).has_value());  // last tag: image goes
    EXPECT_TRUE(f.reg->images(f.repo)->empty());
    EXPECT_TRUE(f.reg->delete_repository(f.repo, false).has_value());
}

TEST(OciAuthToken, RoundTripExpiryAndForgery) {
    auto secret = [](const std::string& key) -> std::optional<std::string> {
        if (key == "AKID") return std::string("s3cret");
        return std::nullopt;
    };
    std::string p = make_registry_password("AKID", "s3cret", 5000);
    EXPECT_TRUE(verify_registry_password(p, secret, 4000));
    EXPECT_FALSE(verify_registry_password(p, secret, 6000));
    EXPECT_FALSE(
        verify_registry_password(make_registry_password("AKID", "other", 5000), secret, 1));
    EXPECT_FALSE(verify_registry_password("AKID.9999999999999.00", secret, 1));
    EXPECT_FALSE(verify_registry_password("garbage", secret, 1));
    EXPECT_EQ(*basic_password("Basic QVdTOnB3"), "pw");              // AWS:pw
    EXPECT_FALSE(basic_password("Basic dXNlcjpwdw==").has_value());  // user:pw
}
