#pragma once
// Live Tail sessions (StartLiveTail): each watches some log groups (and
// streams) of one account and region through a filter pattern. The store
// tells the hub what it has just stored (LogStore::set_listener); once per
// interval one thread of the hub hands every session what matched since the
// last round, at most kMaxResults events (sampled evenly beyond), and ends
// sessions that outlived their bound, or all of them on stop(). No thread
// per session: a session is its sink, called from the hub's thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/logs/filter_pattern.hpp"
#include "lamina/logs/log_store.hpp"

namespace lamina::logs {

struct TailGroup {
    std::string name;        // the group's name
    std::string identifier;  // how results name it
};

struct TailFilter {
    Where where;
    std::vector<TailGroup> groups;
    std::vector<std::string> streams, prefixes;  // at most one of them set
    FilterPattern pattern;
};

struct TailEvent {
    std::string group_identifier, stream, message;
    std::int64_t timestamp = 0, ingestion_time = 0;
};

struct TailUpdate {
    bool sampled = false;
    std::vector<TailEvent> events;
};

enum class TailEnd {
    Timeout,   // the session reached its longest life
    Shutdown,  // lamina is stopping
};

// A session's consumer. Called from the hub's thread, one call at a time.
struct TailSink {
    // False: the consumer is gone (the session ends, unannounced).
    std::function<bool(TailUpdate)> update;
    std::function<void(TailEnd)> end;
};

class LiveTail {
public:
    static constexpr std::size_t kMaxResults = 500;     // events per update (AWS)
    static constexpr std::size_t kMaxPending = 50'000;  // stored events held between rounds
    struct Options {
        std::chrono::milliseconds interval{1000};
        std::chrono::milliseconds max_session{3 * 3'600'000};  // AWS: 3 hours
    };

    // Listens to `store` while it has sessions.
    LiveTail(LogStore& store, Clock& clock, Options options);
    ~LiveTail();
    LiveTail(const LiveTail&) = delete;
    LiveTail& operator=(const LiveTail&) = delete;

    // Starts a session; events stored from now on reach `sink`. Starts the
    // hub's thread unless `run_thread` was false. False once stopped.
    bool start(TailFilter filter, TailSink sink);
    // One round: every session gets its update (the thread's work; tests call it).
    void tick();
    // Ends every session (TailEnd::Shutdown) and the thread; later starts fail.
    void stop();
    std::size_t sessions() const;

    // What the store just stored (the store's listener).
    void stored(const std::vector<StoredEvent>& events);

    // Tests drive tick() themselves.
    void set_run_thread_for_test(bool run) { run_thread_ = run; }

private:
    struct Session {
        TailFilter filter;
        TailSink sink;
        std::int64_t started = 0;
    };
    void loop();
    void listen(bool on);
    static bool wants(const TailFilter& f, const StoredEvent& e);

    LogStore& store_;
    Clock& clock_;
    Options options_;
    bool run_thread_ = true;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
    std::vector<StoredEvent> pending_;
    bool overflowed_ = false;  // events were dropped since the last round
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace lamina::logs
