#pragma once
// Fuzz inputs that are HTTP requests, written as text so that seeds are
// readable and libFuzzer's dictionaries (tests/fuzz/dict/) apply:
//
//   POST /2015-03-31/functions?MaxItems=5
//   Content-Type: application/json
//   X-Amz-Target: ...
//
//   {"FunctionName": "f"}
//
// A request line "METHOD TARGET", header lines "Name: value" up to an empty
// line, then the body. Several requests in one input are separated by a
// line holding only kRequestSeparator. The target is split as lamina's HTTP
// server splits it (http::parse_target); a target it would refuse with 400
// yields no request.

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/http/message.hpp"

namespace lamina::fuzz {

inline constexpr std::string_view kRequestSeparator = "\n=====\n";

// A broken invariant: says what and on which value, and stops the fuzzer
// (libFuzzer saves the input).
[[noreturn]] inline void finding(const char* what, std::string_view detail) {
    std::fprintf(stderr, "fuzz finding: %s: %.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

// The text up to the next '\n' (all of it when there is none); `in` moves past it.
inline std::string_view next_line(std::string_view& in) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return line;
}

inline std::optional<http::Request> parse_request(std::string_view text) {
    auto take_line = [&text]() {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return line;
    };
    http::Request req;
    std::string_view first = take_line();
    auto sp = first.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    req.method = std::string(first.substr(0, sp));
    req.target = std::string(first.substr(sp + 1));
    if (!http::parse_target(req.target, req.path, req.query)) return std::nullopt;
    while (!text.empty()) {
        std::string_view line = take_line();
        if (line.empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        req.headers.items.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    req.body = std::string(text);
    req.remote_address = "127.0.0.1";
    return req;
}

// Every request in the input, in order (at most `limit`).
inline std::vector<http::Request> parse_requests(std::string_view input, std::size_t limit = 16) {
    std::vector<http::Request> out;
    while (out.size() < limit) {
        auto sep = input.find(kRequestSeparator);
        if (auto req = parse_request(input.substr(0, sep))) out.push_back(std::move(*req));
        if (sep == std::string_view::npos) break;
        input.remove_prefix(sep + kRequestSeparator.size());
    }
    return out;
}

}  // namespace lamina::fuzz
