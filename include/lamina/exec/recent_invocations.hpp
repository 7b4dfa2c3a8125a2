#pragma once
// The last invocations lamina ran (or throttled), for the dashboard
// (/_lamina/ui): a bounded ring, fed by the Invoker once per invocation with
// one lock and moves, read as a copy. Each keeps its log lines, capped.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "lamina/control/names.hpp"

namespace lamina::exec {

struct InvocationRecord {
    control::Scope scope;
    std::string request_id;
    std::string function;
    std::string qualifier;        // as invoked ("" unqualified)
    std::string version;          // the version that ran
    std::int64_t at_ms = 0;       // when it ended (epoch ms)
    double duration_ms = 0;       // the invoke phase, as REPORT's Duration
    std::string status;           // Success | Error | Throttled
    bool cold = false;            // an environment was initialised for it
    std::string error_type;       // the function's error type, or the throttle's reason, when any
    std::string log;              // START..REPORT, capped (see RecentInvocations)
    std::int64_t started_ms = 0;  // when it was admitted (epoch ms)
    std::string init_type;        // on-demand | provisioned-concurrency ("" when nothing ran)
    std::size_t payload_in = 0;   // request payload bytes
    std::size_t payload_out = 0;  // response payload bytes (0 when streamed)
};

class RecentInvocations {
public:
    explicit RecentInvocations(std::size_t capacity = 200, std::size_t max_log_bytes = 16 * 1024);

    // Keeps `r`, dropping the oldest when full; a longer log keeps its head
    // and its tail (where REPORT is) around a "[...]" line.
    void record(InvocationRecord r);
    // Newest first, of one scope; `function` non-empty: only that function's.
    std::vector<InvocationRecord> snapshot(const control::Scope& scope,
                                           const std::string& function = "") const;
    std::size_t size() const;
    // Forgets every record (POST /_lamina/reset).
    void clear();
    std::size_t capacity() const { return capacity_; }

private:
    std::size_t capacity_;
    std::size_t max_log_bytes_;
    mutable std::mutex mu_;
    std::vector<InvocationRecord> ring_;  // grows to capacity_, then next_ wraps
    std::size_t next_ = 0;
};

}  // namespace lamina::exec
