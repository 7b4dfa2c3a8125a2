#pragma once
// CloudWatch-style metrics, in memory: per account and region, series named
// by namespace, metric name and dimensions, aggregated per minute (sum,
// count, min, max) and kept for a day. Lambda's metrics are recorded under
// AWS's dimension sets by the helpers at the bottom. Read through the
// CloudWatch API (api/cloudwatch_api) and the Prometheus page.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/control/names.hpp"

namespace lamina::metrics {

using Dimensions = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Datapoint {
    std::int64_t timestamp_ms = 0;  // start of the period
    double sum = 0, minimum = 0, maximum = 0;
    std::int64_t count = 0;
};

struct Series {
    std::string ns, name;
    Dimensions dimensions;
};

inline constexpr const char* kLambdaNamespace = "AWS/Lambda";

class MetricsStore {
public:
    explicit MetricsStore(Clock& clock);

    void record(const control::Scope& scope, const std::string& ns, const std::string& name,
                Dimensions dims, double value, const std::string& unit);
    // Datapoints of one series (exact dimensions) between start and end,
    // aggregated by `period_s` (a multiple of 60), oldest first.
    std::vector<Datapoint> query(const control::Scope& scope, const std::string& ns,
                                 const std::string& name, Dimensions dims, std::int64_t start_ms,
                                 std::int64_t end_ms, int period_s,
                                 std::string* unit = nullptr) const;
    // Series whose namespace and name match (empty = any) and that have every given dimension
    // (a dimension with an empty value matches any value).
    std::vector<Series> list(const control::Scope& scope, const std::string& ns,
                             const std::string& name, const Dimensions& filter) const;
    // Every series' total, in Prometheus' text exposition format.
    std::string prometheus() const;
    // Forgets every series.
    void clear();

private:
    struct Key {
        std::string account, region, ns, name;
        Dimensions dims;
        bool operator<(const Key& o) const {
            return std::tie(account, region, ns, name, dims) <
                   std::tie(o.account, o.region, o.ns, o.name, o.dims);
        }
    };
    struct Data {
        std::string unit;
        std::map<std::int64_t, Datapoint> minutes;  // minute start (ms) -> aggregate
        double total = 0;                           // since start, for Prometheus
        double last = 0;                            // the latest value (gauges)
        std::int64_t samples = 0;
    };
    Clock& clock_;
    mutable std::mutex mu_;
    std::map<Key, Data> series_;
};

// Where one invocation's metrics go: AWS records each under the function,
// under function + Resource ("name:qualifier") when a qualifier was named,
// and under function + Resource + ExecutedVersion for an alias; the account
// level (no dimension) gets the ones AWS aggregates there.
struct InvocationTarget {
    control::Scope scope;
    std::string function;
    std::string qualifier;         // as invoked, "" unqualified
    std::string executed_version;  // for aliases
};

void record_lambda(MetricsStore* store, const InvocationTarget& t, const std::string& name,
                   double value, const std::string& unit, bool account_level = true);

// One request to a function URL (`t.qualifier`: the alias, or "$LATEST" for
// the function's own URL), as AWS counts them: UrlRequestCount,
// Url4xxCount, Url5xxCount (0 or 1 each) and UrlRequestLatency, under
// FunctionName and FunctionName + Resource ("name:$LATEST", "name:alias").
void record_url(MetricsStore* store, const InvocationTarget& t, unsigned status, double latency_ms);

}  // namespace lamina::metrics
