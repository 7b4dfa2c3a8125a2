#include "lamina/api/lambda_api.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/lambda_routes.hpp"
#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "fakes/zip_builder.hpp"
#include "lamina/api/aws_error.hpp"
#include "lamina/api/classify.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/control/validation.hpp"

using namespace lamina;
using nlohmann::json;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};
const std::string kRole = "arn:aws:iam::123456789012:role/lambda-role";
const std::string kArn = "arn:aws:lambda:us-east-1:123456789012:function:";

// An answer as the client sees it: status, x-amzn-ErrorType and the JSON body.
struct Reply {
    unsigned status = 0;
    std::string error_type;
    json body;
    std::string message() const {
        if (body.contains("Message")) return body["Message"];
        if (body.contains("message")) return body["message"];
        return "";
    }
};

}  // namespace

// LambdaApi over a real registry and stores in a temp dir, without a data
// plane; requests go through the router as api::Service routes them.
class LambdaApiTest : public ::testing::Test {
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
        esms_ = std::make_unique<control::EventSourceMappings>(*docs_, *registry_, clock_, ids_);
        api_->set_event_source_mappings(esms_.get());
        api_->add_routes(router_);
    }

    Reply call(const std::string& method, const std::string& target, const std::string& body = "") {
        http::Request req;
        req.method = method;
        req.target = target;
        EXPECT_TRUE(http::parse_target(target, req.path, req.query));
        req.body = body;
        req.headers.set("Host", "localhost:9001");
        api::RequestContext ctx;
        ctx.request_id = "req-" + std::to_string(++requests_);
        ctx.scope = kScope;
        ctx.service = "lambda";
        ctx.host = "localhost:9001";
        auto match = router_.match(method, req.path, req.query);
        EXPECT_TRUE(match.has_value()) << method << " " << target;
        if (!match) return {};
        EXPECT_TRUE(api_->owns(match->operation));
        auto result = api_->handle(match->operation, ctx, req, *match);
        http::Response r =
            result ? std::move(*result) : api::rest_json_error(result.error(), ctx.request_id);
        Reply out;
        out.status = r.status;
        out.error_type = r.headers.get("x-amzn-ErrorType");
        if (!r.body.empty()) out.body = json::parse(r.body);
        EXPECT_EQ(r.headers.get("x-amzn-RequestId"), ctx.request_id);
        return out;
    }

    static std::string zip_b64() {
        return base64_encode(
            fakes::make_zip({fakes::file("index.py", "def handler(e, c):\n    return e\n")}));
    }

    Reply create(const std::string& name, json extra = json::object()) {
        json body = {{"FunctionName", name},
                     {"Runtime", "python3.12"},
                     {"Role", kRole},
                     {"Handler", "index.handler"},
                     {"Code", {{"ZipFile", zip_b64()}}}};
        body.update(extra);
        return call("POST", "/2015-03-31/functions", body.dump());
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    Config config_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<control::LayerRegistry> layers_;
    std::unique_ptr<control::Registry> registry_;
    std::unique_ptr<store::LayerCache> layer_cache_;
    std::unique_ptr<control::EventSourceMappings> esms_;
    std::unique_ptr<api::LambdaApi> api_;
    http::Router router_;
    int requests_ = 0;
};

TEST(LambdaRoutes, EveryOpHasExactlyOneRouteAndNamesAreUnique) {
    std::map<int, int> routes_per_op;
    std::set<std::string> names, method_patterns;
    bool seen_not_emulated = false;
    for (const auto& r : api::lambda_routes()) {
        ++routes_per_op[api::op_id(r.op)];
        EXPECT_TRUE(names.insert(r.name).second) << "duplicate name " << r.name;
        EXPECT_TRUE(method_patterns.insert(std::string(r.method) + " " + r.pattern).second)
            << r.pattern;
        // emulated operations first, then the known-but-not-emulated ones
        if (!r.emulated) seen_not_emulated = true;
        EXPECT_FALSE(seen_not_emulated && r.emulated) << r.name << " follows a not-emulated route";
    }
    for (int id = api::op_id(api::kFirstOp); id <= api::op_id(api::kLastOp); ++id) {
        EXPECT_EQ(routes_per_op[id], 1) << "op id " << id;
        auto op = api::op_from_id(id);
        ASSERT_TRUE(op.has_value());
        EXPECT_EQ(api::route_of(*op).op, *op);
    }
    EXPECT_EQ(routes_per_op.size(),
              static_cast<std::size_t>(api::op_id(api::kLastOp) - api::op_id(api::kFirstOp) + 1));
    EXPECT_FALSE(api::op_from_id(api::op_id(api::kFirstOp) - 1).has_value());
    EXPECT_FALSE(api::op_from_id(api::op_id(api::kLastOp) + 1).has_value());
    EXPECT_STREQ(api::op_name(api::Op::CreateFunction), "CreateFunction");
    EXPECT_STREQ(api::op_name(api::Op::InvokeWithResponseStream), "InvokeWithResponseStream");
}

TEST_F(LambdaApiTest, OperationNamesAndInvokeRoutes) {
    auto match = router_.match("POST", "/2015-03-31/functions/f/invocations", {});
    ASSERT_TRUE(match);
    EXPECT_TRUE(api_->is_invoke(match->operation));
    EXPECT_EQ(api_->operation_name(match->operation), "Invoke");
    auto async = router_.match("POST", "/2014-11-13/functions/f/invoke-async", {});
    ASSERT_TRUE(async);
    EXPECT_TRUE(api_->is_invoke(async->operation));
    auto get = router_.match("GET", "/2015-03-31/functions/f", {});
    ASSERT_TRUE(get);
    EXPECT_FALSE(api_->is_invoke(get->operation));
    EXPECT_EQ(api_->operation_name(get->operation), "GetFunction");
    EXPECT_FALSE(api_->owns(-1));
    EXPECT_EQ(api_->operation_name(-1), "Unknown");
}

// Every emulated route reaches a handler: none answers "Unknown operation".
TEST_F(LambdaApiTest, EveryEmulatedRouteHasAHandler) {
    for (const auto& r : api::lambda_routes()) {
        // the invocations answer through LambdaApi::invoke, not handle()
        if (!r.emulated || api::LambdaApi::is_invoke(api::op_id(r.op))) continue;
        std::string target = r.pattern;
        for (std::size_t open; (open = target.find('{')) != std::string::npos;)
            target.replace(open, target.find('}', open) - open + 1, "1");
        if (r.op == api::Op::GetLayerVersionByArn) target += "&Arn=x";
        Reply got = call(r.method, target);
        EXPECT_NE(got.error_type, "UnknownOperationException") << r.name;
        EXPECT_NE(got.status, 501u) << r.name << ": " << got.message();
        EXPECT_LT(got.status, 500u) << r.name << ": " << got.message();
    }
}

TEST_F(LambdaApiTest, CreateFunctionFillsFieldsAndDefaults) {
    Reply r = create("hello", {{"Description", "first"},
                               {"Environment", {{"Variables", {{"GREETING", "hi"}}}}}});
    ASSERT_EQ(r.status, 201u) << r.body.dump();
    const json& f = r.body;
    EXPECT_EQ(f["FunctionName"], "hello");
    EXPECT_EQ(f["FunctionArn"], kArn + "hello");
    EXPECT_EQ(f["Runtime"], "python3.12");
    EXPECT_EQ(f["Role"], kRole);
    EXPECT_EQ(f["Handler"], "index.handler");
    EXPECT_EQ(f["Description"], "first");
    EXPECT_EQ(f["Version"], "$LATEST");
    EXPECT_EQ(f["Timeout"], 3);
    EXPECT_EQ(f["MemorySize"], 128);
    EXPECT_EQ(f["PackageType"], "Zip");
    EXPECT_EQ(f["Architectures"], json::array({"x86_64"}));
    EXPECT_EQ(f["EphemeralStorage"]["Size"], 512);
    EXPECT_EQ(f["TracingConfig"]["Mode"], "PassThrough");
    EXPECT_EQ(f["LoggingConfig"]["LogFormat"], "Text");
    EXPECT_EQ(f["LoggingConfig"]["LogGroup"], "/aws/lambda/hello");
    EXPECT_EQ(f["Environment"]["Variables"]["GREETING"], "hi");
    EXPECT_EQ(f["State"], "Pending");
    EXPECT_EQ(f["StateReasonCode"], "Creating");
    std::string zip = base64_decode(zip_b64()).value();
    EXPECT_EQ(f["CodeSize"], static_cast<std::int64_t>(zip.size()));
    EXPECT_EQ(f["CodeSha256"], base64_encode(sha256(zip)));
    EXPECT_FALSE(f["RevisionId"].get<std::string>().empty());

    // the next read sees the settled state
    Reply got = call("GET", "/2015-03-31/functions/hello");
    ASSERT_EQ(got.status, 200u);
    EXPECT_EQ(got.body["Configuration"]["State"], "Active");
    EXPECT_EQ(got.body["Configuration"]["LastUpdateStatus"], "Successful");
    EXPECT_EQ(got.body["Code"]["RepositoryType"], "S3");
    EXPECT_EQ(got.body["Code"]["Location"].get<std::string>().rfind(
                  "http://localhost:9001/_lamina/code/", 0),
              0u);

    Reply again = create("hello");
    EXPECT_EQ(again.status, 409u);
    EXPECT_EQ(again.error_type, "ResourceConflictException");
    EXPECT_EQ(again.message(), "Function already exist: hello");
}

TEST_F(LambdaApiTest, CreateFunctionValidationErrors) {
    Reply r = create("bad", {{"Timeout", 0}, {"MemorySize", 64}});
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(r.error_type, "ValidationException");
    EXPECT_EQ(r.message(),
              "2 validation errors detected: Value '0' at 'timeout' failed to satisfy constraint: "
              "Member must "
              "have value greater than or equal to 1; Value '64' at 'memorySize' failed to satisfy "
              "constraint: "
              "Member must have value greater than or equal to 128");
    EXPECT_FALSE(r.body.contains("Type"));  // Smithy validation errors carry no Type

    Reply missing = call("POST", "/2015-03-31/functions", R"({"FunctionName":"x"})");
    EXPECT_EQ(missing.status, 400u);
    EXPECT_EQ(
        missing.message(),
        "2 validation errors detected: Value null at 'role' failed to satisfy constraint: Member "
        "must not "
        "be null; Value null at 'code' failed to satisfy constraint: Member must not be null");

    Reply timeout = create("slow", {{"Timeout", 901}});
    EXPECT_EQ(timeout.status, 400u);
    EXPECT_EQ(timeout.error_type, "InvalidParameterValueException");
    EXPECT_EQ(timeout.message(),
              "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
              "Member must "
              "have value less than or equal to 900");
    // nothing was created
    EXPECT_EQ(call("GET", "/2015-03-31/functions/slow").status, 404u);
}

TEST_F(LambdaApiTest, GetMissingFunctionIsResourceNotFound) {
    Reply r = call("GET", "/2015-03-31/functions/nope");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.error_type, "ResourceNotFoundException");
    EXPECT_EQ(r.body["Type"], "User");
    EXPECT_EQ(r.message(), "Function not found: " + kArn + "nope");

    Reply q = call("GET", "/2015-03-31/functions/nope/configuration?Qualifier=live");
    EXPECT_EQ(q.status, 404u);
    EXPECT_EQ(q.message(), "Function not found: " + kArn + "nope:live");
}

TEST_F(LambdaApiTest, PublishVersionCreateAliasAndListAliasesPages) {
    ASSERT_EQ(create("fn").status, 201u);
    Reply v1 = call("POST", "/2015-03-31/functions/fn/versions", R"({"Description":"one"})");
    ASSERT_EQ(v1.status, 201u) << v1.body.dump();
    EXPECT_EQ(v1.body["Version"], "1");
    EXPECT_EQ(v1.body["FunctionArn"], kArn + "fn:1");
    EXPECT_EQ(v1.body["Description"], "one");

    for (const char* name : {"alpha", "beta", "gamma"}) {
        Reply a = call("POST", "/2015-03-31/functions/fn/aliases",
                       json{{"Name", name}, {"FunctionVersion", "1"}}.dump());
        ASSERT_EQ(a.status, 201u) << a.body.dump();
        EXPECT_EQ(a.body["AliasArn"], kArn + "fn:" + name);
        EXPECT_EQ(a.body["FunctionVersion"], "1");
        EXPECT_EQ(a.body["Description"], "");
        EXPECT_FALSE(a.body.contains("RoutingConfig"));
    }
    Reply dup = call("POST", "/2015-03-31/functions/fn/aliases",
                     R"({"Name":"alpha","FunctionVersion":"1"})");
    EXPECT_EQ(dup.status, 409u);
    EXPECT_EQ(dup.error_type, "ResourceConflictException");

    std::vector<std::string> seen;
    std::string target = "/2015-03-31/functions/fn/aliases?MaxItems=2";
    for (int page = 0; page < 5; ++page) {
        Reply l = call("GET", target);
        ASSERT_EQ(l.status, 200u) << l.body.dump();
        EXPECT_LE(l.body["Aliases"].size(), 2u);
        for (const auto& a : l.body["Aliases"]) seen.push_back(a["Name"]);
        if (!l.body.contains("NextMarker")) break;
        target = "/2015-03-31/functions/fn/aliases?MaxItems=2&Marker=" +
                 url_encode(l.body["NextMarker"].get<std::string>());
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"alpha", "beta", "gamma"}));

    Reply bad = call("GET", "/2015-03-31/functions/fn/aliases?MaxItems=0");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(bad.message(),
              "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
              "Member must "
              "have value greater than or equal to 1");
}

TEST_F(LambdaApiTest, AddPermissionThenGetPolicy) {
    ASSERT_EQ(create("fn").status, 201u);
    Reply add = call(
        "POST", "/2015-03-31/functions/fn/policy",
        R"({"StatementId":"s3-invoke","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"})");
    ASSERT_EQ(add.status, 201u) << add.body.dump();
    json statement = json::parse(add.body["Statement"].get<std::string>());
    EXPECT_EQ(statement["Sid"], "s3-invoke");
    EXPECT_EQ(statement["Effect"], "Allow");
    EXPECT_EQ(statement["Action"], "lambda:InvokeFunction");
    EXPECT_EQ(statement["Resource"], kArn + "fn");

    Reply policy = call("GET", "/2015-03-31/functions/fn/policy");
    ASSERT_EQ(policy.status, 200u);
    json doc = json::parse(policy.body["Policy"].get<std::string>());
    EXPECT_EQ(doc["Version"], "2012-10-17");
    ASSERT_EQ(doc["Statement"].size(), 1u);
    EXPECT_EQ(doc["Statement"][0]["Sid"], "s3-invoke");
    EXPECT_FALSE(policy.body["RevisionId"].get<std::string>().empty());

    Reply bad =
        call("POST", "/2015-03-31/functions/fn/policy", R"({"StatementId":"x","Principal":"*"})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(bad.message(),
              "1 validation error detected: Value null at 'action' failed to satisfy constraint: "
              "Member must not "
              "be null");
}

TEST_F(LambdaApiTest, PutFunctionConcurrency) {
    ASSERT_EQ(create("fn").status, 201u);
    Reply put = call("PUT", "/2017-10-31/functions/fn/concurrency",
                     R"({"ReservedConcurrentExecutions":5})");
    ASSERT_EQ(put.status, 200u) << put.body.dump();
    EXPECT_EQ(put.body, json({{"ReservedConcurrentExecutions", 5}}));
    Reply get = call("GET", "/2019-09-30/functions/fn/concurrency");
    EXPECT_EQ(get.body["ReservedConcurrentExecutions"], 5);
    Reply settings = call("GET", "/2016-08-19/account-settings");
    EXPECT_EQ(settings.body["AccountLimit"]["ConcurrentExecutions"], 1000);
    EXPECT_EQ(settings.body["AccountLimit"]["UnreservedConcurrentExecutions"], 995);

    Reply negative = call("PUT", "/2017-10-31/functions/fn/concurrency",
                          R"({"ReservedConcurrentExecutions":-1})");
    EXPECT_EQ(negative.status, 400u);
    EXPECT_EQ(negative.message(),
              "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to "
              "satisfy "
              "constraint: Member must have value greater than or equal to 0");
    Reply qualified = call("PUT", "/2017-10-31/functions/fn:1/concurrency",
                           R"({"ReservedConcurrentExecutions":1})");
    EXPECT_EQ(qualified.status, 400u);
    EXPECT_EQ(qualified.error_type, "InvalidParameterValueException");
    Reply missing = call("PUT", "/2017-10-31/functions/gone/concurrency",
                         R"({"ReservedConcurrentExecutions":1})");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(missing.message(), "Function not found: " + kArn + "gone:$LATEST");

    Reply del = call("DELETE", "/2017-10-31/functions/fn/concurrency");
    EXPECT_EQ(del.status, 204u);
    EXPECT_EQ(call("GET", "/2019-09-30/functions/fn/concurrency").body, json::object());
}

TEST_F(LambdaApiTest, ProvisionedConcurrencyWithoutDataPlane) {
    ASSERT_EQ(create("fn").status, 201u);
    ASSERT_EQ(call("POST", "/2015-03-31/functions/fn/versions").status, 201u);
    Reply put = call("PUT", "/2019-09-30/functions/fn/provisioned-concurrency?Qualifier=1",
                     R"({"ProvisionedConcurrentExecutions":2})");
    ASSERT_EQ(put.status, 202u) << put.body.dump();
    EXPECT_EQ(put.body["Status"], "IN_PROGRESS");
    EXPECT_EQ(put.body["RequestedProvisionedConcurrentExecutions"], 2);
    Reply list = call("GET", "/2019-09-30/functions/fn/provisioned-concurrency?List=ALL");
    ASSERT_EQ(list.status, 200u);
    ASSERT_EQ(list.body["ProvisionedConcurrencyConfigs"].size(), 1u);
    EXPECT_EQ(list.body["ProvisionedConcurrencyConfigs"][0]["FunctionArn"], kArn + "fn:1");
    // deleting the function drops its configs
    EXPECT_EQ(call("DELETE", "/2015-03-31/functions/fn").status, 204u);
    EXPECT_EQ(call("GET", "/2019-09-30/functions/fn/provisioned-concurrency?Qualifier=1").status,
              404u);
}

TEST_F(LambdaApiTest, NotEmulatedRouteNamesItsOperation) {
    Reply r = call("POST", "/2020-04-22/code-signing-configs", "{}");
    EXPECT_EQ(r.status, 501u);
    EXPECT_EQ(r.error_type, "NotImplementedException");
    EXPECT_EQ(r.message(),
              "lamina does not emulate the CreateCodeSigningConfig operation yet (POST "
              "/2020-04-22/code-signing-configs).");
    Reply signing = call("PUT", "/2020-06-30/functions/f/code-signing-config", "{}");
    EXPECT_EQ(signing.status, 501u);
    EXPECT_NE(signing.message().find("PutFunctionCodeSigningConfig"), std::string::npos);
}

TEST_F(LambdaApiTest, BodyPolicyNamesTheOperation) {
    http::RequestHead head;
    head.method = "POST";
    head.target = "/2015-03-31/functions";
    // the operation name is the classifier's, as the front door passes it
    auto op_of = [](const http::RequestHead& h) { return api::classify(h, {})->operation; };
    auto create_policy = api_->body_policy(head, op_of(head));
    EXPECT_EQ(create_policy.limit,
              static_cast<std::uint64_t>(control::kCreateFunctionRequestLimit));
    http::Response too_large = create_policy.too_large(create_policy.limit);
    EXPECT_EQ(too_large.status, 413u);
    EXPECT_NE(too_large.body.find("for the CreateFunction operation"), std::string::npos);

    head.method = "PUT";
    head.target = "/2017-10-31/functions/fn/concurrency";
    EXPECT_EQ(op_of(head), "PutFunctionConcurrency");
    auto other = api_->body_policy(head, op_of(head));
    EXPECT_EQ(other.limit, 6u * 1024 * 1024);
    EXPECT_NE(other.too_large(other.limit).body.find("for the PutFunctionConcurrency operation"),
              std::string::npos);
}

// Hot reload (LocalStack's convention): S3Bucket hot-reload + an absolute
// folder; anything else is refused with the reason and creates nothing.
TEST_F(LambdaApiTest, HotReloadCodeIsAFolderOrAClearRefusal) {
    auto code = dir_.path() / "live";
    std::filesystem::create_directories(code);
    auto hot = [](const std::string& key) {
        return json{{"Code", {{"S3Bucket", "hot-reload"}, {"S3Key", key}}}};
    };
    Reply made = create("hot", hot(code.string()));
    ASSERT_EQ(made.status, 201u) << made.body.dump();
    EXPECT_EQ(made.body["CodeSha256"], "hot-reloading-hash-not-available");
    EXPECT_EQ(made.body["CodeSize"], 0);
    Reply got = call("GET", "/2015-03-31/functions/hot");
    EXPECT_EQ(got.body["Code"]["Location"], "Code location: " + code.string());

    std::ofstream(dir_.path() / "file.py") << "x";
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"relative/dir",
         "Code.S3Key must be the absolute path of a folder on lamina's machine, "
         "but relative/dir is relative."},
        {"/no/such/folder", "the folder /no/such/folder (Code.S3Key) does not exist."},
        {(dir_.path() / "file.py").string(),
         "Code.S3Key " + (dir_.path() / "file.py").string() + " is not a folder."},
        {"/",
         "the root folder / cannot be bound at /var/task or /opt and watched; name your "
         "code's folder."},
        {"/proc/self", "/proc/self is in the kernel's /proc filesystem, not a folder of code."},
    };
    for (const auto& [key, reason] : bad) {
        Reply r = create("bad", hot(key));
        EXPECT_EQ(r.status, 400u) << key;
        EXPECT_EQ(r.error_type, "InvalidParameterValueException") << key;
        EXPECT_EQ(r.message(), "S3Bucket hot-reload means hot reload: " + reason);
    }
    Reply versioned = create(
        "bad",
        json{{"Code",
              {{"S3Bucket", "hot-reload"}, {"S3Key", code.string()}, {"S3ObjectVersion", "1"}}}});
    EXPECT_EQ(versioned.error_type, "InvalidParameterValueException");
    EXPECT_EQ(call("GET", "/2015-03-31/functions/bad").status, 404u);

    // a layer: its folder, reported the same way
    Reply layer =
        call("POST", "/2018-10-31/layers/hotlayer/versions",
             json{{"Content", {{"S3Bucket", "hot-reload"}, {"S3Key", code.string()}}}}.dump());
    ASSERT_EQ(layer.status, 201u) << layer.body.dump();
    EXPECT_EQ(layer.body["Content"]["CodeSha256"], "hot-reloading-hash-not-available");
    EXPECT_EQ(layer.body["Content"]["Location"], "Code location: " + code.string());
    Reply bad_layer =
        call("POST", "/2018-10-31/layers/hotlayer/versions",
             json{{"Content", {{"S3Bucket", "hot-reload"}, {"S3Key", "rel"}}}}.dump());
    EXPECT_EQ(bad_layer.message(),
              "S3Bucket hot-reload means hot reload: Content.S3Key must be the absolute path of a "
              "folder on lamina's machine, but rel is relative.");
}

// ListFunctions keeps its rows' text while their function is unchanged
// (ListRowCache): every change must show in the next page all the same.
TEST_F(LambdaApiTest, ListFunctionsShowsEveryChangeOfAFunction) {
    auto listed = [&](const std::string& name) {
        Reply r = call("GET", "/2015-03-31/functions");
        EXPECT_EQ(r.status, 200u);
        for (const auto& f : r.body["Functions"])
            if (f["FunctionName"] == name) return f;
        return json();
    };
    ASSERT_EQ(create("rows", {{"Description", "one"}}).status, 201u);
    EXPECT_EQ(listed("rows")["Description"], "one");
    EXPECT_EQ(listed("rows")["Description"], "one");  // the kept row
    ASSERT_EQ(call("PUT", "/2015-03-31/functions/rows/configuration",
                   R"({"Description":"two","Timeout":9})")
                  .status,
              200u);
    json row = listed("rows");
    EXPECT_EQ(row["Description"], "two");
    EXPECT_EQ(row["Timeout"], 9);
    json zip = {{"ZipFile", base64_encode(fakes::make_zip(
                                {fakes::file("index.py", "def handler(e, c):\n    return 1\n")}))}};
    ASSERT_EQ(call("PUT", "/2015-03-31/functions/rows/code", zip.dump()).status, 200u);
    EXPECT_NE(listed("rows")["CodeSha256"], row["CodeSha256"]);
    ASSERT_EQ(call("DELETE", "/2015-03-31/functions/rows").status, 204u);
    EXPECT_TRUE(listed("rows").is_null());
    ASSERT_EQ(create("rows", {{"Description", "three"}}).status, 201u);
    EXPECT_EQ(listed("rows")["Description"], "three");
}

TEST(LambdaRoutes, LightMutationsAreTheRegistryOnlyOnes) {
    using api::Op;
    auto light = [](Op op, const std::string& body) {
        return api::light_mutation(api::op_id(op), body);
    };
    EXPECT_TRUE(light(Op::CreateFunction, R"({"Code":{"ZipFile":"UEsF"}})"));
    EXPECT_FALSE(light(Op::CreateFunction, R"({"Code":{"S3Bucket":"b","S3Key":"k"}})"));
    EXPECT_FALSE(light(Op::CreateFunction, R"({"Code":{"ImageUri":"x"}})"));
    EXPECT_FALSE(light(Op::CreateFunction, std::string(64 * 1024 + 1, ' ')));
    EXPECT_TRUE(light(Op::PublishVersion, "{}"));
    EXPECT_TRUE(light(Op::CreateAlias, "{}"));
    EXPECT_TRUE(light(Op::TagResource, "{}"));
    // these may start, stop or re-key environments, or read files
    EXPECT_FALSE(light(Op::DeleteFunction, ""));
    EXPECT_FALSE(light(Op::UpdateAlias, "{}"));
    EXPECT_FALSE(light(Op::UpdateFunctionCode, R"({"ZipFile":"UEsF"})"));
    EXPECT_FALSE(light(Op::PutProvisionedConcurrencyConfig, "{}"));
    EXPECT_FALSE(api::light_mutation(12345, "{}"));
}
