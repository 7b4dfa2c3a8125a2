#include "lamina/esm/pollers.hpp"

#include <gtest/gtest.h>

using namespace lamina;

namespace {

const std::vector<std::string> kIds = {"id-1", "id-2", "id-3"};

TEST(BatchItemFailures, EmptyAnswersMeanTheWholeBatchSucceeded) {
    for (const char* ok : {"{}", "null", R"({"batchItemFailures": []})",
                           R"({"batchItemFailures": null})", R"("a string")", "[]"}) {
        auto got = esm::batch_item_failures(ok, kIds);
        ASSERT_TRUE(got.has_value()) << ok;
        EXPECT_TRUE(got->empty()) << ok;
    }
}

TEST(BatchItemFailures, NamedItemsFail) {
    auto got = esm::batch_item_failures(
        R"({"batchItemFailures": [{"itemIdentifier": "id-2"}, {"itemIdentifier": "id-3"}]})", kIds);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, (std::vector<std::string>{"id-2", "id-3"}));
}

TEST(BatchItemFailures, MalformedAnswersFailTheWholeBatch) {
    for (const char* bad :
         {"not json", R"({"batchItemFailures": [{"foo": "notvalid"}]})",
          R"({"batchItemFailures": [{"itemIdentifier": ""}]})",
          R"({"batchItemFailures": [{"itemIdentifier": null}]})",
          R"({"batchItemFailures": [{"itemIdentifier": "unknown-id"}]})",
          R"({"batchItemFailures": ["id-1"]})", R"({"batchItemFailures": "id-1"})"}) {
        EXPECT_FALSE(esm::batch_item_failures(bad, kIds).has_value()) << bad;
    }
}

TEST(SqsRecord, HasAwsKeysInAwsOrder) {
    sqs::ReceivedMessage m;
    m.message_id = "mid";
    m.receipt_handle = "rh";
    m.body = "hello";
    m.md5_of_body = "5d41402abc4b2a76b9719d911017c592";
    m.attributes = {{"SenderId", "AIDA"},
                    {"ApproximateReceiveCount", "1"},
                    {"SentTimestamp", "1700000000000"},
                    {"ApproximateFirstReceiveTimestamp", "1700000000001"},
                    {"MessageGroupId", "g"},
                    {"SequenceNumber", "18"},
                    {"MessageDeduplicationId", "d"}};
    m.message_attributes["colour"] = {"String", std::string("blue"), std::nullopt};
    m.message_attributes["raw"] = {"Binary", std::nullopt, std::string("\x01\x02", 2)};
    m.md5_of_message_attributes = "abc";
    auto r = esm::sqs_record(m, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1");
    std::vector<std::string> keys;
    for (auto it = r.begin(); it != r.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys,
              (std::vector<std::string>{"messageId", "receiptHandle", "body", "attributes",
                                        "messageAttributes", "md5OfMessageAttributes", "md5OfBody",
                                        "eventSource", "eventSourceARN", "awsRegion"}));
    std::vector<std::string> attrs;
    for (auto it = r["attributes"].begin(); it != r["attributes"].end(); ++it)
        attrs.push_back(it.key());
    EXPECT_EQ(attrs,
              (std::vector<std::string>{"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                        "ApproximateFirstReceiveTimestamp", "SequenceNumber",
                                        "MessageGroupId", "MessageDeduplicationId"}));
    EXPECT_EQ(
        r["messageAttributes"]["colour"].dump(),
        R"({"stringValue":"blue","stringListValues":[],"binaryListValues":[],"dataType":"String"})");
    EXPECT_EQ(r["messageAttributes"]["raw"]["binaryValue"], "AQI=");
    EXPECT_EQ(r["eventSource"], "aws:sqs");
    EXPECT_EQ(r["md5OfMessageAttributes"], "abc");

    m.message_attributes.clear();
    m.md5_of_message_attributes.reset();
    auto plain = esm::sqs_record(m, "arn", "us-east-1");
    EXPECT_TRUE(plain["md5OfMessageAttributes"].is_null());
    EXPECT_TRUE(plain["messageAttributes"].empty());
}

}  // namespace
