// SQS requests in both protocols: awsJson 1.0 (a request with an X-Amz-Target)
// and the query protocol (form bodies and ?Action=), through sqs::SqsApi over
// a real sqs::Queues in a fresh temp dir, fed the requests of one input
// (fuzz_request.hpp) in order, so a CreateQueue can be followed by sends,
// receives and deletes on that queue. Long polls are capped at 0 s.
//
// Checked beyond the sanitizers: never a 5xx (lamina's own failure where SQS
// would refuse the input), JSON answers are JSON, XML answers start as XML,
// and a JSON-protocol error carries x-amzn-query-error.

#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fakes/fake_clock.hpp"
#include "fuzz_request.hpp"
#include "fuzz_stack.hpp"
#include "lamina/sqs/sqs_api.hpp"

namespace {

using namespace lamina;

[[noreturn]] void finding(const char* what, const http::Request& req, const http::Response& r) {
    std::fprintf(stderr, "fuzz_sqs: %s\n  request: %s %s\n  response: %u %s\n", what,
                 req.method.c_str(), req.target.c_str(), r.status, r.body.substr(0, 2000).c_str());
    std::abort();
}

void check(const http::Request& req, sqs::Wire wire, const http::Response& r) {
    if (r.status >= 500 || r.status < 200) finding("status 5xx or out of range", req, r);
    if (wire == sqs::Wire::Json) {
        if (!nlohmann::json::accept(r.body)) finding("a JSON answer that is not JSON", req, r);
        if (r.status >= 400 && r.headers.get("x-amzn-query-error").empty())
            finding("a JSON error without x-amzn-query-error", req, r);
    } else if (!r.body.starts_with("<?xml version=\"1.0\"?>")) {
        finding("a query answer that is not XML", req, r);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto requests =
        fuzz::parse_requests(std::string_view(reinterpret_cast<const char*>(data), size));
    if (requests.empty()) return -1;
    std::filesystem::path dir = fuzz::make_temp_dir("lamina-fuzz-sqs");
    boost::asio::thread_pool workers(1);
    {
        fakes::FakeClock clock;
        fakes::CountingIds ids;
        auto queues =
            sqs::Queues::open(dir / "sqs.sqlite", store::Durability::Temporary, clock, ids);
        if (!queues) fuzz::finding("cannot open the SQS store", queues.error().message);
        sqs::SqsApi api(**queues, workers.get_executor());
        api.cap_wait_for_test(0);
        sqs::SqsContext ctx{"req-1", "123456789012", "us-east-1", "localhost:9000", "AKIDFUZZ"};
        for (auto& req : requests) {
            sqs::Wire wire = req.headers.find("X-Amz-Target") ? sqs::Wire::Json : sqs::Wire::Query;
            std::promise<http::Response> answer;
            auto done = answer.get_future();
            api.handle(ctx, req, wire,
                       [&answer](http::Response r) { answer.set_value(std::move(r)); });
            check(req, wire, done.get());
            clock.advance(1000);
        }
    }
    workers.join();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return 0;
}
