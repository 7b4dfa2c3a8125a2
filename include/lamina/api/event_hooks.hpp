#pragma once
// What the async event queue asks of the control plane: each queued event's
// invocation, resolved afresh when it runs, and the EventInvokeConfig that
// applies to it. The composition root (cli) gives these to the queue.

#include "lamina/control/registry.hpp"
#include "lamina/exec/event_queue.hpp"

namespace lamina::api {

exec::EventQueueHooks event_queue_hooks(control::Registry& registry);

}  // namespace lamina::api
