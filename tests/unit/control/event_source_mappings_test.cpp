#include "lamina/control/event_source_mappings.hpp"

#include <gtest/gtest.h>

#include "registry_fixture.hpp"

namespace {

const std::string kQueue = "arn:aws:sqs:us-east-1:123456789012:jobs";
const std::string kFifo = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo";

class EventSourceMappingsTest : public FunctionRegistry {
protected:
    void SetUp() override {
        FunctionRegistry::SetUp();
        ASSERT_TRUE(reg_->create_function(kScope, input("fn")).has_value());
        make();
    }
    void make() {
        esms_ = std::make_unique<EventSourceMappings>(*docs_, *reg_, clock_, ids_);
        ASSERT_TRUE(esms_->load().has_value());
        esms_->set_queue_lookup([this](const std::string& arn) -> std::optional<EsmQueueFacts> {
            if (arn == kQueue) return EsmQueueFacts{false, queue_visibility_};
            if (arn == kFifo) return EsmQueueFacts{true, 30};
            return std::nullopt;
        });
        esms_->set_observer([this](const EventSourceMapping& m, bool removed) {
            seen_.push_back(m.uuid + (removed ? " removed" : (m.enabled ? " on" : " off")));
        });
    }
    EsmInput sqs(const std::string& source = kQueue) {
        EsmInput in;
        in.event_source_arn = source;
        in.function = ref("fn");
        return in;
    }
    std::unique_ptr<EventSourceMappings> esms_;
    int queue_visibility_ = 30;
    std::vector<std::string> seen_;
};

TEST_F(EventSourceMappingsTest, CreateAnswersCreatingWithAwsDefaultsAndPersists) {
    auto v = esms_->create(kScope, sqs());
    ASSERT_TRUE(v.has_value()) << err(v);
    EXPECT_EQ(v->state, EsmState::Creating);
    EXPECT_EQ(v->mapping.batch_size, 10);
    EXPECT_EQ(v->mapping.batching_window, 0);
    EXPECT_EQ(v->mapping.function_arn(), kArn + "fn");
    EXPECT_EQ(v->mapping.arn(),
              "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + v->mapping.uuid);
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(seen_[0], v->mapping.uuid + " on");

    auto got = esms_->get(kScope, v->mapping.uuid);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state, EsmState::Enabled);  // settled

    reopen();
    make();
    auto again = esms_->get(kScope, v->mapping.uuid);
    ASSERT_TRUE(again.has_value()) << err(again);
    EXPECT_EQ(again->mapping.event_source_arn, kQueue);
    EXPECT_EQ(again->mapping.function_name, "fn");
}

TEST_F(EventSourceMappingsTest, CreateDisabledAnswersDisabled) {
    auto in = sqs();
    in.enabled = false;
    auto v = esms_->create(kScope, in);
    ASSERT_TRUE(v.has_value()) << err(v);
    EXPECT_EQ(v->state, EsmState::Disabled);
}

TEST_F(EventSourceMappingsTest, RefusesWhatAwsRefusesWithItsWords) {
    EsmInput none;
    none.function = ref("fn");
    EXPECT_EQ(esms_->create(kScope, none).error().message, "Unrecognized event source.");

    auto missing_fn = sqs();
    missing_fn.function = ref("nope");
    auto e = esms_->create(kScope, missing_fn);
    EXPECT_EQ(e.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(e.error().message, "Function does not exist");

    auto dest = sqs();
    dest.unsupported = {"DestinationConfig"};
    EXPECT_EQ(esms_->create(kScope, dest).error().message,
              "Unsupported DestinationConfig parameter for given event source mapping type.");

    EXPECT_EQ(esms_->create(kScope, sqs("arn:aws:sqs:us-east-1:123456789012:gone")).error().message,
              "Error occurred while ReceiveMessage. SQS Error Code: "
              "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue "
              "does not exist.");

    auto big = sqs();
    big.batch_size = 100;
    EXPECT_EQ(esms_->create(kScope, big).error().message,
              "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
              "greater than 10");

    auto fifo_window = sqs(kFifo);
    fifo_window.batching_window = 5;
    EXPECT_EQ(esms_->create(kScope, fifo_window).error().message,
              "Batching window is not supported for FIFO queues");

    auto kinesis = sqs("arn:aws:kinesis:us-east-1:123456789012:stream/s");
    auto k = esms_->create(kScope, kinesis);
    EXPECT_EQ(k.error().code, ErrorCode::NotImplemented);
    EXPECT_NE(k.error().message.find("Amazon Kinesis"), std::string::npos);

    queue_visibility_ = 2;  // below the function's 3 s timeout
    EXPECT_EQ(esms_->create(kScope, sqs()).error().message,
              "Queue visibility timeout: 2 seconds is less than Function timeout: 3 seconds");

    EXPECT_TRUE(seen_.empty());  // nothing was created
    auto page = esms_->list(kScope, std::nullopt, std::nullopt, Page{});
    ASSERT_TRUE(page.has_value());
    EXPECT_TRUE(page->first.empty());
}

TEST_F(EventSourceMappingsTest, DuplicateIsAConflictNamingTheFirst) {
    auto first = esms_->create(kScope, sqs());
    ASSERT_TRUE(first.has_value());
    auto second = esms_->create(kScope, sqs());
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, ErrorCode::ResourceConflict);
    EXPECT_EQ(second.error().message,
              "An event source mapping with SQS arn (\" " + kQueue +
                  " \") and function (\" fn \") already exists. Please update or delete the "
                  "existing mapping with UUID " +
                  first->mapping.uuid);
}

TEST_F(EventSourceMappingsTest, UpdateAnswersTheTransitionAndKeepsTheRest) {
    auto v = esms_->create(kScope, sqs());
    ASSERT_TRUE(v.has_value());
    const std::string id = v->mapping.uuid;

    EsmInput off;
    off.enabled = false;
    auto u = esms_->update(kScope, id, off);
    ASSERT_TRUE(u.has_value()) << err(u);
    EXPECT_EQ(u->state, EsmState::Disabling);
    EXPECT_EQ(esms_->get(kScope, id)->state, EsmState::Disabled);

    EsmInput on;
    on.enabled = true;
    EXPECT_EQ(esms_->update(kScope, id, on)->state, EsmState::Enabling);

    EsmInput batch;
    batch.batch_size = 5;
    auto b = esms_->update(kScope, id, batch);
    EXPECT_EQ(b->state, EsmState::Updating);
    EXPECT_EQ(b->mapping.batch_size, 5);

    EsmInput bad;
    bad.batch_size = 50;  // window still 0
    EXPECT_FALSE(esms_->update(kScope, id, bad).has_value());
    EXPECT_EQ(esms_->get(kScope, id)->mapping.batch_size, 5);  // unchanged

    EXPECT_EQ(esms_->update(kScope, "00000000-0000-0000-0000-000000000000", batch).error().message,
              "The resource you requested does not exist.");
}

TEST_F(EventSourceMappingsTest, DeleteAnswersDeletingThenItIsGone) {
    auto v = esms_->create(kScope, sqs());
    ASSERT_TRUE(v.has_value());
    auto d = esms_->remove(kScope, v->mapping.uuid);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->state, EsmState::Deleting);
    EXPECT_EQ(esms_->get(kScope, v->mapping.uuid).error().code, ErrorCode::ResourceNotFound);
    EXPECT_EQ(seen_.back(), v->mapping.uuid + " removed");
    reopen();
    make();
    EXPECT_FALSE(esms_->get(kScope, v->mapping.uuid).has_value());
}

TEST_F(EventSourceMappingsTest, ListFiltersAndPagesInCreationOrder) {
    ASSERT_TRUE(reg_->create_function(kScope, input("other")).has_value());
    std::vector<std::string> ids;
    for (const char* q : {"a", "b", "c"}) {
        std::string arn = "arn:aws:sqs:us-east-1:123456789012:" + std::string(q);
        esms_->set_queue_lookup([](const std::string&) { return EsmQueueFacts{}; });
        auto in = sqs(arn);
        if (std::string(q) == "c") in.function = ref("other");
        auto v = esms_->create(kScope, in);
        ASSERT_TRUE(v.has_value()) << err(v);
        ids.push_back(v->mapping.uuid);
    }
    auto p1 = esms_->list(kScope, std::nullopt, std::nullopt, Page{std::nullopt, 2});
    ASSERT_TRUE(p1.has_value());
    ASSERT_EQ(p1->first.size(), 2u);
    EXPECT_EQ(p1->first[0].mapping.uuid, ids[0]);
    EXPECT_EQ(p1->first[1].mapping.uuid, ids[1]);
    ASSERT_TRUE(p1->second.has_value());
    auto p2 = esms_->list(kScope, std::nullopt, std::nullopt, Page{p1->second, 2});
    ASSERT_TRUE(p2.has_value());
    ASSERT_EQ(p2->first.size(), 1u);
    EXPECT_EQ(p2->first[0].mapping.uuid, ids[2]);
    EXPECT_FALSE(p2->second.has_value());

    auto by_fn = esms_->list(kScope, ref("other"), std::nullopt, Page{});
    ASSERT_EQ(by_fn->first.size(), 1u);
    EXPECT_EQ(by_fn->first[0].mapping.uuid, ids[2]);
    auto by_source = esms_->list(kScope, std::nullopt,
                                 std::string("arn:aws:sqs:us-east-1:123456789012:b"), Page{});
    ASSERT_EQ(by_source->first.size(), 1u);
    EXPECT_EQ(by_source->first[0].mapping.uuid, ids[1]);
    auto elsewhere =
        esms_->list(Scope{"123456789012", "eu-west-1"}, std::nullopt, std::nullopt, Page{});
    EXPECT_TRUE(elsewhere->first.empty());
}

TEST_F(EventSourceMappingsTest, TagsLiveOnTheMapping) {
    auto in = sqs();
    in.tags = {{"team", "a"}};
    auto v = esms_->create(kScope, in);
    ASSERT_TRUE(v.has_value());
    const std::string id = v->mapping.uuid;
    EXPECT_EQ(esms_->tags(kScope, id)->at("team"), "a");
    ASSERT_TRUE(esms_->tag(kScope, id, {{"env", "ci"}}).has_value());
    ASSERT_TRUE(esms_->untag(kScope, id, {"team"}).has_value());
    auto tags = esms_->tags(kScope, id);
    ASSERT_TRUE(tags.has_value());
    EXPECT_EQ(*tags, (std::map<std::string, std::string>{{"env", "ci"}}));
    auto missing = esms_->tags(kScope, "11111111-1111-1111-1111-111111111111");
    EXPECT_EQ(missing.error().message,
              "Event source mapping not found: arn:aws:lambda:us-east-1:123456789012:"
              "event-source-mapping:11111111-1111-1111-1111-111111111111");
}

}  // namespace
