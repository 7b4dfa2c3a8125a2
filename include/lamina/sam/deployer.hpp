#pragma once
// Applies a SAM / CloudFormation template to lamina through the Lambda API
// (the same control plane a user's client reaches), as a named stack:
//
//   plan   read the template, resolve parameters, conditions, Globals and
//          intrinsics, package code, and check every resource; a template
//          that cannot be applied is refused here, before anything changes;
//   apply  create or update each resource in dependency order (a failure
//          removes what this deployment created);
//   prune  delete what the previous deployment of the stack made and the
//          template no longer has;
//   shift  move AutoPublishAlias aliases to their new version, at once or as
//          a DeploymentPreference says (canary, linear), over time.
//
// The stack's record (logical id -> what lamina made for it) is kept by the
// server under /_lamina/stacks/{name}, so `lamina deploy` and
// `lamina serve --template` redeploy each other's stacks.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/sam/api_client.hpp"

namespace lamina::sam {

struct DeployOptions {
    std::string stack_name;
    std::map<std::string, std::string> parameter_overrides;
    double minute_seconds = 60;  // how long a DeploymentPreference minute lasts
    // Not empty: CodeUri/ContentUri folders are given as hot-reload code
    // (S3Bucket this name, S3Key the folder) instead of being zipped.
    std::string hot_reload_bucket;
};

// An alias moving from one version to another, one step at a time.
struct TrafficShift {
    std::string function_name, alias, from_version, to_version;
    struct Step {
        double at_seconds;  // from the start of the shift
        double weight;      // of to_version; 1.0 = the alias points at it
    };
    std::vector<Step> steps;
};

// "Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce"
// (any percentage and number of minutes) -> the steps after the first
// (which is applied at deploy time); nullopt for an unknown type.
std::optional<std::vector<TrafficShift::Step>> deployment_steps(const std::string& type,
                                                                double minute_seconds);

// Turns "Key=Value" and SAM's "ParameterKey=Key,ParameterValue=Value" into a map.
Result<std::map<std::string, std::string>> parse_parameter_overrides(
    const std::vector<std::string>& items);

struct DeployReport {
    std::vector<std::string> lines;    // what was done, one line per resource
    std::vector<std::string> skipped;  // resources lamina does not emulate
    std::map<std::string, std::string> outputs;
    std::map<std::string, std::string> function_urls;  // logical id -> URL
    std::vector<TrafficShift> shifts;                  // still to run
};

class Deployer {
public:
    using Say = std::function<void(const std::string&)>;
    Deployer(ApiClient& api, Say say);

    // Plans, applies and prunes; returns the traffic shifts still to run.
    Result<DeployReport> deploy(const std::filesystem::path& file, const DeployOptions& options);

    // Deletes everything the stack's last deployment made (layers with
    // RetentionPolicy Retain keep their versions) and forgets the stack.
    Status destroy(const std::string& stack_name);

    // Hands the shifts to the server, which runs them (see TrafficShifter).
    Status start_shifts(const std::string& stack_name, const std::vector<TrafficShift>& shifts);
    // Follows the aliases until every shift has ended (or stop is requested,
    // or longer than the shifts should take), printing what it sees.
    Status wait_for_shifts(const std::vector<TrafficShift>& shifts, const std::stop_token& stop);

    // Watches the template and the CodeUri / ContentUri folders of the last
    // deployment: a changed folder updates $LATEST of the functions using it
    // (a layer folder publishes a new layer version for them), a changed
    // template is deployed again. Returns when stop is requested.
    Status watch(const std::filesystem::path& file, const DeployOptions& options,
                 const std::stop_token& stop);

private:
    struct Watched {
        std::filesystem::path folder;
        std::string kind;  // "function" | "layer"
        std::string logical_id;
        std::string name;  // function name, or layer name
    };
    Status on_folder_changed(const Watched& w, const DeployOptions& options);

    ApiClient& api_;
    Say say_;
    std::vector<Watched> watched_;
    std::map<std::string, std::string> layer_arns_;  // layer logical id -> current version ARN
    std::map<std::string, std::vector<std::string>>
        layer_users_;  // layer logical id -> function names
};

}  // namespace lamina::sam
