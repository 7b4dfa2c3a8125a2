// Container-image functions through LambdaApi with a fake image registry:
// ImageUri forms and AWS's errors, the Code and CodeSha256 shapes,
// ImageConfig round trips, version pinning and the Zip/Image update errors.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "fakes/zip_builder.hpp"
#include "lamina/api/aws_error.hpp"
#include "lamina/api/lambda_api.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/control/validation.hpp"

using namespace lamina;
using nlohmann::json;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};
const std::string kRole = "arn:aws:iam::123456789012:role/lambda-role";
const std::string kEcr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/";

struct Reply {
    unsigned status = 0;
    json body;
    std::string message() const { return body.value("message", body.value("Message", "")); }
};

class FakeRegistry : public oci::ImageSource {
public:
    // repository -> tag or digest -> image
    std::map<std::string, std::map<std::string, oci::ResolvedImage>> repos;
    void push(const std::string& repo, const std::string& tag, const std::string& seed,
              bool index = false) {
        oci::ResolvedImage img;
        img.repository = repo;
        img.manifest_digest = "sha256:" + to_hex(sha256(seed));
        img.manifest_media_type = index ? "application/vnd.oci.image.index.v1+json"
                                        : "application/vnd.oci.image.manifest.v1+json";
        img.is_index = index;
        if (!index) {
            img.config_json = R"({"architecture":"amd64","os":"linux","config":{}})";
            img.config = {"application/vnd.oci.image.config.v1+json",
                          "sha256:" + to_hex(sha256(img.config_json)), 10};
            img.layers = {{"application/vnd.oci.image.layer.v1.tar+gzip",
                           "sha256:" + to_hex(sha256(seed + "layer")), 100}};
        }
        repos[repo][tag] = img;
        repos[repo][img.manifest_digest] = img;
    }
    std::expected<oci::ResolvedImage, oci::ResolveFailure> resolve(
        const std::string& account, const std::string& region, const std::string& repository,
        const std::string& reference) const override {
        if (account != kScope.account || region != kScope.region)
            return std::unexpected(oci::ResolveFailure::RepositoryNotFound);
        auto r = repos.find(repository);
        if (r == repos.end()) return std::unexpected(oci::ResolveFailure::RepositoryNotFound);
        auto i = r->second.find(reference);
        if (i == r->second.end()) return std::unexpected(oci::ResolveFailure::ImageNotFound);
        return i->second;
    }
    std::optional<std::filesystem::path> blob_path(const std::string&) const override {
        return std::nullopt;
    }
};

}  // namespace

class LambdaImages : public ::testing::Test {
protected:
    void SetUp() override {
        config_.data_dir = dir_.path();
        auto d = store::DocumentStore::open(dir_.path() / "registry.db", store::Durability::Crash);
        ASSERT_TRUE(d.has_value()) << d.error().message;
        docs_ = std::move(*d);
        blobs_ = std::make_unique<store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        layers_ = std::make_unique<control::LayerRegistry>(*docs_, clock_, ids_);
        registry_ = std::make_unique<control::Registry>(*docs_, clock_, ids_, layers_.get());
        layer_cache_ =
            std::make_unique<store::LayerCache>(dir_.path(), *blobs_, control::kMaxUnzippedCode);
        ASSERT_TRUE(layers_->load().has_value());
        ASSERT_TRUE(registry_->load().has_value());
        ASSERT_TRUE(layer_cache_->init().has_value());
        api_ = std::make_unique<api::LambdaApi>(*registry_, *layers_, *layer_cache_, *blobs_,
                                                config_, ids_);
        api_->set_image_source(&images_);
        api_->add_routes(router_);
        images_.push("app", "v1", "one");
        images_.push("app", "v2", "two");
        images_.push("multi", "latest", "idx", true);
    }

    Reply call(const std::string& method, const std::string& target, const json& body = {}) {
        http::Request req;
        req.method = method;
        req.target = target;
        EXPECT_TRUE(http::parse_target(target, req.path, req.query));
        if (!body.is_null()) req.body = body.dump();
        api::RequestContext ctx;
        ctx.request_id = "req";
        ctx.scope = kScope;
        ctx.service = "lambda";
        ctx.host = "127.0.0.1:9555";
        auto match = router_.match(method, req.path, req.query);
        EXPECT_TRUE(match.has_value()) << method << " " << target;
        if (!match) return {};
        auto result = api_->handle(match->operation, ctx, req, *match);
        http::Response r =
            result ? std::move(*result) : api::rest_json_error(result.error(), ctx.request_id);
        Reply out;
        out.status = r.status;
        if (!r.body.empty()) out.body = json::parse(r.body);
        return out;
    }

    Reply create(const std::string& name, const std::string& uri, json extra = json::object()) {
        json body = {{"FunctionName", name},
                     {"Role", kRole},
                     {"PackageType", "Image"},
                     {"Code", {{"ImageUri", uri}}}};
        body.update(extra);
        return call("POST", "/2015-03-31/functions", body);
    }
    std::string hex(const std::string& repo, const std::string& tag) {
        return images_.repos[repo][tag].manifest_digest.substr(7);
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    Config config_;
    FakeRegistry images_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<control::LayerRegistry> layers_;
    std::unique_ptr<control::Registry> registry_;
    std::unique_ptr<store::LayerCache> layer_cache_;
    std::unique_ptr<api::LambdaApi> api_;
    http::Router router_;
};

TEST_F(LambdaImages, CreateGetAndTheCodeShape) {
    auto r = create("f", kEcr + "app:v1", {{"Environment", {{"Variables", {{"AB", "1"}}}}}});
    ASSERT_EQ(r.status, 201u) << r.body.dump();
    EXPECT_EQ(r.body["PackageType"], "Image");
    EXPECT_EQ(r.body["CodeSha256"], hex("app", "v1"));
    EXPECT_EQ(r.body["CodeSize"], 0);
    EXPECT_EQ(r.body["State"], "Pending");
    EXPECT_FALSE(r.body.contains("Runtime"));
    EXPECT_FALSE(r.body.contains("Handler"));
    EXPECT_FALSE(r.body.contains("RuntimeVersionConfig"));
    EXPECT_FALSE(r.body.contains("ImageConfigResponse"));
    auto g = call("GET", "/2015-03-31/functions/f");
    ASSERT_EQ(g.status, 200u);
    EXPECT_EQ(g.body["Code"],
              (json{{"ImageUri", kEcr + "app:v1"},
                    {"RepositoryType", "ECR"},
                    {"ResolvedImageUri", kEcr + "app@sha256:" + hex("app", "v1")}}));
    EXPECT_EQ(g.body["Configuration"]["State"], "Active");
    auto list = call("GET", "/2015-03-31/functions");
    EXPECT_EQ(list.body["Functions"][0]["PackageType"], "Image");
}

TEST_F(LambdaImages, DigestAndLaminaEndpointForms) {
    EXPECT_EQ(create("d", kEcr + "app@sha256:" + hex("app", "v2")).status, 201u);
    auto l = create("l", "127.0.0.1:9555/app:v1");
    ASSERT_EQ(l.status, 201u) << l.body.dump();
    EXPECT_EQ(create("h", "localhost:9555/app:v1").status, 201u);
    auto g = call("GET", "/2015-03-31/functions/l");
    EXPECT_EQ(g.body["Code"]["ImageUri"], "127.0.0.1:9555/app:v1");
    EXPECT_EQ(g.body["Code"]["ResolvedImageUri"], kEcr + "app@sha256:" + hex("app", "v1"));
}

TEST_F(LambdaImages, AwsErrors) {
    struct Case {
        std::string uri;
        std::string message;
    };
    for (const auto& c : std::vector<Case>{
             {"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1", "is not valid"},
             {"210987654321.dkr.ecr.us-east-1.amazonaws.com/app:v1", "is not valid"},
             {"public.ecr.aws/lambda/python:3.12", "is not valid"},
             {"127.0.0.1:1/app:v1", "is not valid"},
             {"app:v1", "is not valid"},
             {kEcr + "nope:v1", "does not exist"},
             {kEcr + "app:v9", "does not exist"},
             {kEcr + "multi:latest",
              "The image manifest, config or layer media type for the source image"},
         }) {
        auto r = create("e", c.uri);
        EXPECT_EQ(r.status, 400u) << c.uri;
        EXPECT_NE(r.message().find(c.message), std::string::npos) << c.uri << ": " << r.message();
        EXPECT_NE(r.message().find(c.uri), std::string::npos) << r.message();
    }
    EXPECT_EQ(call("GET", "/2015-03-31/functions/e").status, 404u);
    for (const json& extra :
         {json{{"Runtime", "python3.12"}}, json{{"Handler", "x.y"}},
          json{{"Layers", {"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}}}}) {
        auto r = create("e", kEcr + "app:v1", extra);
        EXPECT_EQ(r.status, 400u);
        EXPECT_EQ(r.message(),
                  "Please don't provide Handler or Runtime or Layer when the intended function "
                  "PackageType is Image.");
    }
}

TEST_F(LambdaImages, UpdateCodeKindsAndVersionPinning) {
    ASSERT_EQ(create("f", kEcr + "app:v1", {{"Publish", true}}).status, 201u);
    auto zip = call("PUT", "/2015-03-31/functions/f/code",
                    {{"ZipFile", base64_encode(fakes::make_zip({fakes::file("a", "b")}))}});
    EXPECT_EQ(zip.message(),
              "Please provide ImageUri when updating a function with packageType Image.");
    auto u = call("PUT", "/2015-03-31/functions/f/code", {{"ImageUri", kEcr + "app:v2"}});
    ASSERT_EQ(u.status, 200u) << u.body.dump();
    EXPECT_EQ(u.body["CodeSha256"], hex("app", "v2"));
    auto bad_sha =
        call("POST", "/2015-03-31/functions/f/versions", {{"CodeSha256", std::string(64, 'a')}});
    EXPECT_EQ(bad_sha.message(), "CodeSHA256 (" + std::string(64, 'a') +
                                     ") is different from current CodeSHA256 in $LATEST (" +
                                     hex("app", "v2") +
                                     "). Please try again with the CodeSHA256 in $LATEST.");
    auto v2 = call("POST", "/2015-03-31/functions/f/versions", {{"CodeSha256", hex("app", "v2")}});
    ASSERT_EQ(v2.status, 201u) << v2.body.dump();
    const std::string v2_hex = hex("app", "v2");
    images_.push("app", "v2", "three");  // the tag moves: versions and $LATEST keep their digest
    auto g1 = call("GET", "/2015-03-31/functions/f?Qualifier=1");
    EXPECT_EQ(g1.body["Configuration"]["CodeSha256"], hex("app", "v1"));
    auto g2 = call("GET", "/2015-03-31/functions/f?Qualifier=2");
    EXPECT_EQ(g2.body["Configuration"]["CodeSha256"], v2_hex);
    auto latest = call("GET", "/2015-03-31/functions/f");
    EXPECT_EQ(latest.body["Configuration"]["CodeSha256"], v2_hex);

    ASSERT_EQ(
        call("POST", "/2015-03-31/functions",
             {{"FunctionName", "z"},
              {"Role", kRole},
              {"Runtime", "python3.12"},
              {"Handler", "a.b"},
              {"Code", {{"ZipFile", base64_encode(fakes::make_zip({fakes::file("a", "b")}))}}}})
            .status,
        201u);
    auto img = call("PUT", "/2015-03-31/functions/z/code", {{"ImageUri", kEcr + "app:v1"}});
    EXPECT_EQ(img.message(),
              "Please don't provide ImageUri when updating a function with packageType Zip.");
}

TEST_F(LambdaImages, ImageConfigRoundTrips) {
    json ic = {
        {"EntryPoint", {"sh"}}, {"Command", {"-c", "echo test"}}, {"WorkingDirectory", "/app1"}};
    auto r = create("f", kEcr + "app:v1", {{"ImageConfig", ic}});
    ASSERT_EQ(r.status, 201u) << r.body.dump();
    EXPECT_EQ(r.body["ImageConfigResponse"], (json{{"ImageConfig", ic}}));
    json replaced = {{"Command", {"-c", "echo test1"}}, {"WorkingDirectory", "/app1"}};
    auto u = call("PUT", "/2015-03-31/functions/f/configuration", {{"ImageConfig", replaced}});
    ASSERT_EQ(u.status, 200u) << u.body.dump();
    EXPECT_EQ(u.body["ImageConfigResponse"], (json{{"ImageConfig", replaced}}));
    auto cleared =
        call("PUT", "/2015-03-31/functions/f/configuration", {{"ImageConfig", json::object()}});
    EXPECT_FALSE(cleared.body.contains("ImageConfigResponse"));
    auto g = call("GET", "/2015-03-31/functions/f/configuration");
    EXPECT_FALSE(g.body.contains("ImageConfigResponse"));
    auto layers = call("PUT", "/2015-03-31/functions/f/configuration", {{"Runtime", "python3.12"}});
    EXPECT_EQ(layers.status, 400u);
}

TEST_F(LambdaImages, PersistedAcrossALoad) {
    ASSERT_EQ(create("f", kEcr + "app:v1", {{"ImageConfig", {{"Command", {"x"}}}}}).status, 201u);
    registry_ = std::make_unique<control::Registry>(*docs_, clock_, ids_, layers_.get());
    ASSERT_TRUE(registry_->load().has_value());
    auto v = registry_->get_configuration(kScope, {"f", std::nullopt});
    ASSERT_TRUE(v);
    EXPECT_EQ(v->config.package_type, "Image");
    EXPECT_EQ(v->config.image_uri, kEcr + "app:v1");
    EXPECT_EQ(v->config.image_repository, "app");
    ASSERT_TRUE(v->config.image_config);
    EXPECT_EQ(v->config.image_config->command, std::vector<std::string>{"x"});
}
