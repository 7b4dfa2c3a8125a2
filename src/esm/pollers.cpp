// SQS event source mapping pollers (see pollers.hpp).
#include "lamina/esm/pollers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <set>

#include "lamina/common/encoding.hpp"
#include "lamina/common/trace_header.hpp"
#include "lamina/esm/filter.hpp"

namespace lamina::esm {

namespace asio = boost::asio;
using ojson = nlohmann::ordered_json;

namespace {

// AWS's synchronous invocation payload limit: a batch closes before it.
constexpr std::size_t kMaxBatchBytes = 6 * 1024 * 1024;
constexpr int kInitialConcurrency = 5;
constexpr int kMaxConcurrency = 1000;
constexpr auto kScaleStep = std::chrono::seconds(1);
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// The system attributes a record carries, in AWS's order.
constexpr const char* kRecordAttributes[] = {
    "ApproximateReceiveCount",          "SentTimestamp",  "SenderId",
    "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageGroupId",
    "MessageDeduplicationId",           "AWSTraceHeader"};

}  // namespace

ojson sqs_record(const sqs::ReceivedMessage& m, const std::string& queue_arn,
                 const std::string& region) {
    ojson attributes = ojson::object();
    for (const char* name : kRecordAttributes)
        if (auto it = m.attributes.find(name); it != m.attributes.end())
            attributes[name] = it->second;
    ojson message_attributes = ojson::object();
    for (const auto& [name, v] : m.message_attributes) {
        ojson a = ojson::object();
        if (v.string_value) a["stringValue"] = *v.string_value;
        if (v.binary_value) a["binaryValue"] = base64_encode(*v.binary_value);
        a["stringListValues"] = ojson::array();
        a["binaryListValues"] = ojson::array();
        a["dataType"] = v.data_type;
        message_attributes[name] = std::move(a);
    }
    ojson r = ojson::object();
    r["messageId"] = m.message_id;
    r["receiptHandle"] = m.receipt_handle;
    r["body"] = m.body;
    r["attributes"] = std::move(attributes);
    r["messageAttributes"] = std::move(message_attributes);
    r["md5OfMessageAttributes"] =
        m.md5_of_message_attributes ? ojson(*m.md5_of_message_attributes) : ojson(nullptr);
    r["md5OfBody"] = m.md5_of_body;
    r["eventSource"] = "aws:sqs";
    r["eventSourceARN"] = queue_arn;
    r["awsRegion"] = region;
    return r;
}

std::optional<std::vector<std::string>> batch_item_failures(
    const std::string& payload, const std::vector<std::string>& message_ids) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    if (j.is_null() || !j.is_object()) return std::vector<std::string>{};
    auto it = j.find("batchItemFailures");
    if (it == j.end() || it->is_null()) return std::vector<std::string>{};
    if (!it->is_array()) return std::nullopt;
    std::vector<std::string> failed;
    for (const auto& item : *it) {
        if (!item.is_object()) return std::nullopt;
        auto id = item.find("itemIdentifier");
        if (id == item.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
            return std::nullopt;
        const auto& s = id->get_ref<const std::string&>();
        if (std::find(message_ids.begin(), message_ids.end(), s) == message_ids.end())
            return std::nullopt;
        failed.push_back(s);
    }
    return failed;
}

// One enabled mapping's poller. Everything but the queue's wake-up call runs
// on its strand.
struct Pollers::Poller : std::enable_shared_from_this<Poller> {
    Poller(asio::io_context& ioc, sqs::Queues& queues, exec::Invoker& invoker, IdSource& ids,
           const PollerHooks& hooks, control::EventSourceMapping m, FilterCriteria filter)
        : strand(asio::make_strand(ioc)),
          queues(queues),
          invoker(invoker),
          ids(ids),
          hooks(hooks),
          mapping(std::move(m)),
          filter(std::move(filter)),
          hash(lineage_hash(control::function_arn(mapping.scope, mapping.function_name))),
          window_timer(strand),
          backoff_timer(strand) {
        limit = std::min(kInitialConcurrency, max_concurrency());
    }

    int max_concurrency() const { return mapping.maximum_concurrency.value_or(kMaxConcurrency); }

    void begin() {
        if (auto probe = hooks.resolve(mapping, std::string()))
            receive_visibility = visibility(probe->config.timeout);
        std::weak_ptr<Poller> weak = shared_from_this();
        watch = queues.watch(mapping.event_source_arn, [weak] {
            if (auto self = weak.lock()) self->wake();
        });
        wake();
    }

    void wake() {
        if (scheduled.exchange(true)) return;
        asio::post(strand, [self = shared_from_this()] {
            self->scheduled = false;
            self->poll();
        });
    }

    void end() {
        asio::post(strand, [self = shared_from_this()] {
            self->stopped = true;
            self->watch.reset();
            self->window_timer.cancel();
            self->backoff_timer.cancel();
            // a batch held for its window goes back to the queue at once
            self->release(self->pending);
            self->pending.clear();
        });
    }

    // Makes messages receivable again now (a throttled or abandoned batch).
    void release(const std::vector<sqs::ReceivedMessage>& batch) {
        for (const auto& m : batch)
            (void)queues.change_visibility(mapping.event_source_arn, m.receipt_handle, 0);
    }

    void back_off() {
        backoff = backoff.count() == 0
                      ? kMinBackoff
                      : std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        backing_off = true;
        backoff_timer.expires_after(backoff);
        backoff_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->backing_off = false;
            if (!ec) self->poll();
        });
    }

    // The visibility timeout batches are received with: AWS extends the
    // queue's when the window and the function's timeout would outlast it.
    std::optional<int> visibility(int function_timeout) const {
        if (mapping.batching_window == 0) return std::nullopt;
        auto q = queues.find_by_arn(mapping.event_source_arn);
        const int queue_vt = q ? q->visibility_timeout : 30;
        if (mapping.batching_window + function_timeout <= queue_vt) return std::nullopt;
        return mapping.batching_window + function_timeout + 30;
    }

    static std::size_t bytes_of(const sqs::ReceivedMessage& m) {
        return m.body.size() + m.receipt_handle.size() + 512;
    }

    void poll() {
        if (stopped || backing_off) return;
        const auto now = std::chrono::steady_clock::now();
        while (in_flight < limit) {
            const auto want = static_cast<std::size_t>(mapping.batch_size);
            std::size_t bytes = 0;
            for (const auto& m : pending) bytes += bytes_of(m);
            bool drained = false;
            while (pending.size() < want && bytes < kMaxBatchBytes) {
                const int n = static_cast<int>(std::min<std::size_t>(10, want - pending.size()));
                auto got = queues.receive(mapping.event_source_arn, n, receive_visibility);
                if (!got) {
                    spdlog::warn("esm {}: receiving from {}: {}", mapping.uuid,
                                 mapping.event_source_arn, got.error().message);
                    back_off();
                    return;
                }
                backoff = {};
                if (got->empty()) {
                    drained = true;
                    break;
                }
                for (auto& m : *got) {
                    bytes += bytes_of(m);
                    pending.push_back(std::move(m));
                }
            }
            if (pending.empty()) return;
            // Over 6 MB: the newest messages go back for the next batch.
            std::vector<sqs::ReceivedMessage> overflow;
            std::size_t total = 0, keep = 0;
            for (; keep < pending.size(); ++keep) {
                total += bytes_of(pending[keep]);
                if (total > kMaxBatchBytes && keep > 0) break;
            }
            overflow.assign(std::make_move_iterator(pending.begin() + static_cast<long>(keep)),
                            std::make_move_iterator(pending.end()));
            pending.resize(keep);
            release(overflow);
            const bool full = pending.size() >= want || !overflow.empty();
            if (!full && mapping.batching_window > 0) {
                if (!window_armed) {
                    window_armed = true;
                    window_timer.expires_after(std::chrono::seconds(mapping.batching_window));
                    window_timer.async_wait(
                        [self = shared_from_this()](const boost::system::error_code& ec) {
                            self->window_armed = false;
                            if (ec || self->stopped || self->pending.empty()) return;
                            self->dispatch(std::exchange(self->pending, {}));
                            self->poll();
                        });
                }
                return;  // the window's end (or a full batch) sends it
            }
            if (window_armed) {
                window_timer.cancel();
                window_armed = false;
            }
            dispatch(std::exchange(pending, {}));
            if (drained) break;
        }
        // Every batch busy and more waiting: one more concurrent batch a second.
        if (in_flight >= limit && limit < max_concurrency() && now - last_scale >= kScaleStep) {
            ++limit;
            last_scale = now;
        }
    }

    void dispatch(std::vector<sqs::ReceivedMessage> batch) {
        const std::string& arn = mapping.event_source_arn;
        ojson records = ojson::array();
        std::vector<sqs::ReceivedMessage> kept;
        const bool stops_loops = !hooks.stops_loops || hooks.stops_loops(mapping);
        std::string trace;  // the deepest message's: the invocation carries its Lineage on
        int depth = 0;
        for (auto& m : batch) {
            auto t = m.attributes.find("AWSTraceHeader");
            const int n = t == m.attributes.end() ? 0 : lineage_count(t->second, hash);
            if (stops_loops && n >= kMaxRecursionDepth) {
                // left in the queue: its redrive policy moves it, as on AWS
                if (hooks.dropped_recursive) hooks.dropped_recursive(mapping, m.message_id);
                continue;
            }
            ojson record = sqs_record(m, arn, mapping.scope.region);
            if (!filter.empty() && !filter.matches(nlohmann::json(record))) {
                (void)queues.delete_message(arn, m.receipt_handle);  // filtered out: deleted
                continue;
            }
            if (t != m.attributes.end() && (trace.empty() || n > depth)) {
                trace = t->second;
                depth = n;
            }
            records.push_back(std::move(record));
            kept.push_back(std::move(m));
        }
        if (kept.empty()) return;
        ojson event = ojson::object();
        event["Records"] = std::move(records);
        auto req = hooks.resolve(mapping, event.dump());
        if (!req) {
            spdlog::warn("esm {}: cannot invoke {}: {}", mapping.uuid, mapping.function_arn(),
                         req.error().message);
            back_off();  // the batch comes back after its visibility timeout
            return;
        }
        req->trace_header = with_lineage(trace, hash, depth + 1, ids);
        ++in_flight;
        auto shared = std::make_shared<std::vector<sqs::ReceivedMessage>>(std::move(kept));
        invoker.invoke(std::move(*req), [self = shared_from_this(), shared](exec::InvokeResult r) {
            asio::post(self->strand, [self, shared, r = std::move(r)] {
                --self->in_flight;
                self->settle(*shared, r);
                self->poll();
            });
        });
    }

    void settle(const std::vector<sqs::ReceivedMessage>& batch, const exec::InvokeResult& r) {
        const std::string& arn = mapping.event_source_arn;
        if (r.throttle) {
            release(batch);
            back_off();
            return;
        }
        backoff = {};
        if (r.function_error) return;  // every message comes back after its visibility timeout
        std::set<std::string> failed;
        if (mapping.reports_item_failures()) {
            std::vector<std::string> ids;
            ids.reserve(batch.size());
            for (const auto& m : batch) ids.push_back(m.message_id);
            auto failures = batch_item_failures(r.payload, ids);
            if (!failures) return;  // a malformed answer fails the whole batch
            failed.insert(failures->begin(), failures->end());
        }
        std::vector<std::string> done;
        done.reserve(batch.size());
        for (const auto& m : batch)
            if (!failed.contains(m.message_id)) done.push_back(m.receipt_handle);
        if (!done.empty()) (void)queues.delete_batch(arn, done);  // one transaction
    }

    asio::strand<asio::io_context::executor_type> strand;
    sqs::Queues& queues;
    exec::Invoker& invoker;
    IdSource& ids;
    const PollerHooks hooks;
    const control::EventSourceMapping mapping;
    const FilterCriteria filter;
    const std::string hash;  // the function's in Lineage
    asio::steady_timer window_timer, backoff_timer;
    std::unique_ptr<sqs::Queues::Watch> watch;
    std::atomic<bool> scheduled{false};
    bool stopped = false, window_armed = false, backing_off = false;
    std::vector<sqs::ReceivedMessage> pending;  // received, waiting for the window or more
    std::optional<int> receive_visibility;
    int in_flight = 0;
    int limit = kInitialConcurrency;
    std::chrono::steady_clock::time_point last_scale{};
    std::chrono::milliseconds backoff{0};
};

Pollers::Pollers(asio::io_context& ioc, sqs::Queues& queues, exec::Invoker& invoker, IdSource& ids,
                 PollerHooks hooks)
    : ioc_(ioc), queues_(queues), invoker_(invoker), ids_(ids), hooks_(std::move(hooks)) {}

Pollers::~Pollers() { stop(); }

void Pollers::start(const std::vector<control::EventSourceMapping>& mappings) {
    for (const auto& m : mappings) changed(m, false);
}

void Pollers::changed(const control::EventSourceMapping& m, bool removed) {
    std::shared_ptr<Poller> old, fresh;
    if (!removed && m.enabled) {
        auto filter = FilterCriteria::parse(m.filter_patterns.value_or(std::vector<std::string>{}));
        if (!filter) {
            spdlog::error("esm {}: stored filter criteria no longer parse: {}", m.uuid,
                          filter.error().message);
        } else {
            fresh = std::make_shared<Poller>(ioc_, queues_, invoker_, ids_, hooks_, m,
                                             std::move(*filter));
        }
    }
    {
        std::lock_guard lk(mu_);
        if (stopped_) return;
        if (auto it = pollers_.find(m.uuid); it != pollers_.end()) {
            old = std::move(it->second);
            pollers_.erase(it);
        }
        if (fresh) pollers_[m.uuid] = fresh;
    }
    if (old) old->end();
    if (fresh) fresh->begin();
}

void Pollers::stop() {
    std::map<std::string, std::shared_ptr<Poller>> all;
    {
        std::lock_guard lk(mu_);
        stopped_ = true;
        all.swap(pollers_);
    }
    for (auto& [id, p] : all) p->end();
}

}  // namespace lamina::esm
