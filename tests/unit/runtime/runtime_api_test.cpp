#include "lamina/runtime/runtime_api.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

using namespace lamina;
using namespace lamina::runtime;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

struct Reply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
};

// One HTTP/1.1 request on a fresh connection, as a runtime client makes it.
Reply call(const std::string& address, const std::string& method, const std::string& target,
           const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    auto colon = address.find(':');
    stream.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, address);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    Reply r;
    r.status = res.result_int();
    for (const auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
    r.body = res.body();
    return r;
}

const std::string kNext = "/2018-06-01/runtime/invocation/next";

class RuntimeApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!spdlog::get("http")) spdlog::null_logger_mt("http");
        api_ = std::make_unique<RuntimeApi>(ioc_, ids_);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        api_->stop();
        api_.reset();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    Invocation invocation(const std::string& id, const std::string& payload = R"({"k":1})") {
        Invocation inv;
        inv.request_id = id;
        inv.payload = payload;
        inv.deadline_ms = 1700000003000;
        inv.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST";
        inv.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
        inv.client_context = R"({"custom":{"a":"b"}})";
        return inv;
    }
    std::string addr() const { return api_->address(); }

    asio::io_context ioc_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
    lamina::RandomIdSource ids_;
    std::unique_ptr<RuntimeApi> api_;
    std::thread thread_;
};

}  // namespace

TEST_F(RuntimeApiTest, LongPolledNextReceivesTheInvocationWithAwsHeaders) {
    bool ready = false;
    api_->on_ready([&] { ready = true; });
    auto next = std::async(std::launch::async, [&] { return call(addr(), "GET", kNext); });
    EXPECT_EQ(next.wait_for(std::chrono::milliseconds(100)),
              std::future_status::timeout);  // it waits
    std::promise<Outcome> outcome;
    ASSERT_TRUE(
        api_->invoke(invocation("req-1"), [&](Outcome o) { outcome.set_value(std::move(o)); })
            .has_value());
    Reply r = next.get();
    EXPECT_TRUE(ready);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, R"({"k":1})");
    EXPECT_EQ(r.headers["Lambda-Runtime-Aws-Request-Id"], "req-1");
    EXPECT_EQ(r.headers["Lambda-Runtime-Deadline-Ms"], "1700000003000");
    EXPECT_EQ(r.headers["Lambda-Runtime-Invoked-Function-Arn"],
              "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST");
    EXPECT_EQ(r.headers["Lambda-Runtime-Trace-Id"], invocation("x").trace_id);
    EXPECT_EQ(r.headers["Lambda-Runtime-Client-Context"], R"({"custom":{"a":"b"}})");
    EXPECT_EQ(r.headers.count("Lambda-Runtime-Cognito-Identity"), 0u);

    Reply posted = call(addr(), "POST", "/2018-06-01/runtime/invocation/req-1/response",
                        R"({"ok":true})", {{"Content-Type", "application/json"}});
    EXPECT_EQ(posted.status, 202u);
    EXPECT_EQ(posted.body, R"({"status":"OK"})");
    Outcome o = outcome.get_future().get();
    EXPECT_EQ(o.kind, Outcome::Kind::Response);
    EXPECT_EQ(o.body, R"({"ok":true})");
}

TEST_F(RuntimeApiTest, QueuedInvocationIsDeliveredToTheNextNext) {
    std::promise<Outcome> outcome;
    ASSERT_TRUE(api_->invoke(invocation("req-2", "plain"), [&](Outcome o) { outcome.set_value(o); })
                    .has_value());
    Reply r = call(addr(), "GET", kNext);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "plain");
    Reply posted = call(addr(), "POST", "/2018-06-01/runtime/invocation/req-2/error",
                        R"({"errorMessage":"boom","errorType":"ValueError","stackTrace":[]})",
                        {{"Lambda-Runtime-Function-Error-Type", "Unhandled"}});
    EXPECT_EQ(posted.status, 202u);
    Outcome o = outcome.get_future().get();
    EXPECT_EQ(o.kind, Outcome::Kind::FunctionError);
    EXPECT_EQ(o.error_type, "Unhandled");
    EXPECT_NE(o.body.find("boom"), std::string::npos);
}

TEST_F(RuntimeApiTest, WrongOrRepeatedRequestIdIsRefused) {
    int completions = 0;
    ASSERT_TRUE(api_->invoke(invocation("req-3"), [&](Outcome) { ++completions; }).has_value());
    ASSERT_EQ(call(addr(), "GET", kNext).status, 200u);
    Reply wrong = call(addr(), "POST", "/2018-06-01/runtime/invocation/nope/response", "{}");
    EXPECT_EQ(wrong.status, 400u);
    EXPECT_NE(wrong.body.find("\"errorType\":\"InvalidRequestID\""), std::string::npos);
    EXPECT_EQ(call(addr(), "POST", "/2018-06-01/runtime/invocation/req-3/response", "{}").status,
              202u);
    Reply again = call(addr(), "POST", "/2018-06-01/runtime/invocation/req-3/response", "{}");
    EXPECT_EQ(again.status, 400u);
    EXPECT_EQ(completions, 1);
}

TEST_F(RuntimeApiTest, NextWhileAnInvocationIsUnansweredIsAnInvalidStateTransition) {
    ASSERT_TRUE(api_->invoke(invocation("req-4"), [](Outcome) {}).has_value());
    ASSERT_EQ(call(addr(), "GET", kNext).status, 200u);
    Reply r = call(addr(), "GET", kNext);
    EXPECT_EQ(r.status, 403u);
    EXPECT_NE(r.body.find("InvalidStateTransition"), std::string::npos);
    // and the environment is busy for the data plane too
    EXPECT_FALSE(api_->invoke(invocation("req-5"), [](Outcome) {}).has_value());
}

TEST_F(RuntimeApiTest, InitErrorIsAcceptedOnlyBeforeTheFirstNext) {
    std::promise<Outcome> init;
    api_->on_init_error([&](Outcome o) { init.set_value(o); });
    Reply r = call(
        addr(), "POST", "/2018-06-01/runtime/init/error",
        R"({"errorMessage":"Unable to import module 'x'","errorType":"Runtime.ImportModuleError"})",
        {{"Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError"}});
    EXPECT_EQ(r.status, 202u);
    Outcome o = init.get_future().get();
    EXPECT_EQ(o.kind, Outcome::Kind::InitError);
    EXPECT_EQ(o.error_type, "Runtime.ImportModuleError");

    RuntimeApi second(ioc_, ids_);
    ASSERT_TRUE(second.invoke(invocation("req-6"), [](Outcome) {}).has_value());
    ASSERT_EQ(call(second.address(), "GET", kNext).status, 200u);
    EXPECT_EQ(call(second.address(), "POST", "/2018-06-01/runtime/init/error", "{}").status, 403u);
    second.stop();
}

TEST_F(RuntimeApiTest, AbandonedInvocationRefusesALateResponse) {
    int completions = 0;
    ASSERT_TRUE(api_->invoke(invocation("req-7"), [&](Outcome) { ++completions; }).has_value());
    ASSERT_EQ(call(addr(), "GET", kNext).status, 200u);
    auto done = api_->abandon();  // e.g. the deadline passed
    ASSERT_TRUE(done);
    EXPECT_EQ(call(addr(), "POST", "/2018-06-01/runtime/invocation/req-7/response", "{}").status,
              400u);
    EXPECT_EQ(completions, 0);  // the abandoning side answers the invoke, not the runtime
    EXPECT_TRUE(api_->invoke(invocation("req-8"), [](Outcome) {}).has_value());
}

TEST_F(RuntimeApiTest, OversizedResponseIsRefusedWith413) {
    ASSERT_TRUE(api_->invoke(invocation("req-9"), [](Outcome) {}).has_value());
    ASSERT_EQ(call(addr(), "GET", kNext).status, 200u);
    Reply r = call(addr(), "POST", "/2018-06-01/runtime/invocation/req-9/response",
                   std::string(kMaxResponseBytes + 1, 'x'));
    EXPECT_EQ(r.status, 413u);
    EXPECT_NE(r.body.find("RequestEntityTooLarge"), std::string::npos);
}

TEST_F(RuntimeApiTest, StopReleasesAParkedNextAndUnknownRoutesAre404) {
    EXPECT_EQ(call(addr(), "GET", "/2018-06-01/runtime/nope").status, 404u);
    auto next = std::async(std::launch::async, [&] { return call(addr(), "GET", kNext); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    api_->stop();
    EXPECT_EQ(next.get().status, 500u);
    EXPECT_FALSE(api_->invoke(invocation("late"), [](Outcome) {}).has_value());
}

namespace {

const std::string kRegister = "/2020-01-01/extension/register";
const std::string kEventNext = "/2020-01-01/extension/event/next";

std::string register_extension(const std::string& addr, const std::string& name,
                               const std::string& events, Reply* out = nullptr) {
    Reply r = call(addr, "POST", kRegister, events, {{"Lambda-Extension-Name", name}});
    if (out) *out = r;
    return r.headers["Lambda-Extension-Identifier"];
}

}  // namespace

TEST_F(RuntimeApiTest, InitWaitsForEveryExpectedExtensionToRegisterAndAskForAnEvent) {
    api_->expect_extensions({"ext-a"}, {"f", "$LATEST", "index.handler", "123456789012"});
    std::atomic<bool> ready = false;
    api_->on_ready([&] { ready = true; });
    std::promise<Outcome> outcome;
    ASSERT_TRUE(
        api_->invoke(invocation("req-e"), [&](Outcome o) { outcome.set_value(o); }).has_value());
    auto next = std::async(std::launch::async, [&] { return call(addr(), "GET", kNext); });
    EXPECT_EQ(next.wait_for(std::chrono::milliseconds(100)),
              std::future_status::timeout);  // not before the extension
    EXPECT_FALSE(ready);

    Reply reg;
    std::string id =
        register_extension(addr(), "ext-a", R"({"events":["INVOKE","SHUTDOWN"]})", &reg);
    EXPECT_EQ(reg.status, 200u);
    EXPECT_EQ(id.size(), 36u);
    EXPECT_EQ(nlohmann::json::parse(reg.body), (nlohmann::json{{"functionName", "f"},
                                                               {"functionVersion", "$LATEST"},
                                                               {"handler", "index.handler"}}));
    EXPECT_EQ(next.wait_for(std::chrono::milliseconds(100)),
              std::future_status::timeout);  // registered, not ready yet
    Reply event = call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    EXPECT_EQ(next.get().status, 200u);
    EXPECT_TRUE(ready);
    EXPECT_EQ(event.status, 200u);
    EXPECT_EQ(event.headers["Lambda-Extension-Event-Identifier"].size(), 36u);
    auto ev = nlohmann::json::parse(event.body);
    EXPECT_EQ(ev["eventType"], "INVOKE");
    EXPECT_EQ(ev["requestId"], "req-e");
    EXPECT_EQ(ev["deadlineMs"], 1700000003000);
    EXPECT_EQ(ev["invokedFunctionArn"], "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST");
    EXPECT_EQ(ev["tracing"]["type"], "X-Amzn-Trace-Id");
}

TEST_F(RuntimeApiTest, TheEnvironmentSettlesWhenTheRuntimeAnsweredAndExtensionsAcknowledged) {
    api_->expect_extensions({"ext"}, {"f", "1", "h", "1"});
    std::string id = register_extension(addr(), "ext", R"({"events":["INVOKE"]})");
    auto first = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    std::promise<Outcome> outcome;
    std::atomic<int> settled = 0;
    ASSERT_TRUE(
        api_->invoke(
                invocation("r1"), [&](Outcome o) { outcome.set_value(o); }, [&] { ++settled; })
            .has_value());
    EXPECT_EQ(call(addr(), "GET", kNext).status, 200u);
    EXPECT_EQ(first.get().status, 200u);  // the INVOKE event
    EXPECT_EQ(call(addr(), "POST", "/2018-06-01/runtime/invocation/r1/response", "1").status, 202u);
    outcome.get_future().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(settled, 0);  // the extension still holds the invocation
    EXPECT_FALSE(api_->invoke(invocation("r2"), [](Outcome) {}).has_value());  // busy
    auto again = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    for (int i = 0; i < 100 && settled == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(settled, 1);
    // SHUTDOWN is not delivered to an extension that did not subscribe to it
    EXPECT_FALSE(api_->shutdown("spindown", 1, [] {}));
    api_->stop();
    EXPECT_EQ(again.get().status, 500u);
}

TEST_F(RuntimeApiTest, ShutdownIsDeliveredAndAcknowledged) {
    api_->expect_extensions({"ext"}, {"f", "1", "h", "1"});
    std::string id = register_extension(addr(), "ext", R"({"events":["SHUTDOWN"]})");
    auto parked = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    EXPECT_EQ(parked.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
    std::atomic<bool> acked = false;
    ASSERT_TRUE(api_->shutdown("timeout", 1700000002000, [&] { acked = true; }));
    auto ev = nlohmann::json::parse(parked.get().body);
    EXPECT_EQ(ev, (nlohmann::json{{"eventType", "SHUTDOWN"},
                                  {"shutdownReason", "timeout"},
                                  {"deadlineMs", 1700000002000}}));
    EXPECT_FALSE(acked);
    auto after = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    for (int i = 0; i < 100 && !acked; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(acked);
    api_->stop();
    after.get();
}

// lamina stopping while an environment is being retired asks for SHUTDOWN
// twice: the extension gets one, and both callers hear of its acknowledgement.
TEST_F(RuntimeApiTest, ASecondShutdownSendsNoSecondEventAndBothAreAcknowledged) {
    api_->expect_extensions({"ext"}, {"f", "1", "h", "1"});
    std::string id = register_extension(addr(), "ext", R"({"events":["SHUTDOWN"]})");
    auto parked = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    EXPECT_EQ(parked.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
    std::atomic<int> acked = 0;
    ASSERT_TRUE(api_->shutdown("spindown", 1700000002000, [&] { ++acked; }));
    ASSERT_TRUE(api_->shutdown("spindown", 1700000002000, [&] { ++acked; }));
    EXPECT_EQ(nlohmann::json::parse(parked.get().body)["eventType"], "SHUTDOWN");
    // its /next acknowledges, and waits: no second SHUTDOWN comes
    auto after = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    for (int i = 0; i < 100 && acked < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(acked, 2);
    EXPECT_EQ(after.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    api_->stop();
    EXPECT_NE(after.get().status, 200u);
}

TEST_F(RuntimeApiTest, RegistrationRulesFollowAws) {
    api_->expect_extensions({"external"}, {"f", "1", "h", "1"});
    Reply r;
    register_extension(addr(), "", "{}", &r);
    EXPECT_EQ(r.status, 403u);
    EXPECT_EQ(nlohmann::json::parse(r.body)["errorType"], "Extension.InvalidExtensionName");
    register_extension(addr(), "internal", R"({"events":["SHUTDOWN"]})", &r);
    EXPECT_EQ(r.status, 400u);  // only external extensions take SHUTDOWN
    register_extension(addr(), "x", R"({"events":["RESTORE"]})", &r);
    EXPECT_EQ(nlohmann::json::parse(r.body)["errorType"], "Extension.InvalidEventType");
    EXPECT_EQ(register_extension(addr(), "external", R"({"events":["SHUTDOWN"]})", &r).size(), 36u);
    register_extension(addr(), "external", "{}", &r);
    EXPECT_EQ(r.status, 409u);
    for (int i = 1; i < 10; ++i)
        EXPECT_EQ(register_extension(addr(), "internal-" + std::to_string(i), "{}").size(), 36u);
    register_extension(addr(), "eleventh", "{}", &r);
    EXPECT_EQ(r.status, 403u);
    EXPECT_EQ(nlohmann::json::parse(r.body),
              (nlohmann::json{{"errorType", "Extension.TooManyExtensions"},
                              {"errorMessage", "Extension limit (10) reached"}}));
    Reply missing = call(addr(), "GET", kEventNext);
    EXPECT_EQ(missing.status, 403u);
    EXPECT_EQ(nlohmann::json::parse(missing.body)["errorType"],
              "Extension.MissingExtensionIdentifier");
}

TEST_F(RuntimeApiTest, AnExpectedExtensionThatExitsDuringInitFailsIt) {
    api_->expect_extensions({"crasher"}, {"f", "1", "h", "1"});
    std::promise<Outcome> failed;
    api_->on_init_error([&](Outcome o) { failed.set_value(o); });
    EXPECT_EQ(call(addr(), "POST", "/_lamina/extension/exited?name=crasher&status=3").status, 204u);
    Outcome o = failed.get_future().get();
    EXPECT_EQ(o.kind, Outcome::Kind::InitError);
    EXPECT_EQ(o.error_type, "Extension.Crash");
    EXPECT_NE(o.body.find("exit status 3"), std::string::npos);
}

// Found by tests/fuzz (fuzz_runtime_api): an error message quoting a request
// id or extension identifier that is not UTF-8 threw from nlohmann's dump(),
// and the runtime's connection closed without an answer.
TEST_F(RuntimeApiTest, IdsThatAreNotUtf8AreQuotedInAnAnswer) {
    Reply r = call(addr(), "POST", "/2018-06-01/runtime/invocation/%FF%FE/response", "{}");
    EXPECT_EQ(r.status, 400u);
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["errorType"], "InvalidRequestID");
    Reply e = call(addr(), "GET", "/2020-01-01/extension/event/next", "",
                   {{"Lambda-Extension-Identifier", "\xff\xfe"}});
    EXPECT_EQ(e.status, 403u);
    EXPECT_EQ(nlohmann::json::parse(e.body)["errorType"], "Extension.UnknownExtensionIdentifier");
}

namespace {

// A subscriber's listener on 127.0.0.1: the bodies of the POSTs it gets, in order.
class Subscriber {
public:
    Subscriber() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this] {
            for (;;) {
                asio::ip::tcp::socket s(ioc_);
                boost::system::error_code ec;
                acceptor_.accept(s, ec);
                if (ec || stopping_) return;
                beast::flat_buffer buf;
                bhttp::request<bhttp::string_body> req;
                bhttp::read(s, buf, req, ec);
                if (ec) continue;
                {
                    std::lock_guard lk(mu_);
                    bodies_.push_back(req.body());
                }
                bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
                res.prepare_payload();
                bhttp::write(s, res, ec);
            }
        });
    }
    ~Subscriber() {
        stopping_ = true;
        boost::system::error_code ec;
        asio::ip::tcp::socket poke(ioc_);
        poke.connect(acceptor_.local_endpoint(), ec);
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::vector<std::string> bodies() {
        std::lock_guard lk(mu_);
        return bodies_;
    }

private:
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> stopping_ = false;
    std::mutex mu_;
    std::vector<std::string> bodies_;
    std::thread thread_;
};

}  // namespace

TEST_F(RuntimeApiTest, SubscribersGetRecordsInBatchesAndTheRestBeforeShutdown) {
    Subscriber sub;
    api_->telemetry().set_host("127.0.0.1");
    api_->expect_extensions({"tap"}, {"f", "$LATEST", "index.handler", "123456789012"});
    api_->telemetry().publish(RecordKind::Platform, records::init_start(0, "on-demand"));
    std::string id = register_extension(addr(), "tap", R"({"events":["SHUTDOWN"]})");
    std::string body =
        R"({"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:)" +
        std::to_string(sub.port()) +
        R"(/t"},"types":["platform","function"],"buffering":{"maxItems":25,"timeoutMs":30000}})";
    EXPECT_EQ(call(addr(), "PUT", "/2022-07-01/telemetry", body, {}).status, 403u);
    Reply ok =
        call(addr(), "PUT", "/2022-07-01/telemetry", body, {{"Lambda-Extension-Identifier", id}});
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.body, "OK");
    Reply both =
        call(addr(), "PUT", "/2020-08-15/logs", body, {{"Lambda-Extension-Identifier", id}});
    EXPECT_EQ(both.status, 400u);
    for (int i = 0; i < 30; ++i)
        api_->telemetry().publish(RecordKind::Function,
                                  records::line(0, RecordKind::Function, std::to_string(i), false));
    api_->telemetry().publish(RecordKind::Extension,
                              records::line(0, RecordKind::Extension, "not subscribed", false));
    // a full batch goes at once; the rest waits for timeoutMs (30 s) or the flush
    for (int i = 0; i < 200 && sub.bodies().empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(sub.bodies().size(), 1u);
    auto first = nlohmann::json::parse(sub.bodies()[0]);
    ASSERT_EQ(first.size(), 25u);
    EXPECT_EQ(first[0]["type"], "platform.initStart");  // published before the subscription
    EXPECT_EQ(first[1]["type"], "platform.telemetrySubscription");
    EXPECT_EQ(first[2]["record"], "0");

    // the extension waits for SHUTDOWN: it comes only once the rest was delivered
    auto next = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kEventNext, "", {{"Lambda-Extension-Identifier", id}});
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::atomic<bool> acknowledged = false;
    EXPECT_TRUE(api_->shutdown("spindown", 0, [&] { acknowledged = true; }));
    Reply shutdown = next.get();
    EXPECT_NE(shutdown.body.find("SHUTDOWN"), std::string::npos);
    auto bodies = sub.bodies();
    ASSERT_EQ(bodies.size(), 2u);
    auto rest = nlohmann::json::parse(bodies[1]);
    std::vector<std::string> lines;
    for (const auto& r : rest)
        if (r["type"] == "function") lines.push_back(r["record"]);
    EXPECT_EQ(lines.back(), "29");
    EXPECT_EQ(first.size() + rest.size(),
              2u + 1u + 30u);  // initStart, subscription, extension, lines
}

// AWS's Node.js RIC ends a streamed answer and asks for the next event
// without waiting for the answer's 202: a /next that arrives while the answer
// is still being read waits for the next event instead of failing.
TEST_F(RuntimeApiTest, NextDuringAnAnswerStillArrivingWaitsForTheNextEvent) {
    std::promise<Outcome> first;
    ASSERT_TRUE(api_->invoke(invocation("req-6"), [&](Outcome o) { first.set_value(o); }));
    ASSERT_EQ(call(addr(), "GET", kNext).status, 200u);

    // the answer's head and half of its body
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream answer(ioc);
    auto colon = addr().find(':');
    answer.connect(resolver.resolve(addr().substr(0, colon), addr().substr(colon + 1)));
    std::string head =
        "POST /2018-06-01/runtime/invocation/req-6/response HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 11\r\n\r\n{\"ok\":";
    asio::write(answer, asio::buffer(head));

    // its head has been seen once a /next sent after it is not refused
    std::future<Reply> next;
    for (int i = 0; i < 200; ++i) {
        next = std::async(std::launch::async, [&] { return call(addr(), "GET", kNext); });
        if (next.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout) break;
        ASSERT_EQ(next.get().status, 403u);  // the head is not read yet
    }
    ASSERT_EQ(next.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

    asio::write(answer, asio::buffer(std::string("true}")));
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(answer, buf, res);
    EXPECT_EQ(res.result_int(), 202u);
    Outcome o = first.get_future().get();
    EXPECT_EQ(o.body, R"({"ok":true})");

    // the parked /next gets the next invocation
    std::promise<Outcome> second;
    ASSERT_TRUE(
        api_->invoke(invocation("req-7", "second"), [&](Outcome o2) { second.set_value(o2); }));
    Reply r = next.get();
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.headers["Lambda-Runtime-Aws-Request-Id"], "req-7");
    EXPECT_EQ(r.body, "second");
}

// SnapStart: a snapshot's runtime parks in restore/next; each fork order is
// the answer to one poll, and the next poll reports the child's pid.
TEST_F(RuntimeApiTest, SnapshotRuntimeTakesForkOrdersThroughRestoreNext) {
    const std::string kRestore = "/2018-06-01/runtime/restore/next";
    std::atomic<int> snapshots{0}, self{0};
    api_->snapshot_mode([&](int pid) {
        self = pid;
        ++snapshots;
    });
    auto first = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kRestore, "", {{"Lamina-Restore-Pid", "7"}});
    });
    EXPECT_EQ(first.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    EXPECT_EQ(snapshots.load(), 1);  // the snapshot is taken once the runtime waits there
    EXPECT_EQ(self.load(), 7);
    std::promise<int> child;
    api_->fork_restored("127.0.0.1:9", "/tmp/out", {"/bin/bash", "/rt/launch.sh", "/opt"},
                        [&](int pid) { child.set_value(pid); });
    Reply order = first.get();
    EXPECT_EQ(order.status, 200u);
    EXPECT_EQ(order.headers["Lamina-Restore-Fork"], "127.0.0.1:9");
    EXPECT_EQ(order.headers["Lamina-Restore-Output"], "/tmp/out");
    // the layers' extensions start in the restored environment, by this command
    EXPECT_EQ(order.headers["Lamina-Restore-Extensions"],
              R"(["/bin/bash","/rt/launch.sh","/opt"])");
    // the runtime forked: it says which child, and waits for the next order
    auto second = std::async(std::launch::async, [&] {
        return call(addr(), "GET", kRestore, "", {{"Lamina-Restore-Child", "42"}});
    });
    EXPECT_EQ(child.get_future().get(), 42);
    api_->reap_restored();
    Reply reap = second.get();
    EXPECT_EQ(reap.headers["Lamina-Restore-Reap"], "1");
    EXPECT_EQ(reap.headers.count("Lamina-Restore-Fork"), 0u);
    EXPECT_EQ(snapshots.load(), 1);
    // an order left when the snapshot goes is answered -1
    auto third = std::async(std::launch::async, [&] { return call(addr(), "GET", kRestore); });
    std::promise<int> never;
    third.wait_for(std::chrono::milliseconds(50));
    api_->stop();
    api_->fork_restored("127.0.0.1:9", "/tmp/out2", {}, [&](int pid) { never.set_value(pid); });
    EXPECT_EQ(never.get_future().get(), -1);
    EXPECT_EQ(third.get().status, 500u);
}

TEST_F(RuntimeApiTest, RestoredRuntimeIsAnsweredAtOnceAndItsRestoreErrorFailsInit) {
    std::promise<Outcome> failed;
    api_->on_init_error([&](Outcome o) { failed.set_value(std::move(o)); });
    Reply r = call(addr(), "GET", "/2018-06-01/runtime/restore/next");
    EXPECT_EQ(r.status, 200u);
    Reply posted = call(addr(), "POST", "/2018-06-01/runtime/restore/error",
                        R"({"errorMessage":"boom","errorType":"Runtime.AfterRestoreError"})",
                        {{"Lambda-Runtime-Function-Error-Type", "Runtime.AfterRestoreError"}});
    EXPECT_EQ(posted.status, 202u);
    Outcome o = failed.get_future().get();
    EXPECT_EQ(o.kind, Outcome::Kind::InitError);
    EXPECT_EQ(o.error_type, "Runtime.AfterRestoreError");
}

// A server out of descriptors (1,000 environments under a soft limit of 1024
// ended lamina with an uncaught system_error): the start fails, lamina goes on.
TEST(RuntimeApiOpen, OutOfDescriptorsIsAnErrorNotAnException) {
#ifdef __SANITIZE_ADDRESS__
    // UBSan tells a live object by writing its memory into a pipe: with no
    // descriptor free, every check of a type reports a false error
    GTEST_SKIP() << "needs a build without the sanitizers (their checks need descriptors)";
#endif
    asio::io_context ioc;
    lamina::RandomIdSource ids;
    struct rlimit was {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &was), 0);
    int highest = 0;  // every descriptor up to it is taken: the limit leaves none free
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        highest = std::max(highest, std::stoi(e.path().filename().string()));
    struct rlimit none = was;
    none.rlim_cur = static_cast<rlim_t>(highest + 1);
    std::vector<int> filler;  // fill the holes below it
    for (;;) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        if (fd > highest) {
            ::close(fd);
            break;
        }
        filler.push_back(fd);
    }
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
    EXPECT_THROW(RuntimeApi(ioc, ids), boost::system::system_error);  // what ended lamina
    auto failed = RuntimeApi::open(ioc, ids);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &was), 0);
    for (int fd : filler) ::close(fd);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, lamina::ErrorCode::Service);
    EXPECT_NE(failed.error().message.find("cannot listen"), std::string::npos);
    auto opened = RuntimeApi::open(ioc, ids);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_NE((*opened)->address(), "127.0.0.1:0");
}
