#pragma once
// Asio's epoll reactor re-arms its timerfd (a system call) each time a timer
// scheduled on it becomes the earliest one due. A warm invoke schedules several
// timers seconds away (its connection's read and write timeouts, its own
// deadline) and, with nothing earlier pending, each became the earliest: ~4
// timerfd_settime calls per invoke on the io thread. A timer floor keeps one
// timer of the io_context due within `period` at all times, so those later
// timers are never the earliest and never re-arm it; the floor itself re-arms
// it twice a period. (Boost 1.81's Asio has no switch that turns its timerfd
// off: BOOST_ASIO_HAS_TIMERFD is set whenever epoll is.)
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace lamina {

class TimerFloor {
public:
    TimerFloor(boost::asio::io_context& ioc, std::chrono::milliseconds period)
        : timer_(ioc), period_(period) {}
    TimerFloor(const TimerFloor&) = delete;
    TimerFloor& operator=(const TimerFloor&) = delete;

    // Ticks until the io_context stops (from then on nothing runs its handler).
    void start() {
        timer_.expires_after(period_);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) start();
        });
    }

private:
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds period_;
};

}  // namespace lamina
