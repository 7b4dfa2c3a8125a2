// The Runtime API and Extensions API of one execution environment
// (runtime/runtime_api.cpp): routes, ids, headers, error and register
// bodies, and the state machine between the runtime, its extensions and the
// data plane. A fresh RuntimeApi per input; requests go through
// RuntimeApi::handle_for_test (the listener's socket side is Beast's and the
// http server's, not fuzzed here).
//
// Input: requests (fuzz_request.hpp) in order. A request whose method is
// LAMINA is a call from the data plane instead: "invoke", "abandon",
// "shutdown", "expect NAME..." (external extensions). In header values and
// targets "{REQ}" stands for the current invocation's request id and "{EXT}"
// for the identifier of the last extension registered (it is random).
//
// Checked beyond the sanitizers: every responder runs at most once and, once
// the environment is stopped, each has run; an invocation completes at most
// once and settles at most once, after it completed; JSON answers are JSON.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_request.hpp"
#include "fuzz_stack.hpp"
#include "lamina/runtime/runtime_api.hpp"

namespace {

using namespace lamina;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_runtime_api: %s\n", what.c_str());
    std::abort();
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

struct Call {
    int answers = 0;
    std::string what;
};

struct InvokeTrack {
    int done = 0;
    int settled = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto requests =
        fuzz::parse_requests(std::string_view(reinterpret_cast<const char*>(data), size), 32);
    if (requests.empty()) return -1;
    // Only the listener uses the io_context: it binds, and stop() posts its
    // close, which poll() runs below (else sockets pile up across inputs).
    static boost::asio::io_context ioc;
    auto drain = [] {
        ioc.restart();
        ioc.poll();
    };
    lamina::RandomIdSource ids;
    std::optional<runtime::RuntimeApi> holder(std::in_place, ioc, ids);
    runtime::RuntimeApi& api = *holder;
    std::vector<std::shared_ptr<Call>> calls;
    std::vector<std::shared_ptr<InvokeTrack>> invokes;
    std::string request_id = "none";
    std::string extension_id = "none";
    int invocations = 0;

    for (auto& req : requests) {
        if (req.method == "LAMINA") {
            std::istringstream words(req.target);
            std::string verb;
            words >> verb;
            if (verb == "invoke") {
                runtime::Invocation inv;
                inv.request_id = request_id = "req-" + std::to_string(++invocations);
                inv.payload = req.body.empty() ? "{}" : req.body;
                inv.deadline_ms = 1'790'000'000'000;
                inv.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
                // as the invoker makes them: a hex trace id, a client context that is JSON
                inv.trace_id =
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0";
                if (auto cc = req.headers.find("Client-Context"); cc && nlohmann::json::accept(*cc))
                    inv.client_context = *cc;
                auto track = std::make_shared<InvokeTrack>();
                invokes.push_back(track);
                auto st = api.invoke(
                    std::move(inv),
                    [track](runtime::Outcome) {
                        if (++track->done > 1) finding("an invocation completed twice");
                    },
                    [track] {
                        if (++track->settled > 1) finding("an invocation settled twice");
                        if (track->done == 0) finding("an invocation settled before it completed");
                    });
                if (!st) invokes.pop_back();
            } else if (verb == "abandon") {
                if (auto done = api.abandon())
                    done(runtime::Outcome{runtime::Outcome::Kind::FunctionError});
            } else if (verb == "shutdown") {
                api.shutdown("spindown", 1'790'000'000'000, [] {});
            } else if (verb == "expect") {
                std::vector<std::string> names;
                for (std::string n; words >> n;) names.push_back(n);
                api.expect_extensions(
                    std::move(names),
                    runtime::ExtensionIdentity{"f", "$LATEST", "index.handler", "123456789012"});
            }
            (void)api.healthy();
            (void)api.invocation_taken();
            (void)api.extension_count();
            continue;
        }
        replace_all(req.target, "{REQ}", request_id);
        replace_all(req.path, "{REQ}", request_id);
        for (auto& [name, value] : req.headers.items) {
            replace_all(value, "{EXT}", extension_id);
            replace_all(value, "{REQ}", request_id);
        }
        auto call = std::make_shared<Call>();
        call->what = req.method + " " + req.target;
        calls.push_back(call);
        api.handle_for_test(std::move(req), [call, &extension_id](http::Response r) {
            if (++call->answers > 1) finding("answered twice: " + call->what);
            if (auto id = r.headers.find("Lambda-Extension-Identifier")) extension_id = *id;
            if (r.headers.get("Content-Type").find("json") != std::string::npos &&
                !r.body.empty() && !nlohmann::json::accept(r.body) &&
                r.headers.find("Lambda-Runtime-Aws-Request-Id") == nullptr)
                finding("a JSON answer that is not JSON: " + call->what + " -> " +
                        r.body.substr(0, 500));
        });
    }
    api.stop();
    for (const auto& call : calls)
        if (call->answers != 1)
            finding("never answered, though the environment stopped: " + call->what);
    holder.reset();
    drain();
    return 0;
}
