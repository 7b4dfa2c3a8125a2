#pragma once
// Where spare environments are started (spare.cpp): on a thread of their own,
// once CreateFunction and its kin have been quiet for a moment, newest first.
// A burst of CreateFunction calls (Terraform, a test suite's set-up) then
// starts only the spares still wanted at its end, instead of a sandbox and a
// runtime per call, each let go again by the next; and no start holds a
// worker thread that the next API call is waiting for.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lamina::exec {

class SpareStarter {
public:
    explicit SpareStarter(std::chrono::milliseconds quiet) : quiet_(quiet) {}
    ~SpareStarter() { stop(); }
    SpareStarter(const SpareStarter&) = delete;
    SpareStarter& operator=(const SpareStarter&) = delete;

    // Runs `start` on the starter's thread once no add() came for `quiet`;
    // of what waits, the newest runs first.
    void add(std::function<void()> start);
    // Drops what has not run, waits for the start running now, ends the thread.
    void stop();

private:
    void loop();

    const std::chrono::milliseconds quiet_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::function<void()>> waiting_;  // oldest first
    std::chrono::steady_clock::time_point last_add_{};
    bool stopping_ = false;
    std::thread thread_;  // started by the first add()
};

}  // namespace lamina::exec
