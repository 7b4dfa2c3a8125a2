#include "environment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "lamina/common/clock.hpp"

namespace lamina::exec {

const char* to_string(EnvState s) {
    switch (s) {
        case EnvState::Starting:
            return "Starting";
        case EnvState::StartingInvoked:
            return "StartingInvoked";
        case EnvState::Idle:
            return "Idle";
        case EnvState::Busy:
            return "Busy";
        case EnvState::Settling:
            return "Settling";
        case EnvState::Retiring:
            return "Retiring";
        case EnvState::Dead:
            return "Dead";
    }
    return "?";
}

const char* to_string(EnvEvent e) {
    switch (e) {
        case EnvEvent::Invoke:
            return "Invoke";
        case EnvEvent::InitDone:
            return "InitDone";
        case EnvEvent::Answer:
            return "Answer";
        case EnvEvent::Settle:
            return "Settle";
        case EnvEvent::Retire:
            return "Retire";
        case EnvEvent::Exit:
            return "Exit";
    }
    return "?";
}

std::optional<EnvState> transition(EnvState from, EnvEvent event) {
    using S = EnvState;
    using E = EnvEvent;
    // An exit ends every life; retiring is allowed from any live state (and
    // again while retiring: a timeout may follow a SHUTDOWN).
    if (event == E::Exit) return from == S::Dead ? std::nullopt : std::optional(S::Dead);
    if (event == E::Retire) return from == S::Dead ? std::nullopt : std::optional(S::Retiring);
    switch (from) {
        case S::Starting:
            if (event == E::Invoke) return S::StartingInvoked;
            if (event == E::InitDone) return S::Idle;
            break;
        case S::StartingInvoked:
            if (event == E::InitDone) return S::Busy;
            break;
        case S::Idle:
            if (event == E::Invoke) return S::Busy;
            break;
        case S::Busy:
            if (event == E::Answer) return S::Settling;
            break;
        case S::Settling:
            if (event == E::Settle) return S::Idle;
            break;
        case S::Retiring:
        case S::Dead:
            break;
    }
    return std::nullopt;
}

Environment::~Environment() {
    std::unique_ptr<sandbox::Process> p;
    {
        std::lock_guard lk(mu);
        p = std::move(process);
    }
    p.reset();  // kills and reaps a process still running
    close_log();
    if (peak_fd >= 0) ::close(peak_fd);
    if (checkpoint_stdin >= 0) ::close(checkpoint_stdin);
}

bool Environment::apply(EnvEvent event) {
    auto next = transition(state, event);
    if (!next) return false;
    if (event == EnvEvent::InitDone) ready_at = Clk::now();
    state = *next;
    return true;
}

bool Environment::initialised() const {
    return state != EnvState::Starting && state != EnvState::StartingInvoked &&
           ready_at != Clk::time_point{};
}

void Environment::release_slot() {
    std::shared_ptr<Slot> s;
    std::lock_guard lk(mu);
    s = std::move(slot);
}

void Environment::kill() {
    std::lock_guard lk(mu);
    if (process)
        process->kill();
    else
        kill_requested = true;
}

std::string Environment::take_output() {
    std::string raw;
    {
        std::lock_guard lk(mu);
        if (process) raw = process->take_output();
    }
    runtime::TelemetryHub* hub = api ? &api->telemetry() : nullptr;
    bool function_lines = hub && hub->wants(runtime::RecordKind::Function);
    bool extension_lines = hub && hub->wants(runtime::RecordKind::Extension);
    if (raw.empty() || (raw.find(kExtensionMark) == std::string::npos && !function_lines))
        return raw;
    std::int64_t now = SystemClock().now_ms();
    std::string clean;
    clean.reserve(raw.size());
    for (std::size_t at = 0; at < raw.size();) {
        std::size_t nl = raw.find('\n', at);
        std::size_t end = nl == std::string::npos ? raw.size() : nl;
        bool extension = raw[at] == kExtensionMark;
        std::string_view text(raw.data() + at + (extension ? 1 : 0),
                              end - at - (extension ? 1 : 0));
        clean.append(text);
        if (nl != std::string::npos) clean += '\n';
        auto kind = extension ? runtime::RecordKind::Extension : runtime::RecordKind::Function;
        if (extension ? extension_lines : function_lines)
            hub->publish(kind, runtime::records::line(now, kind, text, json_logs));
        at = nl == std::string::npos ? raw.size() : nl + 1;
    }
    return clean;
}

long Environment::peak_rss_mb() const {
    std::lock_guard lk(mu);
    return process ? process->peak_rss_mb() : 1;
}

bool Environment::adopt(std::unique_ptr<sandbox::Process> p,
                        std::optional<sandbox::ExitStatus>& exited) {
    std::lock_guard lk(mu);
    process = std::move(p);
    if (kill_requested) process->kill();
    exited = std::exchange(early_exit, std::nullopt);
    return exited.has_value();
}

void Environment::open_log(const std::filesystem::path& file, logs::LogStore* store,
                           logs::Where where, std::string group) {
    std::lock_guard lk(log_mu_);
    log_file = file;
    log_store_ = store;
    log_where_ = std::move(where);
    log_group_ = std::move(group);
    log_fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void Environment::write_log(std::string text, std::uint64_t ticket) {
    for (std::size_t done = 0; log_fd_ >= 0 && done < text.size();) {
        ssize_t n = ::write(log_fd_, text.data() + done, text.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    // queued only: the store's writer thread does the SQLite work
    if (log_store_ && ticket != 0)
        log_store_->append_expected(ticket, log_where_, log_group_, log_stream,
                                    log_fd_ >= 0 ? std::move(text) : std::string());
    else if (log_store_ && log_fd_ >= 0)
        log_store_->append(log_where_, log_group_, log_stream, std::move(text));
}

void Environment::write_held() {
    if (auto held = std::exchange(held_log_, nullptr))
        write_log(held->text(), std::exchange(held_ticket_, 0));
}

void Environment::append_log(const std::string& text) {
    std::lock_guard lk(log_mu_);
    write_held();
    write_log(text);  // a copy the store keeps
}

void Environment::hold_log(std::shared_ptr<LateLog> lines) {
    std::lock_guard lk(log_mu_);
    write_held();  // (one at a time: the previous invocation's are long written)
    held_log_ = std::move(lines);
    // a Logs API read that follows the answer waits for these lines
    if (log_store_ && log_fd_ >= 0) held_ticket_ = log_store_->expect();
}

void Environment::release_log() {
    std::lock_guard lk(log_mu_);
    write_held();
}

void Environment::close_log() {
    std::lock_guard lk(log_mu_);
    write_held();
    if (log_fd_ >= 0) ::close(log_fd_);
    log_fd_ = -1;
}

}  // namespace lamina::exec
