#include "lamina/common/trace_header.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"

using namespace lamina;

namespace {

TEST(TraceHeader, LineageCountsPerFunction) {
    EXPECT_EQ(lineage_count("", "aaaaaaaa"), 0);
    EXPECT_EQ(lineage_count("Root=1-a-b;Parent=c;Sampled=0", "aaaaaaaa"), 0);
    const std::string h = "Root=1-a-b;Parent=c;Sampled=0;Lineage=aaaaaaaa:3|bbbbbbbb:15";
    EXPECT_EQ(lineage_count(h, "aaaaaaaa"), 3);
    EXPECT_EQ(lineage_count(h, "bbbbbbbb"), 15);
    EXPECT_EQ(lineage_count(h, "cccccccc"), 0);
    // malformed entries count as nothing
    EXPECT_EQ(lineage_count("Lineage=aaaaaaaa:x|:4|bbbbbbbb:-2", "aaaaaaaa"), 0);
    EXPECT_EQ(lineage_count("Lineage=aaaaaaaa:x|:4|bbbbbbbb:-2", "bbbbbbbb"), 0);
}

TEST(TraceHeader, WithLineageKeepsTheRootAndTheOtherFunctions) {
    fakes::CountingIds ids;
    const std::string h = "Root=1-abc-def;Parent=0123;Sampled=1;Lineage=bbbbbbbb:2";
    std::string next = with_lineage(h, "aaaaaaaa", 1, ids);
    EXPECT_EQ(next.rfind("Root=1-abc-def;Parent=", 0), 0u) << next;
    // the caller's sampling decision carries on
    EXPECT_NE(next.find(";Sampled=1;Lineage=aaaaaaaa:1|bbbbbbbb:2"), std::string::npos) << next;
    EXPECT_EQ(lineage_count(with_lineage(next, "aaaaaaaa", 2, ids), "aaaaaaaa"), 2);
    std::string fresh = with_lineage("", "aaaaaaaa", 1, ids);
    EXPECT_EQ(fresh.rfind("Root=1-", 0), 0u);
    EXPECT_EQ(lineage_count(fresh, "aaaaaaaa"), 1);
}

TEST(TraceHeader, InvocationTraceKeepsRootSampledAndLineageWithANewParent) {
    fakes::CountingIds ids;
    std::string t = invocation_trace(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", ids);
    EXPECT_EQ(t.rfind("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=", 0), 0u) << t;
    EXPECT_EQ(t.find("53995c3f42cd8ad8"), std::string::npos) << t;
    EXPECT_TRUE(t.ends_with(";Sampled=1")) << t;
    EXPECT_TRUE(invocation_trace("Root=1-a-b;Lineage=aaaaaaaa:4", ids)
                    .ends_with(";Sampled=0;Lineage=aaaaaaaa:4"));
    std::string fresh = invocation_trace("", ids);
    EXPECT_EQ(fresh.rfind("Root=1-", 0), 0u) << fresh;
    EXPECT_TRUE(fresh.ends_with(";Sampled=0")) << fresh;
}

TEST(TraceHeader, HashIsShortAndStable) {
    auto a = lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:f");
    EXPECT_EQ(a.size(), 8u);
    EXPECT_EQ(a, lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:f"));
    EXPECT_NE(a, lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:g"));
}

}  // namespace
