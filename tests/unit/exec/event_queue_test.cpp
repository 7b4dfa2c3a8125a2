#include "lamina/exec/event_queue.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "../fakes/fake_clock.hpp"
#include "../fakes/temp_dir.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/layer_cache.hpp"

using namespace lamina;
using namespace lamina::exec;
namespace asio = boost::asio;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};

// An event queue over a real invoker whose function can never be admitted
// (its one reserved slot is held by the test): every try is throttled, so
// only the queue's own rules decide what happens, on a fake clock.
class EventQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* n : {"exec", "http", "store"})
            if (!spdlog::get(n)) spdlog::null_logger_mt(n);
        docs_ = std::move(
            *store::DocumentStore::open(dir_.path() / "meta.db", store::Durability::Crash));
        blobs_ = std::make_unique<store::BlobStore>(dir_.path() / "blobs");
        cache_ = std::make_unique<store::LayerCache>(dir_.path(), *blobs_, 262144000);
        concurrency_ = std::make_unique<ConcurrencyController>(CapacitySettings{}, clock_);
        ExecSettings settings;
        settings.work_dir = dir_.path() / "work";
        invoker_ =
            std::make_unique<Invoker>(ioc_, settings, *cache_, clock_, ids_, concurrency_.get());
        held_ = std::move(*concurrency_->acquire(Demand{kScope, "busy", 1, 1, 0, false}));
        queue_ = std::make_unique<EventQueue>(ioc_, *docs_, *invoker_, clock_, ids_);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        queue_->stop();
        invoker_->shutdown();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    InvokeRequest request(const QueuedEvent& e) {
        InvokeRequest r;
        r.scope = e.scope;
        r.function_name = e.function;
        r.qualifier = e.qualifier;
        r.payload = e.payload;
        r.request_id = e.id;
        r.config.version = "$LATEST";
        r.reserved_concurrency = 1;
        r.reserved_total = 1;
        return r;
    }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    asio::io_context ioc_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<store::LayerCache> cache_;
    std::unique_ptr<ConcurrencyController> concurrency_;
    std::unique_ptr<Invoker> invoker_;
    std::unique_ptr<EventQueue> queue_;
    Slot held_;
    std::thread thread_;
};

}  // namespace

TEST_F(EventQueueTest, AThrottledEventOlderThanItsMaximumAgeGoesToTheFailureDestination) {
    std::promise<std::string> delivered;
    std::atomic<int> tries{0};
    EventQueueHooks hooks;
    hooks.resolve = [&](const QueuedEvent& e) -> Result<InvokeRequest> {
        if (e.function ==
            "dest") {  // the destination's own event: capture its payload, run nothing
            delivered.set_value(e.payload);
            return fail(ErrorCode::ResourceNotFound, "test destination");
        }
        ++tries;
        return request(e);
    };
    hooks.config = [&](const QueuedEvent& e) -> std::optional<control::EventInvokeConfig> {
        if (e.function != "busy") return std::nullopt;
        control::EventInvokeConfig c;
        c.maximum_event_age_seconds = 60;
        c.on_failure = "arn:aws:lambda:us-east-1:123456789012:function:dest";
        return c;
    };
    queue_->set_hooks(hooks);
    QueuedEvent e;
    e.id = "11111111-2222-4333-8444-555555555555";
    e.scope = kScope;
    e.function = "busy";
    e.payload = R"({"n":1})";
    e.received_ms = clock_.now_ms() - 59'500;  // half a second of its minute left
    ASSERT_TRUE(queue_->enqueue(e).has_value());
    auto got = delivered.get_future();
    ASSERT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto record = nlohmann::json::parse(got.get());
    EXPECT_EQ(record["requestContext"]["condition"], "EventAgeExceeded");
    EXPECT_EQ(record["requestContext"]["requestId"], e.id);
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 0);  // it never ran
    EXPECT_EQ(record["requestContext"]["functionArn"],
              "arn:aws:lambda:us-east-1:123456789012:function:busy:$LATEST");
    EXPECT_EQ(record["requestPayload"], nlohmann::json::parse(e.payload));
    EXPECT_FALSE(record.contains("responseContext"));
    EXPECT_EQ(tries, 1);
}

TEST_F(EventQueueTest, AThrottledEventWaitsAndIsKeptInTheStore) {
    std::atomic<int> tries{0};
    EventQueueHooks hooks;
    hooks.resolve = [&](const QueuedEvent& e) -> Result<InvokeRequest> {
        ++tries;
        return request(e);
    };
    hooks.config = [](const QueuedEvent&) { return std::optional<control::EventInvokeConfig>{}; };
    queue_->set_hooks(hooks);
    QueuedEvent e;
    e.id = "22222222-2222-4333-8444-555555555555";
    e.scope = kScope;
    e.function = "busy";
    e.payload = "{}";
    ASSERT_TRUE(queue_->enqueue(e).has_value());
    for (int i = 0; i < 200 && tries < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(tries, 2);  // tried, throttled, tried again a second later
    EXPECT_EQ(queue_->pending(), 1u);
    int stored = 0;
    ASSERT_TRUE(docs_
                    ->for_each("event",
                               [&](const std::string& key, const std::string& doc) {
                                   ++stored;
                                   EXPECT_EQ(key, e.id);
                                   EXPECT_GE(nlohmann::json::parse(doc)["throttles"].get<int>(), 1);
                               })
                    .has_value());
    EXPECT_EQ(stored, 1);
}
