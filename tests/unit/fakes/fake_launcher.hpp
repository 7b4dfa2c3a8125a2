#pragma once
// A sandbox::Launcher that forks nothing: each "process" is a thread running
// a scripted runtime that speaks the real Runtime API over loopback (the
// address in AWS_LAMBDA_RUNTIME_API), so the Invoker is tested end to end
// without a sandbox or an interpreter. Scripts are chosen by the function's
// handler (_HANDLER).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lamina/sandbox/launcher.hpp"

namespace lamina::fakes {

// What a scripted runtime can do: the Runtime API calls, printing, waiting.
class FakeRuntime {
public:
    struct Event {
        std::string request_id;
        std::string payload;
        std::string tenant_id;  // Lambda-Runtime-Aws-Tenant-Id ("" none)
    };
    FakeRuntime(std::string address, std::map<std::string, std::string> env)
        : address_(std::move(address)), env_(std::move(env)) {}

    const std::map<std::string, std::string>& env() const { return env_; }
    // GET /next (long poll); nullopt once killed.
    std::optional<Event> next() {
        auto r = call("GET", "/2018-06-01/runtime/invocation/next", "", {});
        if (!r || r->status != 200) return std::nullopt;
        return Event{r->request_id, r->body, r->tenant_id};
    }
    // A spare environment's wait (lamina's bootstrap --spare): true once
    // released; false at once for an environment that is no spare (404).
    bool hold() {
        auto r = call("GET", "/2018-06-01/runtime/_lamina/spare/hold", "", {});
        return r && r->status == 202;
    }
    bool respond(const std::string& id, const std::string& body) {
        auto r = call("POST", "/2018-06-01/runtime/invocation/" + id + "/response", body, {});
        return r && r->status == 202;
    }
    bool error(const std::string& id, const std::string& type, const std::string& message) {
        auto r = call("POST", "/2018-06-01/runtime/invocation/" + id + "/error",
                      "{\"errorType\":\"" + type + "\",\"errorMessage\":\"" + message + "\"}",
                      {{"Lambda-Runtime-Function-Error-Type", type}});
        return r && r->status == 202;
    }
    // The Extensions API, as an external extension named `name` would call it.
    std::optional<std::string> register_extension(const std::string& name,
                                                  const std::string& events_json) {
        auto r = call("POST", "/2020-01-01/extension/register", "{\"events\":" + events_json + "}",
                      {{"Lambda-Extension-Name", name}});
        if (!r || r->status != 200) return std::nullopt;
        return r->extension_id;
    }
    // GET /event/next: the event's JSON; nullopt once killed.
    std::optional<std::string> next_extension_event(const std::string& id) {
        auto r = call("GET", "/2020-01-01/extension/event/next", "",
                      {{"Lambda-Extension-Identifier", id}});
        if (!r || r->status != 200) return std::nullopt;
        return r->body;
    }
    bool init_error(const std::string& type, const std::string& message) {
        auto r = call("POST", "/2018-06-01/runtime/init/error",
                      "{\"errorType\":\"" + type + "\",\"errorMessage\":\"" + message + "\"}",
                      {{"Lambda-Runtime-Function-Error-Type", type}});
        return r && r->status == 202;
    }
    // Writes to the "process output" (what the invoker logs).
    void print(const std::string& text) {
        std::lock_guard lk(mu_);
        output_ += text;
    }
    // Sleeps, or less when killed; returns false when killed.
    bool sleep_for(std::chrono::milliseconds d) {
        std::unique_lock lk(mu_);
        return !cv_.wait_for(lk, d, [&] { return killed_; });
    }
    bool killed() const {
        std::lock_guard lk(mu_);
        return killed_;
    }

    // The process side.
    void kill() {
        {
            std::lock_guard lk(mu_);
            killed_ = true;
        }
        cv_.notify_all();
        std::lock_guard lk(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // ends the long polls
    }
    std::string take_output() {
        std::lock_guard lk(mu_);
        return std::exchange(output_, {});
    }

private:
    struct Reply {
        int status = 0;
        std::string request_id;
        std::string extension_id;
        std::string body;
        std::string tenant_id;
    };
    std::optional<Reply> call(const std::string& method, const std::string& path,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
        if (killed()) return std::nullopt;
        auto colon = address_.rfind(':');
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return std::nullopt;
        {
            std::lock_guard lk(mu_);
            open_fds_.insert(fd);
        }
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address_.substr(colon + 1))));
        ::inet_pton(AF_INET, address_.substr(0, colon).c_str(), &sa.sin_addr);
        std::optional<Reply> out;
        if (!killed() && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
            std::string req =
                method + " " + path + " HTTP/1.1\r\nHost: " + address_ +
                "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
            for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
            req += "\r\n" + body;
            if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(req.size()))
                out = read_reply(fd);
        }
        {
            std::lock_guard lk(mu_);
            open_fds_.erase(fd);
        }
        ::close(fd);
        return out;
    }
    static std::optional<Reply> read_reply(int fd) {
        std::string data;
        char buf[4096];
        std::size_t head_end = std::string::npos, length = 0;
        for (;;) {
            if (head_end != std::string::npos && data.size() >= head_end + 4 + length) break;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return std::nullopt;
            data.append(buf, static_cast<std::size_t>(n));
            if (head_end == std::string::npos &&
                (head_end = data.find("\r\n\r\n")) != std::string::npos)
                length = header_value(data.substr(0, head_end), "content-length").empty()
                             ? 0
                             : std::stoul(header_value(data.substr(0, head_end), "content-length"));
        }
        Reply r;
        r.status = std::stoi(data.substr(9, 3));
        r.request_id = header_value(data.substr(0, head_end), "lambda-runtime-aws-request-id");
        r.extension_id = header_value(data.substr(0, head_end), "lambda-extension-identifier");
        r.tenant_id = header_value(data.substr(0, head_end), "lambda-runtime-aws-tenant-id");
        r.body = data.substr(head_end + 4, length);
        return r;
    }
    static std::string header_value(const std::string& head, const std::string& lower_name) {
        std::size_t pos = 0;
        while ((pos = head.find("\r\n", pos)) != std::string::npos) {
            pos += 2;
            auto end = head.find("\r\n", pos);
            std::string line =
                head.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (name == lower_name) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
        return {};
    }

    std::string address_;
    std::map<std::string, std::string> env_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool killed_ = false;
    std::string output_;
    std::set<int> open_fds_;  // sockets of the calls in progress (several threads may call)
};

// A script is the runtime's main(): its return value is the exit code.
using RuntimeScript = std::function<int(FakeRuntime&)>;

class FakeProcess final : public sandbox::Process {
public:
    FakeProcess(boost::asio::io_context& ioc, std::shared_ptr<FakeRuntime> rt, RuntimeScript script,
                sandbox::ExitHandler on_exit)
        : rt_(std::move(rt)) {
        thread_ = std::thread([&ioc, rt = rt_, gone = gone_, script = std::move(script),
                               on_exit = std::move(on_exit)] {
            int code = script(*rt);
            sandbox::ExitStatus status =
                rt->killed() ? sandbox::ExitStatus{0, SIGKILL} : sandbox::ExitStatus{code, 0};
            boost::asio::post(ioc, [on_exit, status, gone] {
                if (!*gone) on_exit(status);  // as a HostProcess: no report once its owner is gone
            });
        });
    }
    ~FakeProcess() override {
        *gone_ = true;
        rt_->kill();
        if (thread_.joinable()) thread_.join();
    }
    int pid() const override { return -1; }
    void kill() override { rt_->kill(); }
    std::string take_output() override { return rt_->take_output(); }
    long peak_rss_mb() const override { return 1; }

private:
    std::shared_ptr<FakeRuntime> rt_;
    std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
    std::thread thread_;
};

class FakeLauncher final : public sandbox::Launcher {
public:
    explicit FakeLauncher(boost::asio::io_context& ioc) : ioc_(ioc) {}
    // The runtime functions with this handler get.
    void script(const std::string& handler, RuntimeScript s) {
        std::lock_guard lk(mu_);
        scripts_[handler] = std::move(s);
    }
    int launches() const {
        std::lock_guard lk(mu_);
        return launches_;
    }
    // The environment variables of every launch, in order.
    std::vector<std::map<std::string, std::string>> environments() const {
        std::lock_guard lk(mu_);
        return envs_;
    }
    // The command line of every launch, in order.
    std::vector<std::vector<std::string>> commands() const {
        std::lock_guard lk(mu_);
        return commands_;
    }

    sandbox::Backend backend() const override { return sandbox::Backend::Process; }
    sandbox::EnvironmentPaths paths(const sandbox::LaunchSpec& spec) const override {
        return sandbox::paths_for(sandbox::Backend::Process, spec);
    }
    Result<std::unique_ptr<sandbox::Process>> launch(sandbox::LaunchSpec spec,
                                                     std::vector<std::string>,
                                                     sandbox::ExitHandler on_exit) override {
        RuntimeScript s;
        {
            std::lock_guard lk(mu_);
            auto it = scripts_.find(spec.env["_HANDLER"]);
            if (it == scripts_.end())
                return fail(ErrorCode::Service, "no script for " + spec.env["_HANDLER"]);
            s = it->second;
            ++launches_;
            envs_.push_back(spec.env);
            commands_.push_back(spec.command);
        }
        auto rt = std::make_shared<FakeRuntime>(spec.env["AWS_LAMBDA_RUNTIME_API"], spec.env);
        return std::unique_ptr<sandbox::Process>(
            std::make_unique<FakeProcess>(ioc_, std::move(rt), std::move(s), std::move(on_exit)));
    }

private:
    boost::asio::io_context& ioc_;
    mutable std::mutex mu_;
    std::map<std::string, RuntimeScript> scripts_;
    int launches_ = 0;
    std::vector<std::map<std::string, std::string>> envs_;
    std::vector<std::vector<std::string>> commands_;
};

}  // namespace lamina::fakes
