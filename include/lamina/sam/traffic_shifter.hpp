#pragma once
// The server's side of DeploymentPreference: like CodeDeploy, lamina moves an
// alias from its old version to its new one over time, whoever deployed it
// (`serve --template` or `lamina deploy`, which may exit meanwhile). Each step
// is an UpdateAlias through the Lambda API, signed for the stack's account.
// A new shift of the same alias replaces the one in progress. Shifts in
// progress are kept in the document store (kind "traffic_shift", with their
// wall-clock start), so a restart resumes them on the original schedule: steps
// that fell due while lamina was down collapse into the latest of them.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"
#include "lamina/sam/api_client.hpp"
#include "lamina/sam/deployer.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::api {
class Service;
}

namespace lamina::sam {

nlohmann::json to_json(const std::vector<TrafficShift>& shifts);
Result<std::vector<TrafficShift>> shifts_from_json(const nlohmann::json& j);

class TrafficShifter {
public:
    // key_for(account): the key to sign that account's requests with (none: unsigned)
    using KeyFor = std::function<std::optional<SigningKey>(const std::string& account)>;
    // `docs` may be null (nothing kept across restarts).
    TrafficShifter(api::Service& service, KeyFor key_for, store::DocumentStore* docs,
                   const Clock& clock);
    ~TrafficShifter();
    TrafficShifter(const TrafficShifter&) = delete;
    TrafficShifter& operator=(const TrafficShifter&) = delete;

    void schedule(const control::Scope& scope, std::vector<TrafficShift> shifts);
    // Resumes the shifts kept by an earlier run; a malformed record is
    // logged and dropped.
    Status restore();
    void stop();
    // Forgets every shift in progress and its record.
    void clear();

private:
    struct Running {
        control::Scope scope;
        TrafficShift shift;
        std::chrono::steady_clock::time_point start;
        std::int64_t started_ms = 0;  // wall clock, for the record
        std::size_t next = 0;
    };
    static std::string key(const control::Scope& scope, const TrafficShift& shift);
    // The mutation that records `r` (or forgets it once every step is done).
    store::Mutation record(const std::string& key, const Running& r) const;
    void persist(const std::vector<store::Mutation>& batch);
    void run(const std::stop_token& stop);
    void step(Running& r);

    api::Service& service_;
    KeyFor key_for_;
    store::DocumentStore* docs_;
    const Clock& clock_;
    std::mutex mu_;
    std::condition_variable_any cv_;
    std::map<std::string, Running> running_;  // "account/region/function/alias"
    std::jthread thread_;
};

}  // namespace lamina::sam
