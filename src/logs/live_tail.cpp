#include "lamina/logs/live_tail.hpp"

#include <algorithm>
#include <utility>

namespace lamina::logs {

LiveTail::LiveTail(LogStore& store, Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options) {
    store_.set_listener(
        StoreListener{[this] {
                          std::lock_guard lk(mu_);
                          return !sessions_.empty();
                      },
                      [this](const std::vector<StoredEvent>& events) { stored(events); }});
}

LiveTail::~LiveTail() {
    stop();
    store_.set_listener({});
}

bool LiveTail::start(TailFilter filter, TailSink sink) {
    auto session = std::make_shared<Session>();
    session->filter = std::move(filter);
    session->sink = std::move(sink);
    session->started = clock_.now_ms();
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    sessions_.emplace(next_id_++, std::move(session));
    if (run_thread_ && !thread_.joinable()) thread_ = std::thread([this] { loop(); });
    return true;
}

std::size_t LiveTail::sessions() const {
    std::lock_guard lk(mu_);
    return sessions_.size();
}

void LiveTail::stored(const std::vector<StoredEvent>& events) {
    std::lock_guard lk(mu_);
    if (sessions_.empty()) return;
    for (const auto& e : events) {
        if (pending_.size() >= kMaxPending) {
            overflowed_ = true;
            break;
        }
        pending_.push_back(e);
    }
}

bool LiveTail::wants(const TailFilter& f, const StoredEvent& e) {
    if (e.where.account != f.where.account || e.where.region != f.where.region) return false;
    if (!f.streams.empty() &&
        std::find(f.streams.begin(), f.streams.end(), e.stream) == f.streams.end())
        return false;
    if (!f.prefixes.empty() && std::none_of(f.prefixes.begin(), f.prefixes.end(),
                                            [&](const auto& p) { return e.stream.starts_with(p); }))
        return false;
    return f.pattern.matches(e.message);
}

void LiveTail::tick() {
    std::vector<StoredEvent> events;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<Session>>> sessions;
    bool overflowed;
    {
        std::lock_guard lk(mu_);
        events.swap(pending_);
        overflowed = std::exchange(overflowed_, false);
        sessions.assign(sessions_.begin(), sessions_.end());
    }
    const std::int64_t now = clock_.now_ms();
    std::vector<std::uint64_t> gone;
    for (auto& [id, s] : sessions) {
        if (now - s->started >= options_.max_session.count()) {
            s->sink.end(TailEnd::Timeout);
            gone.push_back(id);
            continue;
        }
        std::vector<const StoredEvent*> matched;
        for (const auto& e : events) {
            auto g = std::find_if(s->filter.groups.begin(), s->filter.groups.end(),
                                  [&](const TailGroup& t) { return t.name == e.group; });
            if (g != s->filter.groups.end() && wants(s->filter, e)) matched.push_back(&e);
        }
        TailUpdate u;
        u.sampled = overflowed && !matched.empty();
        std::size_t n = matched.size();
        if (n > kMaxResults) u.sampled = true;
        std::size_t take = std::min(n, kMaxResults);
        for (std::size_t k = 0; k < take; ++k) {  // evenly spread over what matched
            const StoredEvent& e = *matched[k * n / take];
            std::string identifier;
            for (const auto& g : s->filter.groups)
                if (g.name == e.group) identifier = g.identifier;
            u.events.push_back({identifier, e.stream, e.message, e.timestamp, e.ingestion_time});
        }
        if (!s->sink.update(std::move(u))) gone.push_back(id);
    }
    if (gone.empty()) return;
    std::lock_guard lk(mu_);
    for (auto id : gone) sessions_.erase(id);
}

void LiveTail::loop() {
    std::unique_lock lk(mu_);
    while (!stopping_) {
        cv_.wait_for(lk, options_.interval, [&] { return stopping_; });
        if (stopping_) break;
        lk.unlock();
        tick();
        lk.lock();
    }
}

void LiveTail::stop() {
    std::map<std::uint64_t, std::shared_ptr<Session>> ending;
    {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
        std::lock_guard lk(mu_);
        ending.swap(sessions_);
        pending_.clear();
    }
    for (auto& [id, s] : ending) s->sink.end(TailEnd::Shutdown);
}

}  // namespace lamina::logs
