// Identifier parsing and routing: FunctionName in its four forms with and
// without a Qualifier (control/names.cpp), ARNs, alias and version names,
// the request target split (http::parse_target), the router with the real
// Lambda routes (LambdaApi::add_routes, as api::Service registers them), the
// %- and base64 codecs under them, and the debugger-attach inputs (`--debug`
// entries, LAMINA_DEBUG_PORT, a /proc/net/tcp table). The whole input is
// also decoded as base64 and checked against a plain reference decoder.
//
// Input: one byte choosing the shape and whether a Qualifier is given, then
// fields separated by '\n': function name, qualifier, "METHOD TARGET".
// Checked beyond the sanitizers: codecs round-trip; a resolved name is one
// that the pattern allows and that stays in the caller's region and account.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_request.hpp"
#include "fuzz_stack.hpp"
#include "lamina/api/lambda_api.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/control/names.hpp"
#include "lamina/exec/debug.hpp"
#include "lamina/http/router.hpp"

namespace {

using namespace lamina;

using fuzz::finding;
using fuzz::next_line;

// The Lambda routes exactly as the service registers them.
const http::Router& lambda_router() {
    static const http::Router router = [] {
        http::Router r;
        api::LambdaApi::add_routes(r);  // the route table needs no instance
        return r;
    }();
    return router;
}

// Strict base64 (length a multiple of 4, '=' only as the last one or two
// characters), decoded one character at a time.
std::optional<std::string> reference_base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
    std::string out;
    unsigned bits = 0;
    int have = 0;
    for (std::size_t i = 0; i < in.size() - pad; ++i) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+'             ? 62
                : c == '/'             ? 63
                                       : -1;
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<unsigned>(v);
        have += 6;
        if (have >= 8) {
            have -= 8;
            out.push_back(static_cast<char>((bits >> have) & 0xFF));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    lambda_router();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return -1;
    std::uint8_t mode = data[0];
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string name(next_line(in));
    std::string qualifier(next_line(in));
    std::string_view request_text = in;

    // FunctionName / Qualifier
    const control::Scope scope{"123456789012", "us-east-1"};
    auto shape = static_cast<control::NameShape>(mode % 3);
    std::optional<std::string> qualifier_param;
    if (mode & 4) qualifier_param = qualifier;
    auto ref =
        control::resolve_function_name(name, shape, qualifier_param, scope, "lambda:GetFunction");
    if (ref) {
        if (ref->name.empty()) finding("resolved an empty function name", name);
        if (name.find(ref->name) == std::string::npos)
            finding("resolved a name not in the input", name);
        if (shape == control::NameShape::Unqualified && ref->qualifier && !qualifier_param)
            finding("an unqualified name resolved with a qualifier", name);
        (void)control::qualified_arn(scope, ref->name, ref->qualifier.value_or("$LATEST"));
    }
    if (auto arn = control::parse_arn(name)) {
        if (arn->partition.find(':') != std::string::npos ||
            arn->account.find(':') != std::string::npos)
            finding("an ARN field holds ':'", name);
    }
    (void)control::is_valid_alias_name(qualifier);
    // serve --debug entries and the function's LAMINA_DEBUG_PORT (exec/debug.hpp)
    if (auto t = exec::parse_debug_target(name)) {
        if (t->port < 1 || t->port > 65535 || t->function.empty())
            finding("a --debug entry out of range accepted", name);
    }
    {
        control::VersionConfig config;
        config.environment = std::map<std::string, std::string>{{"LAMINA_DEBUG_PORT", qualifier}};
        auto d = exec::debug_launch_for({}, false, name, qualifier, config);
        if (d && *d && ((*d)->port < 1 || (*d)->port > 65535))
            finding("a LAMINA_DEBUG_PORT out of range accepted", qualifier);
        (void)exec::client_connected_in(request_text, 5678);
    }
    if (control::is_version_number(qualifier) && (qualifier.empty() || qualifier[0] == '0'))
        finding("a version number with a leading zero", qualifier);

    // codecs: what is encoded decodes to itself
    auto url = url_decode(url_encode(name));
    if (!url || *url != name) finding("url_encode does not round-trip", name);
    auto b64 = base64_decode(base64_encode(name));
    if (!b64 || *b64 != name) finding("base64 does not round-trip", name);
    (void)base64_decode(qualifier);
    // the whole input as base64 text (long enough for the vector decoder's
    // 32-character blocks): the decoder, its in-place form and a plain
    // reference agree; the whole input as bytes round-trips
    const std::string_view whole(reinterpret_cast<const char*>(data), size);
    auto fast = base64_decode(whole);
    if (fast != reference_base64_decode(whole))
        finding("base64_decode differs from the reference", whole);
    std::string copy(whole);
    auto in_place = base64_decode_in_place(copy);
    if (in_place.has_value() != fast.has_value() ||
        (in_place && std::string_view(copy).substr(0, *in_place) != *fast))
        finding("base64_decode_in_place differs from base64_decode", whole);
    auto back = base64_decode(base64_encode(whole));
    if (!back || *back != whole) finding("base64 does not round-trip", whole);
    (void)url_decode(qualifier, (mode & 8) != 0);
    (void)is_valid_utf8(name);
    (void)xml_escape(name);

    // request target and route
    if (auto req = fuzz::parse_request(request_text)) {
        bool path_matched = false;
        auto m = lambda_router().match(req->method, req->path, req->query, &path_matched);
        if (m && !path_matched) finding("a match whose path did not match", req->target);
        if (m)
            for (const auto& [key, value] : m->params)
                if (value.empty()) finding("an empty path parameter", req->target);
    }
    return 0;
}
