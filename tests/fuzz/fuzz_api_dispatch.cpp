// The API front door: the real api::Service (every Lambda route, STS/IAM
// query, CloudWatch awsJson/CBOR/query, /health, /metrics) over a fresh temp
// data dir, fed the requests of one input (fuzz_request.hpp) in order, so
// that a CreateFunction can be followed by the operations on its function.
//
// Each input gets a new data dir: nothing leaks from one run to the next and
// every crash reproduces from its input alone.
//
// Checked for each response, beyond the sanitizers: the server never answers
// 500 (ServiceException: lamina's own failure, where AWS would reject the
// input with a 4xx), a JSON response body is JSON, and every response carries
// a request id.

#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_request.hpp"
#include "fuzz_stack.hpp"

namespace {

using namespace lamina;

[[noreturn]] void finding(const char* what, const http::Request& req, const http::Response& r) {
    std::fprintf(stderr, "fuzz_api_dispatch: %s\n  request: %s %s\n  response: %u %s\n", what,
                 req.method.c_str(), req.target.c_str(), r.status, r.body.substr(0, 2000).c_str());
    std::abort();
}

void check(const http::Request& req, const http::Response& r) {
    if (r.status < 100 || r.status > 599) finding("status out of range", req, r);
    if (r.status == 500) finding("500: lamina failed on a request it should have rejected", req, r);
    if (r.headers.get("x-amzn-RequestId").empty()) finding("no x-amzn-RequestId", req, r);
    if (r.headers.get("Content-Type").find("json") != std::string::npos && !r.body.empty() &&
        !nlohmann::json::accept(r.body))
        finding("a JSON response whose body is not JSON", req, r);
}

// What the HTTP server does with one request: body policy, then the service.
http::Response serve(api::Service& service, http::Request req) {
    http::RequestHead head{req.method, req.target, req.body.size()};
    http::BodyPolicy policy = service.body_policy(head);
    if (req.body.size() > policy.limit) return policy.too_large(policy.limit);
    std::promise<http::Response> answer;
    auto done = answer.get_future();
    service.handle(std::move(req), [&answer](http::Response r) { answer.set_value(std::move(r)); });
    return done.get();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // LAMINA_FUZZ_TRACE=1: print each request and its answer (to read what a seed reaches)
    static const bool trace = std::getenv("LAMINA_FUZZ_TRACE") != nullptr;
    auto requests =
        fuzz::parse_requests(std::string_view(reinterpret_cast<const char*>(data), size));
    if (requests.empty()) return -1;  // not a request: keep it out of the corpus
    // A pool per input, joined at its end: OpenSSL frees a thread's state
    // when the thread exits, and LeakSanitizer would count it otherwise.
    boost::asio::thread_pool workers(1);
    {
        fuzz::Stack stack(workers);
        for (auto& req : requests) {
            http::Request copy = req;
            http::Response r = serve(stack.service(), std::move(req));
            check(copy, r);
            if (trace)
                std::fprintf(stderr, "%s %s -> %u %.200s\n", copy.method.c_str(),
                             copy.target.c_str(), r.status, r.body.c_str());
            stack.clock().advance(1000);
        }
    }
    workers.join();
    return 0;
}
