#include "lamina/sqs/queues.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "engine.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;
constexpr std::int64_t kDedupWindowMs = 5 * 60 * 1000;
constexpr std::uint64_t kSequenceBase = 18'000'000'000'000'000'000ull;

std::string handle_of(const Queue& q, const Message& m) {
    return base64_encode(q.uid + ":" + std::to_string(m.seq) + ":" + m.nonce);
}

struct Handle {
    std::string uid;
    std::int64_t seq = 0;
    std::string nonce;
};

std::optional<Handle> parse_handle(std::string_view text) {
    auto raw = base64_decode(text);
    if (!raw) return std::nullopt;
    auto a = raw->find(':');
    auto b = a == std::string::npos ? a : raw->find(':', a + 1);
    if (b == std::string::npos) return std::nullopt;
    Handle h{raw->substr(0, a), 0, raw->substr(b + 1)};
    try {
        std::size_t used = 0;
        h.seq = std::stoll(raw->substr(a + 1, b - a - 1), &used);
        if (used != b - a - 1) return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return h;
}

Error invalid_handle(std::string_view h) {
    return sqs_error(C::ReceiptHandleIsInvalid, "The input receipt handle \"" + std::string(h) +
                                                    "\" is not a valid receipt handle.");
}

ReceivedMessage render(const Queue& q, const Message& m) {
    ReceivedMessage r{m.id, handle_of(q, m), m.body, m.md5_body, m.md5_attrs, {}, m.attrs};
    r.attributes["ApproximateReceiveCount"] = std::to_string(m.receive_count);
    r.attributes["SentTimestamp"] = std::to_string(m.sent_ms);
    r.attributes["SenderId"] = m.sender_id;
    r.attributes["ApproximateFirstReceiveTimestamp"] = std::to_string(m.first_receive_ms);
    if (m.sequence_number) r.attributes["SequenceNumber"] = *m.sequence_number;
    if (m.group) r.attributes["MessageGroupId"] = *m.group;
    if (m.dedup) r.attributes["MessageDeduplicationId"] = *m.dedup;
    if (m.trace) r.attributes["AWSTraceHeader"] = *m.trace;
    if (m.dlq_source) r.attributes["DeadLetterQueueSourceArn"] = *m.dlq_source;
    return r;
}

// Runs `fn` in one transaction; rolls back when it fails.
template <class Fn>
Status in_transaction(Db& db, Fn&& fn) {
    LAMINA_CHECK(db.begin());
    if (auto st = fn(); !st) {
        db.rollback();
        return st;
    }
    if (auto st = db.commit(); !st) {
        db.rollback();
        return st;
    }
    return {};
}

}  // namespace

// ---- Engine ----

Queue* Engine::get(std::string_view arn) const {
    auto it = queues.find(std::string(arn));
    return it == queues.end() ? nullptr : it->second.get();
}

void Engine::schedule(Queue& q, Message& m, std::int64_t visible_at) {
    q.timers.erase({m.visible_at, m.seq});
    q.ready.erase(m.seq);
    m.visible_at = visible_at;
    q.timers.insert({visible_at, m.seq});
}

bool Engine::advance(Queue& q, std::int64_t now) {
    bool any = false;
    while (!q.timers.empty() && q.timers.begin()->first <= now) {
        auto seq = q.timers.begin()->second;
        q.timers.erase(q.timers.begin());
        auto it = q.messages.find(seq);
        if (it == q.messages.end()) continue;
        Message& m = it->second;
        if (m.in_flight) {
            m.in_flight = false;
            --q.in_flight;
            if (m.group && q.info.fifo && --q.groups_in_flight[*m.group] <= 0)
                q.groups_in_flight.erase(*m.group);
        }
        q.ready.insert(seq);
        any = true;
    }
    return any;
}

std::int64_t Engine::next_due() const {
    std::int64_t due = INT64_MAX;
    for (const auto& [arn, q] : queues)
        if (!q->timers.empty()) due = std::min(due, q->timers.begin()->first);
    return due;
}

void Engine::erase(Queue& q, std::map<std::int64_t, Message>::iterator it) {
    Message& m = it->second;
    q.ready.erase(m.seq);
    q.timers.erase({m.visible_at, m.seq});
    if (m.in_flight) {
        --q.in_flight;
        if (m.group && q.info.fifo && --q.groups_in_flight[*m.group] <= 0)
            q.groups_in_flight.erase(*m.group);
    }
    q.messages.erase(it);
}

// ---- Queues ----

Queues::Queues(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
    timer_ = std::thread([this] { timer_loop(); });
}

Queues::~Queues() {
    {
        std::lock_guard lk(timer_mutex_);
        stopping_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
}

Result<std::unique_ptr<Queues>> Queues::open(const std::filesystem::path& file,
                                             store::Durability durability, Clock& clock,
                                             IdSource& ids) {
    LAMINA_TRY(db, Db::open(file, durability));
    auto engine = std::unique_ptr<Engine>(new Engine{clock, ids, std::move(db), {}, {}, {}, 0});
    Engine& e = *engine;
    std::optional<Error> failed;
    LAMINA_CHECK(e.db->load(
        [&](const std::string& arn, const std::string& doc) {
            auto q = queue_from_doc(arn, doc);
            if (!q) {
                failed = q.error();
                return;
            }
            e.queues[arn] = std::move(*q);
        },
        [&](const std::string& arn, Message m) {
            Queue* q = e.get(arn);
            if (!q) return;
            if (m.sequence_number)
                e.sequence = std::max<std::int64_t>(
                    e.sequence,
                    static_cast<std::int64_t>(std::stoull(*m.sequence_number) - kSequenceBase));
            m.in_flight = false;
            auto seq = m.seq;
            auto visible_at = m.visible_at;
            q->messages.emplace(seq, std::move(m));
            q->timers.insert({visible_at, seq});
        }));
    if (failed) return std::unexpected(*failed);
    std::int64_t now = clock.now_ms();
    for (auto& [arn, q] : e.queues) e.advance(*q, now);
    return std::unique_ptr<Queues>(new Queues(std::move(engine)));
}

std::optional<QueueInfo> Queues::find_by_arn(std::string_view arn) const {
    std::lock_guard lk(engine_->mu);
    if (Queue* q = engine_->get(arn)) return q->info;
    return std::nullopt;
}

std::optional<QueueInfo> Queues::find(const std::string& account, const std::string& region,
                                      const std::string& name) const {
    return find_by_arn(queue_arn(region, account, name));
}

Result<std::vector<ReceivedMessage>> Queues::receive(std::string_view arn, int max,
                                                     std::optional<int> visibility_timeout) {
    std::vector<ReceivedMessage> out;
    std::vector<std::string> woken;
    {
        Engine& e = *engine_;
        std::lock_guard lk(e.mu);
        Queue* q = e.get(arn);
        if (!q) return std::unexpected(no_such_queue());
        const std::int64_t now = e.clock.now_ms();
        e.advance(*q, now);
        const int vt = visibility_timeout.value_or(q->info.visibility_timeout);
        const std::int64_t retention_ms =
            static_cast<std::int64_t>(q->info.retention_period) * 1000;
        Queue* dlq =
            q->info.dead_letter_target_arn ? e.get(*q->info.dead_letter_target_arn) : nullptr;
        std::set<std::string> taken_groups;
        bool timers_changed = false;
        for (auto r = q->ready.begin(); r != q->ready.end() && std::cmp_less(out.size(), max);) {
            auto seq = *r;
            auto it = q->messages.find(seq);
            if (it == q->messages.end()) {
                r = q->ready.erase(r);
                continue;
            }
            Message& m = it->second;
            ++r;
            if (m.sent_ms + retention_ms <= now) {  // past MessageRetentionPeriod
                if (auto st = e.db->delete_message(seq); !st) return std::unexpected(st.error());
                e.erase(*q, it);
                continue;
            }
            if (q->info.fifo && m.group && q->groups_in_flight.contains(*m.group) &&
                !taken_groups.contains(*m.group))
                continue;
            if (dlq && m.receive_count >= q->info.max_receive_count) {
                Message moved = m;
                moved.dlq_source = q->info.arn;
                if (auto st = e.db->move_message(seq, dlq->info.arn, moved); !st)
                    return std::unexpected(st.error());
                e.erase(*q, it);
                moved.visible_at = now;
                dlq->messages.emplace(seq, std::move(moved));
                dlq->ready.insert(seq);
                woken.push_back(dlq->info.arn);
                continue;
            }
            ++m.receive_count;
            if (!m.first_receive_ms) m.first_receive_ms = now;
            m.nonce = e.ids.hex(8);
            q->ready.erase(seq);
            m.in_flight = true;
            ++q->in_flight;
            if (q->info.fifo && m.group) {
                ++q->groups_in_flight[*m.group];
                taken_groups.insert(*m.group);
            }
            m.visible_at = now + static_cast<std::int64_t>(vt) * 1000;
            q->timers.insert({m.visible_at, seq});
            timers_changed = true;
            out.push_back(render(*q, m));
        }
        if (timers_changed) wake_timer();
    }
    if (!woken.empty()) notify(woken);
    return out;
}

Status Queues::delete_message(std::string_view arn, std::string_view receipt_handle) {
    auto r = delete_batch(arn, {std::string(receipt_handle)});
    if (!r) return std::unexpected(r.error());
    return std::move(r->front());
}

Result<std::vector<Status>> Queues::delete_batch(std::string_view arn,
                                                 const std::vector<std::string>& handles) {
    Engine& e = *engine_;
    std::lock_guard lk(e.mu);
    Queue* q = e.get(arn);
    if (!q) return std::unexpected(no_such_queue());
    const std::int64_t now = e.clock.now_ms();
    e.advance(*q, now);
    std::vector<Status> out;
    std::vector<std::int64_t> doomed;
    for (const auto& text : handles) {
        auto h = parse_handle(text);
        if (!h || h->uid != q->uid) {
            out.emplace_back(std::unexpected(invalid_handle(text)));
            continue;
        }
        auto it = q->messages.find(h->seq);
        if (it != q->messages.end() && q->info.fifo &&
            (!it->second.in_flight || it->second.nonce != h->nonce)) {
            out.emplace_back(sqs_fail(C::InvalidParameterValue,
                                      "Value " + text +
                                          " for parameter ReceiptHandle is invalid. Reason: The "
                                          "receipt handle has expired."));
            continue;
        }
        if (it != q->messages.end()) doomed.push_back(h->seq);
        out.emplace_back();
    }
    if (doomed.empty()) return out;
    auto st = in_transaction(*e.db, [&]() -> Status {
        for (auto seq : doomed) LAMINA_CHECK(e.db->delete_message(seq));
        return {};
    });
    if (!st) return std::unexpected(st.error());
    for (auto seq : doomed)
        if (auto it = q->messages.find(seq); it != q->messages.end()) e.erase(*q, it);
    return out;
}

Status Queues::change_visibility(std::string_view arn, std::string_view receipt_handle,
                                 int seconds) {
    bool now_visible = false;
    {
        Engine& e = *engine_;
        std::lock_guard lk(e.mu);
        Queue* q = e.get(arn);
        if (!q) return std::unexpected(no_such_queue());
        const std::int64_t now = e.clock.now_ms();
        e.advance(*q, now);
        if (seconds < 0 || seconds > 43200)
            return sqs_fail(C::InvalidParameterValue,
                            "Value " + std::to_string(seconds) +
                                " for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 "
                                "and <= 43200, if provided.");
        auto h = parse_handle(receipt_handle);
        if (!h || h->uid != q->uid) return std::unexpected(invalid_handle(receipt_handle));
        auto it = q->messages.find(h->seq);
        if (it == q->messages.end() || !it->second.in_flight ||
            (q->info.fifo && it->second.nonce != h->nonce))
            return sqs_fail(C::InvalidParameterValue,
                            "Value " + std::string(receipt_handle) +
                                " for parameter ReceiptHandle is invalid. Reason: Message does not "
                                "exist or is not available for visibility timeout change.");
        e.schedule(*q, it->second, now + static_cast<std::int64_t>(seconds) * 1000);
        if (seconds == 0) now_visible = e.advance(*q, now);
        wake_timer();
    }
    if (now_visible) notify({std::string(arn)});
    return {};
}

Result<SendResult> Queues::send(std::string_view arn, SendInput in) {
    std::vector<SendInput> one;
    one.push_back(std::move(in));
    LAMINA_TRY(results, send_batch(arn, std::move(one)));
    return std::move(results.front());
}

Result<std::vector<Result<SendResult>>> Queues::send_batch(std::string_view arn,
                                                           std::vector<SendInput> inputs) {
    std::vector<Result<SendResult>> out;
    bool visible_now = false;
    {
        Engine& e = *engine_;
        std::lock_guard lk(e.mu);
        Queue* q = e.get(arn);
        if (!q) return std::unexpected(no_such_queue());
        const std::int64_t now = e.clock.now_ms();
        // expired dedup entries go first
        for (auto it = q->dedup.begin(); it != q->dedup.end();)
            it = it->second.expires_ms <= now ? q->dedup.erase(it) : std::next(it);
        std::vector<Message> fresh;
        std::vector<std::size_t> slot;                            // out index of each fresh message
        std::vector<std::pair<std::size_t, std::size_t>> copies;  // (out index, fresh index)
        std::map<std::string, std::size_t> batch_dedup;
        for (auto& in : inputs) {
            if (auto st = check_message(*q, in); !st) {
                out.emplace_back(std::unexpected(st.error()));
                continue;
            }
            if (q->info.fifo) {
                std::string id = in.dedup_id ? *in.dedup_id : to_hex(sha256(in.body));
                std::string key = q->attributes["DeduplicationScope"] == "messageGroup"
                                      ? *in.group_id + "\n" + id
                                      : id;
                if (auto d = q->dedup.find(key); d != q->dedup.end()) {
                    out.emplace_back(d->second.result);
                    continue;
                }
                if (auto b = batch_dedup.find(key); b != batch_dedup.end()) {
                    copies.emplace_back(out.size(), b->second);
                    out.emplace_back(SendResult{});
                    continue;
                }
                batch_dedup[key] = fresh.size();
                if (!in.dedup_id) in.dedup_id = id;
            }
            Message m;
            m.id = e.ids.uuid();
            m.md5_body = md5_of_body(in.body);
            if (!in.message_attributes.empty())
                m.md5_attrs = md5_of_attributes(in.message_attributes);
            if (in.trace_header) {
                MessageAttributes sys{
                    {"AWSTraceHeader", {"String", in.trace_header, std::nullopt}}};
                m.md5_system = md5_of_attributes(sys);
            }
            m.body = std::move(in.body);
            m.attrs = std::move(in.message_attributes);
            m.sent_ms = now;
            m.sender_id = std::move(in.sender_id);
            m.trace = std::move(in.trace_header);
            m.group = std::move(in.group_id);
            m.dedup = q->info.fifo ? std::move(in.dedup_id) : std::nullopt;
            if (q->info.fifo) {
                char buf[24];
                const std::uint64_t n = kSequenceBase + static_cast<std::uint64_t>(++e.sequence);
                std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
                m.sequence_number = buf;
            }
            int delay = in.delay_seconds.value_or(q->info.delay_seconds);
            m.visible_at = now + static_cast<std::int64_t>(delay) * 1000;
            slot.push_back(out.size());
            out.emplace_back(SendResult{});
            fresh.push_back(std::move(m));
        }
        if (!fresh.empty()) {
            auto st = in_transaction(*e.db, [&]() -> Status {
                for (auto& m : fresh) LAMINA_CHECK(e.db->insert_message(q->info.arn, m));
                return {};
            });
            if (!st) return std::unexpected(st.error());
        }
        std::vector<SendResult> results;
        results.reserve(fresh.size());
        for (auto& m : fresh)
            results.push_back(
                SendResult{m.id, m.md5_body, m.md5_attrs, m.sequence_number, m.md5_system});
        for (std::size_t i = 0; i < fresh.size(); ++i) out[slot[i]] = results[i];
        for (auto [o, f] : copies) out[o] = results[f];
        std::int64_t earliest = INT64_MAX;
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            Message& m = fresh[i];
            if (m.dedup)
                q->dedup[q->attributes["DeduplicationScope"] == "messageGroup"
                             ? *m.group + "\n" + *m.dedup
                             : *m.dedup] = DedupEntry{now + kDedupWindowMs, results[i]};
            auto seq = m.seq;
            if (m.visible_at <= now) {
                q->ready.insert(seq);
                visible_now = true;
            } else {
                q->timers.insert({m.visible_at, seq});
                earliest = std::min(earliest, m.visible_at);
            }
            q->messages.emplace(seq, std::move(m));
        }
        if (earliest != INT64_MAX) wake_timer();
    }
    if (visible_now) notify({std::string(arn)});
    return out;
}

// ---- watches and timers ----

std::unique_ptr<Queues::Watch> Queues::watch(std::string_view arn, std::function<void()> on_ready) {
    auto st = std::make_shared<Watch::State>();
    st->arn = std::string(arn);
    st->fn = std::move(on_ready);
    {
        std::lock_guard lk(engine_->mu);
        engine_->watchers[st->arn].push_back(st);
    }
    return std::make_unique<Watch>(*this, st);
}

Queues::Watch::Watch(Queues& owner, std::shared_ptr<State> state)
    : owner_(owner), state_(std::move(state)) {}

Queues::Watch::~Watch() {
    {
        std::lock_guard lk(state_->mu);  // waits for a call in progress (on another thread)
        state_->alive = false;
    }
    std::lock_guard lk(owner_.engine_->mu);
    auto it = owner_.engine_->watchers.find(state_->arn);
    if (it == owner_.engine_->watchers.end()) return;
    std::erase(it->second, state_);
    if (it->second.empty()) owner_.engine_->watchers.erase(it);
}

void Queues::notify(const std::vector<std::string>& arns) {
    std::vector<std::shared_ptr<Watch::State>> calls;
    {
        std::lock_guard lk(engine_->mu);
        for (const auto& arn : arns)
            if (auto it = engine_->watchers.find(arn); it != engine_->watchers.end())
                calls.insert(calls.end(), it->second.begin(), it->second.end());
    }
    for (auto& st : calls) {
        std::lock_guard lk(st->mu);
        if (st->alive) st->fn();
    }
}

void Queues::poll_timers() {
    std::vector<std::string> woken;
    {
        std::lock_guard lk(engine_->mu);
        const std::int64_t now = engine_->clock.now_ms();
        for (auto& [arn, q] : engine_->queues)
            if (engine_->advance(*q, now)) woken.push_back(arn);
    }
    if (!woken.empty()) notify(woken);
}

void Queues::wake_timer() {
    {
        std::lock_guard lk(timer_mutex_);
        ++timer_generation_;
    }
    timer_cv_.notify_one();
}

// Sleeps until the earliest timer (or a wake_timer), never holding timer_mutex_
// while it takes the engine's lock (the writers take them the other way round).
void Queues::timer_loop() {
    for (;;) {
        std::uint64_t generation = 0;
        {
            std::lock_guard lk(timer_mutex_);
            if (stopping_) return;
            generation = timer_generation_;
        }
        std::int64_t due = 0;
        {
            std::lock_guard elk(engine_->mu);
            due = engine_->next_due();
        }
        std::int64_t wait = due == INT64_MAX ? 5000 : due - engine_->clock.now_ms();
        if (wait > 0) {
            std::unique_lock lk(timer_mutex_);
            timer_cv_.wait_for(lk, std::chrono::milliseconds(std::min<std::int64_t>(wait, 5000)),
                               [&] { return stopping_ || timer_generation_ != generation; });
            if (stopping_) return;
        }
        poll_timers();
    }
}

}  // namespace lamina::sqs
