#include "lamina/oci/ecr_api.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/oci/distribution_api.hpp"

using namespace lamina;
using namespace lamina::oci;
using nlohmann::json;

namespace {

struct Fixture {
    fakes::TempDir dir;
    fakes::FakeClock clock;
    fakes::CountingIds ids;
    std::unique_ptr<store::DocumentStore> docs =
        *store::DocumentStore::open(dir.path() / "db", store::Durability::Temporary);
    store::BlobStore blobs{dir.path() / "blobs"};
    Registry reg{*docs, blobs, clock, ids,
                 Registry::Options{dir.path() / "uploads", store::Durability::Temporary}};
    EcrApi ecr{reg, clock};
    EcrContext ctx{"rid", "123456789012", "us-east-1", "127.0.0.1:9001", "k", "s"};

    Fixture() {
        EXPECT_TRUE(blobs.init().has_value());
        EXPECT_TRUE(reg.load().has_value());
    }
    std::pair<unsigned, json> call(const std::string& op, const json& in) {
        http::Request req;
        req.body = in.dump();
        auto r = ecr.handle(ctx, op, req);
        return {r.status, json::parse(r.body)};
    }
};

}  // namespace

TEST(OciEcrApi, DescribeRepositoriesPages) {
    Fixture f;
    for (const char* n : {"aa", "bb", "cc"})
        EXPECT_EQ(f.call("CreateRepository", {{"repositoryName", n}}).first, 200u);
    auto [s1, p1] = f.call("DescribeRepositories", {{"maxResults", 2}});
    ASSERT_EQ(s1, 200u);
    ASSERT_EQ(p1["repositories"].size(), 2u);
    EXPECT_EQ(p1["repositories"][0]["repositoryName"], "aa");
    ASSERT_TRUE(p1.contains("nextToken"));
    auto [s2, p2] =
        f.call("DescribeRepositories", {{"maxResults", 2}, {"nextToken", p1["nextToken"]}});
    ASSERT_EQ(p2["repositories"].size(), 1u);
    EXPECT_EQ(p2["repositories"][0]["repositoryName"], "cc");
    EXPECT_FALSE(p2.contains("nextToken"));
    auto [s3, bad] = f.call("DescribeRepositories", {{"nextToken", "garbage"}});
    EXPECT_EQ(s3, 400u);
    EXPECT_EQ(bad["__type"], "InvalidParameterException");
}

TEST(OciEcrApi, ShapesAndErrors) {
    Fixture f;
    auto [s, out] = f.call("CreateRepository", {{"repositoryName", "team/app"}});
    ASSERT_EQ(s, 200u);
    EXPECT_EQ(out["repository"]["repositoryUri"],
              "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app");
    EXPECT_EQ(out["repository"]["repositoryArn"],
              "arn:aws:ecr:us-east-1:123456789012:repository/team/app");
    EXPECT_EQ(f.call("CreateRepository", {{"repositoryName", "team/app"}}).second["__type"],
              "RepositoryAlreadyExistsException");
    EXPECT_EQ(f.call("CreateRepository", {{"repositoryName", "Team"}}).second["__type"],
              "InvalidParameterException");
    EXPECT_EQ(f.call("ListImages", {{"repositoryName", "nope"}}).second["__type"],
              "RepositoryNotFoundException");
    auto [ns, ni] = f.call("PutLifecyclePolicy", json::object());
    EXPECT_EQ(ns, 501u);
    EXPECT_NE(ni["message"].get<std::string>().find("PutLifecyclePolicy"), std::string::npos);
}

TEST(OciDistributionApi, TagsListPagination) {
    Fixture f;
    f.call("CreateRepository", {{"repositoryName", "app"}});
    RepoId repo{"123456789012", "us-east-1", "app"};
    std::string config = "{}", layer = "l";
    for (const auto& b : {config, layer}) {
        auto a = f.reg.begin_monolithic(repo);
        ASSERT_TRUE((*a)->write(b).has_value());
        ASSERT_TRUE(f.reg.finish(std::move(*a), repo, digest_of(b)).has_value());
    }
    json m = {
        {"schemaVersion", 2},
        {"mediaType", kOciManifest},
        {"config", {{"mediaType", kOciConfig}, {"digest", digest_of(config)}, {"size", 2}}},
        {"layers", {{{"mediaType", kOciLayerTar}, {"digest", digest_of(layer)}, {"size", 1}}}}};
    for (const char* t : {"c", "a", "b"})
        ASSERT_TRUE(f.reg.put_manifest(repo, t, m.dump(), kOciManifest).has_value());
    boost::asio::io_context ioc;
    DistributionApi api(f.reg, ioc.get_executor());
    auto get = [&](const std::string& target) {
        http::Request req;
        req.method = "GET";
        req.target = target;
        http::parse_target(target, req.path, req.query);
        http::Response out;
        api.handle(req, {}, {"123456789012", "us-east-1"}, [&](http::Response r) { out = r; });
        return out;
    };
    auto r = get("/v2/app/tags/list?n=2");
    EXPECT_EQ(json::parse(r.body)["tags"], json::array({"a", "b"}));
    EXPECT_EQ(r.headers.get("Link"), "</v2/app/tags/list?n=2&last=b>; rel=\"next\"");
    r = get("/v2/app/tags/list?n=2&last=b");
    EXPECT_EQ(json::parse(r.body)["tags"], json::array({"c"}));
    EXPECT_EQ(r.headers.get("Link"), "");
    r = get("/v2/Bad/tags/list");
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(json::parse(r.body)["errors"][0]["code"], "NAME_INVALID");
    r = get("/v2/app/manifests/zzz");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(json::parse(r.body)["errors"][0]["code"], "MANIFEST_UNKNOWN");
}
