#include "lamina/sam/traffic_shifter.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "lamina/common/log.hpp"

namespace lamina::sam {

using nlohmann::json;

json to_json(const std::vector<TrafficShift>& shifts) {
    json out = json::array();
    for (const auto& s : shifts) {
        json steps = json::array();
        for (const auto& st : s.steps) steps.push_back({{"AtSeconds", st.at_seconds}, {"Weight", st.weight}});
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
            TrafficShift t{s.at("FunctionName").get<std::string>(), s.at("Alias").get<std::string>(),
                           s.at("FromVersion").get<std::string>(), s.at("ToVersion").get<std::string>(), {}};
            for (const auto& st : s.at("Steps")) {
                double at = st.at("AtSeconds").get<double>(), w = st.at("Weight").get<double>();
                if (!(at >= 0 && at <= 7 * 24 * 3600) || !(w > 0 && w <= 1))
                    return fail(ErrorCode::InvalidRequestContent, "a shift step needs 0 <= AtSeconds <= 604800 and 0 < Weight <= 1");
                t.steps.push_back({at, w});
            }
            out.push_back(std::move(t));
        }
    } catch (const json::exception& e) {
        return fail(ErrorCode::InvalidRequestContent, std::string("malformed shifts: ") + e.what());
    }
    return out;
}

TrafficShifter::TrafficShifter(api::Service& service, KeyFor key_for)
    : service_(service), key_for_(std::move(key_for)), thread_([this](std::stop_token st) { run(st); }) {}

TrafficShifter::~TrafficShifter() { stop(); }

void TrafficShifter::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        cv_.notify_all();
        thread_.join();
    }
}

void TrafficShifter::schedule(const control::Scope& scope, std::vector<TrafficShift> shifts) {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto& s : shifts) {
        std::string key = scope.account + "/" + scope.region + "/" + s.function_name + "/" + s.alias;
        if (s.steps.empty()) {  // the alias was set directly: a shift in progress ends
            if (running_.erase(key))
                lamina::logger("api")->info("sam.shift_cancelled function={} alias={}", s.function_name, s.alias);
            continue;
        }
        lamina::logger("api")->info("sam.shift function={} alias={} from={} to={} steps={}", s.function_name, s.alias,
                                    s.from_version, s.to_version, s.steps.size());
        running_[key] = Running{scope, std::move(s), now, 0};  // replaces a shift in progress
    }
    cv_.notify_all();
}

void TrafficShifter::step(Running& r) {
    const auto& st = r.shift.steps[r.next];
    json body = {{"FunctionVersion", st.weight >= 1.0 ? r.shift.to_version : r.shift.from_version}};
    body["RoutingConfig"] = {{"AdditionalVersionWeights", json::object()}};
    if (st.weight < 1.0) body["RoutingConfig"]["AdditionalVersionWeights"][r.shift.to_version] = st.weight;
    auto client = make_service_client(service_, r.scope.region, key_for_(r.scope.account));
    auto reply = client->call("PUT", "/2015-03-31/functions/" + path_segment(r.shift.function_name) + "/aliases/" +
                                         path_segment(r.shift.alias), body.dump());
    auto log = lamina::logger("api");
    if (!reply || !reply->ok()) {
        log->error("sam.shift_failed function={} alias={} error=\"{}\"", r.shift.function_name, r.shift.alias,
                   reply ? reply->error_text() : reply.error().message);
        r.next = r.shift.steps.size();  // give up this shift; the alias stays where it is
        return;
    }
    log->info("sam.shift_step function={} alias={} version={} weight={}", r.shift.function_name, r.shift.alias,
              r.shift.to_version, st.weight);
    ++r.next;
}

void TrafficShifter::run(std::stop_token stop) {
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
        if (std::chrono::steady_clock::now() < when) {
            cv_.wait_until(lock, stop, when, [] { return false; });
            continue;  // re-pick: a new schedule may have replaced it
        }
        Running current = *due;
        std::string key = current.scope.account + "/" + current.scope.region + "/" + current.shift.function_name + "/" +
                          current.shift.alias;
        lock.unlock();
        step(current);
        lock.lock();
        // unless a new shift replaced it meanwhile, record the progress
        auto it = running_.find(key);
        if (it != running_.end() && it->second.start == current.start) it->second.next = current.next;
    }
}

}  // namespace lamina::sam
