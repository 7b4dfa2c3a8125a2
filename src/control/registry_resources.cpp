// Registry operations on what hangs off a function: resource policies,
// tags, event invoke configs, recursion and runtime management configs.
#include <mutex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/control/validation.hpp"
#include "registry_detail.hpp"

namespace lamina::control {

using nlohmann::json;
using registry_detail::not_found_function;

namespace {

// A qualifier must name an existing version or alias (AWS words the two cases differently).
Status check_qualifier(const Scope& s, const Function& f, const std::string& q) {
    if (q == "$LATEST") return {};
    if (is_version_number(q)) {
        if (!f.versions.contains(std::stoll(q)))
            return std::unexpected(not_found_function(s, f.name, q));
        return {};
    }
    if (f.aliases.contains(q)) return {};
    if (is_valid_alias_name(q))
        return fail(ErrorCode::ResourceNotFound,
                    "Cannot find alias arn: " + qualified_arn(s, f.name, q));
    return std::unexpected(not_found_function(s, f.name, q));
}

int provisioned_sum(const Function& f, const std::string& except = {}) {
    int sum = 0;
    for (const auto& [q, c] : f.provisioned)
        if (q != except) sum += c.requested;
    return sum;
}

// The version a provisioned config's qualifier names.
std::string provisioned_version(const Function& f, const std::string& q) {
    auto a = f.aliases.find(q);
    return a == f.aliases.end() ? q : a->second.function_version;
}

ProvisionedView provisioned_view(const Scope& s, const Function& f, const std::string& q) {
    return ProvisionedView{f.name, q, provisioned_version(f, q), qualified_arn(s, f.name, q),
                           f.provisioned.at(q)};
}

// A missing function is reported as AWS does for these operations: through the qualifier.
Error missing_for_provisioned(const Scope& s, const std::string& name, const std::string& q) {
    if (is_version_number(q)) return not_found_function(s, name, q);
    return Error{ErrorCode::ResourceNotFound,
                 "Cannot find alias arn: " + qualified_arn(s, name, q)};
}

Result<json> principal_json(const std::string& p) {
    static const std::regex kAccount(R"(\d{12})");
    static const std::regex kIamArn(
        R"(arn:aws[a-zA-Z-]*:iam::\d{12}:(root|user/.+|role/.+|assumed-role/.+))");
    static const std::regex kService(
        R"([a-zA-Z0-9.\-]+\.(amazonaws\.com|amazon\.com|aws\.internal))");
    if (p == "*") return json("*");
    if (regex_full_match(p, kAccount)) return json{{"AWS", "arn:aws:iam::" + p + ":root"}};
    if (regex_full_match(p, kIamArn)) return json{{"AWS", p}};
    if (regex_full_match(p, kService)) return json{{"Service", p}};
    return fail(ErrorCode::InvalidParameterValue,
                "The provided principal was invalid. Please check the principal and try again.");
}

// The RevisionId a policy precondition is checked against: the policy's own
// when it exists, else the resource's.
std::string policy_revision(const Function& f, const std::string& q) {
    if (auto it = f.policies.find(q); it != f.policies.end()) return it->second.revision_id;
    if (q.empty() || q == "$LATEST") return f.latest.revision_id;
    if (is_version_number(q)) {
        auto v = f.versions.find(std::stoll(q));
        return v == f.versions.end() ? std::string() : v->second.revision_id;
    }
    auto a = f.aliases.find(q);
    return a == f.aliases.end() ? std::string() : a->second.revision_id;
}

std::string policy_document(const ResourcePolicy& p) {
    json st = json::array();
    for (const auto& s : p.statements) st.push_back(s.statement);
    json doc = {{"Version", "2012-10-17"}, {"Id", "default"}, {"Statement", st}};
    return doc.dump();
}

}  // namespace

Result<json> Registry::add_permission(const Scope& s, const FunctionRef& ref, PermissionInput in) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    std::string q = ref.qualifier.value_or("");
    if (q == "$LATEST")
        return fail(ErrorCode::InvalidParameterValue,
                    "We currently do not support adding policies for $LATEST.");
    if (!q.empty()) LAMINA_CHECK(check_qualifier(s, *cf, q));
    LAMINA_TRY(principal, principal_json(in.principal));
    auto pit = cf->policies.find(q);
    if (in.revision_id && *in.revision_id != policy_revision(*cf, q))
        return fail(
            ErrorCode::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
            "API to retrieve the latest Revision Id");
    if (pit != cf->policies.end()) {
        for (const auto& st : pit->second.statements)
            if (st.sid == in.statement_id)
                return fail(ErrorCode::ResourceConflict,
                            "The statement id (" + in.statement_id +
                                ") provided already exists. Please provide a new statement id, or "
                                "remove the "
                                "existing statement.");
    }
    json statement = {
        {"Sid", in.statement_id},
        {"Effect", "Allow"},
        {"Principal", principal},
        {"Action", in.action},
        {"Resource", q.empty() ? function_arn(s, cf->name) : qualified_arn(s, cf->name, q)}};
    json condition = json::object();
    if (in.source_account) condition["StringEquals"]["AWS:SourceAccount"] = *in.source_account;
    if (in.event_source_token)
        condition["StringEquals"]["lambda:EventSourceToken"] = *in.event_source_token;
    if (in.function_url_auth_type)
        condition["StringEquals"]["lambda:FunctionUrlAuthType"] = *in.function_url_auth_type;
    if (in.principal_org_id) condition["StringEquals"]["aws:PrincipalOrgID"] = *in.principal_org_id;
    if (in.invoked_via_function_url) condition["Bool"]["lambda:InvokedViaFunctionUrl"] = "true";
    if (in.source_arn) condition["ArnLike"]["AWS:SourceArn"] = *in.source_arn;
    if (!condition.empty()) statement["Condition"] = condition;

    Function f = *cf;
    auto& policy = f.policies[q];
    policy.statements.push_back({in.statement_id, statement});
    if (policy_document(policy).size() > kMaxPolicyBytes)
        return fail(ErrorCode::PolicyLengthExceeded,
                    "The final policy size (" + std::to_string(policy_document(policy).size()) +
                        ") is bigger than the limit (20480).");
    // AWS reports the resource's RevisionId as the policy's: it changes with
    // every permission change, on the version or alias the policy belongs to.
    std::vector<store::Mutation> rows;
    policy.revision_id = bump_revision(s, f, q, rows);
    LAMINA_CHECK(commit(s, f, std::move(rows)));
    *functions_[s][f.name] = std::move(f);
    return statement;
}

Status Registry::remove_permission(const Scope& s, const FunctionRef& ref, const std::string& sid,
                                   std::optional<std::string> revision_id) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf)
        return fail(
            ErrorCode::ResourceNotFound,
            "No policy found for: " + (ref.qualifier ? qualified_arn(s, ref.name, *ref.qualifier)
                                                     : function_arn(s, ref.name)));
    std::string q = ref.qualifier.value_or("");
    if (!q.empty()) LAMINA_CHECK(check_qualifier(s, *cf, q));
    auto pit = cf->policies.find(q == "$LATEST" ? "" : q);
    if (pit == cf->policies.end() || pit->second.statements.empty())
        return fail(ErrorCode::ResourceNotFound,
                    "No policy is associated with the given resource.");
    if (revision_id && *revision_id != policy_revision(*cf, pit->first))
        return fail(ErrorCode::PreconditionFailed,
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetPolicy API "
                    "to retrieve the latest Revision Id");
    Function f = *cf;
    auto& statements = f.policies[pit->first].statements;
    auto it = std::find_if(statements.begin(), statements.end(),
                           [&](const auto& st) { return st.sid == sid; });
    if (it == statements.end())
        return fail(ErrorCode::ResourceNotFound,
                    "Statement " + sid + " is not found in resource policy.");
    statements.erase(it);
    std::vector<store::Mutation> rows;
    std::string revision = bump_revision(s, f, pit->first, rows);
    if (statements.empty())
        f.policies.erase(pit->first);
    else
        f.policies[pit->first].revision_id = revision;
    LAMINA_CHECK(commit(s, f, std::move(rows)));
    *functions_[s][f.name] = std::move(f);
    return {};
}

Result<ResourcePolicy> Registry::get_policy(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    auto missing = [] {
        return fail(ErrorCode::ResourceNotFound, "The resource you requested does not exist.");
    };
    if (!f) return missing();
    std::string q = ref.qualifier.value_or("");
    if (q == "$LATEST") q.clear();
    if (!q.empty() && !check_qualifier(s, *f, q)) return missing();
    auto it = f->policies.find(q);
    if (it == f->policies.end() || it->second.statements.empty()) return missing();
    return it->second;
}

bool Registry::permits(const Scope& owner, const FunctionRef& ref,
                       const std::string& caller_account, const std::string& action) const {
    std::shared_lock lk(mu_);
    const Function* f = find(owner, ref.name);
    if (!f) return false;
    std::string q = ref.qualifier.value_or("");
    if (q == "$LATEST") q.clear();
    if (!q.empty() && !check_qualifier(owner, *f, q)) return false;
    auto it = f->policies.find(q);
    if (it == f->policies.end()) return false;
    const std::string account_root = "arn:aws:iam::" + caller_account + ":root";
    for (const auto& st : it->second.statements) {
        const json& s = st.statement;
        if (s.value("Effect", "") != "Allow") continue;
        std::string a = s.value("Action", "");
        if (a != action && a != "lambda:*") continue;
        // Conditions name event sources (SourceArn, SourceAccount, tokens) or an
        // organization lamina does not have: they admit no account caller.
        if (s.contains("Condition")) continue;
        const json& p = s.value("Principal", json());
        if ((p.is_string() && p.get<std::string>() == "*") ||
            (p.is_object() && p.contains("AWS") && p["AWS"].is_string() &&
             (p["AWS"] == account_root || p["AWS"] == caller_account || p["AWS"] == "*")))
            return true;
    }
    return false;
}

namespace {

constexpr const char* kTaggablePattern =
    R"(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+))";

}  // namespace

Result<TagTarget> tag_target(const Scope& s, const std::string& arn) {
    static const std::regex kTaggable(kTaggablePattern);
    if (arn.size() > 256 || !regex_full_match(arn, kTaggable)) {
        ValidationErrors e;
        e.add(arn, "resource",
              std::string("Member must satisfy regular expression pattern: ") + kTaggablePattern);
        return std::unexpected(e.error());
    }
    auto parsed = parse_arn(arn);
    if (parsed->region != s.region)
        return fail(ErrorCode::ResourceNotFound, "Functions from '" + parsed->region +
                                                     "' are not reachable in this region ('" +
                                                     s.region + "')");
    if (parsed->account != s.account)
        return std::unexpected(
            access_denied(s.account, "lambda:TagResource", arn, PolicyClause::Absent));
    const std::string& res = parsed->resource;
    if (res.rfind("event-source-mapping:", 0) == 0)
        return TagTarget{TagTarget::Kind::EventSourceMapping, res.substr(21)};
    if (res.rfind("function:", 0) != 0)
        return fail(ErrorCode::NotImplemented,
                    "lamina does not emulate tags on this kind of resource: " + arn);
    std::string rest = res.substr(9);
    if (rest.find(':') != std::string::npos)
        return fail(ErrorCode::InvalidParameterValue,
                    "Tags on function aliases and versions are not supported. Please specify a "
                    "function ARN.");
    return TagTarget{TagTarget::Kind::Function, rest};
}

namespace {

// The function a taggable ARN names (the api sends mappings' ARNs elsewhere).
Result<std::string> function_tag_target(const Scope& s, const std::string& arn) {
    LAMINA_TRY(t, tag_target(s, arn));
    if (t.kind != TagTarget::Kind::Function)
        return fail(ErrorCode::NotImplemented,
                    "lamina does not emulate tags on this kind of resource: " + arn);
    return t.id;
}

}  // namespace

Status Registry::tag_resource(const Scope& s, const std::string& arn,
                              const std::map<std::string, std::string>& tags) {
    LAMINA_TRY(name, function_tag_target(s, arn));
    if (tags.empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "An error occurred and the request cannot be processed.");
    std::unique_lock lk(mu_);
    const Function* cf = find(s, name);
    if (!cf) return std::unexpected(not_found_function(s, name));
    Function f = *cf;
    for (const auto& [k, v] : tags) f.tags[k] = v;
    if (f.tags.size() > static_cast<std::size_t>(kMaxTags))
        return fail(ErrorCode::InvalidParameterValue, "Number of tags exceeds resource tag limit.");
    f.latest.revision_id = ids_.uuid();
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return {};
}

Status Registry::untag_resource(const Scope& s, const std::string& arn,
                                const std::vector<std::string>& keys) {
    LAMINA_TRY(name, function_tag_target(s, arn));
    std::unique_lock lk(mu_);
    const Function* cf = find(s, name);
    if (!cf) return std::unexpected(not_found_function(s, name));
    Function f = *cf;
    for (const auto& k : keys) f.tags.erase(k);
    f.latest.revision_id = ids_.uuid();
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return {};
}

Result<std::map<std::string, std::string>> Registry::list_tags(const Scope& s,
                                                               const std::string& arn) const {
    LAMINA_TRY(name, function_tag_target(s, arn));
    std::shared_lock lk(mu_);
    const Function* f = find(s, name);
    if (!f) return std::unexpected(not_found_function(s, name));
    return f->tags;
}

namespace {

double epoch_seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

Status check_destination(const Scope& s, const std::string& self_name, const std::string& dest,
                         const std::map<std::string, std::shared_ptr<Function>>* functions) {
    auto parsed = parse_arn(dest);
    if (!parsed)
        return fail(ErrorCode::Validation, "1 validation error detected: Value '" + dest +
                                               "' at 'destinationConfig.onSuccess.destination' "
                                               "failed to satisfy constraint: Member "
                                               "must satisfy regular expression pattern: "
                                               "^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{"
                                               "2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)");
    const std::string& service = parsed->service;
    if (service == "lambda") {
        if (parsed->resource.rfind("function:", 0) != 0)
            return fail(ErrorCode::InvalidParameterValue,
                        "The destination ARN " + dest + " is invalid.");
        std::string rest = parsed->resource.substr(9);
        std::string name = rest.substr(0, rest.find(':'));
        if (name == self_name && parsed->account == s.account && parsed->region == s.region)
            return fail(ErrorCode::InvalidParameterValue,
                        "You can't specify the function as a destination for itself.");
        if (parsed->account == s.account && parsed->region == s.region &&
            (!functions || !functions->contains(name)))
            return fail(ErrorCode::InvalidParameterValue,
                        "The destination ARN " + dest + " is invalid.");
        return {};
    }
    if (service == "sqs") {
        // lamina's own queues; AWS takes only standard queues as destinations
        if (parsed->resource.ends_with(".fifo"))
            return fail(ErrorCode::InvalidParameterValue,
                        "The destination ARN " + dest + " is invalid.");
        return {};
    }
    if (service == "sns" || service == "events" || service == "s3") {
        static const std::map<std::string, std::string> kNames = {
            {"sns", "Amazon SNS"}, {"events", "Amazon EventBridge"}, {"s3", "Amazon S3"}};
        return fail(ErrorCode::InvalidParameterValue,
                    "lamina does not emulate " + kNames.at(service) + " yet, so " + dest +
                        " cannot be a destination: use a Lambda function (arn:aws:lambda:...) or "
                        "an SQS queue (arn:aws:sqs:...) as the destination.");
    }
    return fail(ErrorCode::InvalidParameterValue, "unsupported service");
}

}  // namespace

Result<EventInvokeConfigView> Registry::put_event_invoke_config(const Scope& s,
                                                                const FunctionRef& ref,
                                                                EventInvokeConfigInput in,
                                                                bool merge) {
    if (!in.maximum_retry_attempts && !in.maximum_event_age_seconds && !in.has_destination_config &&
        !merge)
        return fail(ErrorCode::InvalidParameterValue,
                    "You must specify at least one of error handling or destination setting.");
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return fail(ErrorCode::ResourceNotFound, "The function doesn't exist.");
    std::string q = ref.qualifier.value_or("$LATEST");
    if (q != "$LATEST" && !check_qualifier(s, *cf, q))
        return fail(ErrorCode::ResourceNotFound, "The function doesn't exist.");
    auto scope_functions = functions_.find(s);
    const auto* fmap = scope_functions == functions_.end() ? nullptr : &scope_functions->second;
    for (const auto* dest : {&in.on_success, &in.on_failure}) {
        if (!*dest) continue;
        auto st = check_destination(s, cf->name, **dest, fmap);
        if (!st && st.error().message == "unsupported service") {
            auto show = [](const std::optional<std::string>& d, const char* kind) {
                return d ? std::string(kind) + "(destination=" + *d + ")" : std::string("null");
            };
            return fail(ErrorCode::InvalidParameterValue,
                        "The provided destination config DestinationConfig(onSuccess=" +
                            show(in.on_success, "OnSuccess") +
                            ", onFailure=" + show(in.on_failure, "OnFailure") + ") is invalid.");
        }
        LAMINA_CHECK(st);
    }
    Function f = *cf;
    EventInvokeConfig c;
    auto existing = f.event_invoke_configs.find(q);
    if (merge) {
        if (existing == f.event_invoke_configs.end())
            return fail(ErrorCode::ResourceNotFound, "The function " + qualified_arn(s, f.name, q) +
                                                         " doesn't have an EventInvokeConfig");
        c = existing->second;
        if (in.maximum_retry_attempts) c.maximum_retry_attempts = in.maximum_retry_attempts;
        if (in.maximum_event_age_seconds)
            c.maximum_event_age_seconds = in.maximum_event_age_seconds;
        if (in.has_destination_config) {
            c.on_success = in.on_success;
            c.on_failure = in.on_failure;
        }
    } else {
        c.maximum_retry_attempts = in.maximum_retry_attempts;
        c.maximum_event_age_seconds = in.maximum_event_age_seconds;
        c.on_success = in.on_success;
        c.on_failure = in.on_failure;
    }
    c.last_modified = epoch_seconds(now_ms());
    f.event_invoke_configs[q] = c;
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return EventInvokeConfigView{qualified_arn(s, ref.name, q), c};
}

Result<EventInvokeConfigView> Registry::get_event_invoke_config(const Scope& s,
                                                                const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    std::string q = ref.qualifier.value_or("$LATEST");
    const Function* f = find(s, ref.name);
    auto missing = [&] {
        return fail(ErrorCode::ResourceNotFound, "The function " + qualified_arn(s, ref.name, q) +
                                                     " doesn't have an EventInvokeConfig");
    };
    if (!f) return missing();
    auto it = f->event_invoke_configs.find(q);
    if (it == f->event_invoke_configs.end()) return missing();
    return EventInvokeConfigView{qualified_arn(s, f->name, q), it->second};
}

Status Registry::delete_event_invoke_config(const Scope& s, const FunctionRef& ref) {
    std::unique_lock lk(mu_);
    std::string q = ref.qualifier.value_or("$LATEST");
    const Function* cf = find(s, ref.name);
    auto missing = [&] {
        return fail(ErrorCode::ResourceNotFound, "The function " + qualified_arn(s, ref.name, q) +
                                                     " doesn't have an EventInvokeConfig");
    };
    if (!cf || !cf->event_invoke_configs.contains(q)) return missing();
    Function f = *cf;
    f.event_invoke_configs.erase(q);
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return {};
}

Result<std::pair<std::vector<EventInvokeConfigView>, std::optional<std::string>>>
Registry::list_event_invoke_configs(const Scope& s, const FunctionRef& ref,
                                    const Page& page) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return fail(ErrorCode::ResourceNotFound, "The function doesn't exist.");
    std::vector<EventInvokeConfigView> rows;
    rows.reserve(f->event_invoke_configs.size());
    for (const auto& [q, c] : f->event_invoke_configs)
        rows.push_back({qualified_arn(s, f->name, q), c});
    return paginate(std::move(rows), page, "event-invoke-configs",
                    [](const EventInvokeConfigView& v) { return v.function_arn; });
}

Result<std::string> Registry::get_recursion_config(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name));
    return f->recursive_loop;
}

Result<int> Registry::put_function_concurrency(const Scope& s, const FunctionRef& ref, int reserved,
                                               const CapacityQuota& limits) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    std::int64_t others = 0;
    for (const auto& [name, f] : functions_[s])
        if (name != ref.name && f->reserved_concurrency) others += *f->reserved_concurrency;
    if (limits.account_limit - (others + reserved) < limits.min_unreserved)
        return fail(ErrorCode::InvalidParameterValue,
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    "UnreservedConcurrentExecution below its minimum value of [" +
                        std::to_string(limits.min_unreserved) + "].");
    if (int pc = provisioned_sum(*cf); reserved < pc)
        return fail(ErrorCode::InvalidParameterValue,
                    " ReservedConcurrentExecutions  " + std::to_string(reserved) +
                        " should not be lower than function's total provisioned concurrency [" +
                        std::to_string(pc) + "].");
    Function f = *cf;
    f.reserved_concurrency = reserved;
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    recount_reserved(s);
    return reserved;
}

Result<ProvisionedView> Registry::put_provisioned_concurrency(const Scope& s,
                                                              const FunctionRef& ref, int requested,
                                                              const CapacityQuota& limits) {
    std::unique_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("$LATEST");
    if (q == "$LATEST")
        return fail(
            ErrorCode::InvalidParameterValue,
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.");
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(missing_for_provisioned(s, ref.name, q));
    LAMINA_CHECK(check_qualifier(s, *cf, q));
    // one config per version: directly, or through one alias
    std::string version = provisioned_version(*cf, q);
    for (const auto& [other, c] : cf->provisioned) {
        if (other == q) continue;
        if (provisioned_version(*cf, other) != version) continue;
        if (is_version_number(other))
            return fail(ErrorCode::ResourceConflict,
                        "Alias can't be used for Provisioned Concurrency configuration on an "
                        "already Provisioned version");
        return fail(ErrorCode::ResourceConflict,
                    "Version is pointed by a Provisioned Concurrency alias");
    }
    int total = provisioned_sum(*cf, q) + requested;
    if (cf->reserved_concurrency) {
        if (total > *cf->reserved_concurrency)
            return fail(ErrorCode::InvalidParameterValue,
                        "Requested Provisioned Concurrency should not be greater than the "
                        "reservedConcurrentExecution "
                        "for function");
    } else {
        // taken from the shared pool: what is left of it must stay above the minimum
        std::int64_t others = 0;
        for (const auto& [name, f] : functions_[s]) {
            if (name == ref.name) continue;
            if (f->reserved_concurrency)
                others += *f->reserved_concurrency;
            else
                others += provisioned_sum(*f);
        }
        std::int64_t unreserved = limits.account_limit - others - provisioned_sum(*cf, q);
        if (requested > unreserved)
            return fail(
                ErrorCode::InvalidParameterValue,
                "Specified ConcurrentExecutions for function is greater than account's unreserved "
                "concurrency [" +
                    std::to_string(unreserved) + "].");
        if (unreserved - requested < limits.min_unreserved)
            return fail(ErrorCode::InvalidParameterValue,
                        "Specified ConcurrentExecutions for function decreases account's "
                        "UnreservedConcurrentExecution "
                        "below its minimum value of [" +
                            std::to_string(limits.min_unreserved) + "].");
    }
    Function f = *cf;
    f.provisioned[q] = ProvisionedConfig{requested, format_lambda_time(now_ms())};
    LAMINA_CHECK(commit(s, f));
    ProvisionedView view = provisioned_view(s, f, q);
    *functions_[s][f.name] = std::move(f);
    recount_reserved(s);
    return view;
}

Result<ProvisionedView> Registry::get_provisioned_concurrency(const Scope& s,
                                                              const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("$LATEST");
    if (q == "$LATEST")
        return fail(ErrorCode::InvalidParameterValue,
                    "The function resource provided must be an alias or a published version.");
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(missing_for_provisioned(s, ref.name, q));
    LAMINA_CHECK(check_qualifier(s, *f, q));
    if (!f->provisioned.contains(q))
        return fail(ErrorCode::ProvisionedConcurrencyConfigNotFound,
                    "No Provisioned Concurrency Config found for this function");
    return provisioned_view(s, *f, q);
}

Result<std::optional<ProvisionedView>> Registry::delete_provisioned_concurrency(
    const Scope& s, const FunctionRef& ref) {
    std::unique_lock lk(mu_);
    const std::string q = ref.qualifier.value_or("$LATEST");
    if (q == "$LATEST")
        return fail(ErrorCode::InvalidParameterValue,
                    "The function resource provided must be an alias or a published version.");
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(missing_for_provisioned(s, ref.name, q));
    LAMINA_CHECK(check_qualifier(s, *cf, q));
    if (!cf->provisioned.contains(q)) return std::optional<ProvisionedView>{};
    ProvisionedView removed = provisioned_view(s, *cf, q);
    Function f = *cf;
    f.provisioned.erase(q);
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    recount_reserved(s);
    return std::optional<ProvisionedView>(std::move(removed));
}

Result<std::vector<ProvisionedView>> Registry::list_provisioned_concurrency(
    const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name));
    std::vector<ProvisionedView> out;
    out.reserve(f->provisioned.size());
    for (const auto& [q, c] : f->provisioned) out.push_back(provisioned_view(s, *f, q));
    return out;
}

std::vector<std::pair<Scope, ProvisionedView>> Registry::all_provisioned() const {
    std::shared_lock lk(mu_);
    std::vector<std::pair<Scope, ProvisionedView>> out;
    for (const auto& [scope, fmap] : functions_)
        for (const auto& [name, f] : fmap)
            for (const auto& [q, c] : f->provisioned)
                out.emplace_back(scope, provisioned_view(scope, *f, q));
    return out;
}

Status Registry::delete_function_concurrency(const Scope& s, const FunctionRef& ref) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (!cf->reserved_concurrency) return {};
    Function f = *cf;
    f.reserved_concurrency.reset();
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    recount_reserved(s);
    return {};
}

Result<std::string> Registry::put_recursion_config(const Scope& s, const FunctionRef& ref,
                                                   const std::string& loop) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    Function f = *cf;
    f.recursive_loop = loop;
    LAMINA_CHECK(commit(s, f));
    *functions_[s][f.name] = std::move(f);
    return loop;
}

Result<Registry::RuntimeManagement> Registry::get_runtime_management(const Scope& s,
                                                                     const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    LAMINA_TRY(f, find_or_404(s, ref));
    LAMINA_TRY(view, resolve(s, *f, ref));
    RuntimeManagement r;
    r.function_arn = function_arn(s, f->name);
    r.update_runtime_on = f->update_runtime_on;
    if (f->update_runtime_on == "Manual") r.runtime_version_arn = f->pinned_runtime_version_arn;
    return r;
}

Result<Registry::RuntimeManagement> Registry::put_runtime_management(
    const Scope& s, const FunctionRef& ref, const std::string& update_runtime_on,
    const std::optional<std::string>& runtime_version_arn) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (update_runtime_on == "Manual" && !runtime_version_arn)
        return fail(ErrorCode::InvalidParameterValue,
                    "RuntimeVersionArn is required when UpdateRuntimeOn is Manual.");
    if (update_runtime_on != "Manual" && runtime_version_arn)
        return fail(ErrorCode::InvalidParameterValue,
                    "RuntimeVersionArn can only be specified when UpdateRuntimeOn is Manual.");
    Function f = *cf;
    f.update_runtime_on = update_runtime_on;
    f.pinned_runtime_version_arn = runtime_version_arn;
    LAMINA_CHECK(commit(s, f));
    RuntimeManagement r{function_arn(s, f.name), update_runtime_on, runtime_version_arn};
    *functions_[s][f.name] = std::move(f);
    return r;
}

}  // namespace lamina::control
