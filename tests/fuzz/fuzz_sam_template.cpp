// The SAM / CloudFormation template loader (sam/template.cpp: YAML or JSON,
// short-form tags turned into long forms, the line of every node kept) and
// the intrinsic functions (sam/intrinsics.cpp) over whatever it produced:
// every resource's Properties, every Condition and every Output, evaluated
// with the template's own parameters and resources standing in.
//
// Input: the text of a template. Checked beyond the sanitizers: a refusal
// names the file, and so does every evaluation error.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_stack.hpp"
#include "lamina/sam/intrinsics.hpp"
#include "lamina/sam/template.hpp"

namespace {

using namespace lamina;
using nlohmann::json;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_sam_template: %s\n", what.c_str());
    std::abort();
}

void expect_located(const Error& e) {
    if (e.message.rfind("t.yaml", 0) != 0) finding("an error without the file: " + e.message);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto t = sam::parse_template(text, "t.yaml");
    if (!t) {
        expect_located(t.error());
        return 0;
    }
    sam::EvalContext ctx;
    ctx.tmpl = &*t;
    ctx.parameters = {{"AWS::Region", "us-east-1"},
                      {"AWS::AccountId", "123456789012"},
                      {"AWS::StackName", "fuzz"},
                      {"List", json::array({"a", "b"})}};
    if (t->doc.contains("Parameters") && t->doc["Parameters"].is_object())
        for (const auto& [name, _] : t->doc["Parameters"].items()) ctx.parameters[name] = "p";
    const json& resources = t->doc["Resources"];
    for (const auto& [id, _] : resources.items()) ctx.resources.insert(id);
    ctx.resource_value = [](const std::string& id, const std::string& attribute) -> Result<json> {
        if (attribute == "Missing")
            return fail(ErrorCode::InvalidParameterValue, "no attribute Missing");
        return json(id + (attribute.empty() ? "" : "." + attribute));
    };
    if (t->doc.contains("Conditions") && t->doc["Conditions"].is_object()) {
        for (const auto& [name, body] : t->doc["Conditions"].items()) {
            auto c = sam::evaluate_condition(body, "/Conditions/" + name, ctx);
            if (c)
                ctx.conditions[name] = *c;
            else
                expect_located(c.error());
        }
    }
    for (const auto& [id, spec] : resources.items()) {
        std::set<std::string> refs;
        sam::collect_references(spec, refs);
        if (!spec.is_object() || !spec.contains("Properties")) continue;
        auto v = sam::evaluate(spec["Properties"], "/Resources/" + id + "/Properties", ctx);
        if (!v) expect_located(v.error());
    }
    if (t->doc.contains("Outputs") && t->doc["Outputs"].is_object()) {
        for (const auto& [name, o] : t->doc["Outputs"].items()) {
            auto v = sam::evaluate(o, "/Outputs/" + name, ctx);
            if (!v) expect_located(v.error());
        }
    }
    return 0;
}
