// Function URLs' HTTP translation (src/api/url_http.cpp) and the Host-header
// and qualifier parsing in front of it (control/names.cpp).
//
// Input: one byte choosing what to fuzz, then fields separated by '\n'.
//   even: "METHOD TARGET", then "Name: value" header lines up to an empty
//         line, then the body: the request becomes a payload 2.0 event.
//   odd:  the rest is a function's result: it becomes an HTTP response.
//   2 mod 4: a streamed answer of a RESPONSE_STREAM URL, cut into pieces of
//         1 + (next byte % 64) bytes: its HTTP prelude is read off (through a
//         BodyPipe), parsed into the response head, and the rest passed on.
// Checked beyond the sanitizers: the event is valid JSON text that parses
// back, with the raw path and a body that decodes to the request's; a
// response has a status in 100..599 and a Content-Type. The event is
// serialised as the server does (bytes that are not UTF-8 replaced).

#include <cstdint>
#include <string>
#include <string_view>

#include "api/invoke_stream.hpp"
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

// Checked: the prelude found is the bytes before the first delimiter, the
// rest follows it unchanged, a head has a status in 100..599 and a
// Content-Type, and the InvokeStream hands on exactly the rest, then ends.
void fuzz_stream(std::string_view in) {
    if (in.empty()) return;
    const std::size_t piece = 1 + static_cast<unsigned char>(in[0]) % 64;
    in.remove_prefix(1);
    auto pipe = std::make_shared<http::BodyPipe>();
    std::optional<std::optional<std::pair<std::string, std::string>>> got;
    api::read_prelude(pipe, [&](auto p) { got = std::move(p); });
    std::size_t at = 0;
    for (; at < in.size() && !got; at += piece)
        pipe->write(std::string(in.substr(at, piece)), nullptr);
    if (!got) pipe->finish();
    if (!got) finding("read_prelude never answered", in);
    const auto delim = in.find(api::kPreludeDelimiter);
    if (!*got) {
        if (delim != std::string_view::npos &&
            delim + api::kPreludeDelimiter.size() <= api::kMaxPreludeBytes)
            finding("a prelude within the limit was missed", in);
        return;
    }
    const auto& [prelude, rest] = **got;
    if (delim == std::string_view::npos || prelude != in.substr(0, delim))
        finding("wrong prelude", prelude);
    const std::string_view after = in.substr(delim + api::kPreludeDelimiter.size());
    if (after.substr(0, rest.size()) != rest) finding("bytes after the prelude changed", rest);
    if (auto head = api::url_stream_head(prelude)) {
        if (head->status < 100 || head->status > 599) finding("status out of range", prelude);
        if (!head->headers.find("Content-Type") && !head->headers.find("content-type"))
            finding("no Content-Type", prelude);
    }
    // the rest of the stream, through the URL's InvokeStream
    auto stream =
        std::make_shared<api::InvokeStream>(pipe, rest, nullptr, [](const exec::InvokeResult&) {
            return std::vector<http::BodyPiece>{http::BodyPiece::end()};
        });
    for (; at < in.size(); at += piece) pipe->write(std::string(in.substr(at, piece)), nullptr);
    pipe->finish();
    stream->complete(exec::InvokeResult{});
    std::string out;
    for (;;) {
        std::optional<http::BodyPiece> p;
        stream->next([&](http::BodyPiece b) { p = std::move(b); });
        if (!p) finding("InvokeStream did not answer", in);
        if (p->kind != http::BodyPiece::Kind::Data) break;
        out += p->data;
    }
    if (out != after) finding("streamed body changed", out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 4 == 2)
        fuzz_stream(in);
    else if (data[0] % 2 == 0)
        fuzz_event(in);
    else
        fuzz_response(in);
    return 0;
}
