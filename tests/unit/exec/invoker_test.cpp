#include "lamina/exec/invoker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_launcher.hpp"
#include "fakes/temp_dir.hpp"
#include "fakes/zip_builder.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace exec = lamina::exec;
namespace fakes = lamina::fakes;
using namespace std::chrono_literals;

namespace {

// Echoes every event back; prints one line per invocation.
int echo_runtime(fakes::FakeRuntime& rt) {
    rt.print("init line\n");
    while (auto ev = rt.next()) {
        rt.print("handling " + ev->request_id + "\n");
        if (!rt.respond(ev->request_id, ev->payload)) return 1;
    }
    return 0;
}

// The Invoker over a real layer cache and the fake launcher: nothing forks.
class Invoker : public ::testing::Test {
protected:
    void SetUp() override {
        blobs_ = std::make_unique<lamina::store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        cache_ = std::make_unique<lamina::store::LayerCache>(dir_.path(), *blobs_, 250LL << 20);
        ASSERT_TRUE(cache_->init().has_value());
        std::string zip = fakes::make_zip(
            {fakes::file("handler.py", "# unused: the fake launcher runs scripts\n")});
        code_hex_ = lamina::to_hex(lamina::sha256(zip));
        ASSERT_TRUE(blobs_->put(code_hex_, zip).has_value());

        auto launcher = std::make_unique<fakes::FakeLauncher>(ioc_);
        launcher_ = launcher.get();
        launcher_->script("echo", echo_runtime);
        exec::ExecSettings settings;
        settings.work_dir = dir_.path() / "environments";
        settings.logs_dir = dir_.path() / "logs";
        settings.interpreters = {{"python3.12", "/usr/bin/python3"}};
        settings.init_timeout = 2s;
        invoker_ = std::make_unique<exec::Invoker>(ioc_, settings, *cache_, clock_, ids_, nullptr,
                                                   std::move(launcher));
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    void TearDown() override {
        invoker_.reset();  // shuts every environment down (needs the io_context running)
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    exec::InvokeRequest request(const std::string& handler, const std::string& payload,
                                int timeout_s = 3) {
        exec::InvokeRequest r;
        r.scope = {"123456789012", "us-east-1"};
        r.function_name = "fn";
        r.config.runtime = "python3.12";
        r.config.handler = handler;
        r.config.timeout = timeout_s;
        r.config.code_blob = code_hex_;
        r.config.code_sha256 = "sha";
        r.config.last_modified_ms = 1;
        r.invoked_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn";
        r.payload = payload;
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
    // Polls `pred` (bounded) while the io_context works.
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
};

TEST_F(Invoker, ColdStartThenWarmReuse) {
    auto first = invoke(request("echo", R"({"n":1})"));
    EXPECT_FALSE(first.function_error);
    EXPECT_EQ(first.payload, R"({"n":1})");
    EXPECT_NE(first.log.find("START RequestId: req-1 Version: $LATEST"), std::string::npos)
        << first.log;
    EXPECT_NE(first.log.find("init line"), std::string::npos)
        << "a cold start's init output leads its log";
    EXPECT_NE(first.log.find("handling req-1"), std::string::npos) << first.log;
    EXPECT_NE(first.log.find("Init Duration:"), std::string::npos) << first.log;

    auto second = invoke(request("echo", R"({"n":2})"));
    EXPECT_EQ(second.payload, R"({"n":2})");
    EXPECT_EQ(second.log.find("Init Duration:"), std::string::npos) << "warm: " << second.log;
    EXPECT_NE(second.log.find("handling req-2"), std::string::npos) << second.log;
    EXPECT_EQ(launcher_->launches(), 1);
    EXPECT_EQ(invoker_->environment_count(), 1u);

    auto env = launcher_->environments().at(0);
    EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "fn");
    EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    EXPECT_EQ(env["_HANDLER"], "echo");
    EXPECT_EQ(env["AWS_LAMBDA_LOG_STREAM_NAME"].find("[$LATEST]"), 11u)
        << env["AWS_LAMBDA_LOG_STREAM_NAME"];
}

TEST_F(Invoker, EachInvocationIsKeptInTheRecentRingWithItsLog) {
    exec::RecentInvocations recent(10);
    invoker_->set_recent(&recent);
    auto first = invoke(request("echo", R"({"n":1})"));
    EXPECT_TRUE(first.cold);
    auto second = invoke(request("echo", R"({"n":2})"));
    EXPECT_FALSE(second.cold);
    // recorded right after the caller's `done` (which may write the answer to a socket)
    std::vector<exec::InvocationRecord> kept;
    EXPECT_TRUE(eventually([&] {
        kept = recent.snapshot({"123456789012", "us-east-1"}, "fn");
        return kept.size() == 2;
    }));
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[0].request_id, "req-2");
    EXPECT_FALSE(kept[0].cold);
    EXPECT_EQ(kept[1].request_id, "req-1");
    EXPECT_TRUE(kept[1].cold);
    EXPECT_EQ(kept[1].status, "Success");
    EXPECT_EQ(kept[1].version, "$LATEST");
    EXPECT_EQ(kept[1].log, first.log) << "the caller still gets the whole log";
    EXPECT_EQ(kept[1].at_ms, clock_.now_ms());
}

// A caller that wants no log lines with its answer (log_after_answer: no LogType
// Tail) gets the answer first; the lines are formatted and written after it, the
// same lines, and the stream keeps its order across invocations.
TEST_F(Invoker, LogLinesAfterTheAnswerAreTheSameLinesInOrder) {
    exec::RecentInvocations recent(10);
    invoker_->set_recent(&recent);
    auto with_log = invoke(request("echo", R"({"n":1})"));  // cold: formatted before
    ASSERT_FALSE(with_log.log.empty());
    std::vector<exec::InvokeResult> later;
    for (int i = 0; i < 2; ++i) {
        auto r = request("echo", R"({"n":2})");
        r.log_after_answer = true;
        later.push_back(invoke(std::move(r)));
    }
    for (int i = 0; i < 2; ++i) {
        const auto& r = later[static_cast<std::size_t>(i)];
        const std::string id = "req-" + std::to_string(i + 2);
        EXPECT_EQ(r.payload, R"({"n":2})");
        EXPECT_TRUE(r.log.empty()) << r.log;
        ASSERT_TRUE(r.late_log);
        const std::string& text = r.late_log->text();
        EXPECT_EQ(text.find("START RequestId: " + id + " Version: $LATEST\n"), 0u) << text;
        EXPECT_NE(text.find("handling " + id), std::string::npos) << text;
        EXPECT_NE(text.find("END RequestId: " + id + "\nREPORT RequestId: " + id + "\tDuration: "),
                  std::string::npos)
            << text;
        EXPECT_NE(text.find(" MB\tMax Memory Used: "), std::string::npos) << text;
        EXPECT_EQ(text.find("Init Duration"), std::string::npos) << "warm: " << text;
    }
    // the ring has each invocation's lines, and the stream file all of them, in order
    EXPECT_TRUE(eventually([&] {
        auto kept = recent.snapshot({"123456789012", "us-east-1"}, "fn");
        return kept.size() == 3 && kept[0].log == later[1].late_log->text() &&
               kept[1].log == later[0].late_log->text();
    }));
    std::string file;
    EXPECT_TRUE(eventually([&] {
        file.clear();
        for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path() / "logs"))
            if (f.is_regular_file() && f.path().extension() == ".log") {
                std::ifstream in(f.path());
                file.append(std::istreambuf_iterator<char>(in), {});
            }
        return file.find("REPORT RequestId: req-3") != std::string::npos;
    })) << file;
    auto at = [&](const std::string& what) { return file.find(what); };
    EXPECT_LT(at("REPORT RequestId: req-1"), at("START RequestId: req-2")) << file;
    EXPECT_LT(at("START RequestId: req-2"), at("handling req-2")) << file;
    EXPECT_LT(at("REPORT RequestId: req-2"), at("START RequestId: req-3")) << file;
    EXPECT_NE(file.find(later[0].late_log->text()), std::string::npos) << file;
}

TEST_F(Invoker, NewCodeNeverRunsInAnOldEnvironment) {
    invoke(request("echo", "1"));
    auto changed = request("echo", "2");
    changed.config.last_modified_ms = 2;
    EXPECT_EQ(invoke(std::move(changed)).payload, "2");
    EXPECT_EQ(launcher_->launches(), 2);
}

TEST_F(Invoker, TimeoutKillsTheEnvironmentWithAwsPayload) {
    launcher_->script("slow", [](fakes::FakeRuntime& rt) {
        while (auto ev = rt.next()) {
            if (!rt.sleep_for(10s)) return 0;
            rt.respond(ev->request_id, "late");
        }
        return 0;
    });
    auto r = invoke(request("slow", "{}", 1));
    EXPECT_TRUE(r.function_error);
    EXPECT_EQ(
        r.payload,
        R"({"errorType":"Sandbox.Timedout","errorMessage":"RequestId: req-1 Error: Task timed out after 1.00 seconds"})");
    EXPECT_NE(r.log.find("Status: timeout"), std::string::npos) << r.log;
    EXPECT_TRUE(eventually([&] { return invoker_->environment_count() == 0; }))
        << "a timed-out environment is killed";
    auto again = invoke(request("slow", "{}", 1));
    EXPECT_TRUE(again.function_error);
    EXPECT_EQ(launcher_->launches(), 2) << "the next invocation starts a new environment";
}

TEST_F(Invoker, CrashIsRuntimeExitErrorWithItsOutput) {
    launcher_->script("crash", [](fakes::FakeRuntime& rt) {
        auto ev = rt.next();
        rt.print("about to fail\n");
        return 3;
    });
    auto r = invoke(request("crash", "{}"));
    EXPECT_TRUE(r.function_error);
    EXPECT_EQ(
        r.payload,
        R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: req-1 Error: Runtime exited with error: exit status 3"})");
    EXPECT_NE(r.log.find("about to fail"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("Status: error\tError Type: Runtime.ExitError"), std::string::npos)
        << r.log;
}

TEST_F(Invoker, CleanExitHasNoReason) {
    launcher_->script("quit", [](fakes::FakeRuntime& rt) {
        rt.next();
        return 0;
    });
    auto r = invoke(request("quit", "{}"));
    EXPECT_EQ(
        r.payload,
        R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: req-1 Error: Runtime exited without providing a reason"})");
}

TEST_F(Invoker, InitErrorAnswersTheRuntimesOwnError) {
    launcher_->script("badinit", [](fakes::FakeRuntime& rt) {
        rt.init_error("Runtime.ImportModuleError", "No module named x");
        return 1;
    });
    auto r = invoke(request("badinit", "{}"));
    EXPECT_TRUE(r.function_error);
    EXPECT_NE(r.payload.find("Runtime.ImportModuleError"), std::string::npos) << r.payload;
    EXPECT_NE(r.payload.find("No module named x"), std::string::npos) << r.payload;
    EXPECT_NE(r.log.find("Error Type: Runtime.ImportModuleError"), std::string::npos) << r.log;
}

TEST_F(Invoker, HandledFunctionErrorKeepsTheEnvironment) {
    launcher_->script("raises", [](fakes::FakeRuntime& rt) {
        while (auto ev = rt.next()) rt.error(ev->request_id, "ValueError", "bad value");
        return 0;
    });
    auto r = invoke(request("raises", "{}"));
    EXPECT_TRUE(r.function_error);
    EXPECT_NE(r.payload.find("bad value"), std::string::npos) << r.payload;
    invoke(request("raises", "{}"));
    EXPECT_EQ(launcher_->launches(), 1) << "a function error does not end the environment";
}

TEST_F(Invoker, AWarmEnvironmentThatDiedIsReplacedNotFailed) {
    launcher_->script("once", [](fakes::FakeRuntime& rt) {
        if (auto ev = rt.next()) rt.respond(ev->request_id, "served");
        return 0;  // exits after one invocation, while idle
    });
    EXPECT_EQ(invoke(request("once", "{}")).payload, "served");
    auto r = invoke(request("once", "{}"));
    EXPECT_FALSE(r.function_error) << r.payload;
    EXPECT_EQ(r.payload, "served");
    EXPECT_EQ(launcher_->launches(), 2);
}

TEST_F(Invoker, ProvisionedEnvironmentsServeWithoutInit) {
    auto tmpl = request("echo", "{}");
    tmpl.config.version = "1";
    invoker_->provision(tmpl.scope, "fn", "1", tmpl.config, 2);
    ASSERT_TRUE(eventually(
        [&] { return invoker_->provisioned_status(tmpl.scope, "fn", "1").status == "READY"; }));
    auto st = invoker_->provisioned_status(tmpl.scope, "fn", "1");
    EXPECT_EQ(st.allocated, 2);
    EXPECT_EQ(st.available, 2);
    EXPECT_EQ(launcher_->launches(), 2);
    for (const auto& env : launcher_->environments())
        EXPECT_EQ(env.at("AWS_LAMBDA_INITIALIZATION_TYPE"), "provisioned-concurrency");

    auto r = request("echo", "hi");
    r.config.version = "1";
    r.qualifier = "1";
    auto res = invoke(std::move(r));
    EXPECT_EQ(res.payload, "hi");
    EXPECT_EQ(res.log.find("Init Duration"), std::string::npos) << res.log;
    EXPECT_EQ(launcher_->launches(), 2) << "served by a provisioned environment";

    invoker_->provision(tmpl.scope, "fn", "1", tmpl.config, 0);
    EXPECT_EQ(invoker_->provisioned_status(tmpl.scope, "fn", "1").requested, 0);
    EXPECT_TRUE(eventually([&] { return invoker_->environment_count() == 0; }));
}

TEST_F(Invoker, AProvisionedInitThatFailsMarksTheConfigFailed) {
    launcher_->script("dies", [](fakes::FakeRuntime&) { return 2; });
    auto tmpl = request("dies", "{}");
    tmpl.config.version = "1";
    invoker_->provision(tmpl.scope, "fn", "1", tmpl.config, 1);
    ASSERT_TRUE(eventually(
        [&] { return invoker_->provisioned_status(tmpl.scope, "fn", "1").status == "FAILED"; }));
    EXPECT_EQ(invoker_->provisioned_status(tmpl.scope, "fn", "1").reason,
              "FUNCTION_ERROR_INIT_FAILURE");
}

TEST_F(Invoker, AnInitThatNeverEndsIsStoppedAtTheInitLimit) {
    launcher_->script("hangs", [](fakes::FakeRuntime& rt) {
        rt.sleep_for(30s);
        return 0;
    });
    auto r = invoke(request("hangs", "{}", 1));
    EXPECT_TRUE(r.function_error);
    EXPECT_NE(r.payload.find("Sandbox.Timedout"), std::string::npos) << r.payload;
}

TEST_F(Invoker, ExtensionsGetInvokeAndShutdownAndHoldTheEnvironment) {
    // a layer with one external extension: /opt/extensions/recorder
    std::string layer = fakes::make_zip(
        {fakes::dir("extensions/"), fakes::file("extensions/recorder", "#!/bin/sh\n", 0755)});
    std::string layer_hex = lamina::to_hex(lamina::sha256(layer));
    ASSERT_TRUE(blobs_->put(layer_hex, layer).has_value());
    auto events = std::make_shared<std::vector<std::string>>();
    auto events_mu = std::make_shared<std::mutex>();
    launcher_->script("with-extension", [events, events_mu](fakes::FakeRuntime& rt) {
        // the extension is its own thread of the "process", as launch.sh starts it first
        std::thread ext([&rt, events, events_mu] {
            auto id = rt.register_extension("recorder", R"(["INVOKE","SHUTDOWN"])");
            if (!id) return;
            while (auto ev = rt.next_extension_event(*id)) {
                auto j = nlohmann::json::parse(*ev);
                std::string line = j.value("eventType", "") + " " +
                                   j.value("requestId", j.value("shutdownReason", ""));
                {
                    std::lock_guard lk(*events_mu);
                    events->push_back(line);
                }
                if (j.value("eventType", "") == "SHUTDOWN") return;
            }
        });
        while (auto ev = rt.next()) rt.respond(ev->request_id, ev->payload);
        ext.join();
        return 0;
    });
    auto r = request("with-extension", "1");
    lamina::control::LayerRef ref;
    ref.blob = layer_hex;
    r.config.layers.push_back(ref);
    EXPECT_EQ(invoke(r).payload, "1");
    // free only once the extension is back at /event/next (as on AWS)
    ASSERT_TRUE(eventually([&] { return invoker_->idle_count_for_test() == 1; }));
    auto second = r;
    second.request_id = "req-second";
    second.payload = "2";
    EXPECT_EQ(invoke(second).payload, "2");
    EXPECT_EQ(launcher_->launches(), 1) << "the extension acknowledged: the environment is reused";
    invoker_->shutdown();
    std::lock_guard lk(*events_mu);
    EXPECT_EQ(*events,
              (std::vector<std::string>{"INVOKE req-1", "INVOKE req-second", "SHUTDOWN spindown"}));
}

TEST_F(Invoker, ShutdownAnswersNewInvocationsUnavailable) {
    invoke(request("echo", "{}"));
    invoker_->shutdown();
    EXPECT_EQ(invoker_->environment_count(), 0u);
    auto r = invoke(request("echo", "{}"));
    EXPECT_TRUE(r.function_error);
    EXPECT_EQ(r.payload,
              R"({"errorType":"Runtime.Unavailable","errorMessage":"lamina is shutting down"})");
}

}  // namespace

// Java functions start the host JVM with AWS's flags, sized from MemorySize; a
// runtime without a JVM, or a build without the runtime's jar, is Runtime.Unavailable.
class JavaInvoker : public Invoker {
protected:
    void SetUp() override {
        Invoker::SetUp();
        invoker_.reset();
        std::filesystem::create_directories(dir_.path() / "runtimes" / "java");
        std::ofstream(dir_.path() / "runtimes" / "java" / "lamina-java-runtime.jar") << "jar";
        auto launcher = std::make_unique<fakes::FakeLauncher>(ioc_);
        launcher_ = launcher.get();
        launcher_->script("echo", echo_runtime);
        exec::ExecSettings settings;
        settings.work_dir = dir_.path() / "environments";
        settings.runtimes_dir = dir_.path() / "runtimes";
        settings.interpreters = {{"java11", "/jvm/bin/java"}, {"java17", "/jvm/bin/java"}};
        settings.init_timeout = 2s;
        invoker_ = std::make_unique<exec::Invoker>(ioc_, settings, *cache_, clock_, ids_, nullptr,
                                                   std::move(launcher));
    }
    exec::InvokeRequest java(const std::string& runtime, int memory_mb) {
        auto r = request("echo", "{}");
        r.function_name = "fn-" + runtime;  // an environment of its own
        r.config.runtime = runtime;
        r.config.memory_size = memory_mb;
        return r;
    }
};

TEST_F(JavaInvoker, StartsTheJvmWithAwsFlags) {
    ASSERT_FALSE(invoke(java("java17", 512)).function_error);
    ASSERT_FALSE(invoke(java("java11", 128)).function_error);
    auto commands = launcher_->commands();
    ASSERT_EQ(commands.size(), 2U);
    const auto& j17 = commands[0];
    EXPECT_EQ(j17.front(), "/jvm/bin/java");
    for (const char* flag :
         {"-XX:MaxHeapSize=445645k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
          "-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8", "lamina.runtime.Bootstrap"})
        EXPECT_NE(std::find(j17.begin(), j17.end(), flag), j17.end()) << flag;
    const auto& j11 = commands[1];
    EXPECT_NE(std::find(j11.begin(), j11.end(), "-XX:MaxHeapSize=111411k"), j11.end());
    // java11 keeps the JVM's default tiered compilation, as on AWS
    EXPECT_EQ(std::find(j11.begin(), j11.end(), "-XX:TieredStopAtLevel=1"), j11.end());
}

TEST_F(JavaInvoker, RuntimeWithoutAJvmIsUnavailable) {
    auto r = invoke(java("java21", 128));
    EXPECT_TRUE(r.function_error);
    EXPECT_EQ(
        r.payload,
        R"({"errorType":"Runtime.Unavailable","errorMessage":"lamina has no Java 21 (or newer) JVM for java21: start it with --runtime java21=/path/to/bin/java"})");
    std::filesystem::remove(dir_.path() / "runtimes" / "java" / "lamina-java-runtime.jar");
    auto built_without = invoke(java("java17", 128));
    EXPECT_NE(built_without.payload.find("built without its Java runtime"), std::string::npos)
        << built_without.payload;
    EXPECT_EQ(launcher_->launches(), 0);
}

// Hot reload: a change of the folder an environment runs retires it; the
// next invocation starts a fresh one. Other folders' changes leave it be.
TEST_F(Invoker, HotReloadFolderChangeRetiresItsIdleEnvironments) {
    auto folder = dir_.path() / "live";
    std::filesystem::create_directories(folder);
    auto req = [&] {
        auto r = request("echo", R"({"n":1})");
        r.config.code_blob.clear();
        r.config.code_sha256 = lamina::control::kHotReloadCodeSha256;
        r.config.code_path = folder.string();
        return r;
    };
    EXPECT_TRUE(invoke(req()).cold);
    EXPECT_FALSE(invoke(req()).cold);
    invoker_->folder_changed((dir_.path() / "elsewhere").string());
    EXPECT_FALSE(invoke(req()).cold);
    invoker_->folder_changed(folder.string());
    auto after = invoke(req());
    EXPECT_TRUE(after.cold);
    EXPECT_FALSE(after.function_error) << after.payload;
    EXPECT_TRUE(eventually([&] { return invoker_->environment_count() == 1; }));
    EXPECT_FALSE(invoke(req()).cold);
}

TEST_F(Invoker, HotReloadFolderThatIsGoneFailsTheInvocationClearly) {
    auto r = request("echo", "{}");
    r.config.code_blob.clear();
    r.config.code_path = (dir_.path() / "gone").string();
    auto res = invoke(std::move(r));
    EXPECT_TRUE(res.function_error);
    EXPECT_NE(res.payload.find("is not there any more"), std::string::npos) << res.payload;
}

// Tenant isolation: answers "<environment number>|<tenant header>", the number
// fixed when the environment starts (module-level state, as a function's).
class TenantInvoker : public Invoker {
protected:
    void SetUp() override {
        Invoker::SetUp();
        launcher_->script("tenant", [this](fakes::FakeRuntime& rt) {
            const int me = ++environments_;
            while (auto ev = rt.next())
                if (!rt.respond(ev->request_id, std::to_string(me) + "|" + ev->tenant_id)) return 1;
            return 0;
        });
    }
    exec::InvokeRequest for_tenant(const std::string& tenant) {
        auto r = request("tenant", "{}");
        r.config.tenant_isolation_mode = "PER_TENANT";
        r.tenant_id = tenant;
        return r;
    }
    std::atomic<int> environments_{0};
};

TEST_F(TenantInvoker, AnEnvironmentServesOneTenantOnlyAndIsReusedByIt) {
    auto a1 = invoke(for_tenant("blue"));
    auto b1 = invoke(for_tenant("green"));
    EXPECT_TRUE(a1.cold);
    EXPECT_TRUE(b1.cold) << "green never gets blue's idle environment";
    EXPECT_EQ(a1.payload, "1|blue");
    EXPECT_EQ(b1.payload, "2|green");
    auto a2 = invoke(for_tenant("blue"));
    auto b2 = invoke(for_tenant("green"));
    EXPECT_FALSE(a2.cold);
    EXPECT_FALSE(b2.cold);
    EXPECT_EQ(a2.payload, "1|blue") << "the same tenant reuses its warm environment";
    EXPECT_EQ(b2.payload, "2|green");
    // a tenant id that reads like another key still gets its own environment
    auto odd = invoke(for_tenant("blue/debug:5678"));
    EXPECT_TRUE(odd.cold);
    EXPECT_EQ(odd.payload, "3|blue/debug:5678");
    // nor does an invocation without a tenant run in a tenant's environment
    auto none = request("tenant", "{}");
    EXPECT_EQ(invoke(std::move(none)).payload, "4|");
    EXPECT_EQ(launcher_->launches(), 4);
    EXPECT_EQ(invoker_->idle_count_for_test(), 4u);
}

TEST_F(TenantInvoker, ConcurrentInvocationsOfOneTenantNeverBorrowAnotherTenantsEnvironment) {
    // blue's environment is idle while two green invocations arrive together
    EXPECT_EQ(invoke(for_tenant("blue")).payload, "1|blue");
    std::promise<exec::InvokeResult> p1, p2;
    invoker_->invoke(for_tenant("green"), [&](exec::InvokeResult r) { p1.set_value(r); });
    invoker_->invoke(for_tenant("green"), [&](exec::InvokeResult r) { p2.set_value(r); });
    auto f1 = p1.get_future(), f2 = p2.get_future();
    ASSERT_EQ(f1.wait_for(20s), std::future_status::ready);
    ASSERT_EQ(f2.wait_for(20s), std::future_status::ready);
    for (const auto& r : {f1.get(), f2.get()}) {
        EXPECT_EQ(r.payload.substr(r.payload.find('|')), "|green");
        EXPECT_NE(r.payload, "1|green");
    }
    EXPECT_EQ(invoke(for_tenant("blue")).payload, "1|blue");
}

TEST_F(TenantInvoker, JsonPlatformRecordsCarryTheTenant) {
    auto r = for_tenant("blue");
    r.config.log_format = "JSON";
    auto res = invoke(std::move(r));
    auto tenant_records = [&](const std::string& type) {
        int n = 0;
        std::size_t start = 0;
        while (start < res.log.size()) {
            auto end = res.log.find('\n', start);
            auto line = res.log.substr(start, end - start);
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_object() && j.value("type", "") == type &&
                j["record"].value("tenantId", "") == "blue")
                ++n;
            if (end == std::string::npos) break;
            start = end + 1;
        }
        return n;
    };
    EXPECT_EQ(tenant_records("platform.start"), 1) << res.log;
    EXPECT_EQ(tenant_records("platform.report"), 1) << res.log;
}

TEST_F(TenantInvoker, IdleTenantEnvironmentsAreRetiredAsOthersAre) {
    invoker_.reset();
    auto launcher = std::make_unique<fakes::FakeLauncher>(ioc_);
    launcher_ = launcher.get();
    launcher_->script("tenant", [this](fakes::FakeRuntime& rt) {
        const int me = ++environments_;
        while (auto ev = rt.next())
            if (!rt.respond(ev->request_id, std::to_string(me) + "|" + ev->tenant_id)) return 1;
        return 0;
    });
    exec::ExecSettings settings;
    settings.work_dir = dir_.path() / "environments";
    settings.logs_dir = dir_.path() / "logs";
    settings.interpreters = {{"python3.12", "/usr/bin/python3"}};
    settings.idle_timeout = 300ms;
    invoker_ = std::make_unique<exec::Invoker>(ioc_, settings, *cache_, clock_, ids_, nullptr,
                                               std::move(launcher));
    EXPECT_EQ(invoke(for_tenant("blue")).payload, "1|blue");
    EXPECT_TRUE(eventually([&] { return invoker_->environment_count() == 0; }))
        << "an idle tenant environment is reaped after the idle timeout";
    auto again = invoke(for_tenant("blue"));
    EXPECT_TRUE(again.cold);
    EXPECT_EQ(again.payload, "2|blue");
}

TEST_F(TenantInvoker, NewTenantsBeyondTwoAndAHalfEnvironmentsPerUnitOfConcurrencyAreThrottled) {
    auto capped = [&](const std::string& tenant) {
        auto r = for_tenant(tenant);
        r.reserved_concurrency = 1;  // 2,500 per 1,000: two tenant environments
        return r;
    };
    EXPECT_FALSE(invoke(capped("a")).throttle);
    EXPECT_FALSE(invoke(capped("b")).throttle);
    auto third = invoke(capped("c"));
    ASSERT_TRUE(third.throttle);
    EXPECT_EQ(third.throttle->message, "Rate Exceeded.");
    EXPECT_EQ(invoke(capped("a")).payload, "1|a") << "a tenant with an environment still runs";
    EXPECT_EQ(launcher_->launches(), 2);
}
