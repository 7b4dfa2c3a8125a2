#include "lamina/metrics/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <tuple>

namespace lamina::metrics {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kRetentionMs = 24 * 60 * kMinuteMs;

bool is_version_number(const std::string& q) {
    return !q.empty() &&
           std::all_of(q.begin(), q.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string prometheus_name(const std::string& ns, const std::string& name) {
    std::string out = "lamina_";
    for (char c : ns + "_" + name) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else
            out += '_';
    }
    return out;
}

std::string prometheus_label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

MetricsStore::MetricsStore(Clock& clock) : clock_(clock) {}

void MetricsStore::record(const control::Scope& scope, const std::string& ns,
                          const std::string& name, Dimensions dims, double value,
                          const std::string& unit) {
    std::sort(dims.begin(), dims.end());
    std::int64_t now = clock_.now_ms();
    std::int64_t minute = now - now % kMinuteMs;
    std::lock_guard lk(mu_);
    Data& d = series_[Key{scope.account, scope.region, ns, name, std::move(dims)}];
    d.unit = unit;
    d.total += value;
    d.last = value;
    ++d.samples;
    auto [it, fresh] = d.minutes.try_emplace(minute);
    Datapoint& p = it->second;
    if (fresh) {
        p.timestamp_ms = minute;
        p.minimum = p.maximum = value;
    }
    p.sum += value;
    ++p.count;
    p.minimum = std::min(p.minimum, value);
    p.maximum = std::max(p.maximum, value);
    while (!d.minutes.empty() && d.minutes.begin()->first < minute - kRetentionMs)
        d.minutes.erase(d.minutes.begin());
}

std::vector<Datapoint> MetricsStore::query(const control::Scope& scope, const std::string& ns,
                                           const std::string& name, Dimensions dims,
                                           std::int64_t start_ms, std::int64_t end_ms, int period_s,
                                           std::string* unit) const {
    std::sort(dims.begin(), dims.end());
    std::int64_t period_ms = std::max<std::int64_t>(60, period_s) * 1000;
    std::lock_guard lk(mu_);
    auto it = series_.find(Key{scope.account, scope.region, ns, name, std::move(dims)});
    if (it == series_.end()) return {};
    if (unit) *unit = it->second.unit;
    std::map<std::int64_t, Datapoint> buckets;
    for (const auto& [minute, p] : it->second.minutes) {
        if (minute + kMinuteMs <= start_ms || minute >= end_ms) continue;
        std::int64_t b =
            minute - minute % period_ms;  // periods are aligned on the epoch, as CloudWatch's
        auto [slot, fresh] = buckets.try_emplace(b);
        Datapoint& out = slot->second;
        if (fresh) {
            out = p;
            out.timestamp_ms = b;
            continue;
        }
        out.sum += p.sum;
        out.count += p.count;
        out.minimum = std::min(out.minimum, p.minimum);
        out.maximum = std::max(out.maximum, p.maximum);
    }
    std::vector<Datapoint> out;
    out.reserve(buckets.size());
    for (auto& [b, p] : buckets) out.push_back(p);
    return out;
}

std::vector<Series> MetricsStore::list(const control::Scope& scope, const std::string& ns,
                                       const std::string& name, const Dimensions& filter) const {
    std::lock_guard lk(mu_);
    std::vector<Series> out;
    for (const auto& [key, data] : series_) {
        if (key.account != scope.account || key.region != scope.region) continue;
        if (!ns.empty() && key.ns != ns) continue;
        if (!name.empty() && key.name != name) continue;
        bool ok = std::all_of(filter.begin(), filter.end(), [&](const auto& f) {
            return std::any_of(key.dims.begin(), key.dims.end(), [&](const auto& d) {
                return d.first == f.first && (f.second.empty() || d.second == f.second);
            });
        });
        if (ok) out.push_back({key.ns, key.name, key.dims});
    }
    return out;
}

void MetricsStore::clear() {
    std::lock_guard lk(mu_);
    series_.clear();
}

std::string MetricsStore::prometheus() const {
    static const std::set<std::string> kGauges = {
        "ConcurrentExecutions", "UnreservedConcurrentExecutions", "ProvisionedConcurrentExecutions",
        "ProvisionedConcurrencyUtilization"};
    std::lock_guard lk(mu_);
    std::ostringstream out;
    std::string last;
    for (const auto& [key, data] : series_) {
        std::string base = prometheus_name(key.ns, key.name);
        std::string labels = "{account=\"" + key.account + "\",region=\"" + key.region + "\"";
        for (const auto& [k, v] : key.dims) labels += "," + k + "=\"" + prometheus_label(v) + "\"";
        labels += "}";
        // gauges show their latest value, durations and ages a sum and a count, the rest a counter
        bool gauge = kGauges.contains(key.name);
        bool timing = data.unit == "Milliseconds";
        std::string type = gauge ? "gauge" : timing ? "summary" : "counter";
        std::string name = gauge ? base : timing ? base + "_milliseconds" : base + "_total";
        if (name != last) {
            out << "# TYPE " << name << " " << type << "\n";
            last = name;
        }
        if (gauge) {
            out << name << labels << " " << data.last << "\n";
        } else if (timing) {
            out << name << "_sum" << labels << " " << data.total << "\n";
            out << name << "_count" << labels << " " << data.samples << "\n";
        } else {
            out << name << labels << " " << data.total << "\n";
        }
    }
    return out.str();
}

void record_lambda(MetricsStore* store, const InvocationTarget& t, const std::string& name,
                   double value, const std::string& unit, bool account_level) {
    if (!store) return;
    if (account_level) store->record(t.scope, kLambdaNamespace, name, {}, value, unit);
    store->record(t.scope, kLambdaNamespace, name, {{"FunctionName", t.function}}, value, unit);
    if (t.qualifier.empty()) return;
    std::string resource = t.function + ":" + t.qualifier;
    store->record(t.scope, kLambdaNamespace, name,
                  {{"FunctionName", t.function}, {"Resource", resource}}, value, unit);
    if (!is_version_number(t.qualifier) && t.qualifier != "$LATEST" && !t.executed_version.empty())
        store->record(t.scope, kLambdaNamespace, name,
                      {{"FunctionName", t.function},
                       {"Resource", resource},
                       {"ExecutedVersion", t.executed_version}},
                      value, unit);
}

void record_url(MetricsStore* store, const InvocationTarget& t, unsigned status,
                double latency_ms) {
    record_lambda(store, t, "UrlRequestCount", 1, "Count", false);
    record_lambda(store, t, "Url4xxCount", status / 100 == 4 ? 1 : 0, "Count", false);
    record_lambda(store, t, "Url5xxCount", status / 100 == 5 ? 1 : 0, "Count", false);
    record_lambda(store, t, "UrlRequestLatency", latency_ms, "Milliseconds", false);
}

}  // namespace lamina::metrics
