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
    EXPECT_NE(next.find(";Sampled=0;Lineage=aaaaaaaa:1|bbbbbbbb:2"), std::string::npos) << next;
    EXPECT_EQ(lineage_count(with_lineage(next, "aaaaaaaa", 2, ids), "aaaaaaaa"), 2);
    std::string fresh = with_lineage("", "aaaaaaaa", 1, ids);
    EXPECT_EQ(fresh.rfind("Root=1-", 0), 0u);
    EXPECT_EQ(lineage_count(fresh, "aaaaaaaa"), 1);
}

TEST(TraceHeader, HashIsShortAndStable) {
    auto a = lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:f");
    EXPECT_EQ(a.size(), 8u);
    EXPECT_EQ(a, lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:f"));
    EXPECT_NE(a, lineage_hash("arn:aws:lambda:us-east-1:123456789012:function:g"));
}

}  // namespace
