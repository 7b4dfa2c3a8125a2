#pragma once
// CloudFormation's intrinsic functions over a template's JSON: Ref, Fn::GetAtt,
// Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64,
// and the condition functions (Fn::Equals, Fn::Not, Fn::And, Fn::Or,
// Condition). AWS::NoValue removes the value it stands for.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "lamina/common/error.hpp"
#include "lamina/sam/template.hpp"

namespace lamina::sam {

struct EvalContext {
    const Template* tmpl = nullptr;
    std::map<std::string, nlohmann::json>
        parameters;  // template parameters and AWS:: pseudo parameters
    std::map<std::string, bool> conditions;
    std::set<std::string> resources;  // logical ids (and SAM's generated ones)
    // The value of `Ref id` (attribute "") or `Fn::GetAtt [id, attribute]`.
    std::function<Result<nlohmann::json>(const std::string& id, const std::string& attribute)>
        resource_value;
};

// Evaluates every intrinsic in `v` (found at `pointer` in the template).
Result<nlohmann::json> evaluate(const nlohmann::json& v, const std::string& pointer,
                                const EvalContext& ctx);
// Evaluates a condition expression (the body of a Conditions entry).
Result<bool> evaluate_condition(const nlohmann::json& v, const std::string& pointer,
                                const EvalContext& ctx);
// The logical ids `v` refers to through Ref, Fn::GetAtt and Fn::Sub
// (pseudo parameters and template parameters included; callers filter).
void collect_references(const nlohmann::json& v, std::set<std::string>& out);

}  // namespace lamina::sam
