// Spare environments (exec/spare.cpp): started ahead, holding before any
// function code; a cold start claims one and its init begins then.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <thread>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_launcher.hpp"
#include "fakes/temp_dir.hpp"
#include "fakes/zip_builder.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace exec = lamina::exec;
namespace fakes = lamina::fakes;
using namespace std::chrono_literals;

namespace {

class Spares : public ::testing::Test {
protected:
    void SetUp() override {
        blobs_ = std::make_unique<lamina::store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        cache_ = std::make_unique<lamina::store::LayerCache>(dir_.path(), *blobs_, 250LL << 20);
        ASSERT_TRUE(cache_->init().has_value());
        std::string zip = fakes::make_zip({fakes::file("handler.py", "# scripted\n")});
        code_hex_ = lamina::to_hex(lamina::sha256(zip));
        ASSERT_TRUE(blobs_->put(code_hex_, zip).has_value());
        auto launcher = std::make_unique<fakes::FakeLauncher>(ioc_);
        launcher_ = launcher.get();
        // the runtime: waits as a spare does (404 at once when it is none), then
        // "imports the function" (counted), then answers its events
        launcher_->script("h.handler", [this](fakes::FakeRuntime& rt) {
            bool was_spare = rt.hold();
            if (rt.killed()) return 0;
            ++inits_;
            if (was_spare) ++spare_inits_;
            while (auto ev = rt.next())
                if (!rt.respond(ev->request_id, "{\"setting\":\"" + rt.env().at("SETTING") + "\"}"))
                    return 1;
            return 0;
        });
        exec::ExecSettings settings;
        settings.work_dir = dir_.path() / "environments";
        settings.logs_dir = dir_.path() / "logs";
        settings.interpreters = {{"python3.12", "/usr/bin/python3"}};
        settings.init_timeout = 2s;
        settings.spare_environments = 2;
        invoker_ = std::make_unique<exec::Invoker>(ioc_, settings, *cache_, clock_, ids_, nullptr,
                                                   std::move(launcher));
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    void TearDown() override {
        invoker_.reset();
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }
    exec::InvokeRequest request(const std::string& function, const std::string& setting = "a") {
        exec::InvokeRequest r;
        r.scope = {"123456789012", "us-east-1"};
        r.function_name = function;
        r.config.runtime = "python3.12";
        r.config.handler = "h.handler";
        r.config.timeout = 3;
        r.config.code_blob = code_hex_;
        r.config.code_sha256 = "sha";
        r.config.last_modified_ms = setting == "a" ? 1 : 2;
        r.config.environment = std::map<std::string, std::string>{{"SETTING", setting}};
        r.invoked_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function;
        r.payload = "{}";
        r.request_id = "req-" + std::to_string(++requests_);
        return r;
    }
    exec::InvokeResult invoke(exec::InvokeRequest r) {
        std::promise<exec::InvokeResult> p;
        auto f = p.get_future();
        invoker_->invoke(std::move(r),
                         [&p](exec::InvokeResult res) { p.set_value(std::move(res)); });
        EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
        return f.get();
    }
    template <typename Pred>
    bool eventually(Pred pred) {
        for (int i = 0; i < 400; ++i) {
            if (pred()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return pred();
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(ioc_);
    std::vector<std::thread> threads_;
    std::unique_ptr<lamina::store::BlobStore> blobs_;
    std::unique_ptr<lamina::store::LayerCache> cache_;
    fakes::FakeLauncher* launcher_ = nullptr;
    std::unique_ptr<exec::Invoker> invoker_;
    std::string code_hex_;
    int requests_ = 0;
    std::atomic<int> inits_{0}, spare_inits_{0};
};

TEST_F(Spares, ASpareRunsNoInitUntilAColdStartClaimsIt) {
    auto json = [&] {  // JSON logs: the platform's init records are in them
        auto r = request("f");
        r.config.log_format = "JSON";
        return r;
    };
    invoker_->prepare(json());
    ASSERT_TRUE(eventually([&] { return invoker_->spare_count_for_test() == 1; }));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(inits_, 0);  // holding: no function code
    EXPECT_EQ(launcher_->commands().front().back(), "--spare");
    auto r = invoke(json());
    EXPECT_TRUE(r.cold);
    EXPECT_EQ(r.payload, R"({"setting":"a"})");
    EXPECT_EQ(spare_inits_, 1);
    EXPECT_NE(r.log.find("platform.initStart"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("initDurationMs"), std::string::npos) << r.log;
    // the claim starts the next spare; a warm invoke uses the environment
    ASSERT_TRUE(eventually([&] { return invoker_->spare_count_for_test() == 1; }));
    auto warm = invoke(json());
    EXPECT_FALSE(warm.cold);
    EXPECT_EQ(launcher_->launches(), 2);
    EXPECT_EQ(inits_, 1);
}

TEST_F(Spares, ASpareOfOtherSettingsIsLetGoNotUsed) {
    invoker_->prepare(request("f", "a"));
    ASSERT_TRUE(eventually([&] { return invoker_->spare_count_for_test() == 1; }));
    invoker_->prepare(request("f", "b"));  // UpdateFunctionConfiguration
    ASSERT_TRUE(eventually([&] {
        return invoker_->spare_count_for_test() == 1 && launcher_->launches() == 2 &&
               invoker_->environment_count() == 1;
    }));
    auto r = invoke(request("f", "b"));
    EXPECT_EQ(r.payload, R"({"setting":"b"})");
    EXPECT_EQ(spare_inits_, 1);
    EXPECT_EQ(inits_, 1);
}

TEST_F(Spares, BoundedLeastRecentlyUsedFirstAndForgottenWithTheFunction) {
    for (const char* f : {"f1", "f2", "f3"}) invoker_->prepare(request(f));
    ASSERT_TRUE(eventually([&] {
        return invoker_->spare_count_for_test() == 2 && invoker_->environment_count() == 2;
    }));
    // f1's was let go (or never started): its cold start starts an environment itself
    auto r = invoke(request("f1"));
    EXPECT_TRUE(r.cold);
    EXPECT_EQ(spare_inits_, 0);
    invoker_->forget({"123456789012", "us-east-1"}, "f3");
    auto r3 = invoke(request("f3"));
    EXPECT_EQ(spare_inits_, 0);
    EXPECT_TRUE(r3.cold);
    EXPECT_EQ(inits_, 2);
}

// A burst of CreateFunction calls (Terraform, a suite's set-up) starts only
// the spares wanted at its end: no sandbox per call, let go by the next call.
TEST_F(Spares, ABurstOfPreparesStartsOnlyTheSparesStillWantedAtItsEnd) {
    for (const char* f : {"f1", "f2", "f3", "f4", "f5"}) invoker_->prepare(request(f));
    ASSERT_TRUE(eventually([&] { return invoker_->spare_count_for_test() == 2; }));
    std::this_thread::sleep_for(200ms);  // a third start would have shown by now
    EXPECT_EQ(launcher_->launches(), 2);
    EXPECT_EQ(invoker_->environment_count(), 2u);
    // the newest functions' spares: f5's cold start claims its own
    auto r = invoke(request("f5"));
    EXPECT_TRUE(r.cold);
    EXPECT_EQ(spare_inits_, 1);
}

TEST_F(Spares, NoneForReservedConcurrencyZeroOrOtherRuntimes) {
    auto zero = request("z");
    zero.reserved_concurrency = 0;
    invoker_->prepare(zero);
    auto ruby = request("r");
    ruby.config.runtime = "ruby3.3";
    invoker_->prepare(ruby);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(launcher_->launches(), 0);
    EXPECT_EQ(invoker_->spare_count_for_test(), 0u);
}

}  // namespace
