#pragma once
// The X-Ray trace header (X-Amzn-Trace-Id, Lambda-Runtime-Trace-Id, SQS's
// AWSTraceHeader) and its Lineage element, by which Lambda counts how many
// times an event has gone round a loop of functions: "Lineage=<8 hex>:<n>"
// per function, entries joined by '|' (lamina's reading of AWS's format,
// which AWS does not document). AWS SDKs inside a function copy the
// invocation's header onto the requests they send; lamina's SQS keeps it as
// the message's AWSTraceHeader, and the next invocation it triggers carries
// the count plus one.

#include <string>
#include <string_view>

#include "lamina/common/clock.hpp"

namespace lamina {

// After this many trips round a loop, Lambda stops the next invocation.
inline constexpr int kMaxRecursionDepth = 16;

// The short hash that names a function in Lineage (of its unqualified ARN).
std::string lineage_hash(std::string_view function_arn);
// How many times `header`'s Lineage says the event has invoked the function of `hash` (0: none).
int lineage_count(std::string_view header, std::string_view hash);
// The header an invocation carries when `header` came with it (from the
// caller, a message or an upload): `header`'s Root (a new one when it has
// none), a new Parent (Lambda's segment), the caller's sampling decision
// (Sampled=0 without one), and its Lineage.
std::string invocation_trace(std::string_view header, IdSource& ids);
// As invocation_trace, with the function of `hash` at `count` in Lineage.
std::string with_lineage(std::string_view header, std::string_view hash, int count, IdSource& ids);

}  // namespace lamina
