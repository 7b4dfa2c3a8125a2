#pragma once
// The Lambda Runtime API (2018-06-01) as one execution environment sees it:
// a loopback listener whose address is given to the environment as
// AWS_LAMBDA_RUNTIME_API. The data plane hands it one invocation at a time;
// the runtime long-polls /invocation/next, then posts /response or /error.
// Status codes and error bodies for wrong ids and out-of-order calls follow
// AWS's runtime interface.

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lamina/common/error.hpp"

namespace lamina::runtime {

struct Invocation {
    std::string request_id;
    std::string payload;
    std::int64_t deadline_ms = 0;  // epoch ms
    std::string invoked_function_arn;
    std::string trace_id;
    std::optional<std::string> client_context;    // decoded JSON
    std::optional<std::string> cognito_identity;  // JSON
};

struct Outcome {
    enum class Kind { Response, FunctionError, InitError } kind = Kind::Response;
    std::string body;
    std::string content_type;
    std::string error_type;  // Lambda-Runtime-Function-Error-Type, when given
};

// Largest response body the runtime may post (AWS: 6 MiB + 100 bytes).
inline constexpr std::size_t kMaxResponseBytes = 6291556;

class RuntimeApi {
public:
    explicit RuntimeApi(boost::asio::io_context& ioc);
    ~RuntimeApi();
    RuntimeApi(const RuntimeApi&) = delete;
    RuntimeApi& operator=(const RuntimeApi&) = delete;

    // "127.0.0.1:<port>", the value of AWS_LAMBDA_RUNTIME_API.
    std::string address() const;

    // Called once if the runtime reports an init failure (POST /runtime/init/error).
    void on_init_error(std::function<void(Outcome)> fn);
    // Called the first time the runtime asks for an invocation (init is over).
    void on_ready(std::function<void()> fn);

    // Queues one invocation for the runtime's next /next; `done` runs once
    // with what the runtime posted. Refused while another one is in flight.
    Status invoke(Invocation inv, std::function<void(Outcome)> done);
    // Abandons the invocation in flight, if any (timeout, crash): a late
    // /response for it is refused as an unknown request id. Returns its
    // completion so the caller can answer it.
    std::function<void(Outcome)> abandon();
    void stop();

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace lamina::runtime
