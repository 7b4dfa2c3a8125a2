#include "sqs/sqs_wire.hpp"

#include <gtest/gtest.h>

using namespace lamina;
using namespace lamina::sqs;
using nlohmann::json;

TEST(SqsWire, QueryParametersBecomeJsonInput) {
    std::map<std::string, std::string> p = {
        {"Action", "SendMessageBatch"},
        {"Version", "2012-11-05"},
        {"QueueUrl", "http://h/123456789012/q"},
        {"SendMessageBatchRequestEntry.1.Id", "a"},
        {"SendMessageBatchRequestEntry.1.MessageBody", "b1"},
        {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "k"},
        {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType", "String"},
        {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue", "v"},
        {"SendMessageBatchRequestEntry.2.Id", "b"},
        {"SendMessageBatchRequestEntry.2.MessageBody", "b2"},
    };
    json in = query_input("SendMessageBatch", p);
    ASSERT_TRUE(in["Entries"].is_array());
    ASSERT_EQ(in["Entries"].size(), 2u);
    EXPECT_EQ(in["Entries"][0]["MessageAttributes"]["k"]["StringValue"], "v");
    EXPECT_EQ(in["Entries"][1]["MessageBody"], "b2");
    EXPECT_FALSE(in.contains("Action"));
}

TEST(SqsWire, AttributesTagsAndNames) {
    json in = query_input("CreateQueue", {{"QueueName", "q"},
                                          {"Attribute.1.Name", "DelaySeconds"},
                                          {"Attribute.1.Value", "5"},
                                          {"Tag.1.Key", "t"},
                                          {"Tag.1.Value", ""}});
    EXPECT_EQ(in["Attributes"]["DelaySeconds"], "5");
    EXPECT_EQ(in["tags"]["t"], "");
    json names =
        query_input("GetQueueAttributes", {{"AttributeName.1", "All"}, {"AttributeName.2", "X"}});
    EXPECT_EQ(names["AttributeNames"], json::array({"All", "X"}));
}

TEST(SqsWire, ErrorsInBothProtocols) {
    auto j = error_answer(no_such_queue(), Wire::Json, "rid");
    EXPECT_EQ(j.status, 400u);
    EXPECT_EQ(j.headers.get("x-amzn-query-error"),
              "AWS.SimpleQueueService.NonExistentQueue;Sender");
    EXPECT_EQ(json::parse(j.body)["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    auto x = error_answer(no_such_queue(), Wire::Query, "rid");
    EXPECT_NE(x.body.find("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
              std::string::npos);
    EXPECT_NE(x.body.find("does not exist for this wsdl version."), std::string::npos);
    EXPECT_NE(x.body.find("<Detail/>"), std::string::npos);
}

TEST(SqsWire, XmlAnswers) {
    json out = {
        {"Messages", json::array({{{"MessageId", "m"},
                                   {"Body", "a<b\r"},
                                   {"Attributes", {{"SenderId", "s"}}},
                                   {"MessageAttributes",
                                    {{"k", {{"DataType", "String"}, {"StringValue", "v"}}}}}}})}};
    auto r = xml_answer("ReceiveMessage", out, "rid");
    EXPECT_NE(r.body.find("<ReceiveMessageResult><Message>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<Body>a&lt;b&#xD;</Body>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<MessageId>m</MessageId>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<Attribute><Name>SenderId</Name><Value>s</Value></Attribute>"),
              std::string::npos);
    EXPECT_NE(r.body.find("<MessageAttribute><Name>k</Name><Value><StringValue>v</"
                          "StringValue><DataType>String</DataType></Value></MessageAttribute>"),
              std::string::npos);
    auto empty = xml_answer("ReceiveMessage", json::object(), "rid");
    EXPECT_NE(empty.body.find("<ReceiveMessageResult/>"), std::string::npos);
    auto none = xml_answer("DeleteMessage", json::object(), "rid");
    EXPECT_EQ(none.body.find("Result"), std::string::npos);
}

TEST(SqsWire, TopLevelMessageAttributes) {
    json in = query_input("SendMessage", {{"MessageBody", "b"},
                                          {"MessageAttribute.1.Name", "k"},
                                          {"MessageAttribute.1.Value.DataType", "String"},
                                          {"MessageAttribute.1.Value.StringValue", "v"}});
    EXPECT_EQ(in["MessageAttributes"]["k"]["StringValue"], "v") << in.dump();
}
