#pragma once
// CloudWatch Logs filter patterns, parsed once and matched against event
// messages: terms (all must occur, case-sensitive), "quoted phrases", ?term
// alternatives, -term exclusions; JSON patterns { $.a = "v*" && $.n > 1 }
// with = != < <= > >=, IS NULL, IS TRUE/FALSE, EXISTS/NOT EXISTS, && || and
// parentheses and array selectors $.a[0].b, $.a[*]; space-delimited patterns
// [ip, user, ..., status=4*, size>1000]; %regex% terms and values (log_regex.hpp),
// at most two per pattern.
// A pure parser and matcher: no I/O.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::logs {

class FilterPattern {
public:
    // InvalidParameterValue "Invalid filter pattern" for what AWS would refuse.
    static Result<FilterPattern> parse(std::string_view text);

    bool matches(std::string_view message) const;

    // Substrings every match contains, as AND of ORs: each inner list is a
    // set of alternatives (used to narrow a search by an index; never
    // sufficient on its own). Empty: no such hint.
    const std::vector<std::vector<std::string>>& required() const { return required_; }

    struct Node;  // the parsed pattern (filter_pattern.cpp)
    FilterPattern();
    ~FilterPattern();
    FilterPattern(FilterPattern&&) noexcept;
    FilterPattern& operator=(FilterPattern&&) noexcept;

private:
    std::shared_ptr<const Node> root_;  // null: matches everything
    std::vector<std::vector<std::string>> required_;
};

// `text` matches `glob`, where '*' stands for any run of characters.
bool glob_match(std::string_view glob, std::string_view text);

}  // namespace lamina::logs
