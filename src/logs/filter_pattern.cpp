#include "lamina/logs/filter_pattern.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "lamina/logs/log_regex.hpp"

namespace lamina::logs {

namespace {

using json = nlohmann::json;

enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge, IsNull, IsTrue, IsFalse, Exists, NotExists };

// AWS takes at most this many %regex% terms in one pattern.
constexpr int kMaxRegexes = 2;

// A right-hand side: a number, a string that may hold '*' wildcards, or a %regex%.
struct Value {
    bool numeric = false;
    double number = 0;
    std::string text;
    std::optional<LogRegex> regex;
};

// A JSON selector step: a member name, an array index, or [*] (every element).
struct AnyIndex {};
using Step = std::variant<std::string, std::size_t, AnyIndex>;

struct JsonExpr {
    enum class Kind { And, Or, Test } kind = Kind::Test;
    std::unique_ptr<JsonExpr> left, right;
    std::vector<Step> path;
    Cmp cmp = Cmp::Eq;
    Value value;
};

// One element of a space-delimited pattern: "..." or a named field with
// conditions joined left to right by && / ||.
struct SpaceField {
    bool ellipsis = false;
    struct Cond {
        Cmp cmp;
        Value value;
        bool or_previous = false;
    };
    std::vector<Cond> conds;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::optional<double> to_number(std::string_view s) {
    if (s.empty()) return std::nullopt;
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
    return d;
}

Error invalid() { return Error{ErrorCode::InvalidParameterValue, "Invalid filter pattern"}; }

// Reads a double-quoted string at s[i] == '"' (backslash escapes " and \); i ends past it.
std::optional<std::string> quoted(std::string_view s, std::size_t& i) {
    std::string out;
    for (++i; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\\' && i + 1 < s.size()) {
            out += s[++i];
        } else if (c == '"') {
            ++i;
            return out;
        } else {
            out += c;
        }
    }
    return std::nullopt;
}

bool numeric_cmp(Cmp c) { return c == Cmp::Lt || c == Cmp::Le || c == Cmp::Gt || c == Cmp::Ge; }

bool compare_number(Cmp c, double a, double b) {
    switch (c) {
        case Cmp::Eq:
            return a == b;
        case Cmp::Ne:
            return a != b;
        case Cmp::Lt:
            return a < b;
        case Cmp::Le:
            return a <= b;
        case Cmp::Gt:
            return a > b;
        case Cmp::Ge:
            return a >= b;
        default:
            return false;
    }
}

// Reads = != < <= > >= at s[i]; i ends past it.
std::optional<Cmp> read_op(std::string_view s, std::size_t& i) {
    auto two = [&](char a, char b) { return i + 1 < s.size() && s[i] == a && s[i + 1] == b; };
    if (two('!', '=')) return i += 2, Cmp::Ne;
    if (two('<', '=')) return i += 2, Cmp::Le;
    if (two('>', '=')) return i += 2, Cmp::Ge;
    if (i < s.size() && s[i] == '=') return ++i, Cmp::Eq;
    if (i < s.size() && s[i] == '<') return ++i, Cmp::Lt;
    if (i < s.size() && s[i] == '>') return ++i, Cmp::Gt;
    return std::nullopt;
}

// A %regex% at s[i] == '%'; i ends past it. Counts it in `regexes` (at most kMaxRegexes).
std::optional<LogRegex> read_regex(std::string_view s, std::size_t& i, int& regexes) {
    std::size_t end = s.find('%', i + 1);
    if (end == std::string_view::npos || ++regexes > kMaxRegexes) return std::nullopt;
    auto re = LogRegex::parse(s.substr(i + 1, end - i - 1));
    i = end + 1;
    return re;
}

// A value after an operator: "quoted" (a string), a %regex%, or a bare word (a number when
// it reads as one).
std::optional<Value> read_value(std::string_view s, std::size_t& i, std::string_view stops,
                                int& regexes) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) return std::nullopt;
    Value v;
    if (s[i] == '%') {
        v.regex = read_regex(s, i, regexes);
        if (!v.regex) return std::nullopt;
        return v;
    }
    if (s[i] == '"') {
        auto q = quoted(s, i);
        if (!q) return std::nullopt;
        v.text = std::move(*q);
        return v;
    }
    std::size_t start = i;
    while (i < s.size() && !is_space(s[i]) && stops.find(s[i]) == std::string_view::npos) ++i;
    if (i == start) return std::nullopt;
    v.text = std::string(s.substr(start, i - start));
    if (auto n = to_number(v.text)) {
        v.numeric = true;
        v.number = *n;
    }
    return v;
}

// ---- JSON patterns ----

class JsonParser {
public:
    explicit JsonParser(std::string_view s) : s_(s) {}

    Result<std::unique_ptr<JsonExpr>> parse_or() {
        auto left = parse_and();
        if (!left) return left;
        while (eat("||")) {
            auto right = parse_and();
            if (!right) return right;
            left = join(JsonExpr::Kind::Or, std::move(*left), std::move(*right));
        }
        return left;
    }

    bool at_end() {
        skip();
        return i_ >= s_.size();
    }

private:
    static std::unique_ptr<JsonExpr> join(JsonExpr::Kind k, std::unique_ptr<JsonExpr> l,
                                          std::unique_ptr<JsonExpr> r) {
        auto e = std::make_unique<JsonExpr>();
        e->kind = k;
        e->left = std::move(l);
        e->right = std::move(r);
        return e;
    }

    Result<std::unique_ptr<JsonExpr>> parse_and() {
        auto left = parse_unary();
        if (!left) return left;
        while (eat("&&")) {
            auto right = parse_unary();
            if (!right) return right;
            left = join(JsonExpr::Kind::And, std::move(*left), std::move(*right));
        }
        return left;
    }

    Result<std::unique_ptr<JsonExpr>> parse_unary() {
        if (eat("(")) {
            if (++depth_ > 64) return std::unexpected(invalid());
            auto inner = parse_or();
            --depth_;
            if (!inner || !eat(")")) return std::unexpected(invalid());
            return inner;
        }
        return parse_test();
    }

    Result<std::unique_ptr<JsonExpr>> parse_test() {
        skip();
        auto e = std::make_unique<JsonExpr>();
        if (i_ >= s_.size() || s_[i_] != '$') return std::unexpected(invalid());
        ++i_;
        while (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == '[')) {
            if (s_[i_] == '.') {
                std::size_t start = ++i_;
                while (i_ < s_.size() && name_char(s_[i_])) ++i_;
                if (i_ == start) return std::unexpected(invalid());
                e->path.emplace_back(std::string(s_.substr(start, i_ - start)));
            } else if (s_.substr(i_).starts_with("[*]")) {
                i_ += 3;
                e->path.emplace_back(AnyIndex{});
            } else {
                std::size_t start = ++i_;
                while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
                if (i_ == start || i_ >= s_.size() || s_[i_] != ']' || i_ - start > 9)
                    return std::unexpected(invalid());
                e->path.emplace_back(std::stoul(std::string(s_.substr(start, i_ - start))));
                ++i_;
            }
        }
        if (e->path.empty()) return std::unexpected(invalid());
        skip();
        if (word("IS")) {
            if (word("NULL"))
                e->cmp = Cmp::IsNull;
            else if (word("TRUE"))
                e->cmp = Cmp::IsTrue;
            else if (word("FALSE"))
                e->cmp = Cmp::IsFalse;
            else
                return std::unexpected(invalid());
            return e;
        }
        if (word("NOT")) {
            if (!word("EXISTS")) return std::unexpected(invalid());
            e->cmp = Cmp::NotExists;
            return e;
        }
        if (word("EXISTS")) {
            e->cmp = Cmp::Exists;
            return e;
        }
        auto op = read_op(s_, i_);
        if (!op) return std::unexpected(invalid());
        e->cmp = *op;
        auto v = read_value(s_, i_, "()&|", regexes_);
        if (!v || (numeric_cmp(*op) && !v->numeric)) return std::unexpected(invalid());
        e->value = std::move(*v);
        return e;
    }

    static bool name_char(char c) {
        return !is_space(c) && std::string_view(".[]=!<>()&|\"").find(c) == std::string_view::npos;
    }

    void skip() {
        while (i_ < s_.size() && is_space(s_[i_])) ++i_;
    }

    bool eat(std::string_view tok) {
        skip();
        if (s_.substr(i_).starts_with(tok)) {
            i_ += tok.size();
            return true;
        }
        return false;
    }

    bool word(std::string_view w) {
        skip();
        if (!s_.substr(i_).starts_with(w)) return false;
        std::size_t end = i_ + w.size();
        if (end < s_.size() && !is_space(s_[end]) && s_[end] != ')' && s_[end] != '&' &&
            s_[end] != '|')
            return false;
        i_ = end;
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
    int depth_ = 0;
    int regexes_ = 0;
};

// The values `path` selects ([*] selects every element of an array).
void select(const json& at, const std::vector<Step>& path, std::size_t k,
            std::vector<const json*>& out) {
    if (k == path.size()) {
        out.push_back(&at);
        return;
    }
    const Step& step = path[k];
    if (const auto* name = std::get_if<std::string>(&step)) {
        if (!at.is_object()) return;
        auto it = at.find(*name);
        if (it != at.end()) select(*it, path, k + 1, out);
    } else if (const auto* index = std::get_if<std::size_t>(&step)) {
        if (at.is_array() && *index < at.size()) select(at[*index], path, k + 1, out);
    } else if (at.is_array()) {
        for (const auto& element : at) select(element, path, k + 1, out);
    }
}

bool test_value(Cmp cmp, const Value& v, const json* field) {
    switch (cmp) {
        case Cmp::Exists:
            return field != nullptr;
        case Cmp::NotExists:
            return field == nullptr;
        case Cmp::IsNull:
            return field && field->is_null();
        case Cmp::IsTrue:
            return field && field->is_boolean() && field->get<bool>();
        case Cmp::IsFalse:
            return field && field->is_boolean() && !field->get<bool>();
        default:
            break;
    }
    if (!field) return false;
    if (v.regex) {
        if (!field->is_string() && !field->is_boolean() && !field->is_number()) return false;
        bool found =
            v.regex->search(field->is_string() ? field->get<std::string>() : field->dump());
        return cmp == Cmp::Eq ? found : !found;
    }
    if (field->is_number() && v.numeric) return compare_number(cmp, field->get<double>(), v.number);
    if (numeric_cmp(cmp)) return false;
    std::string text;
    if (field->is_string())
        text = field->get<std::string>();
    else if (field->is_boolean() || field->is_number())
        text = field->dump();
    else
        return false;
    bool eq = glob_match(v.text, text);
    return cmp == Cmp::Eq ? eq : !eq;
}

bool eval(const JsonExpr& e, const json& doc) {
    switch (e.kind) {
        case JsonExpr::Kind::And:
            return eval(*e.left, doc) && eval(*e.right, doc);
        case JsonExpr::Kind::Or:
            return eval(*e.left, doc) || eval(*e.right, doc);
        case JsonExpr::Kind::Test:
            break;
    }
    std::vector<const json*> fields;
    select(doc, e.path, 0, fields);
    if (e.cmp == Cmp::NotExists) return fields.empty();
    if (fields.empty()) return test_value(e.cmp, e.value, nullptr);
    for (const json* f : fields)
        if (test_value(e.cmp, e.value, f)) return true;
    return false;
}

// The longest '*'-free run of a string value (what the message must contain).
std::string literal_core(const std::string& glob) {
    std::string best, cur;
    for (char c : glob) {
        if (c == '*') {
            if (cur.size() > best.size()) best = cur;
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (cur.size() > best.size()) best = cur;
    // what a JSON encoder may escape cannot be searched for as it is
    for (char c : best)
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
            static_cast<unsigned char>(c) >= 0x80 || c == '/')
            return {};
    return best;
}

void json_required(const JsonExpr& e, std::vector<std::vector<std::string>>& out) {
    if (e.kind == JsonExpr::Kind::And) {
        json_required(*e.left, out);
        json_required(*e.right, out);
    } else if (e.kind == JsonExpr::Kind::Test && e.cmp == Cmp::Eq && !e.value.numeric &&
               !e.value.regex) {
        if (auto core = literal_core(e.value.text); !core.empty()) out.push_back({core});
    }
}

// ---- space-delimited patterns ----

Result<std::vector<SpaceField>> parse_space(std::string_view s) {
    std::vector<SpaceField> fields;
    std::size_t i = 0;
    int regexes = 0;
    auto skip = [&] {
        while (i < s.size() && is_space(s[i])) ++i;
    };
    while (true) {
        skip();
        SpaceField f;
        if (s.substr(i).starts_with("...")) {
            f.ellipsis = true;
            i += 3;
        } else {
            bool first = true, or_next = false;
            while (true) {
                skip();
                std::size_t start = i;
                while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) ||
                                        s[i] == '_' || s[i] == '-'))
                    ++i;
                if (i == start) return std::unexpected(invalid());
                skip();
                if (i < s.size() && s[i] != ',' && s[i] != '&' && s[i] != '|') {
                    auto op = read_op(s, i);
                    if (!op) return std::unexpected(invalid());
                    auto v = read_value(s, i, ",&|", regexes);
                    if (!v || (numeric_cmp(*op) && !v->numeric)) return std::unexpected(invalid());
                    f.conds.push_back({*op, std::move(*v), or_next});
                } else if (!first) {
                    return std::unexpected(invalid());  // "a && b" needs a condition on b
                }
                first = false;
                skip();
                if (s.substr(i).starts_with("&&")) {
                    i += 2, or_next = false;
                } else if (s.substr(i).starts_with("||")) {
                    i += 2, or_next = true;
                } else {
                    break;
                }
            }
        }
        fields.push_back(std::move(f));
        skip();
        if (i >= s.size()) break;
        if (s[i] != ',') return std::unexpected(invalid());
        ++i;
    }
    return fields;
}

// A message's fields: split on spaces, "quoted" and [bracketed] runs kept whole (without their marks).
std::vector<std::string_view> split_fields(std::string_view m) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < m.size()) {
        while (i < m.size() && is_space(m[i])) ++i;
        if (i >= m.size()) break;
        char close = m[i] == '"' ? '"' : m[i] == '[' ? ']' : '\0';
        if (close) {
            std::size_t end = m.find(close, i + 1);
            if (end != std::string_view::npos) {
                out.push_back(m.substr(i + 1, end - i - 1));
                i = end + 1;
                continue;
            }
        }
        std::size_t start = i;
        while (i < m.size() && !is_space(m[i])) ++i;
        out.push_back(m.substr(start, i - start));
    }
    return out;
}

bool field_ok(const SpaceField& f, std::string_view text) {
    bool result = true;
    for (std::size_t k = 0; k < f.conds.size(); ++k) {
        const auto& c = f.conds[k];
        bool ok;
        auto n = to_number(text);
        if (c.value.regex)
            ok = c.value.regex->search(text) == (c.cmp == Cmp::Eq);
        else if (c.value.numeric && n)
            ok = compare_number(c.cmp, *n, c.value.number);
        else if (numeric_cmp(c.cmp))
            ok = false;
        else
            ok = glob_match(c.value.text, text) == (c.cmp == Cmp::Eq);
        result = k == 0 ? ok : c.or_previous ? (result || ok) : (result && ok);
    }
    return result;
}

bool match_fields(const std::vector<SpaceField>& p, std::size_t pi,
                  const std::vector<std::string_view>& m, std::size_t mi, int& budget) {
    if (--budget < 0) return false;
    if (pi == p.size()) return mi == m.size();
    if (p[pi].ellipsis) {
        for (std::size_t k = mi; k <= m.size(); ++k)
            if (match_fields(p, pi + 1, m, k, budget)) return true;
        return false;
    }
    if (mi >= m.size() || !field_ok(p[pi], m[mi])) return false;
    return match_fields(p, pi + 1, m, mi + 1, budget);
}

// A term of an unstructured pattern: a substring, or a %regex%.
struct Term {
    std::string text;
    std::optional<LogRegex> regex;

    bool in(std::string_view message) const {
        return regex ? regex->search(message) : message.find(text) != std::string_view::npos;
    }
};

}  // namespace

struct FilterPattern::Node {
    enum class Kind { Terms, Json, Space } kind = Kind::Terms;
    std::vector<Term> all, any, none;
    std::unique_ptr<JsonExpr> json;
    std::vector<SpaceField> fields;
};

FilterPattern::FilterPattern() = default;
FilterPattern::~FilterPattern() = default;
FilterPattern::FilterPattern(FilterPattern&&) noexcept = default;
FilterPattern& FilterPattern::operator=(FilterPattern&&) noexcept = default;

bool glob_match(std::string_view glob, std::string_view text) {
    // iterative wildcard match with one backtrack point (linear-ish, no recursion)
    std::size_t g = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (g < glob.size() && glob[g] == '*') {
            star = g++;
            mark = t;
        } else if (g < glob.size() && glob[g] == text[t]) {
            ++g, ++t;
        } else if (star != std::string_view::npos) {
            g = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (g < glob.size() && glob[g] == '*') ++g;
    return g == glob.size();
}

Result<FilterPattern> FilterPattern::parse(std::string_view text) {
    FilterPattern out;
    std::size_t b = 0, e = text.size();
    while (b < e && is_space(text[b])) ++b;
    while (e > b && is_space(text[e - 1])) --e;
    std::string_view s = text.substr(b, e - b);
    if (s.empty()) return out;
    auto node = std::make_shared<Node>();
    if (s.front() == '{') {
        if (s.back() != '}') return std::unexpected(invalid());
        JsonParser p(s.substr(1, s.size() - 2));
        auto expr = p.parse_or();
        if (!expr || !p.at_end()) return std::unexpected(invalid());
        node->kind = Node::Kind::Json;
        node->json = std::move(*expr);
        json_required(*node->json, out.required_);
    } else if (s.front() == '[') {
        if (s.back() != ']') return std::unexpected(invalid());
        auto fields = parse_space(s.substr(1, s.size() - 2));
        if (!fields) return std::unexpected(fields.error());
        node->kind = Node::Kind::Space;
        node->fields = std::move(*fields);
    } else {
        std::size_t i = 0;
        int regexes = 0;
        while (i < s.size()) {
            while (i < s.size() && is_space(s[i])) ++i;
            if (i >= s.size()) break;
            char mark = s[i] == '?' || s[i] == '-' ? s[i] : '\0';
            if (mark) ++i;
            Term term;
            if (i < s.size() && s[i] == '%') {
                term.regex = read_regex(s, i, regexes);
                if (!term.regex || (i < s.size() && !is_space(s[i])))
                    return std::unexpected(invalid());
                (mark == '?'   ? node->any
                 : mark == '-' ? node->none
                               : node->all)
                    .push_back(std::move(term));
                continue;
            }
            if (i < s.size() && s[i] == '"') {
                auto q = quoted(s, i);
                if (!q) return std::unexpected(invalid());
                term.text = std::move(*q);
                if (i < s.size() && !is_space(s[i])) return std::unexpected(invalid());
            } else {
                std::size_t start = i;
                while (i < s.size() && !is_space(s[i])) {
                    if (std::string_view("{}[]()\"=<>!&|,").find(s[i]) != std::string_view::npos)
                        return std::unexpected(invalid());
                    ++i;
                }
                term.text = std::string(s.substr(start, i - start));
            }
            if (term.text.empty()) {
                if (!mark) continue;  // "" matches everything: no condition
                return std::unexpected(invalid());
            }
            (mark == '?'   ? node->any
             : mark == '-' ? node->none
                           : node->all)
                .push_back(std::move(term));
        }
        for (const auto& t : node->all)
            if (!t.regex) out.required_.push_back({t.text});
        std::vector<std::string> any;
        for (const auto& t : node->any) any.push_back(t.text);
        bool any_regex = std::any_of(node->any.begin(), node->any.end(),
                                     [](const Term& t) { return t.regex.has_value(); });
        if (!any.empty() && !any_regex) out.required_.push_back(std::move(any));
        if (node->all.empty() && node->any.empty() && node->none.empty()) return out;
    }
    out.root_ = std::move(node);
    return out;
}

bool FilterPattern::matches(std::string_view message) const {
    if (!root_) return true;
    const Node& n = *root_;
    switch (n.kind) {
        case Node::Kind::Terms: {
            for (const auto& t : n.all)
                if (!t.in(message)) return false;
            for (const auto& t : n.none)
                if (t.in(message)) return false;
            if (n.any.empty()) return true;
            for (const auto& t : n.any)
                if (t.in(message)) return true;
            return false;
        }
        case Node::Kind::Json: {
            auto doc = json::parse(message, nullptr, false);
            if (doc.is_discarded() || !doc.is_object()) return false;
            return eval(*n.json, doc);
        }
        case Node::Kind::Space: {
            auto fields = split_fields(message);
            int budget = 100000;
            return match_fields(n.fields, 0, fields, 0, budget);
        }
    }
    return false;
}

}  // namespace lamina::logs
