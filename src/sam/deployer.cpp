#include "lamina/sam/deployer.hpp"

#include <algorithm>
#include <cmath>
#include <regex>
#include <thread>

#include "lamina/common/regex.hpp"
#include "sam/deployment.hpp"
#include "sam/lambda_calls.hpp"

// The Deployer: one deployment's phases in order (plan.cpp, apply.cpp,
// prune.cpp), `lamina delete`, and the traffic shifts a deployment leaves.
// --watch is in watch.cpp.

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Deployment preferences and parameter overrides

std::optional<std::vector<TrafficShift::Step>> deployment_steps(const std::string& type,
                                                                double minute_seconds) {
    static const std::regex kCanary(R"((?:Lambda)?Canary([0-9]{1,2})Percent([0-9]{1,4})Minutes?)");
    static const std::regex kLinear(
        R"((?:Lambda)?Linear([0-9]{1,2})PercentEvery([0-9]{1,4})Minutes?)");
    std::smatch m;
    std::vector<TrafficShift::Step> steps;
    if (type == "AllAtOnce" || type == "LambdaAllAtOnce") return steps;
    if (regex_full_match(type, m, kCanary)) {
        double p = std::stod(m[1]), minutes = std::stod(m[2]);
        if (p <= 0 || p >= 100 || minutes <= 0) return std::nullopt;
        steps.push_back({0, p / 100});
        steps.push_back({minutes * minute_seconds, 1.0});
        return steps;
    }
    if (regex_full_match(type, m, kLinear)) {
        double p = std::stod(m[1]), minutes = std::stod(m[2]);
        if (p <= 0 || p >= 100 || minutes <= 0) return std::nullopt;
        int n = 0;
        for (double w = p; w < 100 - 1e-9; w += p, ++n)
            steps.push_back({n * minutes * minute_seconds, w / 100});
        steps.push_back({n * minutes * minute_seconds, 1.0});
        return steps;
    }
    return std::nullopt;
}

Result<std::map<std::string, std::string>> parse_parameter_overrides(
    const std::vector<std::string>& items) {
    static const std::regex kSam(R"(ParameterKey=([^,]+),ParameterValue=(.*))");
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        std::smatch m;
        if (regex_full_match(item, m, kSam)) {
            out[m[1]] = m[2];
            continue;
        }
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "--parameter-overrides expects Key=Value or "
                        "ParameterKey=Key,ParameterValue=Value, got '" +
                            item + "'");
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

Deployer::Deployer(ApiClient& api, Say say) : api_(api), say_(std::move(say)) {}

Result<DeployReport> Deployer::deploy(const fs::path& file, const DeployOptions& options) {
    LAMINA_TRY(t, load_template(file));
    LambdaCalls lambda(api_);
    Deployment run(lambda, say_, t, options);
    LAMINA_CHECK(run.plan());  // nothing is changed when any check fails
    auto report = run.apply();
    if (!report) return report;
    layer_arns_ = run.layer_arns();
    layer_users_ = run.layer_users();
    watched_.clear();
    for (const auto& [folder, kind, id, name] : run.watched()) {
        bool dup = false;
        for (const auto& w : watched_) dup = dup || (w.folder == folder && w.logical_id == id);
        if (!dup) watched_.push_back(Watched{folder, kind, id, name});
    }
    return report;
}

Status Deployer::destroy(const std::string& stack_name) {
    LambdaCalls lambda(api_);
    LAMINA_TRY(record, lambda.get_stack(stack_name));
    if (!record)
        return fail(ErrorCode::ResourceNotFound,
                    "no stack named " + stack_name + " was deployed here");
    json previous = record->value("Resources", json::object());
    json next = json::object();
    auto failures = prune_stack(lambda, previous, next, say_);
    if (!failures.empty()) {
        // the record keeps what is left, for `lamina delete` to try again
        (*record)["Resources"] = next;
        LAMINA_CHECK(lambda.put_stack(stack_name, *record));
        std::string list;
        for (const auto& f : failures) list += (list.empty() ? "" : "; ") + f;
        return fail(ErrorCode::Service,
                    "the stack " + stack_name + " was not deleted entirely: " + list);
    }
    return lambda.delete_stack(stack_name);
}

Status Deployer::start_shifts(const std::string& stack_name,
                              const std::vector<TrafficShift>& shifts) {
    if (shifts.empty()) return {};
    json body = {{"Shifts", json::array()}};
    for (const auto& sh : shifts) {
        json steps = json::array();
        for (const auto& st : sh.steps)
            steps.push_back({{"AtSeconds", st.at_seconds}, {"Weight", st.weight}});
        body["Shifts"].push_back({{"FunctionName", sh.function_name},
                                  {"Alias", sh.alias},
                                  {"FromVersion", sh.from_version},
                                  {"ToVersion", sh.to_version},
                                  {"Steps", steps}});
    }
    return LambdaCalls(api_).start_traffic_shifts(stack_name, body);
}

Status Deployer::wait_for_shifts(const std::vector<TrafficShift>& shifts,
                                 const std::stop_token& stop) {
    LambdaCalls lambda(api_);
    double longest = 0;
    for (const auto& s : shifts)
        for (const auto& st : s.steps) longest = std::max(longest, st.at_seconds);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(longest + 60));
    std::map<std::string, std::string> seen;
    std::set<std::string> done;
    std::size_t moving = 0;
    for (const auto& s : shifts) {
        if (s.steps.empty())
            done.insert(s.function_name + ":" + s.alias);  // nothing to follow
        else
            ++moving;
    }
    while (done.size() < shifts.size() && moving > 0) {
        if (stop.stop_requested()) return {};
        if (std::chrono::steady_clock::now() > deadline)
            return fail(ErrorCode::Service,
                        "the traffic shifts did not end in time (is the server still running?)");
        for (const auto& s : shifts) {
            std::string key = s.function_name + ":" + s.alias;
            if (done.contains(key)) continue;
            auto a = lambda.get_alias(s.function_name, s.alias, "");
            if (!a) return fail(ErrorCode::Service, "following " + key + ": " + a.error().message);
            std::string version = a->value("FunctionVersion", std::string());
            json weights = a->value("RoutingConfig", json::object())
                               .value("AdditionalVersionWeights", json::object());
            std::string now;
            if (version == s.to_version && weights.empty()) {
                now = "traffic  " + key + " -> version " + s.to_version + " (100%)";
                done.insert(key);
            } else if (weights.contains(s.to_version)) {
                char pct[32];
                std::snprintf(pct, sizeof pct, "%g%%",
                              std::round(weights[s.to_version].get<double>() * 1000) / 10);
                now = "traffic  " + key + " -> " + pct + " on version " + s.to_version;
            } else {
                return fail(ErrorCode::Service, key + " was moved by someone else (now version " +
                                                    version + "): the shift stopped");
            }
            if (seen[key] != now && say_) say_(now);
            seen[key] = now;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return {};
}

}  // namespace lamina::sam
