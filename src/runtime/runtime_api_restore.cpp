// SnapStart's side of the Runtime API: a snapshot's runtime parks on
// GET /2018-06-01/runtime/restore/next between lamina's orders (fork a restored
// environment, or reap exited children); a restored environment's runtime is
// answered once lamina holds its process.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime_api_state.hpp"

namespace lamina::runtime {

using namespace runtime_api_detail;

// GET /runtime/restore/next. A restored environment is answered at once
// (its restore happened); a snapshot's runtime parks here between lamina's orders.
http::Response RuntimeApi::State::restore_next(const http::Request& req, http::Responder& respond,
                                               Deferred& later, bool& park) {
    if (!snapshot) {
        if (restore_held) {
            restore_parked = std::move(respond);
            park = true;
            return {};
        }
        return restored_answer();
    }
    if (restore_in_hand) {
        int pid = -1;
        if (const std::string* child = req.headers.find("Lamina-Restore-Child")) {
            try {
                pid = std::stoi(*child);
            } catch (const std::exception&) {
                pid = -1;
            }
        } else if (restore_in_hand->address.empty()) {
            pid = 0;  // reaped
        }
        if (restore_in_hand->done)
            later.emplace_back([fn = std::move(restore_in_hand->done), pid] { fn(pid); });
        restore_in_hand.reset();
    }
    if (!snapshot_taken) {
        snapshot_taken = true;
        int self = 0;
        if (const std::string* own = req.headers.find("Lamina-Restore-Pid")) {
            try {
                self = std::stoi(*own);
            } catch (const std::exception&) {
                self = 0;
            }
        }
        if (snapshot_fn) later.emplace_back([fn = std::move(snapshot_fn), self] { fn(self); });
        snapshot_fn = nullptr;
    }
    if (restore_waiting)
        later.emplace_back([previous = std::move(*restore_waiting)] {
            previous(api_error(403, "InvalidStateTransition",
                               "A newer /restore/next call replaced this one"));
        });
    restore_waiting.reset();
    if (!restore_orders.empty()) return hand_restore_order();
    restore_waiting = std::move(respond);
    park = true;
    return {};
}

http::Response RuntimeApi::State::restored_answer() {
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json");
    r.body = "{}";
    return r;
}

// The next order, as the answer to the snapshot's restore/next (under mu).
http::Response RuntimeApi::State::hand_restore_order() {
    RestoreOrder order = std::move(restore_orders.front());
    restore_orders.erase(restore_orders.begin());
    http::Response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json");
    if (order.checkpoint) {
        r.headers.set("Lamina-Restore-Checkpoint", "1");
    } else if (order.address.empty()) {
        r.headers.set("Lamina-Restore-Reap", "1");
    } else {
        r.headers.set("Lamina-Restore-Fork", order.address);
        r.headers.set("Lamina-Restore-Output", order.output);
        if (!order.extensions.empty())
            r.headers.set("Lamina-Restore-Extensions", nlohmann::json(order.extensions).dump());
    }
    r.body = "{}";
    restore_in_hand = std::move(order);
    return r;
}

void RuntimeApi::State::order_restore(RestoreOrder order) {
    std::optional<http::Responder> respond;
    std::function<void(int)> refused;
    http::Response r;
    {
        std::lock_guard lk(mu);
        if (stopped) {
            refused = std::move(order.done);
        } else {
            restore_orders.push_back(std::move(order));
            if (!restore_waiting || restore_in_hand) return;
            respond = std::move(*restore_waiting);
            restore_waiting.reset();
            r = hand_restore_order();
        }
    }
    if (refused) refused(-1);
    if (respond) (*respond)(std::move(r));
}

}  // namespace lamina::runtime
