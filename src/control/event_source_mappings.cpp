// Event source mappings for SQS queues: validation, persistence, states.
#include "lamina/control/event_source_mappings.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lamina/control/registry.hpp"

namespace lamina::control {

using json = nlohmann::json;

namespace {

constexpr const char* kKind = "esm";
constexpr const char* kNoResource = "The resource you requested does not exist.";
constexpr const char* kNoQueue =
    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
    "SQS Error Message: The specified queue does not exist.";

// The event sources AWS maps besides SQS, by the service of their ARN.
const char* unsupported_source(const ParsedArn& a) {
    if (a.service == "kinesis") return "Amazon Kinesis streams";
    if (a.service == "dynamodb") return "Amazon DynamoDB streams";
    if (a.service == "kafka") return "Amazon MSK (Kafka) clusters";
    if (a.service == "mq") return "Amazon MQ brokers";
    if (a.service == "rds") return "Amazon DocumentDB change streams";
    return nullptr;
}

std::string key_of(const EventSourceMapping& m) { return m.uuid; }

json to_doc(const EventSourceMapping& m) {
    json d = {{"uuid", m.uuid},
              {"account", m.scope.account},
              {"region", m.scope.region},
              {"source", m.event_source_arn},
              {"function", m.function_name},
              {"qualifier", m.qualifier},
              {"batch_size", m.batch_size},
              {"window", m.batching_window},
              {"response_types", m.function_response_types},
              {"enabled", m.enabled},
              {"last_modified_ms", m.last_modified_ms},
              {"sequence", m.sequence},
              {"tags", m.tags}};
    if (m.maximum_concurrency) d["maximum_concurrency"] = *m.maximum_concurrency;
    if (m.filter_patterns) d["filters"] = *m.filter_patterns;
    return d;
}

EventSourceMapping from_doc(const json& d) {
    EventSourceMapping m;
    m.uuid = d.at("uuid").get<std::string>();
    m.scope = {d.at("account").get<std::string>(), d.at("region").get<std::string>()};
    m.event_source_arn = d.at("source").get<std::string>();
    m.function_name = d.at("function").get<std::string>();
    m.qualifier = d.value("qualifier", "");
    m.batch_size = d.value("batch_size", 10);
    m.batching_window = d.value("window", 0);
    m.function_response_types = d.value("response_types", std::vector<std::string>{});
    m.enabled = d.value("enabled", true);
    m.last_modified_ms = d.value("last_modified_ms", std::int64_t{0});
    m.sequence = d.value("sequence", std::int64_t{0});
    m.tags = d.value("tags", std::map<std::string, std::string>{});
    if (d.contains("maximum_concurrency"))
        m.maximum_concurrency = d["maximum_concurrency"].get<int>();
    if (d.contains("filters")) m.filter_patterns = d["filters"].get<std::vector<std::string>>();
    return m;
}

// The batch rules that depend on the queue's kind and the other settings.
Status check_batching(const EventSourceMapping& m, const EsmQueueFacts& q) {
    if (q.fifo) {
        if (m.batching_window > 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "Batching window is not supported for FIFO queues");
        if (m.batch_size > 10)
            return fail(ErrorCode::InvalidParameterValue,
                        "Batch size for FIFO queues must be less than or equal to 10");
    }
    if (m.batch_size > 10 && m.batching_window == 0)
        return fail(ErrorCode::InvalidParameterValue,
                    "Maximum batch window in seconds must be greater than 0 if maximum batch size "
                    "is greater than 10");
    return {};
}

void apply(EventSourceMapping& m, const EsmInput& in) {
    if (in.enabled) m.enabled = *in.enabled;
    if (in.batch_size) m.batch_size = *in.batch_size;
    if (in.batching_window) m.batching_window = *in.batching_window;
    if (in.maximum_concurrency) m.maximum_concurrency = *in.maximum_concurrency;
    if (in.filter_patterns) {
        if (in.filter_patterns->empty())
            m.filter_patterns.reset();  // FilterCriteria {} clears
        else
            m.filter_patterns = *in.filter_patterns;
    }
    if (in.function_response_types) m.function_response_types = *in.function_response_types;
}

Status refuse_unsupported(const EsmInput& in) {
    if (in.unsupported.empty()) return {};
    return fail(ErrorCode::InvalidParameterValue,
                "Unsupported " + in.unsupported.front() +
                    " parameter for given event source mapping type.");
}

}  // namespace

const char* esm_state_name(EsmState s) {
    switch (s) {
        case EsmState::Creating:
            return "Creating";
        case EsmState::Enabling:
            return "Enabling";
        case EsmState::Enabled:
            return "Enabled";
        case EsmState::Disabling:
            return "Disabling";
        case EsmState::Disabled:
            return "Disabled";
        case EsmState::Updating:
            return "Updating";
        case EsmState::Deleting:
            return "Deleting";
    }
    return "Enabled";
}

std::string EventSourceMapping::arn() const {
    return "arn:aws:lambda:" + scope.region + ":" + scope.account + ":event-source-mapping:" + uuid;
}

std::string EventSourceMapping::function_arn() const {
    return qualifier.empty() ? control::function_arn(scope, function_name)
                             : qualified_arn(scope, function_name, qualifier);
}

bool EventSourceMapping::reports_item_failures() const {
    return std::find(function_response_types.begin(), function_response_types.end(),
                     "ReportBatchItemFailures") != function_response_types.end();
}

EventSourceMappings::EventSourceMappings(store::DocumentStore& docs, Registry& registry,
                                         Clock& clock, IdSource& ids)
    : docs_(docs), registry_(registry), clock_(clock), ids_(ids) {}

Status EventSourceMappings::load() {
    std::lock_guard lk(mu_);
    mappings_.clear();
    return docs_.for_each(kKind, [this](const std::string&, const std::string& doc) {
        auto m = from_doc(json::parse(doc));
        next_sequence_ = std::max(next_sequence_, m.sequence + 1);
        mappings_[m.uuid] = std::move(m);
    });
}

Status EventSourceMappings::clear() {
    std::map<std::string, EventSourceMapping> gone;
    {
        std::lock_guard lk(mu_);
        LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kKind, "")}));
        gone.swap(mappings_);
    }
    for (const auto& [uuid, m] : gone) notify(m, true);  // their pollers stop
    return {};
}

Status EventSourceMappings::commit(const EventSourceMapping& m) {
    return docs_.apply({store::Mutation::put(kKind, key_of(m), to_doc(m).dump())});
}

void EventSourceMappings::notify(const EventSourceMapping& m, bool removed) const {
    if (observer_) observer_(m, removed);
}

Status EventSourceMappings::check_function(const Scope& s, const FunctionRef& ref,
                                           const EsmQueueFacts& queue) const {
    auto f = registry_.get_function(s, ref);
    if (!f) return fail(ErrorCode::InvalidParameterValue, "Function does not exist");
    const int timeout = f->view.config.timeout;
    if (queue.visibility_timeout < timeout)
        return fail(ErrorCode::InvalidParameterValue,
                    "Queue visibility timeout: " + std::to_string(queue.visibility_timeout) +
                        " seconds is less than Function timeout: " + std::to_string(timeout) +
                        " seconds");
    return {};
}

Result<EsmView> EventSourceMappings::create(const Scope& s, EsmInput in) {
    if (!in.event_source_arn || in.event_source_arn->empty())
        return fail(ErrorCode::InvalidParameterValue, "Unrecognized event source.");
    const std::string source = *in.event_source_arn;
    auto parsed = parse_arn(source);
    if (!parsed) return fail(ErrorCode::InvalidParameterValue, "Unrecognized event source.");
    if (const char* other = unsupported_source(*parsed))
        return fail(ErrorCode::NotImplemented,
                    std::string("lamina does not emulate event source mappings for ") + other +
                        " (" + source + "): only Amazon SQS queues are served as event sources");
    if (parsed->service != "sqs")
        return fail(ErrorCode::InvalidParameterValue, "Unrecognized event source.");
    LAMINA_CHECK(refuse_unsupported(in));
    if (!in.function) return fail(ErrorCode::InvalidParameterValue, "Function does not exist");
    const FunctionRef ref = *in.function;
    if (!registry_.get_function(s, ref))
        return fail(ErrorCode::InvalidParameterValue, "Function does not exist");
    auto queue = queues_ ? queues_(source) : std::nullopt;
    if (!queue) return fail(ErrorCode::InvalidParameterValue, kNoQueue);

    EventSourceMapping m;
    m.scope = s;
    m.event_source_arn = source;
    m.function_name = ref.name;
    m.qualifier = ref.qualifier.value_or("");
    apply(m, in);
    LAMINA_CHECK(check_batching(m, *queue));
    LAMINA_CHECK(check_function(s, ref, *queue));
    if (in.tags.size() > static_cast<std::size_t>(kMaxTags))
        return fail(ErrorCode::InvalidParameterValue, "Number of tags exceeds resource tag limit.");
    m.tags = in.tags;

    std::unique_lock lk(mu_);
    for (const auto& [id, other] : mappings_) {
        if (other.scope == s && other.event_source_arn == source &&
            other.function_name == m.function_name && other.qualifier == m.qualifier)
            return fail(ErrorCode::ResourceConflict,
                        "An event source mapping with SQS arn (\" " + source +
                            " \") and function (\" " + m.function_name +
                            " \") already exists. Please update or delete the existing mapping "
                            "with UUID " +
                            id);
    }
    m.uuid = ids_.uuid();
    m.last_modified_ms = clock_.now_ms();
    m.sequence = next_sequence_++;
    LAMINA_CHECK(commit(m));
    mappings_[m.uuid] = m;
    lk.unlock();
    notify(m, false);
    return EsmView{m, m.enabled ? EsmState::Creating : EsmState::Disabled};
}

Result<EsmView> EventSourceMappings::get(const Scope& s, const std::string& uuid) const {
    std::lock_guard lk(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end() || !(it->second.scope == s))
        return fail(ErrorCode::ResourceNotFound, kNoResource);
    const auto& m = it->second;
    return EsmView{m, m.enabled ? EsmState::Enabled : EsmState::Disabled};
}

Result<EsmView> EventSourceMappings::update(const Scope& s, const std::string& uuid, EsmInput in) {
    EventSourceMapping m;
    {
        std::lock_guard lk(mu_);
        auto it = mappings_.find(uuid);
        if (it == mappings_.end() || !(it->second.scope == s))
            return fail(ErrorCode::ResourceNotFound, kNoResource);
        m = it->second;
    }
    LAMINA_CHECK(refuse_unsupported(in));
    const bool was_enabled = m.enabled;
    auto queue = queues_ ? queues_(m.event_source_arn) : std::nullopt;
    if (in.function) {
        if (!registry_.get_function(s, *in.function))
            return fail(ErrorCode::InvalidParameterValue, "Function does not exist");
        m.function_name = in.function->name;
        m.qualifier = in.function->qualifier.value_or("");
    }
    apply(m, in);
    if (queue) {
        LAMINA_CHECK(check_batching(m, *queue));
        if (in.function) LAMINA_CHECK(check_function(s, *in.function, *queue));
    } else if (m.batch_size > 10 && m.batching_window == 0) {
        LAMINA_CHECK(check_batching(m, EsmQueueFacts{}));
    }
    m.last_modified_ms = clock_.now_ms();
    {
        std::lock_guard lk(mu_);
        auto it = mappings_.find(uuid);
        if (it == mappings_.end()) return fail(ErrorCode::ResourceNotFound, kNoResource);
        m.tags = it->second.tags;  // tags change only through TagResource
        LAMINA_CHECK(commit(m));
        it->second = m;
    }
    notify(m, false);
    EsmState state = EsmState::Updating;
    if (m.enabled != was_enabled) state = m.enabled ? EsmState::Enabling : EsmState::Disabling;
    return EsmView{m, state};
}

Result<EsmView> EventSourceMappings::remove(const Scope& s, const std::string& uuid) {
    EventSourceMapping m;
    {
        std::lock_guard lk(mu_);
        auto it = mappings_.find(uuid);
        if (it == mappings_.end() || !(it->second.scope == s))
            return fail(ErrorCode::ResourceNotFound, kNoResource);
        LAMINA_CHECK(docs_.apply({store::Mutation::erase(kKind, uuid)}));
        m = std::move(it->second);
        mappings_.erase(it);
    }
    notify(m, true);
    return EsmView{m, EsmState::Deleting};
}

Result<PageOf<EsmView>> EventSourceMappings::list(const Scope& s,
                                                  const std::optional<FunctionRef>& function,
                                                  const std::optional<std::string>& source,
                                                  const Page& page) const {
    std::vector<EventSourceMapping> found;
    {
        std::lock_guard lk(mu_);
        for (const auto& [id, m] : mappings_) {
            if (!(m.scope == s)) continue;
            if (source && m.event_source_arn != *source) continue;
            if (function && (m.function_name != function->name ||
                             (function->qualifier && m.qualifier != *function->qualifier)))
                continue;
            found.push_back(m);
        }
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
    // Positions sort as the list does: the sequence, zero-padded.
    auto position = [](const EventSourceMapping& m) {
        std::string n = std::to_string(m.sequence);
        return std::string(20 - std::min<std::size_t>(20, n.size()), '0') + n;
    };
    LAMINA_TRY(got, paginate(std::move(found), page, "event-source-mappings", position));
    std::vector<EsmView> views;
    views.reserve(got.first.size());
    for (auto& m : got.first) {
        const EsmState st = m.enabled ? EsmState::Enabled : EsmState::Disabled;
        views.push_back(EsmView{std::move(m), st});
    }
    return std::make_pair(std::move(views), std::move(got.second));
}

Status EventSourceMappings::tag(const Scope& s, const std::string& uuid,
                                const std::map<std::string, std::string>& t) {
    std::lock_guard lk(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end() || !(it->second.scope == s))
        return fail(ErrorCode::ResourceNotFound,
                    "Event source mapping not found: " + EventSourceMapping{uuid, s}.arn());
    EventSourceMapping m = it->second;
    for (const auto& [k, v] : t) m.tags[k] = v;
    if (m.tags.size() > static_cast<std::size_t>(kMaxTags))
        return fail(ErrorCode::InvalidParameterValue, "Number of tags exceeds resource tag limit.");
    LAMINA_CHECK(commit(m));
    it->second = std::move(m);
    return {};
}

Status EventSourceMappings::untag(const Scope& s, const std::string& uuid,
                                  const std::vector<std::string>& keys) {
    std::lock_guard lk(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end() || !(it->second.scope == s))
        return fail(ErrorCode::ResourceNotFound,
                    "Event source mapping not found: " + EventSourceMapping{uuid, s}.arn());
    EventSourceMapping m = it->second;
    for (const auto& k : keys) m.tags.erase(k);
    LAMINA_CHECK(commit(m));
    it->second = std::move(m);
    return {};
}

Result<std::map<std::string, std::string>> EventSourceMappings::tags(
    const Scope& s, const std::string& uuid) const {
    std::lock_guard lk(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end() || !(it->second.scope == s))
        return fail(ErrorCode::ResourceNotFound,
                    "Event source mapping not found: " + EventSourceMapping{uuid, s}.arn());
    return it->second.tags;
}

std::vector<EventSourceMapping> EventSourceMappings::all() const {
    std::lock_guard lk(mu_);
    std::vector<EventSourceMapping> out;
    out.reserve(mappings_.size());
    for (const auto& [id, m] : mappings_) out.push_back(m);
    return out;
}

}  // namespace lamina::control
