#include "lamina/sam/template.hpp"

#include <gtest/gtest.h>

#include "lamina/sam/deployer.hpp"
#include "lamina/sam/intrinsics.hpp"

namespace lamina::sam {
namespace {

using nlohmann::json;

Template parse(const std::string& text) {
    auto t = parse_template(text, "t.yaml");
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? *t : Template{};
}

TEST(TemplateTest, ShortFormTagsBecomeLongForm) {
    auto t = parse(
        "Resources:\n"
        "  A:\n"
        "    Type: X\n"
        "    Properties:\n"
        "      R: !Ref Param\n"
        "      G: !GetAtt Fn.Arn\n"
        "      S: !Sub '${AWS::Region}-x'\n"
        "      J: !Join [',', [a, b]]\n"
        "      N: 12\n"
        "      Q: '12'\n"
        "      B: true\n");
    const json& p = t.doc["Resources"]["A"]["Properties"];
    EXPECT_EQ(p["R"], json({{"Ref", "Param"}}));
    EXPECT_EQ(p["G"], json({{"Fn::GetAtt", {"Fn", "Arn"}}}));
    EXPECT_EQ(p["S"], json({{"Fn::Sub", "${AWS::Region}-x"}}));
    EXPECT_EQ(p["J"], json({{"Fn::Join", {",", {"a", "b"}}}}));
    EXPECT_EQ(p["N"], 12);
    EXPECT_EQ(p["Q"], "12");  // quoted stays a string
    EXPECT_EQ(p["B"], true);
    EXPECT_EQ(t.line_of("/Resources/A/Properties/G"), 6);
    EXPECT_EQ(t.line_of("/Resources/A/Properties/G/Fn::GetAtt/0"), 6);
}

TEST(TemplateTest, ErrorsNameFileAndLine) {
    auto bad = parse_template("Resources:\n  A: [x\n", "dir/t.yaml");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("dir/t.yaml:"), std::string::npos) << bad.error().message;
    auto dup = parse_template("Resources:\n  A: {Type: X}\n  A: {Type: Y}\n", "t.yaml");
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().message.find("t.yaml:3: duplicate key 'A'"), std::string::npos)
        << dup.error().message;
    auto empty = parse_template("AWSTemplateFormatVersion: '2010-09-09'\n", "t.yaml");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("no Resources"), std::string::npos);
}

TEST(TemplateTest, JsonTemplatesParseToo) {
    auto t = parse(R"({"Resources": {"A": {"Type": "X", "Properties": {"M": 128, "S": "s"}}}})");
    EXPECT_EQ(t.doc["Resources"]["A"]["Properties"]["M"], 128);
    EXPECT_EQ(t.doc["Resources"]["A"]["Properties"]["S"], "s");
}

EvalContext context(const Template& t) {
    EvalContext ctx;
    ctx.tmpl = &t;
    ctx.parameters = {
        {"AWS::Region", "eu-west-1"}, {"Env", "prod"}, {"List", json::array({"a", "b", "c"})}};
    ctx.conditions = {{"IsProd", true}};
    ctx.resources = {"Fn"};
    ctx.resource_value = [](const std::string& id, const std::string& attribute) -> Result<json> {
        if (attribute.empty()) return json(id + "-name");
        if (attribute == "Arn") return json("arn:" + id);
        return fail(ErrorCode::InvalidParameterValue, "no attribute " + attribute);
    };
    return ctx;
}

TEST(IntrinsicsTest, EvaluatesEveryFunction) {
    Template t;
    t.file = "t.yaml";
    auto ctx = context(t);
    auto eval = [&](const json& v) {
        auto r = evaluate(v, "/x", ctx);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : json();
    };
    EXPECT_EQ(eval({{"Ref", "Env"}}), "prod");
    EXPECT_EQ(eval({{"Ref", "Fn"}}), "Fn-name");
    EXPECT_EQ(eval({{"Fn::GetAtt", {"Fn", "Arn"}}}), "arn:Fn");
    EXPECT_EQ(eval({{"Fn::Sub", "${Env}-${AWS::Region}-${Fn.Arn}-${!Literal}"}}),
              "prod-eu-west-1-arn:Fn-${Literal}");
    EXPECT_EQ(eval({{"Fn::Sub", {"${A}/${Env}", {{"A", {{"Ref", "Fn"}}}}}}}), "Fn-name/prod");
    EXPECT_EQ(eval({{"Fn::Join", {"-", {"a", {{"Ref", "Env"}}, 3}}}}), "a-prod-3");
    EXPECT_EQ(eval({{"Fn::Select", {"1", {{"Ref", "List"}}}}}), "b");
    EXPECT_EQ(eval({{"Fn::Split", {",", "x,y,,z"}}}), json({"x", "y", "", "z"}));
    EXPECT_EQ(eval({{"Fn::If", {"IsProd", "big", "small"}}}), "big");
    EXPECT_EQ(eval({{"Fn::Base64", "hi"}}), "aGk=");
    // AWS::NoValue drops the key or item it stands for
    EXPECT_EQ(eval({{"k", {{"Fn::If", {"IsProd", {{"Ref", "AWS::NoValue"}}, 1}}}}, {"j", 2}}),
              json({{"j", 2}}));
    EXPECT_EQ(eval(json::array({1, {{"Ref", "AWS::NoValue"}}, 3})), json({1, 3}));
}

TEST(IntrinsicsTest, ErrorsSayWhatIsWrong) {
    Template t;
    t.file = "t.yaml";
    t.lines["/x"] = 7;
    auto ctx = context(t);
    auto message = [&](const json& v) {
        auto r = evaluate(v, "/x", ctx);
        EXPECT_FALSE(r);
        return r ? std::string() : r.error().message;
    };
    EXPECT_EQ(message({{"Fn::Nope", 1}}),
              "t.yaml:7: x.Fn::Nope: unknown intrinsic function Fn::Nope");
    EXPECT_NE(message({{"Ref", "Missing"}})
                  .find("Ref to 'Missing', which is neither a parameter nor a resource"),
              std::string::npos);
    EXPECT_NE(message({{"Fn::GetAtt", {"Fn", "Nope"}}}).find("no attribute Nope"),
              std::string::npos);
    EXPECT_NE(message({{"Fn::Select", {9, {"a"}}}}).find("out of range"), std::string::npos);
    EXPECT_NE(message({{"Fn::If", {"Unknown", 1, 2}}}).find("unknown condition 'Unknown'"),
              std::string::npos);
    EXPECT_NE(message({{"Fn::ImportValue", "x"}}).find("not supported by lamina"),
              std::string::npos);
    EXPECT_NE(message({{"Fn::Sub", "${Env"}}).find("without a closing"), std::string::npos);
}

TEST(IntrinsicsTest, Conditions) {
    Template t;
    auto ctx = context(t);
    auto cond = [&](const json& v) { return *evaluate_condition(v, "/c", ctx); };
    EXPECT_TRUE(cond({{"Fn::Equals", {{{"Ref", "Env"}}, "prod"}}}));
    EXPECT_FALSE(cond({{"Fn::Not", {{{"Condition", "IsProd"}}}}}));
    EXPECT_TRUE(cond({{"Fn::Or", {{{"Fn::Equals", {1, 2}}}, {{"Condition", "IsProd"}}}}}));
    EXPECT_FALSE(cond({{"Fn::And", {{{"Fn::Equals", {1, 2}}}, {{"Condition", "IsProd"}}}}}));
}

TEST(IntrinsicsTest, CollectsReferences) {
    std::set<std::string> refs;
    collect_references(
        json{{"a", {{"Ref", "A"}}},
             {"b", {{"Fn::GetAtt", "B.Arn"}}},
             {"c", {{"Fn::Sub", {"${C}-${D.Arn}-${V}-${!E}", {{"V", {{"Ref", "F"}}}}}}}}},
        refs);
    EXPECT_EQ(refs, (std::set<std::string>{"A", "B", "C", "D", "F"}));
}

TEST(DeploymentTest, CanaryAndLinearSteps) {
    auto canary = deployment_steps("Canary10Percent5Minutes", 60);
    ASSERT_TRUE(canary);
    ASSERT_EQ(canary->size(), 2u);
    EXPECT_DOUBLE_EQ((*canary)[0].weight, 0.1);
    EXPECT_DOUBLE_EQ((*canary)[0].at_seconds, 0);
    EXPECT_DOUBLE_EQ((*canary)[1].weight, 1.0);
    EXPECT_DOUBLE_EQ((*canary)[1].at_seconds, 300);
    auto linear = deployment_steps("Linear10PercentEvery1Minute", 2);
    ASSERT_TRUE(linear);
    ASSERT_EQ(linear->size(), 10u);  // 10%..90% then 100%
    EXPECT_DOUBLE_EQ(linear->at(8).weight, 0.9);
    EXPECT_DOUBLE_EQ(linear->at(9).weight, 1.0);
    EXPECT_DOUBLE_EQ(linear->at(9).at_seconds, 18);
    EXPECT_TRUE(deployment_steps("AllAtOnce", 60)->empty());
    EXPECT_FALSE(deployment_steps("Canary0Percent5Minutes", 60));
    EXPECT_FALSE(deployment_steps("Sideways", 60));
}

TEST(DeploymentTest, ParameterOverrides) {
    auto p = parse_parameter_overrides({"A=1", "ParameterKey=B,ParameterValue=x=y", "C="});
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, (std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}, {"C", ""}}));
    EXPECT_FALSE(parse_parameter_overrides({"novalue"}));
}

}  // namespace
}  // namespace lamina::sam

namespace lamina::sam {
namespace {

// Found by fuzz_sam_template: bytes that are not UTF-8 reached the intrinsic
// functions, whose JSON writer threw on them.
TEST(TemplateTest, TextThatIsNotUtf8IsRefusedWithItsLine) {
    auto t = parse_template("Resources:\n  A:\n    Type: X\n    Properties: {P: \"caf\xe9\"}\n",
                            "t.yaml");
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message, "t.yaml:4: not valid UTF-8");
    auto key = parse_template("Resources:\n  \xff\xfe: {Type: X}\n", "t.yaml");
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().message, "t.yaml:2: not valid UTF-8");
    auto tag = parse_template("Resources:\n  A: {Type: X, Properties: {R: !Ref \"\xc0\xaf\"}}\n",
                              "t.yaml");
    ASSERT_FALSE(tag);
    EXPECT_NE(tag.error().message.find("not valid UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace lamina::sam
