#pragma once
// The regular expressions of CloudWatch Logs filter patterns (%...%): AWS's
// subset, without groups: alphanumerics, the symbols : _ # = @ / ; , - and
// the operators ^ $ ? [ ] { } | \ * + . (\d \w \s and their negations),
// single-byte characters only. Matched by a Thompson simulation over the
// positions of the expression: time linear in the text, no backtracking,
// no recursion, so no pattern can hang or overflow the matcher.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::logs {

class LogRegex {
public:
    // nullopt for what AWS refuses (or what is past lamina's size bound).
    static std::optional<LogRegex> parse(std::string_view text);

    // Whether the expression matches somewhere in `text`.
    bool search(std::string_view text) const;

private:
    struct Item {
        enum class Repeat : std::uint8_t { One, Optional, Star } repeat = Repeat::One;
        bool negated = false;
        std::uint32_t set[8] = {};  // the bytes it accepts, as a 256-bit set
        bool accepts(unsigned char c) const { return ((set[c >> 5] >> (c & 31)) & 1u) != negated; }
    };
    struct Branch {
        bool anchored_start = false, anchored_end = false;
        std::vector<Item> items;
    };
    bool search_branch(const Branch& b, std::string_view text) const;

    std::vector<Branch> branches_;
};

}  // namespace lamina::logs
