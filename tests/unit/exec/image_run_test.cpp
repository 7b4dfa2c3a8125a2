// A container-image function run for real: the Invoker with the bubblewrap
// launcher, a fake image registry holding an image built here (a static
// runtime binary compiled with gcc -static, two layers with a whiteout and an
// opaque directory), and lamina's Runtime API. Skipped where bubblewrap
// cannot make namespaces or no static libc is installed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_clock.hpp"
#include "fakes/tar_builder.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace exec = lamina::exec;
namespace fakes = lamina::fakes;
namespace fs = std::filesystem;
namespace oci = lamina::oci;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

std::string digest_of(const std::string& b) {
    return "sha256:" + lamina::to_hex(lamina::sha256(b));
}

class OneImage : public oci::ImageSource {
public:
    explicit OneImage(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
    oci::Descriptor add(const std::string& bytes, const std::string& type) {
        std::ofstream(dir_ / digest_of(bytes).substr(7), std::ios::binary) << bytes;
        return {type, digest_of(bytes), static_cast<std::int64_t>(bytes.size())};
    }
    std::expected<oci::ResolvedImage, oci::ResolveFailure> resolve(
        const std::string&, const std::string&, const std::string&,
        const std::string& reference) const override {
        if (reference != image.manifest_digest)
            return std::unexpected(oci::ResolveFailure::ImageNotFound);
        return image;
    }
    std::optional<fs::path> blob_path(const std::string& d) const override {
        if (!fs::exists(dir_ / d.substr(7))) return std::nullopt;
        return dir_ / d.substr(7);
    }
    oci::ResolvedImage image;

private:
    fs::path dir_;
};

// A file of the source tree (tests/integration/image_fixtures/bootstrap.c, say).
fs::path source_file(const std::string& relative) {
    for (fs::path p : {fs::path(__FILE__).parent_path() / "../../.." / relative,
                       fs::current_path() / relative, fs::current_path() / ".." / relative})
        if (fs::exists(p)) return p;
    return {};
}

bool build_static(const fs::path& src, const fs::path& out) {
    fs::create_directories(out.parent_path());
    std::string cmd =
        "gcc -static -O1 -o '" + out.string() + "' '" + src.string() + "' 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
}

bool eventually(const std::function<bool()>& cond) {
    for (int i = 0; i < 500; ++i) {
        if (cond()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return cond();
}

}  // namespace

class ImageRun : public ::testing::Test {
protected:
    void SetUp() override {
        auto run_as =
            ::geteuid() == 0
                ? std::optional<std::pair<unsigned, unsigned>>(lamina::sandbox::kSandboxUser)
                : std::nullopt;
        if (!lamina::sandbox::bubblewrap_works("/usr/bin/bwrap", run_as))
            GTEST_SKIP() << "bubblewrap cannot make namespaces here";
        fs::path src = source_file("tests/integration/image_fixtures/bootstrap.c");
        if (src.empty()) GTEST_SKIP() << "bootstrap.c not found";
        fs::path bin = dir_.path() / "bootstrap";
        if (!build_static(src, bin)) GTEST_SKIP() << "gcc -static failed";
        std::string layer1 = fakes::gzip(fakes::make_tar(
            {fakes::tar_dir("bin/"), fakes::tar_file("bin/bootstrap", slurp(bin), 0755),
             fakes::tar_file("data/kept.txt", "k"), fakes::tar_file("data/gone.txt", "g"),
             fakes::tar_file("opq/old.txt", "o")}));
        std::string layer2 = fakes::make_tar(
            {fakes::tar_file("data/.wh.gone.txt", ""), fakes::tar_dir("opq/"),
             fakes::tar_file("opq/.wh..wh..opq", ""), fakes::tar_file("opq/new.txt", "n"),
             fakes::tar_file("etc/version", "7\n"), fakes::tar_dir("var/task/")});
        source_.image.manifest_digest = digest_of("manifest");
        source_.image.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
        source_.image.config_json =
            R"({"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","MY_VAR=image","IMAGE_ONLY=yes","LAMBDA_TASK_ROOT=/var/task"],"Entrypoint":["/bin/bootstrap"],"Cmd":["handler.main"],"WorkingDir":"/var/task"}})";
        source_.image.layers = {source_.add(layer1, "application/vnd.oci.image.layer.v1.tar+gzip"),
                                source_.add(layer2, "application/vnd.oci.image.layer.v1.tar")};
        fs::path runtimes = dir_.path() / "runtimes";
        if (with_extension_) {
            // a static extension in the image's /opt/extensions, lamina's static launcher
            fs::path launch = source_file("runtimes/extensions/launch.c");
            fs::path ext = source_file("tests/integration/image_fixtures/extension.c");
            if (launch.empty() || ext.empty()) GTEST_SKIP() << "launch.c or extension.c not found";
            ASSERT_TRUE(build_static(launch, runtimes / "extensions" / "launch"));
            ASSERT_TRUE(build_static(ext, dir_.path() / "recorder"));
            source_.image.layers.push_back(source_.add(
                fakes::make_tar({fakes::tar_dir("opt/"), fakes::tar_dir("opt/extensions/"),
                                 fakes::tar_file("opt/extensions/recorder",
                                                 slurp(dir_.path() / "recorder"), 0755)}),
                "application/vnd.oci.image.layer.v1.tar"));
        }

        blobs_ = std::make_unique<lamina::store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        cache_ = std::make_unique<lamina::store::LayerCache>(dir_.path(), *blobs_, 250LL << 20);
        ASSERT_TRUE(cache_->init().has_value());
        exec::ExecSettings settings;
        settings.backend = lamina::sandbox::Backend::Bubblewrap;
        settings.run_as = run_as;
        settings.work_dir = dir_.path() / "environments";
        settings.images_dir = dir_.path() / "images";
        settings.runtimes_dir = runtimes;
        settings.logs_dir = dir_.path() / "logs";
        settings.init_timeout = 10s;
        fs::create_directories(settings.work_dir);
        invoker_ = std::make_unique<exec::Invoker>(ioc_, settings, *cache_, clock_, ids_);
        invoker_->set_image_source(&source_);
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    void TearDown() override {
        invoker_.reset();
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }
    // warm: the same configuration as the last invoke (its idle environment may take it)
    exec::InvokeResult invoke(lamina::control::VersionConfig c, bool warm = false) {
        exec::InvokeRequest r;
        r.scope = {"123456789012", "us-east-1"};
        r.function_name = "imgfn";
        c.package_type = "Image";
        c.code_sha256 = source_.image.manifest_digest.substr(7);
        c.image_repository = "repo";
        c.image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:v1";
        ++requests_;
        if (!warm) last_config_ = requests_;
        c.last_modified_ms = last_config_;
        r.config = c;
        r.invoked_arn = "arn:aws:lambda:us-east-1:123456789012:function:imgfn";
        r.payload = "{}";
        r.request_id = "req-" + std::to_string(requests_);
        std::promise<exec::InvokeResult> p;
        auto f = p.get_future();
        invoker_->invoke(std::move(r),
                         [&p](exec::InvokeResult res) { p.set_value(std::move(res)); });
        EXPECT_EQ(f.wait_for(30s), std::future_status::ready);
        return f.get();
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    OneImage source_{dir_.path() / "registry"};
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(ioc_);
    std::vector<std::thread> threads_;
    std::unique_ptr<lamina::store::BlobStore> blobs_;
    std::unique_ptr<lamina::store::LayerCache> cache_;
    std::unique_ptr<exec::Invoker> invoker_;
    int requests_ = 0;
    std::int64_t last_config_ = 0;
    bool with_extension_ = false;  // set by ImageRunWithExtension before SetUp
};

class ImageRunWithExtension : public ImageRun {
protected:
    ImageRunWithExtension() { with_extension_ = true; }
    // the text of every log stream of the function
    std::string logs() {
        std::string all;
        std::error_code ec;
        for (const auto& e : fs::recursive_directory_iterator(dir_.path() / "logs", ec))
            if (e.is_regular_file()) all += slurp(e.path());
        return all;
    }
};

TEST_F(ImageRun, RunsTheImagesEntrypointInItsRoot) {
    lamina::control::VersionConfig c;
    c.environment = std::map<std::string, std::string>{{"MY_VAR", "function"}};
    auto r = invoke(c);
    ASSERT_FALSE(r.function_error) << r.payload << "\n" << r.log;
    auto out = nlohmann::json::parse(r.payload);
    EXPECT_EQ(out["argv"], "/bin/bootstrap handler.main");
    EXPECT_EQ(out["cwd"], "/var/task");
    EXPECT_EQ(out["MY_VAR"], "function");
    EXPECT_EQ(out["IMAGE_ONLY"], "yes");
    EXPECT_EQ(out["FUNCTION_NAME"], "imgfn");
    EXPECT_EQ(out["/data/kept.txt"], "yes");
    EXPECT_EQ(out["/data/gone.txt"], "no");
    EXPECT_EQ(out["/opq/old.txt"], "no");
    EXPECT_EQ(out["/opq/new.txt"], "yes");
    EXPECT_EQ(out["version"], "7");
    EXPECT_EQ(out["tmp_writable"], "yes");
    EXPECT_EQ(out["root_writable"], "no");
    if (::geteuid() == 0) {
        EXPECT_EQ(out["uid"], "993");  // sbx_user1051, never root
    }
    // unpacked once, under the digest
    EXPECT_TRUE(fs::is_directory(dir_.path() / "images" / source_.image.manifest_digest.substr(7) /
                                 "rootfs"));
}

TEST_F(ImageRun, ImageConfigOverridesAndArchitectureMismatch) {
    lamina::control::VersionConfig c;
    c.image_config =
        lamina::control::ImageConfig{std::vector<std::string>{"/bin/bootstrap", "--x"},
                                     std::vector<std::string>{"other"}, std::string("/data")};
    auto r = invoke(c);
    ASSERT_FALSE(r.function_error) << r.payload;
    auto out = nlohmann::json::parse(r.payload);
    EXPECT_EQ(out["argv"], "/bin/bootstrap --x other");
    EXPECT_EQ(out["cwd"], "/data");

    lamina::control::VersionConfig arm;
    arm.architecture = "arm64";
    auto bad = invoke(arm);
    EXPECT_TRUE(bad.function_error);
    auto err = nlohmann::json::parse(bad.payload);
    EXPECT_EQ(err["errorType"], "Runtime.InvalidEntrypoint") << bad.payload;
    EXPECT_NE(err["errorMessage"].get<std::string>().find("exec format error"), std::string::npos);
}

TEST_F(ImageRunWithExtension, ImageExtensionsStartWithoutAShellAndGetInvokeAndShutdown) {
    lamina::control::VersionConfig c;
    auto first = invoke(c);
    ASSERT_FALSE(first.function_error) << first.payload << "\n" << first.log;
    // init waited for the extension's registration; the runtime still ran as the image says
    EXPECT_EQ(nlohmann::json::parse(first.payload)["argv"], "/bin/bootstrap handler.main");
    // the extension holds the environment until it is back at /event/next: then warm
    ASSERT_TRUE(eventually([&] { return invoker_->idle_count_for_test() == 1; }));
    auto second = invoke(c, true);
    ASSERT_FALSE(second.function_error) << second.payload;
    EXPECT_FALSE(second.cold) << "the extension acknowledged: the environment is reused";
    // idle again (the extension acknowledged INVOKE req-2) before lamina stops: a stop
    // while it is still busy with that event loses the SHUTDOWN (a separate race)
    ASSERT_TRUE(eventually([&] { return invoker_->idle_count_for_test() == 1; }));
    invoker_->shutdown();  // SHUTDOWN to the extension, then its last lines reach the log
    std::string text = logs();
    EXPECT_NE(text.find("EXTENSION recorder registered {"), std::string::npos) << text;
    EXPECT_NE(text.find("\"functionName\":\"imgfn\""), std::string::npos) << text;
    // the runtime-only variables are not the extension's, even from the image's ENV
    EXPECT_NE(text.find("EXTENSION recorder env LAMBDA_TASK_ROOT=- AWS_LAMBDA_FUNCTION_NAME=imgfn"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("EXTENSION recorder INVOKE req-1"), std::string::npos) << text;
    EXPECT_NE(text.find("EXTENSION recorder INVOKE req-2"), std::string::npos) << text;
    EXPECT_NE(text.find("EXTENSION recorder SHUTDOWN"), std::string::npos) << text;
}

TEST_F(ImageRunWithExtension, AnExtensionThatExitsDuringInitFailsItWithExtensionCrash) {
    lamina::control::VersionConfig c;
    c.environment = std::map<std::string, std::string>{{"EXT_CRASH", "1"}};
    auto r = invoke(c);
    EXPECT_TRUE(r.function_error);
    auto err = nlohmann::json::parse(r.payload);
    EXPECT_EQ(err["errorType"], "Extension.Crash") << r.payload;
    EXPECT_NE(err["errorMessage"].get<std::string>().find("exit status 3"), std::string::npos)
        << r.payload;
    EXPECT_NE(r.log.find("crashing"), std::string::npos) << r.log;
}
