#include "lamina/logs/log_regex.hpp"

#include <cctype>
#include <string>

namespace lamina::logs {

namespace {

// Repetitions spelled out past this many positions are refused: the
// matcher's time is the text's length times this.
constexpr std::size_t kMaxItems = 512;
constexpr int kMaxCount = 255;

bool symbol(char c) { return std::string_view(":_#=@/;,-").find(c) != std::string_view::npos; }
bool op_char(char c) { return std::string_view("^$?[]{}|\\*+.").find(c) != std::string_view::npos; }
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

namespace {

struct Set {
    std::uint32_t bits[8] = {};
    void add(unsigned char c) { bits[c >> 5] |= 1u << (c & 31); }
    void add_range(unsigned char a, unsigned char b) {
        for (unsigned c = a; c <= b; ++c) add(static_cast<unsigned char>(c));
    }
    void add_set(const Set& o, bool invert) {
        for (int i = 0; i < 8; ++i) bits[i] |= invert ? ~o.bits[i] : o.bits[i];
    }
};

Set class_of(char k) {
    Set s;
    switch (k) {
        case 'd':
            s.add_range('0', '9');
            break;
        case 'w':
            s.add_range('0', '9');
            s.add_range('a', 'z');
            s.add_range('A', 'Z');
            s.add('_');
            break;
        default:  // 's'
            for (char c : std::string_view(" \t\n\r\f\v")) s.add(static_cast<unsigned char>(c));
            break;
    }
    return s;
}

// Reads an escape at s[i] == '\\' into `out`; i ends past it.
bool read_escape(std::string_view s, std::size_t& i, Set& out) {
    if (++i >= s.size()) return false;
    char c = s[i++];
    switch (c) {
        case 'd':
        case 'w':
        case 's':
            out.add_set(class_of(c), false);
            return true;
        case 'D':
        case 'W':
        case 'S':
            out.add_set(class_of(static_cast<char>(std::tolower(c))), true);
            return true;
        case 'n':
            out.add('\n');
            return true;
        case 't':
            out.add('\t');
            return true;
        case 'r':
            out.add('\r');
            return true;
        default:
            if (!symbol(c) && !op_char(c)) return false;
            out.add(static_cast<unsigned char>(c));
            return true;
    }
}

// A bracket class at s[i] == '['; i ends past its ']'.
bool read_class(std::string_view s, std::size_t& i, Set& out, bool& negated) {
    ++i;
    negated = i < s.size() && s[i] == '^';
    if (negated) ++i;
    bool any = false;
    while (i < s.size() && s[i] != ']') {
        Set one;
        int single = -1;
        if (s[i] == '\\') {
            if (!read_escape(s, i, one)) return false;
            if (i >= 2 && s[i - 2] == '\\' && !std::isalpha(static_cast<unsigned char>(s[i - 1])))
                single = static_cast<unsigned char>(s[i - 1]);
        } else if (alnum(s[i]) || symbol(s[i]) || op_char(s[i])) {
            single = static_cast<unsigned char>(s[i++]);
            one.add(static_cast<unsigned char>(single));
        } else {
            return false;
        }
        if (single >= 0 && i + 1 < s.size() && s[i] == '-' && s[i + 1] != ']') {
            ++i;
            int hi;
            if (s[i] == '\\') {
                if (i + 1 >= s.size() || std::isalpha(static_cast<unsigned char>(s[i + 1])))
                    return false;
                hi = static_cast<unsigned char>(s[i + 1]);
                if (!symbol(s[i + 1]) && !op_char(s[i + 1])) return false;
                i += 2;
            } else {
                if (!alnum(s[i]) && !symbol(s[i]) && !op_char(s[i])) return false;
                hi = static_cast<unsigned char>(s[i++]);
            }
            if (hi < single) return false;
            one.add_range(static_cast<unsigned char>(single), static_cast<unsigned char>(hi));
        }
        out.add_set(one, false);
        any = true;
    }
    if (i >= s.size() || !any) return false;
    ++i;  // ']'
    return true;
}

bool read_count(std::string_view s, std::size_t& i, int& out) {
    std::size_t start = i;
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        out = out * 10 + (s[i] - '0');
        if (out > kMaxCount) return false;
        ++i;
    }
    return i > start;
}

}  // namespace

std::optional<LogRegex> LogRegex::parse(std::string_view text) {
    LogRegex out;
    std::size_t i = 0;
    while (true) {
        Branch b;
        if (i < text.size() && text[i] == '^') {
            b.anchored_start = true;
            ++i;
        }
        while (i < text.size() && text[i] != '|') {
            char c = text[i];
            if (c == '$') {
                ++i;
                if (i < text.size() && text[i] != '|') return std::nullopt;
                b.anchored_end = true;
                break;
            }
            Set set;
            bool negated = false;
            if (c == '\\') {
                if (!read_escape(text, i, set)) return std::nullopt;
            } else if (c == '[') {
                if (!read_class(text, i, set, negated)) return std::nullopt;
            } else if (c == '.') {
                set.add_set(Set{}, true);
                set.bits['\n' >> 5] &= ~(1u << ('\n' & 31));
                ++i;
            } else if (alnum(c) || symbol(c)) {
                set.add(static_cast<unsigned char>(c));
                ++i;
            } else {
                return std::nullopt;  // a stray operator, or a character AWS does not take
            }
            int lo = 1, hi = 1;  // hi < 0: unbounded
            if (i < text.size()) {
                char q = text[i];
                if (q == '?') {
                    lo = 0, ++i;
                } else if (q == '*') {
                    lo = 0, hi = -1, ++i;
                } else if (q == '+') {
                    hi = -1, ++i;
                } else if (q == '{') {
                    ++i;
                    if (!read_count(text, i, lo)) return std::nullopt;
                    hi = lo;
                    if (i < text.size() && text[i] == ',') {
                        ++i;
                        hi = -1;
                        if (i < text.size() && text[i] != '}' &&
                            (!read_count(text, i, hi) || hi < lo))
                            return std::nullopt;
                    }
                    if (i >= text.size() || text[i] != '}') return std::nullopt;
                    ++i;
                }
            }
            if (i < text.size() && std::string_view("?*+{").find(text[i]) != std::string_view::npos)
                return std::nullopt;  // a quantifier on a quantifier
            Item item;
            item.negated = negated;
            std::copy(std::begin(set.bits), std::end(set.bits), std::begin(item.set));
            for (int k = 0; k < lo; ++k) b.items.push_back(item);
            item.repeat = hi < 0 ? Item::Repeat::Star : Item::Repeat::Optional;
            int extra = hi < 0 ? 1 : hi - lo;
            for (int k = 0; k < extra; ++k) b.items.push_back(item);
            if (b.items.size() > kMaxItems) return std::nullopt;
        }
        if (b.items.empty() && !b.anchored_start && !b.anchored_end) return std::nullopt;
        out.branches_.push_back(std::move(b));
        if (i >= text.size()) break;
        ++i;  // '|'
    }
    std::size_t total = 0;
    for (const auto& b : out.branches_) total += b.items.size();
    if (total > kMaxItems) return std::nullopt;
    return out;
}

bool LogRegex::search(std::string_view text) const {
    for (const auto& b : branches_)
        if (search_branch(b, text)) return true;
    return false;
}

bool LogRegex::search_branch(const Branch& b, std::string_view text) const {
    const std::size_t k = b.items.size();
    std::vector<char> cur(k + 1, 0), next(k + 1, 0);
    for (std::size_t i = 0;; ++i) {
        if (!b.anchored_start || i == 0) cur[0] = 1;
        for (std::size_t p = 0; p < k; ++p)  // empty moves go forward only: one pass closes them
            if (cur[p] && b.items[p].repeat != Item::Repeat::One) cur[p + 1] = 1;
        if (cur[k] && (!b.anchored_end || i == text.size())) return true;
        if (i == text.size()) return false;
        auto c = static_cast<unsigned char>(text[i]);
        bool alive = false;
        std::fill(next.begin(), next.end(), 0);
        for (std::size_t p = 0; p < k; ++p) {
            if (!cur[p] || !b.items[p].accepts(c)) continue;
            next[b.items[p].repeat == Item::Repeat::Star ? p : p + 1] = 1;
            alive = true;
        }
        cur.swap(next);
        if (!alive && b.anchored_start) return false;
    }
}

}  // namespace lamina::logs
