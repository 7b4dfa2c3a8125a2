#pragma once
// The pollers of SQS event source mappings: one per enabled mapping, each
// woken by its queue (sqs::Queues::watch) rather than polling on a clock. A
// poller receives batches (BatchSize, MaximumBatchingWindowInSeconds, at most
// 6 MB), drops and deletes what the FilterCriteria reject, invokes the
// mapping's function synchronously with AWS's SQS event, deletes the batch on
// success (or all but the ReportBatchItemFailures it names), and leaves
// failed messages to come back after their visibility timeout, where the
// queue's redrive policy applies. Concurrent batches start at 5 and grow by
// one a second (AWS: 60 a minute) while the queue keeps them all busy, up to
// ScalingConfig.MaximumConcurrency (else 1000); a throttled batch is made
// visible again and the poller backs off. A message whose AWSTraceHeader
// says it has invoked this function kMaxRecursionDepth times already is not
// invoked again (unless the function's RecursiveLoop is Allow): it stays in
// the queue until its redrive policy moves it (AWS's recursive loop detection).

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/event_source_mappings.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/sqs/queues.hpp"

namespace lamina::esm {

struct PollerHooks {
    // The invocation of the mapping's function with `payload`, its version
    // resolved now; an error leaves the batch to come back.
    std::function<Result<exec::InvokeRequest>(const control::EventSourceMapping&, std::string)>
        resolve;
    // Whether the function stops recursive loops (RecursiveLoop Terminate, the default).
    std::function<bool(const control::EventSourceMapping&)> stops_loops;
    // A message not invoked because it has gone round a loop kMaxRecursionDepth times.
    std::function<void(const control::EventSourceMapping&, const std::string& message_id)>
        dropped_recursive;
};

// The SQS event record of one message, keys in AWS's order.
nlohmann::ordered_json sqs_record(const sqs::ReceivedMessage& m, const std::string& queue_arn,
                                  const std::string& region);

// Which messages of a batch failed, from a ReportBatchItemFailures answer:
// nullopt = the whole batch (a malformed answer, an unknown id), else the ids.
std::optional<std::vector<std::string>> batch_item_failures(
    const std::string& payload, const std::vector<std::string>& message_ids);

class Pollers {
public:
    Pollers(boost::asio::io_context& ioc, sqs::Queues& queues, exec::Invoker& invoker,
            IdSource& ids, PollerHooks hooks);
    ~Pollers();
    Pollers(const Pollers&) = delete;
    Pollers& operator=(const Pollers&) = delete;

    // Starts the pollers of the enabled ones (start-up).
    void start(const std::vector<control::EventSourceMapping>& mappings);
    // control::EventSourceMappings' observer: (re)starts or stops one.
    void changed(const control::EventSourceMapping& m, bool removed);
    // Stops every poller; batches being invoked finish (their messages are
    // deleted or come back as usual).
    void stop();

private:
    struct Poller;
    boost::asio::io_context& ioc_;
    sqs::Queues& queues_;
    exec::Invoker& invoker_;
    IdSource& ids_;
    PollerHooks hooks_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<Poller>> pollers_;  // by UUID
    bool stopped_ = false;
};

}  // namespace lamina::esm
