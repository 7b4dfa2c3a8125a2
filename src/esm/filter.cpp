#include "lamina/esm/filter.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

namespace lamina::esm {

// A compiled pattern object: every field must match (AND) and, for each $or
// in it, one of its branches. Nested types keep the compiled form private.
struct PatternNode {
    enum class Kind {
        Exact,             // a string, number, boolean or null in the value list
        Prefix,            // {"prefix": "s"}
        Suffix,            // {"suffix": "s"}
        EqualsIgnoreCase,  // {"equals-ignore-case": "s"}
        AnythingBut,       // {"anything-but": v | [v...]}: strings or numbers
        AnythingButPrefix,
        AnythingButSuffix,
        AnythingButIgnoreCase,  // {"anything-but": {"equals-ignore-case": s | [s...]}}
        Numeric,                // {"numeric": [op, n (, op, n)]}
        Exists,                 // {"exists": true|false}
    };

    struct Matcher {
        Kind kind = Kind::Exact;
        nlohmann::json value;  // Exact
        std::string text;      // Prefix, Suffix, *IgnoreCase (lower-cased), AnythingBut*fix
        std::vector<nlohmann::json> values;  // AnythingBut; AnythingButIgnoreCase (lower-cased)
        std::optional<double> low;           // Numeric bounds
        std::optional<double> high;
        bool low_open = false;
        bool high_open = false;
        bool exists = true;  // Exists
    };

    struct Field {
        std::string key;
        std::vector<Matcher> values;          // a value list (OR), or
        std::unique_ptr<PatternNode> nested;  // an object of field patterns
    };

    std::vector<Field> fields;
    std::vector<std::vector<PatternNode>> any_of;  // each $or: one branch must match
};

namespace {

using nlohmann::json;
using Kind = PatternNode::Kind;
using Matcher = PatternNode::Matcher;

constexpr std::string_view kOr = "$or";

// Operator names may not be field names inside $or (EventBridge's rule).
bool is_operator_name(std::string_view key) {
    return key == "prefix" || key == "suffix" || key == "equals-ignore-case" ||
           key == "anything-but" || key == "numeric" || key == "exists" || key == "wildcard" ||
           key == "cidr";
}

// ASCII case folding: what equals-ignore-case compares.
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Characters, not bytes: UTF-8 continuation bytes do not count.
std::size_t char_count(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// ---- compiling -------------------------------------------------------------

std::optional<Matcher> compile_numeric(const json& v) {
    if (!v.is_array() || (v.size() != 2 && v.size() != 4)) return std::nullopt;
    for (std::size_t i = 0; i < v.size(); i += 2) {
        if (!v[i].is_string() || !v[i + 1].is_number()) return std::nullopt;
    }
    Matcher m;
    m.kind = Kind::Numeric;
    const auto& op = v[0].get_ref<const std::string&>();
    const double n = v[1].get<double>();
    if (v.size() == 2) {
        if (op == "=") {
            m.low = m.high = n;
        } else if (op == ">" || op == ">=") {
            m.low = n;
            m.low_open = op == ">";
        } else if (op == "<" || op == "<=") {
            m.high = n;
            m.high_open = op == "<";
        } else {
            return std::nullopt;
        }
        return m;
    }
    // a range: a lower bound, then an upper bound above it
    const auto& op2 = v[2].get_ref<const std::string&>();
    const double n2 = v[3].get<double>();
    if ((op != ">" && op != ">=") || (op2 != "<" && op2 != "<=") || !(n < n2)) return std::nullopt;
    m.low = n;
    m.low_open = op == ">";
    m.high = n2;
    m.high_open = op2 == "<";
    return m;
}

std::optional<Matcher> compile_anything_but(const json& v) {
    Matcher m;
    m.kind = Kind::AnythingBut;
    if (v.is_string() || v.is_number()) {
        m.values.push_back(v);
        return m;
    }
    if (v.is_array()) {
        // one type throughout: all strings or all numbers
        if (v.empty()) return std::nullopt;
        const bool strings = v.front().is_string();
        for (const json& e : v) {
            if (strings ? !e.is_string() : !e.is_number()) return std::nullopt;
            m.values.push_back(e);
        }
        return m;
    }
    if (!v.is_object() || v.size() != 1) return std::nullopt;
    const std::string& op = v.begin().key();
    const json& arg = v.begin().value();
    if (op == "prefix" || op == "suffix") {
        if (!arg.is_string() || arg.get_ref<const std::string&>().empty()) return std::nullopt;
        m.kind = op == "prefix" ? Kind::AnythingButPrefix : Kind::AnythingButSuffix;
        m.text = arg.get<std::string>();
        return m;
    }
    if (op != "equals-ignore-case") return std::nullopt;
    m.kind = Kind::AnythingButIgnoreCase;
    if (arg.is_string()) {
        m.values.emplace_back(lower(arg.get_ref<const std::string&>()));
        return m;
    }
    if (!arg.is_array() || arg.empty()) return std::nullopt;
    for (const json& e : arg) {
        if (!e.is_string()) return std::nullopt;
        m.values.emplace_back(lower(e.get_ref<const std::string&>()));
    }
    return m;
}

// One element of a value list.
std::optional<Matcher> compile_value(const json& v) {
    if (v.is_array()) return std::nullopt;
    if (!v.is_object()) {
        Matcher m;
        m.value = v;
        return m;
    }
    if (v.size() != 1) return std::nullopt;  // one operator per object
    const std::string& op = v.begin().key();
    const json& arg = v.begin().value();
    Matcher m;
    if (op == "prefix" || op == "suffix" || op == "equals-ignore-case") {
        if (!arg.is_string()) return std::nullopt;
        m.kind = op == "prefix"   ? Kind::Prefix
                 : op == "suffix" ? Kind::Suffix
                                  : Kind::EqualsIgnoreCase;
        m.text = m.kind == Kind::EqualsIgnoreCase ? lower(arg.get_ref<const std::string&>())
                                                  : arg.get<std::string>();
        return m;
    }
    if (op == "exists") {
        if (!arg.is_boolean()) return std::nullopt;
        m.kind = Kind::Exists;
        m.exists = arg.get<bool>();
        return m;
    }
    if (op == "numeric") return compile_numeric(arg);
    if (op == "anything-but") return compile_anything_but(arg);
    return std::nullopt;  // an operator Lambda does not know
}

bool compile_node(const json& object, PatternNode& out, bool in_or) {
    if (!object.is_object() || object.empty()) return false;
    for (const auto& [key, v] : object.items()) {
        if (key == kOr) {
            if (!v.is_array() || v.size() < 2) return false;
            std::vector<PatternNode> branches(v.size());
            for (std::size_t i = 0; i < v.size(); ++i) {
                if (!compile_node(v[i], branches[i], true)) return false;
            }
            out.any_of.push_back(std::move(branches));
            continue;
        }
        if (in_or && is_operator_name(key)) return false;
        PatternNode::Field field;
        field.key = key;
        if (v.is_object()) {
            field.nested = std::make_unique<PatternNode>();
            if (!compile_node(v, *field.nested, in_or)) return false;
        } else if (v.is_array() && !v.empty()) {
            for (const json& e : v) {
                auto m = compile_value(e);
                if (!m) return false;
                field.values.push_back(std::move(*m));
            }
        } else {
            return false;  // leaves must be non-empty value lists
        }
        out.fields.push_back(std::move(field));
    }
    return true;
}

// ---- matching --------------------------------------------------------------

// The record's body parsed as JSON, at most once per record.
class BodyCache {
public:
    // nullptr when the body is not JSON
    const json* parsed(const std::string& body) {
        if (!done_) {
            done_ = true;
            json j = json::parse(body, nullptr, false);
            if (!j.is_discarded()) value_ = std::move(j);
        }
        return value_ ? &*value_ : nullptr;
    }

private:
    bool done_ = false;
    std::optional<json> value_;
};

// The values a value list is matched against: scalars, arrays flattened
// (any element may match); objects are not leaves.
std::vector<const json*> leaves_of(const json* v) {
    std::vector<const json*> out;
    if (v == nullptr) return out;
    std::vector<const json*> todo{v};
    while (!todo.empty()) {
        const json* j = todo.back();
        todo.pop_back();
        if (j->is_array()) {
            for (auto it = j->rbegin(); it != j->rend(); ++it) todo.push_back(&*it);
        } else if (!j->is_object()) {
            out.push_back(j);
        }
    }
    return out;
}

// Numbers compare by value (5 == 5.0); everything else by type and value.
bool same_value(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
    return a == b;
}

bool starts_with(const json& v, const std::string& prefix) {
    return v.is_string() && v.get_ref<const std::string&>().starts_with(prefix);
}

bool ends_with(const json& v, const std::string& suffix) {
    return v.is_string() && v.get_ref<const std::string&>().ends_with(suffix);
}

bool in_range(const Matcher& m, double x) {
    if (m.low && (m.low_open ? !(x > *m.low) : !(x >= *m.low))) return false;
    if (m.high && (m.high_open ? !(x < *m.high) : !(x <= *m.high))) return false;
    return true;
}

bool matches_value(const Matcher& m, const json& v) {
    auto any_same = [&](const std::vector<json>& set, const json& x) {
        return std::any_of(set.begin(), set.end(), [&](const json& s) { return same_value(s, x); });
    };
    switch (m.kind) {
        case Kind::Exact:
            return same_value(m.value, v);
        case Kind::Prefix:
            return starts_with(v, m.text);
        case Kind::Suffix:
            return ends_with(v, m.text);
        case Kind::EqualsIgnoreCase:
            return v.is_string() && lower(v.get_ref<const std::string&>()) == m.text;
        case Kind::AnythingBut:
            return !any_same(m.values, v);
        case Kind::AnythingButPrefix:
            return !starts_with(v, m.text);
        case Kind::AnythingButSuffix:
            return !ends_with(v, m.text);
        case Kind::AnythingButIgnoreCase:
            return !(v.is_string() &&
                     any_same(m.values, json(lower(v.get_ref<const std::string&>()))));
        case Kind::Numeric:
            return v.is_number() && in_range(m, v.get<double>());
        case Kind::Exists:
            return false;  // decided on the whole field (matches_list)
    }
    return false;
}

// A value list: any element matches any leaf; exists looks at whether there are leaves.
bool matches_list(const std::vector<Matcher>& list, const std::vector<const json*>& leaves) {
    return std::any_of(list.begin(), list.end(), [&](const Matcher& m) {
        if (m.kind == Kind::Exists) return m.exists == !leaves.empty();
        return std::any_of(leaves.begin(), leaves.end(),
                           [&](const json* leaf) { return matches_value(m, *leaf); });
    });
}

bool matches_node(const PatternNode& node, const json* data, BodyCache& body, bool top);

// A nested pattern object against a field's value: an object, or any object
// in an array; anything else (or nothing) has none of the nested fields.
bool matches_nested(const PatternNode& node, const json* v, BodyCache& body) {
    if (v == nullptr || !v->is_array()) return matches_node(node, v, body, false);
    std::vector<const json*> objects;
    std::vector<const json*> todo{v};
    while (!todo.empty()) {
        const json* j = todo.back();
        todo.pop_back();
        if (j->is_array()) {
            for (const json& e : *j) todo.push_back(&e);
        } else if (j->is_object()) {
            objects.push_back(j);
        }
    }
    if (objects.empty()) return matches_node(node, nullptr, body, false);
    return std::any_of(objects.begin(), objects.end(),
                       [&](const json* o) { return matches_node(node, o, body, false); });
}

// The SQS body rule for a string `body`: an object pattern matches the body
// parsed as JSON; a value list matches the raw string when it is not JSON.
bool matches_body(const PatternNode::Field& field, const std::string& text, BodyCache& body) {
    const json* parsed = body.parsed(text);
    if (field.nested) return parsed != nullptr && matches_nested(*field.nested, parsed, body);
    if (parsed != nullptr) return false;
    json raw(text);
    return matches_list(field.values, {&raw});
}

bool matches_node(const PatternNode& node, const json* data, BodyCache& body, bool top) {
    for (const PatternNode::Field& field : node.fields) {
        const json* v = nullptr;
        if (data != nullptr && data->is_object()) {
            auto it = data->find(field.key);
            if (it != data->end()) v = &*it;
        }
        bool ok = false;
        if (top && v != nullptr && v->is_string() && field.key == "body") {
            ok = matches_body(field, v->get_ref<const std::string&>(), body);
        } else if (field.nested) {
            ok = matches_nested(*field.nested, v, body);
        } else {
            ok = matches_list(field.values, leaves_of(v));
        }
        if (!ok) return false;
    }
    return std::all_of(node.any_of.begin(), node.any_of.end(), [&](const auto& branches) {
        return std::any_of(branches.begin(), branches.end(),
                           [&](const PatternNode& b) { return matches_node(b, data, body, top); });
    });
}

}  // namespace

Result<FilterCriteria> FilterCriteria::parse(const std::vector<std::string>& patterns) {
    // The model's length constraint is checked first, for every pattern.
    std::vector<std::string> too_long;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        if (char_count(patterns[i]) > kMaxPatternLength) {
            too_long.push_back("Value '" + patterns[i] + "' at 'filterCriteria.filters." +
                               std::to_string(i + 1) +
                               ".member.pattern' failed to satisfy constraint: Member must have "
                               "length less than or equal to " +
                               std::to_string(kMaxPatternLength));
        }
    }
    if (!too_long.empty()) {
        std::string msg = std::to_string(too_long.size()) + (too_long.size() == 1
                                                                 ? " validation error detected: "
                                                                 : " validation errors detected: ");
        for (std::size_t i = 0; i < too_long.size(); ++i) msg += (i ? "; " : "") + too_long[i];
        return fail(ErrorCode::Validation, msg);
    }
    if (patterns.size() > kMaxFilters) {
        return fail(ErrorCode::InvalidParameterValue,
                    "The number of filters (" + std::to_string(patterns.size()) +
                        ") exceeds the maximum of " + std::to_string(kMaxFilters) + ".");
    }
    FilterCriteria out;
    for (const std::string& text : patterns) {
        json j = json::parse(text, nullptr, false);
        auto node = std::make_shared<PatternNode>();
        if (j.is_discarded() || !compile_node(j, *node, false)) {
            return fail(ErrorCode::InvalidParameterValue, kInvalidPatternMessage);
        }
        out.patterns_.push_back(std::move(node));
    }
    return out;
}

bool FilterCriteria::matches(const nlohmann::json& record) const {
    if (patterns_.empty()) return true;
    BodyCache body;
    return std::any_of(patterns_.begin(), patterns_.end(),
                       [&](const auto& p) { return matches_node(*p, &record, body, true); });
}

}  // namespace lamina::esm
