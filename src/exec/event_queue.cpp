#include "lamina/exec/event_queue.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "lamina/common/log.hpp"
#include "lamina/common/trace_header.hpp"

namespace lamina::exec {

namespace {

constexpr const char* kEventKind = "event";
constexpr std::int64_t kDefaultMaxAgeSeconds = 21600;  // 6 hours
constexpr int kDefaultRetries = 2;
// The invocation record's condition for an event stopped as part of a loop
// (lamina's choice: AWS documents that such events go to the on-failure
// destination or DLQ, not the condition it records).
constexpr const char* kRecursiveLoopCondition = "RecursiveInvocationException";

// A payload as the invocation record carries it: JSON when it is JSON.
nlohmann::json as_json(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json(text) : j;
}

}  // namespace

nlohmann::json QueuedEvent::to_doc() const {
    return {{"id", id},
            {"account", scope.account},
            {"region", scope.region},
            {"function", function},
            {"qualifier", qualifier},
            {"payload", payload},
            {"trace", trace_header},
            {"tenant", tenant_id},
            {"received_ms", received_ms},
            {"next_ms", next_ms},
            {"attempts", attempts},
            {"throttles", throttles}};
}

QueuedEvent QueuedEvent::from_doc(const nlohmann::json& j) {
    QueuedEvent e;
    e.id = j.at("id").get<std::string>();
    e.scope = {j.at("account").get<std::string>(), j.at("region").get<std::string>()};
    e.function = j.at("function").get<std::string>();
    e.qualifier = j.value("qualifier", "");
    e.payload = j.value("payload", "{}");
    e.trace_header = j.value("trace", "");
    e.tenant_id = j.value("tenant", "");
    e.received_ms = j.value("received_ms", std::int64_t{0});
    e.next_ms = j.value("next_ms", std::int64_t{0});
    e.attempts = j.value("attempts", 0);
    e.throttles = j.value("throttles", 0);
    return e;
}

struct EventQueue::Entry {
    QueuedEvent event;  // its counters change on the invoking thread, without mu_
    std::shared_ptr<boost::asio::steady_timer> timer;
    // copies of those counters that queued() may read at any time (set by schedule)
    std::atomic<std::int64_t> shown_next_ms{0};
    std::atomic<int> shown_attempts{0}, shown_throttles{0};
};

EventQueue::EventQueue(boost::asio::io_context& ioc, store::DocumentStore& docs, Invoker& invoker,
                       Clock& clock, IdSource& ids, EventQueueSettings settings)
    : ioc_(ioc), docs_(docs), invoker_(invoker), clock_(clock), ids_(ids), settings_(settings) {}

EventQueue::~EventQueue() {
    stop();
    // an invocation's completion may still be on its way (lamina stopping
    // kills the environments): it must not find the queue gone
    for (int i = 0; i < 500 && in_flight_.load() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void EventQueue::set_hooks(EventQueueHooks hooks) {
    std::lock_guard lk(mu_);
    hooks_ = std::move(hooks);
}

void EventQueue::save(const QueuedEvent& e) {
    if (auto st = docs_.apply({store::Mutation::put(kEventKind, e.id, e.to_doc().dump())}); !st)
        logger("exec")->error("async.store_failed request_id={} error=\"{}\"", e.id,
                              st.error().message);
}

void EventQueue::forget(const QueuedEvent& e) {
    if (auto st = docs_.apply({store::Mutation::erase(kEventKind, e.id)}); !st)
        logger("exec")->error("async.store_failed request_id={} error=\"{}\"", e.id,
                              st.error().message);
}

Status EventQueue::enqueue(QueuedEvent e) {
    if (e.received_ms == 0) e.received_ms = clock_.now_ms();
    if (e.next_ms == 0) e.next_ms = e.received_ms;
    // stored before the caller hears 202: an acknowledged event survives a crash
    LAMINA_CHECK(docs_.apply({store::Mutation::put(kEventKind, e.id, e.to_doc().dump())}));
    metrics::record_lambda(metrics_, {e.scope, e.function, e.qualifier, ""}, "AsyncEventsReceived",
                           1, "Count", false);
    auto entry = std::make_shared<Entry>();
    entry->event = std::move(e);
    {
        std::lock_guard lk(mu_);
        if (stopped_) return {};
        entries_[entry->event.id] = entry;
    }
    schedule(entry);
    return {};
}

Status EventQueue::load() {
    std::vector<QueuedEvent> events;
    LAMINA_CHECK(docs_.for_each(kEventKind, [&](const std::string&, const std::string& doc) {
        auto j = nlohmann::json::parse(doc, nullptr, false);
        if (!j.is_discarded()) events.push_back(QueuedEvent::from_doc(j));
    }));
    for (auto& e : events) {
        auto entry = std::make_shared<Entry>();
        entry->event = std::move(e);
        {
            std::lock_guard lk(mu_);
            entries_[entry->event.id] = entry;
        }
        schedule(entry);
    }
    if (!events.empty()) logger("exec")->info("async.restored events={}", events.size());
    return {};
}

std::size_t EventQueue::pending() const {
    std::lock_guard lk(mu_);
    return entries_.size();
}

std::vector<QueuedEventView> EventQueue::queued(const control::Scope& scope) const {
    std::vector<QueuedEventView> out;
    std::lock_guard lk(mu_);
    for (const auto& [id, e] : entries_) {
        const QueuedEvent& ev = e->event;  // id, scope, function, payload: fixed once queued
        if (!(ev.scope == scope)) continue;
        out.push_back({ev.id, ev.function, ev.qualifier, ev.received_ms, e->shown_next_ms.load(),
                       e->shown_attempts.load(), e->shown_throttles.load(), ev.payload.size()});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.received_ms != b.received_ms ? a.received_ms < b.received_ms : a.id < b.id;
    });
    return out;
}

void EventQueue::stop() {
    std::map<std::string, std::shared_ptr<Entry>> entries;
    {
        std::lock_guard lk(mu_);
        stopped_ = true;
        entries.swap(entries_);
    }
    for (auto& [id, e] : entries)
        if (e->timer) e->timer->cancel();
}

Status EventQueue::clear() {
    std::map<std::string, std::shared_ptr<Entry>> entries;
    {
        std::lock_guard lk(mu_);
        LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kEventKind, "")}));
        entries.swap(entries_);
    }
    for (auto& [id, e] : entries)
        if (e->timer) e->timer->cancel();
    return {};
}

void EventQueue::schedule(const std::shared_ptr<Entry>& entry) {
    entry->shown_next_ms.store(entry->event.next_ms);
    entry->shown_attempts.store(entry->event.attempts);
    entry->shown_throttles.store(entry->event.throttles);
    std::int64_t wait = std::max<std::int64_t>(0, entry->event.next_ms - clock_.now_ms());
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds(wait));
    entry->timer = timer;
    std::weak_ptr<Entry> weak = entry;
    timer->async_wait([this, weak](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto e = weak.lock()) attempt(e);
    });
}

void EventQueue::attempt(const std::shared_ptr<Entry>& entry) {
    EventQueueHooks hooks;
    {
        std::lock_guard lk(mu_);
        if (stopped_ || !entries_.contains(entry->event.id)) return;  // stopped, or cleared
        hooks = hooks_;
    }
    auto log = logger("exec");
    QueuedEvent& ev = entry->event;
    if (!hooks.resolve) return;
    auto resolved = hooks.resolve(ev);
    if (!resolved) {
        log->warn("async.dropped function={} request_id={} reason=\"{}\"", ev.function, ev.id,
                  resolved.error().message);
        forget(ev);
        std::lock_guard lk(mu_);
        entries_.erase(ev.id);
        return;
    }
    InvokeRequest req = std::move(*resolved);
    metrics::record_lambda(metrics_, {ev.scope, ev.function, ev.qualifier, req.config.version},
                           "AsyncEventAge", static_cast<double>(clock_.now_ms() - ev.received_ms),
                           "Milliseconds", false);
    {
        // Recursive loop detection: the Lineage of the trace header that came
        // with the event (from Invoke, or from S3) counts the trips; this one
        // is one more, and the SDK in the function passes it on
        const std::string hash = lineage_hash(control::function_arn(ev.scope, ev.function));
        const int depth = lineage_count(ev.trace_header, hash);
        if (depth >= kMaxRecursionDepth && (!hooks.stops_loops || hooks.stops_loops(ev))) {
            log->warn(
                "async.recursive_loop_stopped function={} request_id={} depth={}: the event "
                "has invoked the function {} times through a loop; it goes to the "
                "on-failure destination or dead-letter queue, if any "
                "(PutFunctionRecursionConfig RecursiveLoop=Allow lets it run)",
                ev.function, ev.id, depth, depth);
            metrics::record_lambda(metrics_,
                                   {ev.scope, ev.function, ev.qualifier, req.config.version},
                                   "RecursiveInvocationsDropped", 1, "Count");
            finish(entry, kRecursiveLoopCondition, std::nullopt, req.config.version);
            return;
        }
        req.trace_header = with_lineage(ev.trace_header, hash, depth + 1, ids_);
    }
    if (req.reserved_concurrency && *req.reserved_concurrency == 0) {
        // AWS hands it straight to the on-failure destination, without running it
        finish(entry, "ZeroReservedConcurrency", std::nullopt, req.config.version);
        return;
    }
    std::string executed = req.config.version;
    in_flight_.fetch_add(1);
    invoker_.invoke(std::move(req), [this, entry, hooks, executed](InvokeResult r) {
        struct Leave {
            std::atomic<int>& n;
            ~Leave() { n.fetch_sub(1); }  // the last touch of the queue
        } leave{in_flight_};
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;  // still stored: it runs again at the next start
            if (!entries_.contains(entry->event.id)) return;  // dropped by clear()
        }
        QueuedEvent& ev = entry->event;
        auto config = hooks.config ? hooks.config(ev) : std::nullopt;
        std::int64_t max_age_ms =
            1000 * (config && config->maximum_event_age_seconds ? *config->maximum_event_age_seconds
                                                                : kDefaultMaxAgeSeconds);
        int max_retries = config && config->maximum_retry_attempts ? *config->maximum_retry_attempts
                                                                   : kDefaultRetries;
        std::int64_t now = clock_.now_ms();
        if (r.throttle) {
            // waits for capacity: backoff from 1 s doubling to 5 min, within the event's age
            std::int64_t delay =
                std::min<std::int64_t>(1000LL << std::min(ev.throttles, 9), 300'000);
            ++ev.throttles;
            if (now + delay - ev.received_ms > max_age_ms) {
                finish(entry, "EventAgeExceeded", std::nullopt, executed);
                return;
            }
            ev.next_ms = now + delay;
            save(ev);
            schedule(entry);
            return;
        }
        ++ev.attempts;
        ev.throttles = 0;
        if (!r.function_error) {
            finish(entry, "Success", r, executed);
            return;
        }
        if (ev.attempts <= max_retries) {
            // AWS waits about one minute before the first retry, two before the second
            std::int64_t delay = settings_.retry_delay.count() * ev.attempts;
            if (now + delay - ev.received_ms > max_age_ms) {
                finish(entry, "EventAgeExceeded", r, executed);
                return;
            }
            ev.next_ms = now + delay;
            save(ev);
            schedule(entry);
            return;
        }
        finish(entry, "RetriesExhausted", r, executed);
    });
}

void EventQueue::finish(const std::shared_ptr<Entry>& entry, const std::string& condition,
                        const std::optional<InvokeResult>& result,
                        const std::string& executed_version) {
    const QueuedEvent& ev = entry->event;
    EventQueueHooks hooks;
    {
        std::lock_guard lk(mu_);
        hooks = hooks_;
    }
    auto config = hooks.config ? hooks.config(ev) : std::nullopt;
    bool success = condition == "Success";
    std::optional<std::string> destination =
        config ? (success ? config->on_success : config->on_failure) : std::nullopt;
    auto log = logger("exec");
    if (destination) {
        // AWS's invocation record
        nlohmann::json record = {
            {"version", "1.0"},
            {"timestamp", format_iso8601(clock_.now_ms())},
            {"requestContext",
             {{"requestId", ev.id},
              {"functionArn",
               control::qualified_arn(ev.scope, ev.function,
                                      ev.qualifier.empty() ? "$LATEST" : ev.qualifier)},
              {"condition", condition},
              {"approximateInvokeCount", ev.attempts}}},
            {"requestPayload", as_json(ev.payload)}};
        if (result) {
            nlohmann::json rc = {{"statusCode", 200}, {"executedVersion", executed_version}};
            if (result->function_error) rc["functionError"] = "Unhandled";
            record["responseContext"] = rc;
            record["responsePayload"] = as_json(result->payload);
        }
        // a Lambda destination is invoked asynchronously, through this same
        // queue; an SQS destination gets the record as its message body
        auto parsed = control::parse_arn(*destination);
        bool delivered = false;
        if (parsed && parsed->service == "sqs" && hooks.send_to_queue) {
            auto sent = hooks.send_to_queue(*destination, record.dump(), {});
            if (!sent)
                log->warn("async.sqs_destination_failed destination={} error=\"{}\"", *destination,
                          sent.error().message);
            delivered = static_cast<bool>(sent);
        } else if (parsed && parsed->service == "lambda" &&
                   parsed->resource.rfind("function:", 0) == 0 &&
                   parsed->account == ev.scope.account && parsed->region == ev.scope.region) {
            std::string rest = parsed->resource.substr(9);
            auto colon = rest.find(':');
            QueuedEvent out;
            out.id = ids_.uuid();
            out.scope = ev.scope;
            out.function = rest.substr(0, colon);
            out.qualifier = colon == std::string::npos ? "" : rest.substr(colon + 1);
            out.payload = record.dump();
            delivered = static_cast<bool>(enqueue(std::move(out)));
        }
        if (delivered) {
            log->info("async.delivered function={} request_id={} condition={} destination={}",
                      ev.function, ev.id, condition, *destination);
        } else {
            log->warn(
                "async.destination_failed function={} request_id={} condition={} destination={}",
                ev.function, ev.id, condition, *destination);
            metrics::record_lambda(metrics_,
                                   {ev.scope, ev.function, ev.qualifier, executed_version},
                                   "DestinationDeliveryFailures", 1, "Count", false);
        }
    }
    // A failed event also goes to the function's dead-letter queue: the
    // original event, with what went wrong as message attributes.
    auto dlq = !success && hooks.dead_letter_target ? hooks.dead_letter_target(ev) : std::nullopt;
    bool dead_lettered = false;
    if (dlq && hooks.send_to_queue) {
        std::string message = condition;
        if (result && result->function_error) {
            auto err = nlohmann::json::parse(result->payload, nullptr, false);
            if (err.is_object() && err.contains("errorMessage") && err["errorMessage"].is_string())
                message = err["errorMessage"].get<std::string>();
        }
        auto sent = hooks.send_to_queue(*dlq, ev.payload,
                                        {{"RequestID", {"String", ev.id}},
                                         {"ErrorCode", {"Number", "200"}},
                                         {"ErrorMessage", {"String", message}}});
        dead_lettered = static_cast<bool>(sent);
        if (sent) {
            log->info("async.dead_lettered function={} request_id={} queue={}", ev.function, ev.id,
                      *dlq);
        } else {
            log->warn("async.dead_letter_failed function={} request_id={} queue={} error=\"{}\"",
                      ev.function, ev.id, *dlq, sent.error().message);
            metrics::record_lambda(metrics_,
                                   {ev.scope, ev.function, ev.qualifier, executed_version},
                                   "DeadLetterErrors", 1, "Count", false);
        }
    }
    if (!destination && !success && !dead_lettered) {
        log->warn("async.dropped function={} request_id={} reason={} attempts={}", ev.function,
                  ev.id, condition, ev.attempts);
        metrics::record_lambda(metrics_, {ev.scope, ev.function, ev.qualifier, executed_version},
                               "AsyncEventsDropped", 1, "Count", false);
    }
    forget(ev);
    std::lock_guard lk(mu_);
    entries_.erase(ev.id);
}

}  // namespace lamina::exec
