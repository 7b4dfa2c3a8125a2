// Function URLs' HTTP translation (src/api/url_http.cpp) and the Host-header
// and qualifier parsing in front of it (control/names.cpp).
//
// Input: one byte choosing what to fuzz, then fields separated by '\n'.
//   even: "METHOD TARGET", then "Name: value" header lines up to an empty
//         line, then the body: the request becomes a payload 2.0 event.
//   odd:  the rest is a function's result: it becomes an HTTP response.
// Checked beyond the sanitizers: the event is valid JSON text that parses
// back, with the raw path and a body that decodes to the request's; a
// response has a status in 100..599 and a Content-Type. The event is
// serialised as the server does (bytes that are not UTF-8 replaced).

#include <cstdint>
#include <string>
#include <string_view>

#include "api/url_http.hpp"
#include "fuzz_request.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/control/names.hpp"

namespace {

using namespace lamina;

using fuzz::finding;
using fuzz::next_line;

void fuzz_event(std::string_view in) {
    std::string_view start = next_line(in);
    auto space = start.find(' ');
    http::Request req;
    req.method = std::string(start.substr(0, space));
    req.target = space == std::string_view::npos ? "/" : std::string(start.substr(space + 1));
    if (!http::parse_target(req.target, req.path, req.query)) return;  // the server answers 400
    while (!in.empty()) {
        std::string_view line = next_line(in);
        if (line.empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        req.headers.items.emplace_back(std::string(line.substr(0, colon)),
                                       std::string(line.substr(colon + 1)));
    }
    req.body = std::string(in);
    if (auto id = control::url_id_from_host(req.headers.get("Host"))) {
        if (id->size() != control::kUrlIdLength) finding("url id length", *id);
    }
    control::ValidationErrors v;
    control::check_url_qualifier(v, req.method);
    api::UrlEventContext ctx;
    ctx.url_id = std::string(32, 'a');
    ctx.source_ip = "127.0.0.1";
    ctx.epoch_ms = 1700000000000;
    auto q = req.target.find('?');
    std::string raw_query = q == std::string::npos ? "" : req.target.substr(q + 1);
    nlohmann::json event = api::url_event(req, req.path.empty() ? "/" : req.path, raw_query, ctx);
    // bytes that are not UTF-8 (in a path or header) are replaced, as the server sends it
    std::string text = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto back = nlohmann::json::parse(text, nullptr, false);
    if (back.is_discarded()) finding("event is not JSON", text);
    if (!req.body.empty()) {
        std::string body = back.at("body").get<std::string>();
        if (back.at("isBase64Encoded").get<bool>()) {
            auto decoded = base64_decode(body);
            if (!decoded || *decoded != req.body) finding("base64 body does not round-trip", body);
        } else if (body != req.body) {
            finding("text body changed", body);
        }
    }
}

void fuzz_response(std::string_view in) {
    auto r = api::url_response(std::string(in));
    if (!r) return;
    if (r->status < 100 || r->status > 599) finding("status out of range", in);
    if (r->headers.get("Content-Type").empty() && !r->headers.find("content-type"))
        finding("no Content-Type", in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 0)
        fuzz_event(in);
    else
        fuzz_response(in);
    return 0;
}
