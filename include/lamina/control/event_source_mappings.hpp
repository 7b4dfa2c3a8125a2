#pragma once
// Event source mappings (CreateEventSourceMapping and the rest of that API)
// for SQS queues: AWS's validation in AWS's order, one store document per
// mapping, the transitional states AWS answers with, and an observer the
// pollers (esm::Pollers) follow. Same discipline as the Registry: validate,
// commit, then change memory.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"
#include "lamina/control/pagination.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::control {

class Registry;

// AWS's ESM state names. Only Enabled and Disabled last; the others are
// what Create, Update and Delete answer with.
enum class EsmState { Creating, Enabling, Enabled, Disabling, Disabled, Updating, Deleting };
const char* esm_state_name(EsmState s);

struct EventSourceMapping {
    std::string uuid;
    Scope scope;
    std::string event_source_arn;
    std::string function_name;
    std::string qualifier;  // as the caller named it ("" = unqualified; may be "$LATEST")
    int batch_size = 10;
    int batching_window = 0;  // MaximumBatchingWindowInSeconds
    std::optional<int> maximum_concurrency;
    std::optional<std::vector<std::string>> filter_patterns;  // FilterCriteria given
    std::vector<std::string> function_response_types;
    bool enabled = true;
    std::int64_t last_modified_ms = 0;
    std::int64_t sequence = 0;  // creation order (ListEventSourceMappings)
    std::map<std::string, std::string> tags;

    std::string arn() const;           // arn:aws:lambda:<r>:<a>:event-source-mapping:<uuid>
    std::string function_arn() const;  // the caller's form
    bool reports_item_failures() const;
};

struct EsmView {
    EventSourceMapping mapping;
    EsmState state = EsmState::Enabled;
};

// What Create and Update take (already type-checked by the api); unset = the
// default (Create) or unchanged (Update).
struct EsmInput {
    std::optional<std::string> event_source_arn;  // Create only
    std::optional<FunctionRef> function;
    std::optional<bool> enabled;
    std::optional<int> batch_size, batching_window;
    std::optional<std::optional<int>> maximum_concurrency;  // ScalingConfig given ({} clears)
    std::optional<std::vector<std::string>> filter_patterns;
    std::optional<std::vector<std::string>> function_response_types;
    std::vector<std::string> unsupported;  // members given that SQS mappings do not take
    std::map<std::string, std::string> tags;
};

// What a mapping needs to know of its queue (sqs::Queues, wired by the app).
struct EsmQueueFacts {
    bool fifo = false;
    int visibility_timeout = 30;
};
using EsmQueueLookup = std::function<std::optional<EsmQueueFacts>(const std::string& arn)>;

class EventSourceMappings {
public:
    EventSourceMappings(store::DocumentStore& docs, Registry& registry, Clock& clock,
                        IdSource& ids);

    Status load();
    // Forgets every mapping, stored and in memory; the observer hears each one removed.
    Status clear();
    void set_queue_lookup(EsmQueueLookup lookup) { queues_ = std::move(lookup); }
    // Called after every change (outside the lock), `removed` for Delete.
    using Observer = std::function<void(const EventSourceMapping&, bool removed)>;
    void set_observer(Observer o) { observer_ = std::move(o); }

    Result<EsmView> create(const Scope& s, EsmInput in);
    Result<EsmView> get(const Scope& s, const std::string& uuid) const;
    Result<EsmView> update(const Scope& s, const std::string& uuid, EsmInput in);
    Result<EsmView> remove(const Scope& s, const std::string& uuid);
    // Filters: the function (a name, with its qualifier when the caller gave
    // one) and the source ARN.
    Result<PageOf<EsmView>> list(const Scope& s, const std::optional<FunctionRef>& function,
                                 const std::optional<std::string>& source, const Page& page) const;

    // Tags of the mapping an ARN names (TagResource, UntagResource, ListTags).
    Status tag(const Scope& s, const std::string& uuid,
               const std::map<std::string, std::string>& t);
    Status untag(const Scope& s, const std::string& uuid, const std::vector<std::string>& keys);
    Result<std::map<std::string, std::string>> tags(const Scope& s, const std::string& uuid) const;

    // Every mapping (the pollers, at start-up).
    std::vector<EventSourceMapping> all() const;

private:
    Status check_function(const Scope& s, const FunctionRef& ref, const EsmQueueFacts& queue) const;
    Status commit(const EventSourceMapping& m);
    void notify(const EventSourceMapping& m, bool removed) const;

    store::DocumentStore& docs_;
    Registry& registry_;
    Clock& clock_;
    IdSource& ids_;
    EsmQueueLookup queues_;
    Observer observer_;
    mutable std::mutex mu_;
    std::map<std::string, EventSourceMapping> mappings_;  // by UUID
    std::int64_t next_sequence_ = 1;
};

}  // namespace lamina::control
