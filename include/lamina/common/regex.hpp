#pragma once
// std::regex_match for request values. libstdc++'s matcher recurses once
// per input character, so a long enough value (tens of kB: a request body
// field, a header) overflows the stack of the thread matching it and takes
// the server down (found by tests/fuzz). Longer inputs than kMaxRegexInput
// never match: every value lamina checks against a pattern has an AWS
// length limit far below it (names 256, ARNs 2048, environment 4 KB).

#include <cstddef>
#include <regex>
#include <string>

namespace lamina {

inline constexpr std::size_t kMaxRegexInput = 4096;

inline bool regex_full_match(const std::string& s, const std::regex& re) {
    return s.size() <= kMaxRegexInput && std::regex_match(s, re);
}

inline bool regex_full_match(const std::string& s, std::smatch& m, const std::regex& re) {
    return s.size() <= kMaxRegexInput && std::regex_match(s, m, re);
}
// the match would point into a destroyed string (as std::regex_match's)
bool regex_full_match(const std::string&&, std::smatch&, const std::regex&) = delete;

}  // namespace lamina
