#pragma once
// What the async event queue asks of the control plane: each queued event's
// invocation, resolved afresh when it runs, and the EventInvokeConfig that
// applies to it; and the same invocation for event source mapping pollers.
// The composition root (cli) gives these to the queue and the pollers.

#include <boost/asio/thread_pool.hpp>

#include "lamina/common/clock.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/esm/pollers.hpp"
#include "lamina/exec/event_queue.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/s3/notification.hpp"
#include "lamina/sqs/queues.hpp"

namespace lamina::api {

// `ids` draws a weighted alias's version (it must outlive the queue).
exec::EventQueueHooks event_queue_hooks(control::Registry& registry, IdSource& ids);
// Each batch's invocation of a mapping's function (a fresh request id).
// Loops stopped at kMaxRecursionDepth are counted in `metrics` (may be null).
esm::PollerHooks esm_poller_hooks(control::Registry& registry, IdSource& ids,
                                  metrics::MetricsStore* metrics);
// S3 notifications: for Lambda, the permission check (a resource-policy
// statement for s3.amazonaws.com) and the Event invocation; for SQS (when
// `queues` is given), the queue lookup and the send. Deliveries are queued on
// `workers` so the S3 request does not wait for them.
s3::NotificationHooks s3_notification_hooks(control::Registry& registry, exec::EventQueue& events,
                                            sqs::Queues* queues, IdSource& ids,
                                            boost::asio::thread_pool& workers);

}  // namespace lamina::api
