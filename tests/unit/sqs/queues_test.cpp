#include "lamina/sqs/queues.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/sqs/sqs_error.hpp"

using namespace lamina;
using namespace lamina::sqs;

namespace {

constexpr const char* kAccount = "123456789012";
constexpr const char* kRegion = "us-east-1";

class QueuesTest : public ::testing::Test {
protected:
    void SetUp() override { reopen(); }
    void reopen() {
        queues_.reset();
        auto q = Queues::open(dir_.path() / "sqs.sqlite", store::Durability::Crash, clock_, ids_);
        ASSERT_TRUE(q) << q.error().message;
        queues_ = std::move(*q);
    }
    std::string make(const std::string& name, Attributes attrs = {}) {
        auto q = queues_->create_queue(kAccount, kRegion, name, attrs, {});
        EXPECT_TRUE(q) << (q ? "" : q.error().message);
        return q ? q->arn : "";
    }
    SendResult send(const std::string& arn, std::string body,
                    std::optional<std::string> group = std::nullopt,
                    std::optional<std::string> dedup = std::nullopt) {
        SendInput in;
        in.body = std::move(body);
        in.group_id = std::move(group);
        in.dedup_id = std::move(dedup);
        in.sender_id = "AKIDTEST";
        auto r = queues_->send(arn, std::move(in));
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : SendResult{};
    }
    std::vector<ReceivedMessage> receive(const std::string& arn, int max = 10,
                                         std::optional<int> vt = std::nullopt) {
        auto r = queues_->receive(arn, max, vt);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : std::vector<ReceivedMessage>{};
    }
    std::string code_of(const Error& e) { return sqs_error_shape(e).query_code; }

    fakes::TempDir dir_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    std::unique_ptr<Queues> queues_;
};

}  // namespace

TEST(SqsMd5, MatchesRecordedAwsDigests) {
    EXPECT_EQ(md5_of_body("test"), "098f6bcd4621d373cade4e832627b4f6");
    EXPECT_EQ(md5_of_attributes({{"MyAttribute", {"String", "foobar", std::nullopt}}}),
              "adb59cd4678ea5a855436b949cd07ab6");
    EXPECT_EQ(md5_of_attributes({{"Author", {"String", "John Grisham", std::nullopt}},
                                 {"Title", {"String", "The Whistler", std::nullopt}},
                                 {"WeeksOn", {"Number", "6", std::nullopt}}}),
              "d25a6aea97eb8f585bfa92d314504a92");
    EXPECT_EQ(md5_of_attributes({{"attr1",
                                  {"Binary", std::nullopt,
                                   "traceparent\x1e"
                                   "00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"}}}),
              "8cbe4db156db8a94db8b801b7addb984");
    EXPECT_EQ(md5_of_attributes({{"Foo", {"String", "Bar", std::nullopt}}}),
              "ae7155c6026991b6d54b11589678bf9c");
}

TEST_F(QueuesTest, DefaultsAndArn) {
    std::string arn = make("q1");
    EXPECT_EQ(arn, "arn:aws:sqs:us-east-1:123456789012:q1");
    auto a = queues_->get_attributes(arn, {"All"});
    ASSERT_TRUE(a);
    EXPECT_EQ(a->at("MaximumMessageSize"), "1048576");
    EXPECT_EQ(a->at("VisibilityTimeout"), "30");
    EXPECT_EQ(a->at("MessageRetentionPeriod"), "345600");
    EXPECT_EQ(a->at("SqsManagedSseEnabled"), "true");
    EXPECT_FALSE(a->contains("FifoQueue"));
    auto bad = queues_->get_attributes(arn, {"Foobar"});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "Unknown Attribute Foobar.");
}

TEST_F(QueuesTest, CreateConflictsAndFifoOnlyNames) {
    make("q", {{"DelaySeconds", "1"}});
    auto again = queues_->create_queue(kAccount, kRegion, "q", {{"DelaySeconds", "1"}}, {});
    EXPECT_TRUE(again);
    auto other = queues_->create_queue(kAccount, kRegion, "q", {{"DelaySeconds", "2"}}, {});
    ASSERT_FALSE(other);
    EXPECT_EQ(code_of(other.error()), "QueueAlreadyExists");
    EXPECT_EQ(other.error().message,
              "A queue already exists with the same name and a different value for attribute "
              "DelaySeconds");
    auto fifo_attr = queues_->create_queue(kAccount, kRegion, "s", {{"FifoQueue", "false"}}, {});
    ASSERT_FALSE(fifo_attr);
    EXPECT_EQ(fifo_attr.error().message, "Unknown Attribute FifoQueue.");
    auto scope =
        queues_->create_queue(kAccount, kRegion, "s", {{"DeduplicationScope", "queue"}}, {});
    ASSERT_FALSE(scope);
    EXPECT_EQ(scope.error().message,
              "You can specify the DeduplicationScope only when FifoQueue is set to true.");
}

TEST_F(QueuesTest, VisibilityTimeoutHidesUntilItEnds) {
    std::string arn = make("q");
    send(arn, "hello");
    auto first = receive(arn, 10, 5);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].attributes.at("ApproximateReceiveCount"), "1");
    EXPECT_TRUE(receive(arn).empty());
    clock_.advance(4999);
    EXPECT_TRUE(receive(arn).empty());
    clock_.advance(1);
    auto again = receive(arn);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attributes.at("ApproximateReceiveCount"), "2");
    EXPECT_NE(again[0].receipt_handle, first[0].receipt_handle);
    EXPECT_TRUE(queues_->delete_message(arn, again[0].receipt_handle));
    clock_.advance(60'000);
    EXPECT_TRUE(receive(arn).empty());
}

TEST_F(QueuesTest, DelaysQueueAndMessage) {
    std::string arn = make("q", {{"DelaySeconds", "10"}});
    send(arn, "a");
    SendInput in{"b", {}, 0, std::nullopt, std::nullopt, std::nullopt, "x"};
    ASSERT_TRUE(queues_->send(arn, in));
    auto now = receive(arn);
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(now[0].body, "b");
    auto counts = queues_->get_attributes(
        arn, {"ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible"});
    EXPECT_EQ(counts->at("ApproximateNumberOfMessagesDelayed"), "1");
    EXPECT_EQ(counts->at("ApproximateNumberOfMessagesNotVisible"), "1");
    clock_.advance(10'000);
    auto later = receive(arn);
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].body, "a");
}

TEST_F(QueuesTest, ChangeVisibilityAndBadHandles) {
    std::string arn = make("q");
    send(arn, "m");
    auto got = receive(arn);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(queues_->change_visibility(arn, got[0].receipt_handle, 0));
    EXPECT_EQ(receive(arn).size(), 1u);
    auto bad = queues_->delete_message(arn, "garbage");
    ASSERT_FALSE(bad);
    EXPECT_EQ(code_of(bad.error()), "ReceiptHandleIsInvalid");
    EXPECT_EQ(bad.error().message,
              "The input receipt handle \"garbage\" is not a valid receipt handle.");
}

TEST_F(QueuesTest, FifoOrderGroupsAndDedup) {
    std::string arn = make("f.fifo", {{"FifoQueue", "true"}});
    auto r1 = send(arn, "a1", "A", "1");
    send(arn, "a2", "A", "2");
    send(arn, "b1", "B", "3");
    auto dup = send(arn, "a1 again", "A", "1");
    EXPECT_EQ(dup.message_id, r1.message_id);
    EXPECT_EQ(dup.sequence_number, r1.sequence_number);
    auto first = receive(arn, 1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].body, "a1");
    EXPECT_EQ(first[0].attributes.at("MessageGroupId"), "A");
    // group A is in flight: only B delivers
    auto second = receive(arn, 10);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].body, "b1");
    ASSERT_TRUE(queues_->delete_message(arn, first[0].receipt_handle));
    auto third = receive(arn, 10);
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(third[0].body, "a2");
    // deleted, still deduplicated within 5 minutes; not after
    EXPECT_EQ(send(arn, "x", "A", "1").message_id, r1.message_id);
    clock_.advance(5 * 60 * 1000);
    EXPECT_NE(send(arn, "x", "A", "1").message_id, r1.message_id);
}

TEST_F(QueuesTest, FifoRefusesDelayAndExpiredHandles) {
    std::string arn =
        make("f.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
    SendInput in{"body", {}, 2, "g", std::nullopt, std::nullopt, "x"};
    auto delayed = queues_->send(arn, in);
    ASSERT_FALSE(delayed);
    EXPECT_EQ(delayed.error().message,
              "Value 2 for parameter DelaySeconds is invalid. Reason: The request include "
              "parameter that is not valid for this queue type.");
    SendInput nogroup{"body", {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, "x"};
    auto missing = queues_->send(arn, nogroup);
    ASSERT_FALSE(missing);
    EXPECT_EQ(code_of(missing.error()), "MissingParameter");
    send(arn, "body", "g");
    auto got = receive(arn, 1, 1);
    ASSERT_EQ(got.size(), 1u);
    clock_.advance(1000);
    auto expired = queues_->delete_message(arn, got[0].receipt_handle);
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().message, "Value " + got[0].receipt_handle +
                                           " for parameter ReceiptHandle is invalid. Reason: The "
                                           "receipt handle has expired.");
}

TEST_F(QueuesTest, RedriveMovesAfterMaxReceiveCount) {
    std::string dlq = make("dlq");
    std::string src = make("src", {{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + dlq +
                                                         "\",\"maxReceiveCount\":\"2\"}"}});
    auto sent = send(src, "poison");
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(receive(src, 1, 0).size(), 1u);
    }
    EXPECT_TRUE(receive(src).empty());  // the third receive moved it
    auto moved = receive(dlq);
    ASSERT_EQ(moved.size(), 1u);
    EXPECT_EQ(moved[0].message_id, sent.message_id);
    EXPECT_EQ(moved[0].attributes.at("DeadLetterQueueSourceArn"), src);
    EXPECT_EQ(moved[0].attributes.at("ApproximateReceiveCount"), "3");
    auto sources = queues_->dead_letter_sources(dlq);
    ASSERT_TRUE(sources);
    ASSERT_EQ(sources->size(), 1u);
    EXPECT_EQ((*sources)[0].name, "src");
    auto a = queues_->get_attributes(src, {"RedrivePolicy"});
    EXPECT_EQ(a->at("RedrivePolicy"),
              "{\"deadLetterTargetArn\":\"" + dlq + "\",\"maxReceiveCount\":2}");
}

TEST_F(QueuesTest, SizeAndBodyChecks) {
    std::string arn = make("q", {{"MaximumMessageSize", "1024"}});
    SendInput big{std::string(1025, 'a'), {},           std::nullopt, std::nullopt,
                  std::nullopt,           std::nullopt, "x"};
    auto r = queues_->send(arn, big);
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.");
    SendInput bad{
        std::string("a\x01", 2), {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, "x"};
    auto c = queues_->send(arn, bad);
    ASSERT_FALSE(c);
    EXPECT_EQ(code_of(c.error()), "InvalidMessageContents");
    SendInput empty_attr{"b",          {{"ErrorDetails", {"String", "", std::nullopt}}},
                         std::nullopt, std::nullopt,
                         std::nullopt, std::nullopt,
                         "x"};
    auto e = queues_->send(arn, empty_attr);
    ASSERT_FALSE(e);
    EXPECT_EQ(
        e.error().message,
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.");
}

TEST_F(QueuesTest, PurgeOncePerMinute) {
    std::string arn = make("q");
    send(arn, "a");
    ASSERT_TRUE(queues_->purge(arn));
    EXPECT_TRUE(receive(arn).empty());
    auto again = queues_->purge(arn);
    ASSERT_FALSE(again);
    EXPECT_EQ(code_of(again.error()), "AWS.SimpleQueueService.PurgeQueueInProgress");
    EXPECT_EQ(sqs_error_shape(again.error()).status, 403u);
    clock_.advance(60'000);
    EXPECT_TRUE(queues_->purge(arn));
}

TEST_F(QueuesTest, PersistsAcrossReopen) {
    std::string arn = make("q", {{"VisibilityTimeout", "45"}});
    ASSERT_TRUE(queues_->tag(arn, {{"team", "x"}}));
    send(arn, "kept");
    send(arn, "deleted");
    auto got = receive(arn, 10);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_TRUE(queues_->delete_message(arn, got[1].receipt_handle));
    std::string fifo = make("f.fifo", {{"FifoQueue", "true"}});
    auto s1 = send(fifo, "one", "g", "1");
    reopen();
    auto info = queues_->find_by_arn(arn);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->visibility_timeout, 45);
    EXPECT_EQ(queues_->tags(arn)->at("team"), "x");
    auto back = receive(arn, 10);  // in flight before: visible again after a restart
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].body, "kept");
    auto s2 = send(fifo, "two", "g", "2");
    EXPECT_GT(*s2.sequence_number, *s1.sequence_number);
}

TEST_F(QueuesTest, WatchCalledOnSendAndVisibilityEnd) {
    std::string arn = make("q");
    std::atomic<int> calls{0};
    {
        auto w = queues_->watch(arn, [&] { ++calls; });
        send(arn, "a");
        EXPECT_EQ(calls.load(), 1);
        auto got = receive(arn, 1, 2);
        ASSERT_EQ(got.size(), 1u);
        clock_.advance(2000);
        queues_->poll_timers();
        EXPECT_GE(calls.load(), 2);
    }
    int before = calls.load();
    send(arn, "b");
    EXPECT_EQ(calls.load(), before);  // unsubscribed
}

TEST_F(QueuesTest, MissingQueue) {
    auto r = queues_->receive("arn:aws:sqs:us-east-1:123456789012:nope", 1, std::nullopt);
    ASSERT_FALSE(r);
    EXPECT_EQ(query_error_code(r.error()), "AWS.SimpleQueueService.NonExistentQueue");
    EXPECT_EQ(r.error().message, "The specified queue does not exist.");
}
