#include "lamina/http/body_stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace lamina;
using http::BodyPiece;
using http::BodyPipe;

namespace {

// What one next() call handed over (it must have been called at once).
BodyPiece take(BodyPipe& p) {
    std::optional<BodyPiece> got;
    p.next([&](BodyPiece piece) { got = std::move(piece); });
    EXPECT_TRUE(got.has_value()) << "next() did not answer at once";
    return got.value_or(BodyPiece::failed("no answer"));
}

}  // namespace

TEST(BodyPipe, HandsDataOverInOrderThenTheEnd) {
    BodyPipe p;
    int resumed = 0;
    p.write("ab", [&] { ++resumed; });
    p.write("cd", [&] { ++resumed; });
    p.finish();
    EXPECT_EQ(resumed, 2);  // far below the high-water mark: never held back
    BodyPiece first = take(p);
    EXPECT_EQ(first.kind, BodyPiece::Kind::Data);
    EXPECT_EQ(first.data, "abcd");  // queued writes are joined
    EXPECT_EQ(take(p).kind, BodyPiece::Kind::End);
    EXPECT_EQ(take(p).kind, BodyPiece::Kind::End);  // and again
    EXPECT_EQ(p.bytes_written(), 4u);
}

TEST(BodyPipe, AWaitingReaderGetsTheWriteAtOnce) {
    BodyPipe p;
    std::vector<std::string> seen;
    p.next([&](BodyPiece piece) { seen.push_back(piece.data); });
    EXPECT_TRUE(seen.empty());
    p.write("x", nullptr);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "x");
    std::optional<BodyPiece::Kind> end;
    p.next([&](BodyPiece piece) { end = piece.kind; });
    EXPECT_FALSE(end);
    p.fail("broke");
    ASSERT_TRUE(end);
    EXPECT_EQ(*end, BodyPiece::Kind::Failed);
}

TEST(BodyPipe, HoldsTheProducerBackUntilTheReaderCatchesUp) {
    BodyPipe p(10);
    bool resumed = false;
    p.write(std::string(6, 'a'), [] {});
    p.write(std::string(6, 'b'), [&] { resumed = true; });
    EXPECT_FALSE(resumed);  // 12 bytes waiting, over 10
    BodyPiece got = take(p);
    EXPECT_EQ(got.data, std::string(6, 'a') + std::string(6, 'b'));
    EXPECT_TRUE(resumed);
}

TEST(BodyPipe, CancelDropsWhatIsQueuedAndReleasesTheProducer) {
    BodyPipe p(4);
    bool resumed = false;
    p.write("12345", [&] { resumed = true; });
    EXPECT_FALSE(resumed);
    p.cancel();
    EXPECT_TRUE(resumed);
    EXPECT_TRUE(p.cancelled());
    bool again = false;
    p.write("more", [&] { again = true; });  // dropped, never held
    EXPECT_TRUE(again);
    p.finish();
    EXPECT_EQ(take(p).kind, BodyPiece::Kind::End);
    EXPECT_EQ(p.bytes_written(), 5u);
}

TEST(BodyPipe, NothingIsAcceptedAfterTheEnd) {
    BodyPipe p;
    p.write("a", nullptr);
    p.finish();
    p.write("late", nullptr);
    p.fail("late");
    EXPECT_EQ(take(p).data, "a");
    EXPECT_EQ(take(p).kind, BodyPiece::Kind::End);
}

TEST(BodyPipe, EndingFromElsewhereReleasesAHeldProducer) {
    BodyPipe p(4);
    bool resumed = false;
    p.write("12345", [&] { resumed = true; });
    EXPECT_FALSE(resumed);
    p.fail("timed out");  // e.g. the invocation timed out while the client was slow
    EXPECT_TRUE(resumed);
    EXPECT_EQ(take(p).data, "12345");  // what was queued is still handed out
    EXPECT_EQ(take(p).kind, BodyPiece::Kind::Failed);
}
