#include "lamina/sam/traffic_shifter.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "lamina/common/log.hpp"
#include "sam/lambda_calls.hpp"

namespace lamina::sam {

using nlohmann::json;

json to_json(const std::vector<TrafficShift>& shifts) {
    json out = json::array();
    for (const auto& s : shifts) {
        json steps = json::array();
        for (const auto& st : s.steps)
            steps.push_back({{"AtSeconds", st.at_seconds}, {"Weight", st.weight}});
        out.push_back({{"FunctionName", s.function_name},
                       {"Alias", s.alias},
                       {"FromVersion", s.from_version},
                       {"ToVersion", s.to_version},
                       {"Steps", steps}});
    }
    return out;
}

Result<std::vector<TrafficShift>> shifts_from_json(const json& j) {
    std::vector<TrafficShift> out;
    if (!j.is_array()) return fail(ErrorCode::InvalidRequestContent, "Shifts must be a list");
    try {
        for (const auto& s : j) {
            TrafficShift t{s.at("FunctionName").get<std::string>(),
                           s.at("Alias").get<std::string>(),
                           s.at("FromVersion").get<std::string>(),
                           s.at("ToVersion").get<std::string>(),
                           {}};
            for (const auto& st : s.at("Steps")) {
                double at = st.at("AtSeconds").get<double>(), w = st.at("Weight").get<double>();
                if (!(at >= 0 && at <= 7 * 24 * 3600) || !(w > 0 && w <= 1))
                    return fail(ErrorCode::InvalidRequestContent,
                                "a shift step needs 0 <= AtSeconds <= 604800 and 0 < Weight <= 1");
                t.steps.push_back({at, w});
            }
            out.push_back(std::move(t));
        }
    } catch (const json::exception& e) {
        return fail(ErrorCode::InvalidRequestContent, std::string("malformed shifts: ") + e.what());
    }
    return out;
}

namespace {
constexpr const char* kKind = "traffic_shift";
}

TrafficShifter::TrafficShifter(api::Service& service, KeyFor key_for, store::DocumentStore* docs,
                               const Clock& clock)
    : service_(service),
      key_for_(std::move(key_for)),
      docs_(docs),
      clock_(clock),
      thread_([this](const std::stop_token& st) { run(st); }) {}

std::string TrafficShifter::key(const control::Scope& scope, const TrafficShift& shift) {
    return scope.account + "/" + scope.region + "/" + shift.function_name + "/" + shift.alias;
}

store::Mutation TrafficShifter::record(const std::string& k, const Running& r) const {
    if (r.next >= r.shift.steps.size()) return store::Mutation::erase(kKind, k);
    json doc = {{"Account", r.scope.account},
                {"Region", r.scope.region},
                {"Shift", to_json({r.shift}).at(0)},
                {"StartedAtMs", r.started_ms},
                {"Next", r.next}};
    return store::Mutation::put(kKind, k, doc.dump());
}

void TrafficShifter::persist(const std::vector<store::Mutation>& batch) {
    if (!docs_ || batch.empty()) return;
    // Losing the record costs only the resumption after a restart: the shift
    // itself goes on.
    if (auto st = docs_->apply(batch); !st)
        lamina::logger("api")->error("sam.shift_record_failed error=\"{}\"", st.error().message);
}

Status TrafficShifter::restore() {
    if (!docs_) return {};
    std::vector<std::pair<std::string, std::string>> records;
    LAMINA_CHECK(docs_->for_each(kKind, [&](const std::string& k, const std::string& doc) {
        records.emplace_back(k, doc);
    }));
    auto log = lamina::logger("api");
    std::vector<store::Mutation> dropped;
    std::lock_guard lock(mu_);
    auto steady_now = std::chrono::steady_clock::now();
    auto now_ms = clock_.now_ms();
    for (const auto& [k, doc] : records) {
        auto j = json::parse(doc, nullptr, false);
        std::optional<Running> r;
        if (!j.is_discarded() && j.is_object()) {
            auto shifts = shifts_from_json(json::array({j.value("Shift", json())}));
            auto next = j.value("Next", json());
            auto started = j.value("StartedAtMs", json());
            if (shifts && next.is_number_unsigned() && started.is_number_integer() &&
                j.value("Account", json()).is_string() && j.value("Region", json()).is_string()) {
                r = Running{
                    control::Scope{j["Account"].get<std::string>(), j["Region"].get<std::string>()},
                    std::move(shifts->at(0)),
                    {},
                    started.get<std::int64_t>(),
                    next.get<std::size_t>()};
            }
        }
        if (!r || r->next >= r->shift.steps.size() || key(r->scope, r->shift) != k) {
            log->error("sam.shift_record_dropped key={}", k);
            dropped.push_back(store::Mutation::erase(kKind, k));
            continue;
        }
        // the same schedule on this run's steady clock (a start in the future,
        // from a clock set back, counts as now)
        auto elapsed = std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms - r->started_ms));
        r->start = steady_now - elapsed;
        log->info("sam.shift_resumed function={} alias={} to={} next_step={}",
                  r->shift.function_name, r->shift.alias, r->shift.to_version, r->next);
        running_[k] = std::move(*r);
    }
    persist(dropped);
    cv_.notify_all();
    return {};
}

TrafficShifter::~TrafficShifter() { stop(); }

void TrafficShifter::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        cv_.notify_all();
        thread_.join();
    }
}

void TrafficShifter::clear() {
    std::lock_guard lock(mu_);
    running_.clear();
    persist({store::Mutation::erase_prefix(kKind, "")});
    cv_.notify_all();
}

void TrafficShifter::schedule(const control::Scope& scope, std::vector<TrafficShift> shifts) {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto now_ms = clock_.now_ms();
    std::vector<store::Mutation> batch;
    for (auto& s : shifts) {
        std::string k = key(scope, s);
        if (s.steps.empty()) {  // the alias was set directly: a shift in progress ends
            if (running_.erase(k))
                lamina::logger("api")->info("sam.shift_cancelled function={} alias={}",
                                            s.function_name, s.alias);
            batch.push_back(store::Mutation::erase(kKind, k));
            continue;
        }
        lamina::logger("api")->info("sam.shift function={} alias={} from={} to={} steps={}",
                                    s.function_name, s.alias, s.from_version, s.to_version,
                                    s.steps.size());
        Running r{scope, std::move(s), now, now_ms, 0};
        batch.push_back(record(k, r));
        running_[k] = std::move(r);  // replaces a shift in progress
    }
    persist(batch);
    cv_.notify_all();
}

void TrafficShifter::step(Running& r) {
    const auto& st = r.shift.steps[r.next];
    json body = {{"FunctionVersion", st.weight >= 1.0 ? r.shift.to_version : r.shift.from_version}};
    body["RoutingConfig"] = {{"AdditionalVersionWeights", json::object()}};
    if (st.weight < 1.0)
        body["RoutingConfig"]["AdditionalVersionWeights"][r.shift.to_version] = st.weight;
    auto client = make_service_client(service_, r.scope.region, key_for_(r.scope.account));
    auto moved = LambdaCalls(*client).update_alias(r.shift.function_name, r.shift.alias, body, "");
    auto log = lamina::logger("api");
    if (!moved) {
        log->error("sam.shift_failed function={} alias={} error=\"{}\"", r.shift.function_name,
                   r.shift.alias, moved.error().message);
        r.next = r.shift.steps.size();  // give up this shift; the alias stays where it is
        return;
    }
    log->info("sam.shift_step function={} alias={} version={} weight={}", r.shift.function_name,
              r.shift.alias, r.shift.to_version, st.weight);
    ++r.next;
}

void TrafficShifter::run(const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    while (!stop.stop_requested()) {
        // the earliest due step
        Running* due = nullptr;
        std::chrono::steady_clock::time_point when{};
        for (auto it = running_.begin(); it != running_.end();) {
            Running& r = it->second;
            if (r.next >= r.shift.steps.size()) {
                it = running_.erase(it);
                continue;
            }
            auto t = r.start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(r.shift.steps[r.next].at_seconds));
            if (!due || t < when) {
                due = &r;
                when = t;
            }
            ++it;
        }
        if (!due) {
            cv_.wait(lock, stop, [&] { return !running_.empty(); });
            continue;
        }
        auto now = std::chrono::steady_clock::now();
        if (now < when) {
            cv_.wait_until(lock, stop, when, [] { return false; });
            continue;  // re-pick: a new schedule may have replaced it
        }
        // Steps that fell due together (lamina was down, or busy) collapse
        // into the latest: the alias goes straight to where it should be now.
        auto due_at = [&](std::size_t i) {
            return due->start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(due->shift.steps[i].at_seconds));
        };
        while (due->next + 1 < due->shift.steps.size() && due_at(due->next + 1) <= now) ++due->next;
        Running current = *due;
        std::string k = key(current.scope, current.shift);
        lock.unlock();
        step(current);
        lock.lock();
        // unless a new shift replaced it meanwhile, record the progress
        auto it = running_.find(k);
        if (it != running_.end() && it->second.start == current.start) {
            it->second.next = current.next;
            persist({record(k, current)});
        }
    }
}

}  // namespace lamina::sam
