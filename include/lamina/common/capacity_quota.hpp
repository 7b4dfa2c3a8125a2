#pragma once
// The concurrency quota of one account in one region, with AWS's defaults.
// The API reports it (GetAccountSettings), the registry checks reservations
// against it, and the concurrency controller admits invocations under it.

namespace lamina {

struct CapacityQuota {
    int account_limit = 1000;  // concurrent executions
    int min_unreserved = 100;  // what reservations must leave to the shared pool
};

}  // namespace lamina
