#pragma once
// An invocation's log lines (START..REPORT, what the function printed between),
// formatted the first time they are asked for: on a warm invoke, once its answer
// is on the caller's socket, not before (see Invoker::run).
#include <functional>
#include <mutex>
#include <string>
#include <utility>

namespace lamina::exec {

class LateLog {
public:
    explicit LateLog(std::function<std::string()> make) : make_(std::move(make)) {}
    LateLog(const LateLog&) = delete;
    LateLog& operator=(const LateLog&) = delete;

    // The lines; formatted once, by whichever thread asks first.
    const std::string& text() {
        std::call_once(once_, [this] {
            text_ = make_();
            make_ = nullptr;  // what it held (the environment's output) goes now
        });
        return text_;
    }

private:
    std::once_flag once_;
    std::function<std::string()> make_;
    std::string text_;
};

}  // namespace lamina::exec
