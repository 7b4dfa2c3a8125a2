#pragma once
// Transport-neutral request/response values passed between the http front
// end and whoever handles requests. Knows nothing about Lambda.

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lamina::http {

// Case-insensitive header lookup over a small vector.
struct Headers {
    std::vector<std::pair<std::string, std::string>> items;

    const std::string* find(std::string_view name) const;
    std::string get(std::string_view name, std::string fallback = {}) const;
    void set(std::string name, std::string value);
};

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // raw request target, e.g. "/2015-03-31/functions?MaxItems=5"
    std::string path;    // raw (still %-encoded) path part of target
    // decoded query parameters; repeated keys keep every value in order
    std::multimap<std::string, std::string> query;
    Headers headers;
    std::string body;
    std::string remote_address;
    // What the server's body policy learnt from the head (BodyPolicy::tag),
    // handed on with the request; http never looks inside.
    std::any tag;
    // The body went to the policy's sink as it arrived (BodyPolicy::sink):
    // `body` is empty, and `stream_error` says why it did not end, if it did
    // not ("too_large", "broken"). Trailer fields are among `headers`.
    bool streamed = false;
    std::string stream_error;
    // When its head had been read (steady clock): where lamina's own time
    // for a request starts (Server-Timing).
    std::chrono::steady_clock::time_point arrived{};

    std::optional<std::string> query_param(const std::string& key) const;
    std::vector<std::string> query_params(const std::string& key) const;
};

class BodySource;  // body_stream.hpp

struct Response {
    unsigned status = 200;
    Headers headers;
    std::string body;
    // A body sent as it is produced (chunked), instead of `body`.
    std::shared_ptr<BodySource> stream;
    // A Lambda response stream: paced by the server's stream bandwidth
    // shaping when that is on (ServerOptions::stream_shaping).
    bool lambda_stream = false;
    // When the client has already sent its next request on this connection
    // (HTTP/1.1 pipelining), this answer may be held back and sent together
    // with that request's, in one write (the Runtime API's 202 to a /response
    // that lamina's runtimes send with their next /next).
    bool may_wait = false;
};

using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request, Responder)>;

// Splits a raw target into its path and decoded query parameters.
// Returns false when the query has an invalid %-escape.
bool parse_target(const std::string& target, std::string& path,
                  std::multimap<std::string, std::string>& query);

}  // namespace lamina::http
