// Queue management: create, delete, list, attributes, purge, tags, DLQ sources.
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "lamina/sqs/queues.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;

constexpr const char* kReadable[] = {"ApproximateNumberOfMessages",
                                     "ApproximateNumberOfMessagesDelayed",
                                     "ApproximateNumberOfMessagesNotVisible",
                                     "CreatedTimestamp",
                                     "LastModifiedTimestamp",
                                     "QueueArn",
                                     "DelaySeconds",
                                     "MaximumMessageSize",
                                     "MessageRetentionPeriod",
                                     "Policy",
                                     "ReceiveMessageWaitTimeSeconds",
                                     "RedrivePolicy",
                                     "RedriveAllowPolicy",
                                     "VisibilityTimeout",
                                     "KmsMasterKeyId",
                                     "KmsDataKeyReusePeriodSeconds",
                                     "SqsManagedSseEnabled",
                                     "FifoQueue",
                                     "ContentBasedDeduplication",
                                     "DeduplicationScope",
                                     "FifoThroughputLimit"};

bool readable(const std::string& name) {
    for (const char* n : kReadable)
        if (name == n) return true;
    return false;
}

Attributes all_attributes(Engine& e, Queue& q) {
    const std::int64_t now = e.clock.now_ms();
    e.advance(q, now);
    Attributes a = q.attributes;
    std::size_t delayed = 0;
    for (const auto& [due, seq] : q.timers) {
        auto it = q.messages.find(seq);
        if (it != q.messages.end() && !it->second.in_flight) ++delayed;
    }
    a["ApproximateNumberOfMessages"] = std::to_string(q.ready.size());
    a["ApproximateNumberOfMessagesDelayed"] = std::to_string(delayed);
    a["ApproximateNumberOfMessagesNotVisible"] = std::to_string(q.in_flight);
    a["CreatedTimestamp"] = std::to_string(q.created_s);
    a["LastModifiedTimestamp"] = std::to_string(q.modified_s);
    a["QueueArn"] = q.info.arn;
    return a;
}

}  // namespace

Result<QueueInfo> Queues::create_queue(const std::string& account, const std::string& region,
                                       const std::string& name, const Attributes& given,
                                       const Tags& tags) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    std::string arn = queue_arn(region, account, name);
    if (Queue* q = e.get(arn)) {
        for (const auto& [k, v] : given) {
            auto it = q->attributes.find(k);
            std::string have = it == q->attributes.end() ? "" : it->second;
            std::string want = v;
            if (k == "RedrivePolicy" && !v.empty()) {
                auto j = nlohmann::json::parse(v, nullptr, false);
                if (j.is_object() && j.contains("maxReceiveCount") &&
                    j["maxReceiveCount"].is_string())
                    j["maxReceiveCount"] = std::stol(j["maxReceiveCount"].get<std::string>());
                want = j.is_discarded() ? v : j.dump();
            }
            if (have != want)
                return sqs_fail(C::QueueNameExists,
                                "A queue already exists with the same name and a different value "
                                "for attribute " +
                                    k);
        }
        return q->info;
    }
    LAMINA_TRY(attributes, creation_attributes(name, given));
    auto q = std::make_unique<Queue>();
    q->info.name = name;
    q->info.arn = arn;
    q->info.account = account;
    q->info.region = region;
    q->attributes = std::move(attributes);
    q->tags = tags;
    q->created_s = q->modified_s = e.clock.now_ms() / 1000;
    q->uid = e.ids.hex(12);
    refresh_info(*q);
    LAMINA_CHECK(e.db->put_queue(*q));
    QueueInfo info = q->info;
    e.queues[arn] = std::move(q);
    return info;
}

Status Queues::delete_queue(std::string_view arn) {
    {
        Engine& e = *engine_;
        std::lock_guard lk(e.mu);
        if (!e.get(arn)) return std::unexpected(no_such_queue());
        LAMINA_CHECK(e.db->delete_queue(std::string(arn)));
        e.queues.erase(std::string(arn));
    }
    notify({std::string(arn)});  // watchers learn the queue is gone
    return {};
}

Status Queues::clear() {
    std::vector<std::string> arns;
    {
        std::lock_guard lk(engine_->mu);
        for (const auto& [arn, q] : engine_->queues) arns.push_back(arn);
    }
    for (const auto& arn : arns)
        if (auto st = delete_queue(arn); !st && find_by_arn(arn)) return st;
    return {};
}

std::vector<QueueInfo> Queues::list_queues(const std::string& account, const std::string& region,
                                           const std::string& prefix) const {
    std::lock_guard lk(engine_->mu);
    std::vector<QueueInfo> out;
    for (const auto& [arn, q] : engine_->queues)
        if (q->info.account == account && q->info.region == region &&
            q->info.name.starts_with(prefix))
            out.push_back(q->info);
    std::sort(out.begin(), out.end(),
              [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
    return out;
}

Result<Attributes> Queues::get_attributes(std::string_view arn,
                                          const std::vector<std::string>& names) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    for (const auto& n : names)
        if (n != "All" && !readable(n))
            return sqs_fail(C::InvalidAttributeName, "Unknown Attribute " + n + ".");
    Attributes all = all_attributes(e, *q);
    bool every = std::find(names.begin(), names.end(), "All") != names.end();
    if (every) return all;
    Attributes out;
    for (const auto& n : names)
        if (auto it = all.find(n); it != all.end()) out.insert(*it);
    return out;
}

Status Queues::set_attributes(std::string_view arn, const Attributes& attributes) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    LAMINA_CHECK(check_settable(*q, attributes));
    Queue copy_attrs;
    copy_attrs.attributes = q->attributes;
    copy_attrs.info = q->info;
    apply_attributes(copy_attrs, attributes);
    std::swap(q->attributes, copy_attrs.attributes);
    q->info = copy_attrs.info;
    q->modified_s = e.clock.now_ms() / 1000;
    if (auto st = e.db->put_queue(*q); !st) {
        std::swap(q->attributes, copy_attrs.attributes);
        refresh_info(*q);
        return st;
    }
    return {};
}

Status Queues::purge(std::string_view arn) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    const std::int64_t now = e.clock.now_ms();
    if (q->last_purge_ms >= 0 && now - q->last_purge_ms < 60'000)
        return sqs_fail(
            C::PurgeQueueInProgress,
            "Only one PurgeQueue operation on " + q->info.name + " is allowed every 60 seconds.");
    LAMINA_CHECK(e.db->purge(q->info.arn));
    q->messages.clear();
    q->ready.clear();
    q->timers.clear();
    q->groups_in_flight.clear();
    q->in_flight = 0;
    q->last_purge_ms = now;
    return {};
}

Result<Tags> Queues::tags(std::string_view arn) const {
    std::lock_guard lk(engine_->mu);
    Queue* q = engine_->get(arn);
    if (!q) return std::unexpected(no_such_queue());
    return q->tags;
}

Status Queues::tag(std::string_view arn, const Tags& tags) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    Tags before = q->tags;
    for (const auto& [k, v] : tags) q->tags[k] = v;
    if (auto st = e.db->put_queue(*q); !st) {
        q->tags = std::move(before);
        return st;
    }
    return {};
}

Status Queues::untag(std::string_view arn, const std::vector<std::string>& keys) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    Tags before = q->tags;
    for (const auto& k : keys) q->tags.erase(k);
    if (auto st = e.db->put_queue(*q); !st) {
        q->tags = std::move(before);
        return st;
    }
    return {};
}

Result<std::vector<QueueInfo>> Queues::dead_letter_sources(std::string_view arn) const {
    std::lock_guard lk(engine_->mu);
    if (!engine_->get(arn)) return std::unexpected(no_such_queue());
    std::vector<QueueInfo> out;
    for (const auto& [a, q] : engine_->queues)
        if (q->info.dead_letter_target_arn == arn) out.push_back(q->info);
    std::sort(out.begin(), out.end(),
              [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
    return out;
}

}  // namespace lamina::sqs
