#include "lamina/sam/intrinsics.hpp"

#include <optional>

#include "lamina/common/encoding.hpp"

namespace lamina::sam {

using nlohmann::json;

namespace {

bool is_call(const json& v) {
    if (!v.is_object() || v.size() != 1) return false;
    const std::string& k = v.begin().key();
    return k == "Ref" || k.rfind("Fn::", 0) == 0;
}

std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class Evaluator {
public:
    explicit Evaluator(const EvalContext& ctx) : ctx_(ctx) {}

    // nullopt: AWS::NoValue
    Result<std::optional<json>> eval(const json& v, const std::string& p) {
        if (is_call(v))
            return call(v.begin().key(), v.begin().value(), p + "/" + esc(v.begin().key()));
        if (v.is_object()) {
            json out = json::object();
            for (const auto& [k, item] : v.items()) {
                auto r = eval(item, p + "/" + esc(k));
                if (!r) return std::unexpected(r.error());
                if (*r) out[k] = std::move(**r);
            }
            return std::optional<json>(std::move(out));
        }
        if (v.is_array()) {
            json out = json::array();
            for (std::size_t i = 0; i < v.size(); ++i) {
                auto r = eval(v[i], p + "/" + std::to_string(i));
                if (!r) return std::unexpected(r.error());
                if (*r) out.push_back(std::move(**r));
            }
            return std::optional<json>(std::move(out));
        }
        return std::optional<json>(v);
    }

    Result<bool> condition(const json& v, const std::string& p) {
        if (v.is_boolean()) return v.get<bool>();
        if (v.is_string() && (v == "true" || v == "false")) return v == "true";
        if (!v.is_object() || v.size() != 1)
            return err(p, "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition");
        const std::string& fn = v.begin().key();
        const json& arg = v.begin().value();
        std::string ap = p + "/" + esc(fn);
        if (fn == "Condition") {
            if (!arg.is_string()) return err(ap, "Condition takes the name of a condition");
            auto it = ctx_.conditions.find(arg.get<std::string>());
            if (it == ctx_.conditions.end())
                return err(ap, "unknown condition '" + arg.get<std::string>() + "'");
            return it->second;
        }
        if (fn == "Fn::Equals") {
            if (!arg.is_array() || arg.size() != 2)
                return err(ap, "Fn::Equals takes a list of two values");
            auto a = value(arg[0], ap + "/0");
            if (!a) return std::unexpected(a.error());
            auto b = value(arg[1], ap + "/1");
            if (!b) return std::unexpected(b.error());
            return scalar_text(*a) == scalar_text(*b);
        }
        if (fn == "Fn::Not") {
            if (!arg.is_array() || arg.size() != 1)
                return err(ap, "Fn::Not takes a list of one condition");
            auto a = condition(arg[0], ap + "/0");
            if (!a) return a;
            return !*a;
        }
        if (fn == "Fn::And" || fn == "Fn::Or") {
            if (!arg.is_array() || arg.size() < 2 || arg.size() > 10)
                return err(ap, fn + " takes a list of 2 to 10 conditions");
            bool any = false, all = true;
            for (std::size_t i = 0; i < arg.size(); ++i) {
                auto c = condition(arg[i], ap + "/" + std::to_string(i));
                if (!c) return c;
                any = any || *c;
                all = all && *c;
            }
            return fn == "Fn::And" ? all : any;
        }
        return err(
            ap,
            "'" + fn +
                "' is not a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)");
    }

private:
    static std::string esc(const std::string& k) {
        std::string out;
        for (char c : k)
            out += c == '/' ? std::string("~1") : c == '~' ? std::string("~0") : std::string(1, c);
        return out;
    }

    std::unexpected<Error> err(const std::string& p, const std::string& message) const {
        if (ctx_.tmpl) return std::unexpected(ctx_.tmpl->error_at(p, message));
        return std::unexpected(Error{ErrorCode::InvalidParameterValue, dotted(p) + ": " + message});
    }

    // A value that must be there (NoValue is an error).
    Result<json> value(const json& v, const std::string& p) {
        auto r = eval(v, p);
        if (!r) return std::unexpected(r.error());
        if (!*r) return err(p, "AWS::NoValue cannot be used here");
        return std::move(**r);
    }

    Result<std::string> string_value(const json& v, const std::string& p, const std::string& what) {
        auto r = value(v, p);
        if (!r) return std::unexpected(r.error());
        if (r->is_string() || r->is_number() || r->is_boolean()) return scalar_text(*r);
        return err(p, what + " must be a string");
    }

    Result<json> ref(const std::string& name, const std::string& p) {
        if (auto it = ctx_.parameters.find(name); it != ctx_.parameters.end()) return it->second;
        if (ctx_.resources.contains(name) && ctx_.resource_value) {
            auto r = ctx_.resource_value(name, "");
            if (!r) return err(p, r.error().message);
            return r;
        }
        if (name.rfind("AWS::", 0) == 0) return err(p, "unknown pseudo parameter " + name);
        return err(p, "Ref to '" + name +
                          "', which is neither a parameter nor a resource of this template");
    }

    Result<json> get_att(const std::string& id, const std::string& attribute,
                         const std::string& p) {
        if (!ctx_.resources.contains(id))
            return err(p,
                       "Fn::GetAtt names '" + id + "', which is not a resource of this template");
        auto r = ctx_.resource_value(id, attribute);
        if (!r) return err(p, r.error().message);
        return r;
    }

    Result<std::optional<json>> call(const std::string& fn, const json& arg, const std::string& p) {
        using R = Result<std::optional<json>>;
        auto some = [](json j) -> R { return std::optional<json>(std::move(j)); };
        if (fn == "Ref") {
            if (!arg.is_string()) return err(p, "Ref takes the name of a parameter or resource");
            if (arg == "AWS::NoValue") return std::optional<json>();
            auto r = ref(arg.get<std::string>(), p);
            if (!r) return std::unexpected(r.error());
            return some(std::move(*r));
        }
        if (fn == "Fn::GetAtt") {
            json a = arg;
            if (a.is_string()) {
                std::string s = a;
                auto dot = s.find('.');
                a = dot == std::string::npos ? json::array({s})
                                             : json::array({s.substr(0, dot), s.substr(dot + 1)});
            }
            if (!a.is_array() || a.size() != 2)
                return err(p, "Fn::GetAtt takes [LogicalId, Attribute]");
            auto id = string_value(a[0], p + "/0", "the logical id");
            if (!id) return std::unexpected(id.error());
            auto attribute = string_value(a[1], p + "/1", "the attribute");
            if (!attribute) return std::unexpected(attribute.error());
            auto r = get_att(*id, *attribute, p);
            if (!r) return std::unexpected(r.error());
            return some(std::move(*r));
        }
        if (fn == "Fn::Sub") return sub(arg, p);
        if (fn == "Fn::Join") {
            if (!arg.is_array() || arg.size() != 2)
                return err(p, "Fn::Join takes [delimiter, [values]]");
            auto delim = string_value(arg[0], p + "/0", "the delimiter");
            if (!delim) return std::unexpected(delim.error());
            auto list = value(arg[1], p + "/1");
            if (!list) return std::unexpected(list.error());
            if (!list->is_array())
                return err(p + "/1", "Fn::Join's second argument must be a list");
            std::string out;
            for (std::size_t i = 0; i < list->size(); ++i) {
                const json& item = (*list)[i];
                if (item.is_object() || item.is_array() || item.is_null())
                    return err(p + "/1/" + std::to_string(i), "Fn::Join joins strings only");
                if (i) out += *delim;
                out += scalar_text(item);
            }
            return some(out);
        }
        if (fn == "Fn::If") {
            if (!arg.is_array() || arg.size() != 3 || !arg[0].is_string())
                return err(p, "Fn::If takes [ConditionName, value if true, value if false]");
            auto it = ctx_.conditions.find(arg[0].get<std::string>());
            if (it == ctx_.conditions.end())
                return err(p + "/0", "unknown condition '" + arg[0].get<std::string>() + "'");
            return eval(arg[it->second ? 1 : 2], p + "/" + (it->second ? "1" : "2"));
        }
        if (fn == "Fn::Select") {
            if (!arg.is_array() || arg.size() != 2)
                return err(p, "Fn::Select takes [index, [values]]");
            auto index = value(arg[0], p + "/0");
            if (!index) return std::unexpected(index.error());
            std::int64_t i = -1;
            if (index->is_number_integer())
                i = index->get<std::int64_t>();
            else if (index->is_string()) {
                try {
                    std::size_t used = 0;
                    i = std::stoll(index->get<std::string>(), &used);
                    if (used != index->get<std::string>().size()) i = -1;
                } catch (const std::exception&) {
                    i = -1;
                }
            }
            auto list = value(arg[1], p + "/1");
            if (!list) return std::unexpected(list.error());
            if (!list->is_array())
                return err(p + "/1", "Fn::Select's second argument must be a list");
            if (i < 0 || i >= static_cast<std::int64_t>(list->size()))
                return err(p + "/0", "Fn::Select index " + scalar_text(*index) +
                                         " is out of range for a list of " +
                                         std::to_string(list->size()));
            return some((*list)[static_cast<std::size_t>(i)]);
        }
        if (fn == "Fn::Split") {
            if (!arg.is_array() || arg.size() != 2)
                return err(p, "Fn::Split takes [delimiter, string]");
            auto delim = string_value(arg[0], p + "/0", "the delimiter");
            if (!delim) return std::unexpected(delim.error());
            if (delim->empty()) return err(p + "/0", "Fn::Split's delimiter must not be empty");
            auto s = string_value(arg[1], p + "/1", "the source");
            if (!s) return std::unexpected(s.error());
            json out = json::array();
            std::size_t start = 0;
            while (true) {
                auto at = s->find(*delim, start);
                out.push_back(
                    s->substr(start, at == std::string::npos ? std::string::npos : at - start));
                if (at == std::string::npos) break;
                start = at + delim->size();
            }
            return some(out);
        }
        if (fn == "Fn::FindInMap") {
            if (!arg.is_array() || arg.size() != 3)
                return err(p, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]");
            std::string keys[3];
            for (int i = 0; i < 3; ++i) {
                auto k = string_value(arg[i], p + "/" + std::to_string(i), "a Fn::FindInMap key");
                if (!k) return std::unexpected(k.error());
                keys[i] = *k;
            }
            const json* maps = ctx_.tmpl && ctx_.tmpl->doc.contains("Mappings")
                                   ? &ctx_.tmpl->doc["Mappings"]
                                   : nullptr;
            if (!maps || !maps->contains(keys[0]))
                return err(p, "no mapping named '" + keys[0] + "' in Mappings");
            const json& m = (*maps)[keys[0]];
            if (!m.contains(keys[1]) || !m[keys[1]].is_object() || !m[keys[1]].contains(keys[2]))
                return err(
                    p, "mapping '" + keys[0] + "' has no entry [" + keys[1] + "][" + keys[2] + "]");
            return some(m[keys[1]][keys[2]]);
        }
        if (fn == "Fn::Base64") {
            auto s = string_value(arg, p, "Fn::Base64's argument");
            if (!s) return std::unexpected(s.error());
            return some(base64_encode(*s));
        }
        if (fn == "Fn::Equals" || fn == "Fn::Not" || fn == "Fn::And" || fn == "Fn::Or") {
            auto c = condition(json{{fn, arg}}, p.substr(0, p.rfind('/')));
            if (!c) return std::unexpected(c.error());
            return some(*c);
        }
        if (fn == "Fn::GetAZs" || fn == "Fn::ImportValue" || fn == "Fn::Cidr" ||
            fn == "Fn::Transform" || fn == "Fn::ToJsonString" || fn == "Fn::Length" ||
            fn == "Fn::ForEach")
            return err(p,
                       fn + " is not supported by lamina (it needs other AWS services or stacks)");
        return err(p, "unknown intrinsic function " + fn);
    }

    Result<std::optional<json>> sub(const json& arg, const std::string& p) {
        std::string text;
        std::map<std::string, json> vars;
        if (arg.is_string()) {
            text = arg;
        } else if (arg.is_array() && arg.size() == 2 && arg[0].is_string() && arg[1].is_object()) {
            text = arg[0];
            for (const auto& [k, v] : arg[1].items()) {
                auto r = value(v, p + "/1/" + esc(k));
                if (!r) return std::unexpected(r.error());
                vars[k] = std::move(*r);
            }
        } else {
            return err(p, "Fn::Sub takes a string or [string, {variables}]");
        }
        std::string out;
        std::size_t i = 0;
        while (i < text.size()) {
            auto open = text.find("${", i);
            if (open == std::string::npos) {
                out += text.substr(i);
                break;
            }
            out += text.substr(i, open - i);
            auto close = text.find('}', open);
            if (close == std::string::npos) return err(p, "Fn::Sub: '${' without a closing '}'");
            std::string name = text.substr(open + 2, close - open - 2);
            i = close + 1;
            if (!name.empty() && name[0] == '!') {  // ${!Literal} -> ${Literal}
                out += "${" + name.substr(1) + "}";
                continue;
            }
            auto trim = [](const std::string& s) {
                auto a = s.find_first_not_of(" \t");
                auto b = s.find_last_not_of(" \t");
                return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
            };
            name = trim(name);
            json v;
            if (auto it = vars.find(name); it != vars.end()) {
                v = it->second;
            } else if (ctx_.parameters.contains(name) || name.find('.') == std::string::npos) {
                auto r = ref(name, p);
                if (!r) return std::unexpected(r.error());
                v = std::move(*r);
            } else {
                auto dot = name.find('.');
                auto r = get_att(name.substr(0, dot), name.substr(dot + 1), p);
                if (!r) return std::unexpected(r.error());
                v = std::move(*r);
            }
            if (v.is_object() || v.is_array() || v.is_null())
                return err(p, "Fn::Sub: ${" + name + "} is not a string");
            out += scalar_text(v);
        }
        return std::optional<json>(out);
    }

    const EvalContext& ctx_;
};

void collect_sub(const std::string& text, std::set<std::string>& out) {
    std::size_t i = 0;
    while ((i = text.find("${", i)) != std::string::npos) {
        auto close = text.find('}', i);
        if (close == std::string::npos) return;
        std::string name = text.substr(i + 2, close - i - 2);
        if (!name.empty() && name[0] != '!') out.insert(name.substr(0, name.find('.')));
        i = close + 1;
    }
}

}  // namespace

Result<json> evaluate(const json& v, const std::string& pointer, const EvalContext& ctx) {
    Evaluator e(ctx);
    auto r = e.eval(v, pointer);
    if (!r) return std::unexpected(r.error());
    return *r ? std::move(**r) : json(nullptr);
}

Result<bool> evaluate_condition(const json& v, const std::string& pointer, const EvalContext& ctx) {
    Evaluator e(ctx);
    return e.condition(v, pointer);
}

void collect_references(const json& v, std::set<std::string>& out) {
    if (v.is_object()) {
        if (v.size() == 1) {
            const std::string& k = v.begin().key();
            const json& a = v.begin().value();
            if (k == "Ref" && a.is_string()) out.insert(a.get<std::string>());
            if (k == "Fn::GetAtt") {
                if (a.is_string())
                    out.insert(a.get<std::string>().substr(0, a.get<std::string>().find('.')));
                else if (a.is_array() && !a.empty() && a[0].is_string())
                    out.insert(a[0].get<std::string>());
            }
            if (k == "Fn::Sub") {
                if (a.is_string())
                    collect_sub(a, out);
                else if (a.is_array() && !a.empty() && a[0].is_string()) {
                    std::set<std::string> inner;
                    collect_sub(a[0], inner);
                    if (a.size() > 1 && a[1].is_object())
                        for (const auto& [name, _] : a[1].items()) inner.erase(name);
                    out.merge(inner);
                }
            }
        }
        for (const auto& [_, item] : v.items()) collect_references(item, out);
    } else if (v.is_array()) {
        for (const auto& item : v) collect_references(item, out);
    }
}

}  // namespace lamina::sam
