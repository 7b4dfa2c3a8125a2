#pragma once
// Amazon SQS on lamina's port: the awsJson 1.0 protocol (X-Amz-Target:
// AmazonSQS.<Op>) and the query protocol (Action=<Op>&Version=2012-11-05,
// to "/" or to a queue URL's path), over sqs::Queues. Both protocols are
// read into the JSON protocol's input shape, served by one handler per
// operation, and rendered back in the request's protocol. ReceiveMessage
// with WaitTimeSeconds waits on a Queues::Watch and a timer: no thread is
// held while it waits.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/http/message.hpp"
#include "lamina/sqs/queues.hpp"

namespace lamina::sqs {

inline constexpr const char* kTargetPrefix = "AmazonSQS.";
inline constexpr const char* kXmlns = "http://queue.amazonaws.com/doc/2012-11-05/";

enum class Wire { Json, Query };

struct SqsContext {
    std::string request_id;
    std::string account;
    std::string region;
    std::string host;       // Host header: queue URLs point back at it
    std::string sender_id;  // SenderId of sent messages
};

class SqsApi {
public:
    // `timers`: where long-poll timers run and their answers are made (the worker pool).
    SqsApi(Queues& queues, boost::asio::any_io_executor timers);

    using Done = std::function<void(http::Response)>;
    // Serves one request; `done` is called exactly once, maybe later (long polls), from any thread.
    void handle(const SqsContext& ctx, const http::Request& req, Wire wire, Done done);

    // Whether `action` names an SQS operation (emulated or not): routes query requests.
    static bool is_action(std::string_view action);
    // A path "/<12-digit account>/<queue name>".
    static bool is_queue_path(std::string_view path);

    // Answers every waiting long poll now (with what is there) and makes later
    // ones answer at once: a shutdown does not wait for their timers.
    void stop();

    // Long polls wait at most this long (fuzzing: 0, so no input waits on the clock).
    void cap_wait_for_test(int seconds) { max_wait_seconds_ = seconds; }

    struct Call;  // one request, read into the JSON protocol's input shape (private header)

private:
    struct Poll;
    Result<nlohmann::json> run(const SqsContext& ctx, const Call& call);
    void receive(const SqsContext& ctx, const Call& call, Done done);

    Queues& queues_;
    boost::asio::any_io_executor timers_;
    int max_wait_seconds_ = 20;
    std::mutex polls_mu_;
    std::vector<std::weak_ptr<Poll>> polls_;  // waiting (expired ones pruned as new ones come)
    bool stopped_ = false;
};

}  // namespace lamina::sqs
