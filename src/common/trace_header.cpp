#include "lamina/common/trace_header.hpp"

#include <charconv>
#include <map>
#include <vector>

#include "lamina/common/encoding.hpp"

namespace lamina {

namespace {

// `header`'s "Key=value" fields, in order.
std::vector<std::pair<std::string, std::string>> fields(std::string_view header) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!header.empty()) {
        auto semi = header.find(';');
        std::string_view part = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        auto eq = part.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        out.emplace_back(std::string(part.substr(0, eq)), std::string(part.substr(eq + 1)));
    }
    return out;
}

// Lineage "h1:n1|h2:n2" as hash -> count; malformed entries are skipped.
std::map<std::string, int> lineage(std::string_view value) {
    std::map<std::string, int> out;
    while (!value.empty()) {
        auto bar = value.find('|');
        std::string_view entry = value.substr(0, bar);
        value = bar == std::string_view::npos ? std::string_view() : value.substr(bar + 1);
        auto colon = entry.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        int n = 0;
        std::string_view digits = entry.substr(colon + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc() || end != digits.data() + digits.size() || n < 0) continue;
        out[std::string(entry.substr(0, colon))] = n;
    }
    return out;
}

}  // namespace

std::string lineage_hash(std::string_view function_arn) {
    return to_hex(sha256(function_arn)).substr(0, 8);
}

int lineage_count(std::string_view header, std::string_view hash) {
    for (const auto& [k, v] : fields(header)) {
        if (k != "Lineage") continue;
        auto all = lineage(v);
        auto it = all.find(std::string(hash));
        return it == all.end() ? 0 : it->second;
    }
    return 0;
}

namespace {

std::string rebuilt(std::string_view header, const std::string* hash, int count, IdSource& ids) {
    std::string root, sampled = "0";
    std::map<std::string, int> entries;
    for (const auto& [k, v] : fields(header)) {
        if (k == "Root") root = v;
        if (k == "Sampled" && (v == "0" || v == "1")) sampled = v;
        if (k == "Lineage") entries = lineage(v);
    }
    if (root.empty()) root = "1-" + ids.hex(8) + "-" + ids.hex(24);
    if (hash) entries[*hash] = count;
    std::string out = "Root=" + root + ";Parent=" + ids.hex(16) + ";Sampled=" + sampled;
    bool first = true;
    for (const auto& [h, n] : entries) {
        out += (first ? ";Lineage=" : "|") + h + ":" + std::to_string(n);
        first = false;
    }
    return out;
}

}  // namespace

std::string invocation_trace(std::string_view header, IdSource& ids) {
    return rebuilt(header, nullptr, 0, ids);
}

std::string with_lineage(std::string_view header, std::string_view hash, int count, IdSource& ids) {
    const std::string h(hash);
    return rebuilt(header, &h, count, ids);
}

}  // namespace lamina
