// CloudWatch Logs filter patterns (src/logs/filter_pattern.cpp):
// FilterPattern::parse over arbitrary pattern text, then matches() against
// log messages.
//
// Input: sections separated by a line "=====". The first is the pattern;
// each further one (at most 8) is a message to match, as is.
// Checked beyond the sanitizers: a refusal is InvalidParameterValue
// "Invalid filter pattern"; matches() answers the same twice; a message that
// matches holds, for every group of required() substrings, one of them (the
// store's index narrows searches by them, so a miss would lose events); and
// glob_match agrees with a simple reference on short inputs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_request.hpp"
#include "lamina/logs/filter_pattern.hpp"

namespace {

using namespace lamina;
using fuzz::finding;

const std::vector<std::string>& fixed_messages() {
    static const std::vector<std::string> m = {
        "START RequestId: 8f5a Version: $LATEST\n",
        "hello from lamina\n",
        R"({"level":"ERROR","latency":250,"user":{"id":7,"tags":["a","b"]},"ok":false,"n":null})"
        "\n",
        "127.0.0.1 frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 404 2326\n",
        "",
        "{not json",
    };
    return m;
}

bool reference_glob(std::string_view g, std::string_view t) {
    if (g.empty()) return t.empty();
    if (g[0] == '*')
        return reference_glob(g.substr(1), t) || (!t.empty() && reference_glob(g, t.substr(1)));
    return !t.empty() && g[0] == t[0] && reference_glob(g.substr(1), t.substr(1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> sections;
    while (sections.size() < 9) {
        auto sep = in.find(fuzz::kRequestSeparator);
        sections.emplace_back(in.substr(0, sep));
        if (sep == std::string_view::npos) break;
        in.remove_prefix(sep + fuzz::kRequestSeparator.size());
    }
    const std::string& text = sections[0];
    if (text.size() <= 24 && sections.size() > 1 && sections[1].size() <= 24 &&
        logs::glob_match(text, sections[1]) != reference_glob(text, sections[1]))
        finding("glob_match disagrees with the reference", text);
    auto parsed = logs::FilterPattern::parse(text);
    if (!parsed) {
        if (parsed.error().code != ErrorCode::InvalidParameterValue ||
            parsed.error().message != "Invalid filter pattern")
            finding("unexpected refusal", parsed.error().message);
        return 0;
    }
    std::vector<const std::string*> messages;
    for (const auto& m : fixed_messages()) messages.push_back(&m);
    for (std::size_t i = 1; i < sections.size(); ++i) messages.push_back(&sections[i]);
    for (const std::string* m : messages) {
        bool matched = parsed->matches(*m);
        if (matched != parsed->matches(*m)) finding("matches() is not repeatable", *m);
        if (!matched) continue;
        for (const auto& any : parsed->required()) {
            bool found = false;
            for (const auto& s : any) found = found || m->find(s) != std::string::npos;
            if (!found) finding("a match lacks a required substring", *m);
        }
    }
    return 0;
}
