#include "lamina/logs/live_tail.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"

using namespace lamina;
using namespace lamina::logs;
using lamina::fakes::FakeClock;
using lamina::fakes::TempDir;

namespace {

const Where kWhere{"123456789012", "us-east-1"};
constexpr std::int64_t kNow = 1'800'000'000'000;

struct Seen {
    std::vector<TailUpdate> updates;
    std::vector<TailEnd> ends;
    bool gone = false;  // the consumer left
};

class LiveTailTest : public ::testing::Test {
protected:
    void SetUp() override {
        clock_.set(kNow);
        auto s = LogStore::open(dir_.path() / "logs.sqlite", dir_.path() / "logs", clock_);
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        tail_ = std::make_unique<LiveTail>(*store_, clock_, LiveTail::Options{});
        tail_->set_run_thread_for_test(false);
        for (const char* g : {"/g/one", "/g/two"}) {
            ASSERT_TRUE(store_->create_group(kWhere, g, {}));
            for (const char* st : {"app-1", "app-2", "web"})
                ASSERT_TRUE(store_->create_stream(kWhere, g, st));
        }
    }
    std::shared_ptr<Seen> watch(std::vector<std::string> groups, const std::string& pattern = "",
                                std::vector<std::string> streams = {},
                                std::vector<std::string> prefixes = {}) {
        auto seen = std::make_shared<Seen>();
        TailFilter f;
        f.where = kWhere;
        for (auto& g : groups) f.groups.push_back({g, kWhere.account + ":" + g});
        f.streams = std::move(streams);
        f.prefixes = std::move(prefixes);
        auto p = FilterPattern::parse(pattern);
        EXPECT_TRUE(p);
        f.pattern = std::move(*p);
        TailSink sink;
        sink.update = [seen](TailUpdate u) {
            seen->updates.push_back(std::move(u));
            return !seen->gone;
        };
        sink.end = [seen](TailEnd e) { seen->ends.push_back(e); };
        EXPECT_TRUE(tail_->start(std::move(f), std::move(sink)));
        return seen;
    }
    void put(const std::string& group, const std::string& stream, std::vector<std::string> msgs) {
        std::vector<InputEvent> events;
        for (auto& m : msgs) events.push_back({kNow - 5, std::move(m)});
        ASSERT_TRUE(store_->put_events(kWhere, group, stream, events));
    }
    static std::vector<std::string> messages(const TailUpdate& u) {
        std::vector<std::string> out;
        for (const auto& e : u.events) out.push_back(e.message);
        return out;
    }
    TempDir dir_;
    FakeClock clock_;
    std::unique_ptr<LogStore> store_;
    std::unique_ptr<LiveTail> tail_;
};

}  // namespace

TEST_F(LiveTailTest, SessionsGetWhatMatchesTheirGroupsStreamsAndPattern) {
    put("/g/one", "app-1", {"before the session"});
    auto all = watch({"/g/one"});
    auto errors = watch({"/g/one", "/g/two"}, "ERROR -retry");
    auto named = watch({"/g/two"}, "", {"web"});
    auto prefixed = watch({"/g/two"}, "", {}, {"app-"});
    put("/g/one", "app-1", {"ERROR disk", "INFO ok"});
    put("/g/two", "web", {"ERROR retry 2", "GET /"});
    put("/g/two", "app-2", {"ERROR again"});
    tail_->tick();
    ASSERT_EQ(all->updates.size(), 1u);
    EXPECT_EQ(messages(all->updates[0]), (std::vector<std::string>{"ERROR disk", "INFO ok"}));
    EXPECT_FALSE(all->updates[0].sampled);
    EXPECT_EQ(messages(errors->updates[0]),
              (std::vector<std::string>{"ERROR disk", "ERROR again"}));
    EXPECT_EQ(messages(named->updates[0]), (std::vector<std::string>{"ERROR retry 2", "GET /"}));
    EXPECT_EQ(messages(prefixed->updates[0]), (std::vector<std::string>{"ERROR again"}));
    const auto& e = errors->updates[0].events[1];
    EXPECT_EQ(e.group_identifier, "123456789012:/g/two");
    EXPECT_EQ(e.stream, "app-2");
    EXPECT_EQ(e.timestamp, kNow - 5);
    EXPECT_EQ(e.ingestion_time, kNow);
    // a quiet second still sends an (empty) update
    tail_->tick();
    ASSERT_EQ(all->updates.size(), 2u);
    EXPECT_TRUE(all->updates[1].events.empty());
}

TEST_F(LiveTailTest, FunctionOutputArrivesOnceStored) {
    auto s = watch({"/aws/lambda/fn"});
    store_->append(kWhere, "/aws/lambda/fn", "2026/01/01/[$LATEST]abc", "line one\nline two\n");
    store_->flush();
    tail_->tick();
    ASSERT_EQ(s->updates.size(), 1u);
    EXPECT_EQ(messages(s->updates[0]), (std::vector<std::string>{"line one\n", "line two\n"}));
}

TEST_F(LiveTailTest, MoreThan500AreSampled) {
    auto s = watch({"/g/one"});
    std::vector<std::string> many;
    for (int i = 0; i < 1200; ++i) many.push_back("event " + std::to_string(i));
    put("/g/one", "web", many);
    tail_->tick();
    ASSERT_EQ(s->updates.size(), 1u);
    EXPECT_TRUE(s->updates[0].sampled);
    EXPECT_EQ(s->updates[0].events.size(), LiveTail::kMaxResults);
    EXPECT_EQ(s->updates[0].events.front().message, "event 0");
}

TEST_F(LiveTailTest, SessionsEndByTimeoutDepartureOrStop) {
    auto old = watch({"/g/one"});
    clock_.advance(2 * 3'600'000);
    auto leaving = watch({"/g/one"});
    auto staying = watch({"/g/one"});
    leaving->gone = true;
    tail_->tick();
    EXPECT_EQ(tail_->sessions(), 2u);  // `leaving` goes after its update
    EXPECT_TRUE(old->ends.empty());
    clock_.advance(3'600'000);
    tail_->tick();
    ASSERT_EQ(old->ends.size(), 1u);
    EXPECT_EQ(old->ends[0], TailEnd::Timeout);
    EXPECT_EQ(tail_->sessions(), 1u);
    tail_->stop();
    ASSERT_EQ(staying->ends.size(), 1u);
    EXPECT_EQ(staying->ends[0], TailEnd::Shutdown);
    EXPECT_TRUE(leaving->ends.empty());
    EXPECT_EQ(tail_->sessions(), 0u);
    TailFilter f;
    EXPECT_FALSE(tail_->start(std::move(f), TailSink{}));
}

TEST_F(LiveTailTest, NothingIsHeldWithoutSessions) {
    put("/g/one", "web", {"unseen"});
    auto s = watch({"/g/one"});
    tail_->tick();
    ASSERT_EQ(s->updates.size(), 1u);
    EXPECT_TRUE(s->updates[0].events.empty());
}
