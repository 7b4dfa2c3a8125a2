#include "lamina/exec/recent_invocations.hpp"

#include <gtest/gtest.h>

using namespace lamina;
using namespace lamina::exec;

namespace {

const control::Scope kScope{"123456789012", "us-east-1"};

InvocationRecord rec(const std::string& id, const std::string& fn = "f",
                     control::Scope scope = kScope) {
    InvocationRecord r;
    r.scope = std::move(scope);
    r.request_id = id;
    r.function = fn;
    r.status = "Success";
    r.log = "START " + id + "\nREPORT " + id + "\n";
    return r;
}

std::vector<std::string> ids(const std::vector<InvocationRecord>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.request_id);
    return out;
}

}  // namespace

TEST(RecentInvocations, NewestFirstBeforeTheRingIsFull) {
    RecentInvocations recent(4);
    recent.record(rec("a"));
    recent.record(rec("b"));
    EXPECT_EQ(ids(recent.snapshot(kScope)), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(recent.size(), 2u);
}

TEST(RecentInvocations, KeepsOnlyTheLastCapacityRecords) {
    RecentInvocations recent(3);
    for (const char* id : {"a", "b", "c", "d", "e"}) recent.record(rec(id));
    EXPECT_EQ(recent.size(), 3u);
    EXPECT_EQ(ids(recent.snapshot(kScope)), (std::vector<std::string>{"e", "d", "c"}));
    for (int i = 0; i < 1000; ++i) recent.record(rec("x" + std::to_string(i)));
    EXPECT_EQ(recent.size(), 3u);
    EXPECT_EQ(ids(recent.snapshot(kScope)), (std::vector<std::string>{"x999", "x998", "x997"}));
}

TEST(RecentInvocations, FiltersByScopeAndFunction) {
    RecentInvocations recent(10);
    recent.record(rec("a", "f"));
    recent.record(rec("b", "g"));
    recent.record(rec("c", "f", {"210987654321", "us-east-1"}));
    recent.record(rec("d", "f", {"123456789012", "eu-west-1"}));
    EXPECT_EQ(ids(recent.snapshot(kScope)), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(ids(recent.snapshot(kScope, "f")), (std::vector<std::string>{"a"}));
    EXPECT_EQ(ids(recent.snapshot({"210987654321", "us-east-1"}, "f")),
              (std::vector<std::string>{"c"}));
    EXPECT_TRUE(recent.snapshot(kScope, "nope").empty());
}

TEST(RecentInvocations, ALongLogKeepsItsHeadAndTail) {
    RecentInvocations recent(2, 200);
    auto r = rec("a");
    r.log = "START a\n" + std::string(5000, 'x') + "\nREPORT a Duration: 1 ms\n";
    recent.record(std::move(r));
    auto kept = recent.snapshot(kScope).at(0).log;
    EXPECT_LE(kept.size(), 200u);
    EXPECT_TRUE(kept.starts_with("START a\n"));
    EXPECT_TRUE(kept.ends_with("REPORT a Duration: 1 ms\n"));
    EXPECT_NE(kept.find("[...]"), std::string::npos);
}

TEST(RecentInvocations, AShortLogIsKeptWhole) {
    RecentInvocations recent(2, 200);
    recent.record(rec("a"));
    EXPECT_EQ(recent.snapshot(kScope).at(0).log, "START a\nREPORT a\n");
}

TEST(RecentInvocations, ClearForgetsEverything) {
    RecentInvocations recent(2);
    for (auto id : {"a", "b", "c"}) recent.record(rec(id));
    recent.clear();
    EXPECT_EQ(recent.size(), 0u);
    EXPECT_TRUE(recent.snapshot(kScope).empty());
    recent.record(rec("d"));
    recent.record(rec("e"));
    recent.record(rec("f"));
    EXPECT_EQ(ids(recent.snapshot(kScope)), (std::vector<std::string>{"f", "e"}));
}
