#include "lamina/control/registry.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/validation.hpp"
#include "registry_detail.hpp"

namespace lamina::control {

using nlohmann::json;
using registry_detail::kAliasKind;
using registry_detail::not_found_function;
using registry_detail::stale_revision;

namespace {

constexpr const char* kFunctionKind = "function";
constexpr const char* kVersionKind = "version";

std::string version_key(const std::string& fkey, std::int64_t n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(n));
    return fkey + "/" + buf;
}

std::string sortable_version(const std::string& v) {
    if (v == "$LATEST") return "0";
    char buf[24];
    std::snprintf(buf, sizeof buf, "1%010lld", std::stoll(v));
    return buf;
}

}  // namespace

Registry::Registry(store::DocumentStore& docs, Clock& clock, IdSource& ids,
                   const LayerRegistry* layers)
    : docs_(docs), layers_(layers), clock_(clock), ids_(ids) {}

std::string Registry::function_key(const Scope& s, const std::string& name) {
    return s.account + "/" + s.region + "/" + name;
}

store::Mutation Registry::version_row(const Scope& s, const std::string& name,
                                      const VersionConfig& v) {
    return store::Mutation::put(
        kVersionKind, version_key(function_key(s, name), std::stoll(v.version)), v.to_doc().dump());
}

store::Mutation Registry::alias_row(const Scope& s, const std::string& name, const Alias& a) {
    return store::Mutation::put(kAliasKind, function_key(s, name) + "/" + a.name,
                                a.to_doc().dump());
}

std::string Registry::bump_revision(const Scope& s, Function& f, const std::string& q,
                                    std::vector<store::Mutation>& rows) {
    std::string id = ids_.uuid();
    if (q.empty() || q == "$LATEST") {
        f.latest.revision_id = id;
    } else if (is_version_number(q)) {
        auto& v = f.versions.at(std::stoll(q));
        v.revision_id = id;
        rows.push_back(version_row(s, f.name, v));
    } else {
        auto& a = f.aliases.at(q);
        a.revision_id = id;
        rows.push_back(alias_row(s, f.name, a));
    }
    return id;
}

Status Registry::runtime_schedule(const std::string& runtime, RuntimeUse use,
                                  const std::string& function) const {
    Status refused = check_runtime_lifecycle(runtime, use, runtime_date_ms_.value_or(now_ms()));
    if (refused || enforce_runtime_schedule_) return refused;
    lamina::logger("control")->warn(
        "lambda.runtime_blocked_on_aws function={} runtime={} use={} aws_answer=\"{}\" "
        "(accepted: lamina serve --runtime-deprecations enforce refuses it as AWS does)",
        function, runtime, use == RuntimeUse::Create ? "create" : "update",
        refused.error().message);
    return {};
}

std::string Registry::runtime_version_arn(const std::string& region, const std::string& runtime) {
    // Stable per runtime, shaped like AWS's: arn:aws:lambda:<region>::runtime:<64 hex>
    return "arn:aws:lambda:" + region + "::runtime:" + to_hex(sha256("lamina-runtime:" + runtime));
}

Status Registry::clear() {
    std::unique_lock lk(mu_);
    LAMINA_CHECK(docs_.apply({store::Mutation::erase_prefix(kFunctionKind, ""),
                              store::Mutation::erase_prefix(kVersionKind, ""),
                              store::Mutation::erase_prefix(kAliasKind, "")}));
    for (const auto& [scope, fmap] : functions_)
        for (const auto& [name, f] : fmap) report_folders(scope, name, nullptr);
    functions_.clear();
    url_index_.clear();
    reserved_sums_.clear();
    return {};
}

Status Registry::load() {
    std::unique_lock lk(mu_);
    functions_.clear();
    std::map<std::string, std::shared_ptr<Function>> by_key;
    std::map<std::string, Scope> scope_of;
    Status st = docs_.for_each(kFunctionKind, [&](const std::string& key, const std::string& doc) {
        auto first = key.find('/');
        auto second = key.find('/', first + 1);
        Scope s{key.substr(0, first), key.substr(first + 1, second - first - 1)};
        auto f = std::make_shared<Function>(Function::from_doc(json::parse(doc)));
        functions_[s][f->name] = f;
        by_key[key] = f;
    });
    if (!st) return st;
    auto owner = [&](const std::string& key) -> std::shared_ptr<Function> {
        auto slash = key.rfind('/');
        auto it = by_key.find(key.substr(0, slash));
        return it == by_key.end() ? nullptr : it->second;
    };
    LAMINA_CHECK(docs_.for_each(kVersionKind, [&](const std::string& key, const std::string& doc) {
        if (auto f = owner(key)) {
            auto c = VersionConfig::from_doc(json::parse(doc));
            f->versions[std::stoll(c.version)] = std::move(c);
        }
    }));
    LAMINA_CHECK(docs_.for_each(kAliasKind, [&](const std::string& key, const std::string& doc) {
        if (auto f = owner(key)) {
            auto a = Alias::from_doc(json::parse(doc));
            f->aliases[a.name] = std::move(a);
        }
    }));
    reserved_sums_.clear();
    url_index_.clear();
    for (const auto& [scope, fmap] : functions_) {
        recount_reserved(scope);
        for (const auto& [name, f] : fmap) {
            index_urls(scope, *f);
            report_folders(scope, name, f.get());
        }
    }
    return {};
}

void Registry::report_folders(const Scope& s, const std::string& name, const Function* f) const {
    if (!folder_observer_) return;
    std::set<std::string> folders;
    if (f) {
        for (auto& p : f->latest.hot_reload_folders()) folders.insert(std::move(p));
        for (const auto& [n, v] : f->versions)
            for (auto& p : v.hot_reload_folders()) folders.insert(std::move(p));
    }
    folder_observer_(function_key(s, name), std::move(folders));
}

const Function* Registry::find(const Scope& s, const std::string& name) const {
    auto it = functions_.find(s);
    if (it == functions_.end()) return nullptr;
    auto jt = it->second.find(name);
    return jt == it->second.end() ? nullptr : jt->second.get();
}

Result<const Function*> Registry::find_or_404(const Scope& s, const FunctionRef& ref) const {
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name, ref.qualifier));
    return f;
}

Result<ConfigView> Registry::resolve(const Scope& s, const Function& f,
                                     const FunctionRef& ref) const {
    ConfigView v;
    v.name = f.name;
    if (!ref.qualifier) {
        v.config = f.latest;
        return v;
    }
    const std::string& q = *ref.qualifier;
    v.arn_qualifier = q;
    if (q == "$LATEST") {
        v.config = f.latest;
        return v;
    }
    if (is_version_number(q)) {
        auto it = f.versions.find(std::stoll(q));
        if (it == f.versions.end()) return std::unexpected(not_found_function(s, f.name, q));
        v.config = it->second;
        return v;
    }
    auto it = f.aliases.find(q);
    if (it == f.aliases.end()) return std::unexpected(not_found_function(s, f.name, q));
    const auto& target = it->second.function_version;
    if (target == "$LATEST") {
        v.config = f.latest;
    } else {
        auto vt = f.versions.find(std::stoll(target));
        if (vt == f.versions.end()) return std::unexpected(not_found_function(s, f.name, q));
        v.config = vt->second;
    }
    return v;
}

Status Registry::commit(const Scope& s, const Function& f, std::vector<store::Mutation> extra) {
    extra.push_back(
        store::Mutation::put(kFunctionKind, function_key(s, f.name), f.to_doc().dump()));
    return docs_.apply(extra);
}

Status Registry::apply_settings(const Scope& s, VersionConfig& c,
                                const FunctionSettings& in) const {
    (void)s;
    if (in.description) c.description = *in.description;
    if (in.runtime) {
        LAMINA_CHECK(validate_runtime(*in.runtime));
        c.runtime = *in.runtime;
    }
    if (in.role) c.role = *in.role;
    if (in.handler) c.handler = *in.handler;
    if (in.timeout) c.timeout = *in.timeout;
    if (in.memory_size) c.memory_size = *in.memory_size;
    if (in.ephemeral_storage) c.ephemeral_storage = *in.ephemeral_storage;
    if (in.environment) c.environment = *in.environment;
    if (in.tracing_mode) c.tracing_mode = *in.tracing_mode;
    if (in.dead_letter_target)
        c.dead_letter_target =
            in.dead_letter_target->empty() ? std::nullopt : in.dead_letter_target;
    if (in.kms_key_arn) c.kms_key_arn = in.kms_key_arn->empty() ? std::nullopt : in.kms_key_arn;
    LAMINA_CHECK(merge_logging_config(c, in));
    if (in.snap_start_apply_on) c.snap_start_apply_on = *in.snap_start_apply_on;
    if (c.snap_start_apply_on == "PublishedVersions" && (in.snap_start_apply_on || in.runtime))
        LAMINA_CHECK(validate_snap_start(c.runtime));
    if (in.image_config) {
        if (c.package_type != "Image")
            return fail(ErrorCode::InvalidParameterValue,
                        "ImageConfig is not supported for functions with PackageType Zip.");
        c.image_config = in.image_config->empty() ? std::nullopt : in.image_config;
    }
    if (c.package_type == "Image" &&
        (in.runtime || in.handler || (in.layers && !in.layers->empty())))
        return fail(ErrorCode::InvalidParameterValue,
                    "Please don't provide Handler or Runtime or Layer when the intended function "
                    "PackageType is Image.");
    if (in.layers) {
        if (in.layers->empty()) {
            c.layers.clear();
        } else if (!layers_) {
            return fail(ErrorCode::InvalidParameterValue,
                        "Layer version " + in.layers->front() + " does not exist.");
        } else {
            LAMINA_TRY(refs, layers_->resolve_for_function(s, *in.layers));
            c.layers = std::move(refs);
        }
    }
    if (c.runtime.empty() && c.package_type == "Zip")
        return fail(ErrorCode::InvalidParameterValue,
                    "Runtime and Handler are mandatory parameters for functions created with "
                    "deployment packages.");
    if (c.package_type == "Zip") c.runtime_version_arn = runtime_version_arn(s.region, c.runtime);
    std::int64_t unzipped = c.unzipped_size;
    for (const auto& l : c.layers) unzipped += l.unzipped_size;
    if (c.unzipped_size > kMaxUnzippedCode)
        return fail(ErrorCode::InvalidParameterValue,
                    "Unzipped size must be smaller than 262144000 bytes");
    if (unzipped > kMaxUnzippedCode)
        return fail(ErrorCode::InvalidParameterValue,
                    "Function code combined with layers exceeds the maximum allowed size of "
                    "262144000 bytes. The "
                    "actual size is " +
                        std::to_string(unzipped) + " bytes.");
    return {};
}

Result<ConfigView> Registry::create_function(const Scope& s, CreateFunctionInput in) {
    if (in.name.size() > 64) {
        ValidationErrors e;
        e.add(in.name, "functionName", "Member must have length less than or equal to 64");
        return std::unexpected(e.error(ErrorCode::InvalidParameterValue));
    }
    VersionConfig c;
    c.architecture = in.architecture;
    c.package_type = in.package_type;
    c.image_uri = in.code.image_uri;
    c.image_repository = in.code.image_repository;
    c.code_sha256 = in.code.sha256_b64;
    c.code_blob = in.code.sha256_hex;
    c.code_size = in.code.size;
    c.unzipped_size = in.code.unzipped_size;
    c.code_path = in.code.hot_reload_path;
    c.log_group = "/aws/lambda/" + in.name;
    c.tenant_isolation_mode = in.tenant_isolation_mode;
    if (c.package_type == "Zip" && (!in.settings.handler || !in.settings.runtime))
        return fail(ErrorCode::InvalidParameterValue,
                    "Runtime and Handler are mandatory parameters for functions created with "
                    "deployment packages.");
    LAMINA_CHECK(apply_settings(s, c, in.settings));
    if (c.package_type == "Zip")
        LAMINA_CHECK(runtime_schedule(c.runtime, RuntimeUse::Create, in.name));
    if (in.tags.size() > static_cast<std::size_t>(kMaxTags))
        return fail(ErrorCode::InvalidParameterValue, "Number of tags exceeds resource tag limit.");

    std::unique_lock lk(mu_);
    if (find(s, in.name))
        return fail(ErrorCode::ResourceConflict, "Function already exist: " + in.name);
    AccountUsage usage;
    {
        auto it = functions_.find(s);
        if (it != functions_.end())
            for (const auto& [n, f] : it->second) {
                usage.total_code_size += f->latest.code_size;
                for (const auto& [k, v] : f->versions) usage.total_code_size += v.code_size;
            }
    }
    if (usage.total_code_size + c.code_size > kTotalCodeStorage)
        return fail(ErrorCode::CodeStorageExceeded, "Code storage limit exceeded.");

    auto f = std::make_shared<Function>();
    f->name = in.name;
    f->tags = std::move(in.tags);
    c.last_modified_ms = now_ms();
    // AWS answers CreateFunction while the function is Pending and replaces
    // the RevisionId when it turns Active. lamina is Active at once, so the
    // stored record already carries the second RevisionId.
    std::string creating_revision = ids_.uuid();
    c.revision_id = ids_.uuid();
    f->latest = c;
    std::vector<store::Mutation> extra;
    ConfigView view{in.name, c, "", Phase::Creating};
    view.config.revision_id = creating_revision;
    if (in.publish) {
        VersionConfig v = c;
        v.version = "1";
        v.source_description = c.description;
        v.revision_id = ids_.uuid();
        f->versions[1] = v;
        f->last_version = 1;
        extra.push_back(store::Mutation::put(kVersionKind, version_key(function_key(s, in.name), 1),
                                             v.to_doc().dump()));
        view.config = v;
        view.config.revision_id = creating_revision;
    }
    LAMINA_CHECK(commit(s, *f, std::move(extra)));
    functions_[s][in.name] = f;
    report_folders(s, in.name, f.get());
    return view;
}

Result<FunctionDetails> Registry::get_function(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    LAMINA_TRY(f, find_or_404(s, ref));
    LAMINA_TRY(view, resolve(s, *f, ref));
    return FunctionDetails{std::move(view), f->tags, f->reserved_concurrency};
}

Result<ConfigView> Registry::get_configuration(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    LAMINA_TRY(f, find_or_404(s, ref));
    return resolve(s, *f, ref);
}

Result<ConfigView> Registry::resolve_invocation(const Scope& s, const FunctionRef& ref,
                                                double draw) const {
    std::shared_lock lk(mu_);
    LAMINA_TRY(f, find_or_404(s, ref));
    if (ref.qualifier) {
        auto a = f->aliases.find(*ref.qualifier);
        if (a != f->aliases.end() && !a->second.additional_weights.empty()) {
            const auto& [version, weight] = *a->second.additional_weights.begin();
            if (draw < weight) {
                auto v = f->versions.find(std::stoll(version));
                if (v != f->versions.end()) {
                    ConfigView view{f->name, v->second, *ref.qualifier, Phase::Steady};
                    view.reserved_concurrency = f->reserved_concurrency;
                    for (const auto& [q, pc] : f->provisioned)
                        view.provisioned_total += pc.requested;
                    auto sum = reserved_sums_.find(s);
                    view.reserved_total = sum == reserved_sums_.end() ? 0 : sum->second;
                    return view;
                }
            }
        }
    }
    LAMINA_TRY(view, resolve(s, *f, ref));
    view.reserved_concurrency = f->reserved_concurrency;
    for (const auto& [q, pc] : f->provisioned) view.provisioned_total += pc.requested;
    auto sum = reserved_sums_.find(s);
    view.reserved_total = sum == reserved_sums_.end() ? 0 : sum->second;
    return view;
}

Status Registry::check_exists(const Scope& s, const FunctionRef& ref) const {
    std::shared_lock lk(mu_);
    LAMINA_TRY(f, find_or_404(s, ref));
    LAMINA_TRY(view, resolve(s, *f, ref));
    (void)view;
    return {};
}

Result<ConfigView> Registry::update_function_code(const Scope& s, const FunctionRef& ref,
                                                  UpdateCodeInput in) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (in.revision_id && *in.revision_id != cf->latest.revision_id)
        return std::unexpected(stale_revision());
    Function f = *cf;
    VersionConfig& c = f.latest;
    if (c.package_type == "Image" && in.code.image_uri.empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "Please provide ImageUri when updating a function with packageType Image.");
    if (c.package_type == "Zip" && !in.code.image_uri.empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "Please don't provide ImageUri when updating a function with packageType Zip.");
    if (c.package_type == "Zip")
        LAMINA_CHECK(runtime_schedule(c.runtime, RuntimeUse::Update, ref.name));
    c.image_uri = in.code.image_uri;
    c.image_repository = in.code.image_repository;
    c.code_sha256 = in.code.sha256_b64;
    c.code_blob = in.code.sha256_hex;
    c.code_size = in.code.size;
    c.unzipped_size = in.code.unzipped_size;
    c.code_path = in.code.hot_reload_path;
    if (in.architecture) c.architecture = *in.architecture;
    LAMINA_CHECK(apply_settings(s, c, FunctionSettings{}));
    c.last_modified_ms = now_ms();
    std::string updating_revision = ids_.uuid();
    c.revision_id = ids_.uuid();
    ConfigView view{f.name, c, "", Phase::Updating};
    view.config.revision_id = updating_revision;
    if (in.dry_run) return view;
    std::vector<store::Mutation> extra;
    if (in.publish) {
        bool unchanged = !f.versions.empty() &&
                         f.versions.rbegin()->second.same_code_and_config(c) &&
                         f.versions.rbegin()->second.source_description == c.description;
        if (unchanged) {
            view = ConfigView{f.name, f.versions.rbegin()->second,
                              f.versions.rbegin()->second.version, Phase::Steady};
        } else {
            std::int64_t n = f.last_version + 1;
            VersionConfig v = c;
            v.version = std::to_string(n);
            v.source_description = c.description;
            v.revision_id = ids_.uuid();
            f.versions[n] = v;
            f.last_version = n;
            c.revision_id = ids_.uuid();
            extra.push_back(store::Mutation::put(
                kVersionKind, version_key(function_key(s, f.name), n), v.to_doc().dump()));
            view = ConfigView{f.name, v, v.version, Phase::PublishedNew};
        }
    }
    LAMINA_CHECK(commit(s, f, std::move(extra)));
    auto& stored = functions_[s][f.name];
    *stored = std::move(f);
    report_folders(s, stored->name, stored.get());
    return view;
}

Result<ConfigView> Registry::update_function_configuration(const Scope& s, const FunctionRef& ref,
                                                           const FunctionSettings& in,
                                                           std::optional<std::string> revision_id) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (revision_id && *revision_id != cf->latest.revision_id)
        return std::unexpected(stale_revision());
    Function f = *cf;
    LAMINA_CHECK(apply_settings(s, f.latest, in));
    if (f.latest.package_type == "Zip")  // (a move to a supported runtime is allowed)
        LAMINA_CHECK(runtime_schedule(f.latest.runtime, RuntimeUse::Update, ref.name));
    f.latest.last_modified_ms = now_ms();
    std::string updating_revision = ids_.uuid();
    f.latest.revision_id = ids_.uuid();
    ConfigView view{f.name, f.latest, "", Phase::Updating};
    view.config.revision_id = updating_revision;
    LAMINA_CHECK(commit(s, f));
    auto& stored = functions_[s][f.name];
    *stored = std::move(f);
    if (in.layers) report_folders(s, stored->name, stored.get());
    return view;
}

Status Registry::delete_function(const Scope& s, const FunctionRef& ref) {
    if (ref.qualifier && *ref.qualifier == "$LATEST")
        return fail(ErrorCode::InvalidParameterValue,
                    "$LATEST version cannot be deleted without deleting the function.");
    if (ref.qualifier && !is_version_number(*ref.qualifier) && is_valid_alias_name(*ref.qualifier))
        return fail(ErrorCode::InvalidParameterValue,
                    "Deletion of aliases is not currently supported.");
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    std::string fkey = function_key(s, ref.name);
    if (!ref.qualifier) {
        std::vector<store::Mutation> batch{store::Mutation::erase(kFunctionKind, fkey),
                                           store::Mutation::erase_prefix(kVersionKind, fkey + "/"),
                                           store::Mutation::erase_prefix(kAliasKind, fkey + "/")};
        LAMINA_CHECK(docs_.apply(batch));
        unindex_urls(*cf);
        functions_[s].erase(ref.name);
        report_folders(s, ref.name, nullptr);
        recount_reserved(s);
        return {};
    }
    const std::string& q = *ref.qualifier;
    if (!is_version_number(q)) return {};
    std::int64_t n = std::stoll(q);
    if (!cf->versions.contains(n)) return {};
    std::vector<std::string> users;
    for (const auto& [name, a] : cf->aliases)
        if (a.function_version == q || a.additional_weights.contains(q)) users.push_back(name);
    if (!users.empty()) {
        std::string list;
        for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
        return fail(
            ErrorCode::ResourceConflict,
            "Unable to delete version because the following aliases reference it: [" + list + "]");
    }
    Function f = *cf;
    f.versions.erase(n);
    f.policies.erase(q);
    f.event_invoke_configs.erase(q);
    f.provisioned.erase(q);
    LAMINA_CHECK(commit(s, f, {store::Mutation::erase(kVersionKind, version_key(fkey, n))}));
    auto& stored = functions_[s][f.name];
    *stored = std::move(f);
    report_folders(s, stored->name, stored.get());
    recount_reserved(s);
    return {};
}

Result<std::pair<std::vector<ConfigView>, std::optional<std::string>>> Registry::list_functions(
    const Scope& s, bool all_versions, const Page& page) const {
    std::shared_lock lk(mu_);
    std::vector<ConfigView> rows;
    Page p = page;
    p.max_items = std::min(p.max_items, 50);
    rows.reserve(static_cast<std::size_t>(std::max(p.max_items, 0)));
    auto it = functions_.find(s);
    std::string start_after;
    if (p.marker) {
        LAMINA_TRY(pos, read_marker("functions", *p.marker));
        start_after = pos;
    }
    // Walk in (name, version) order from the marker, stopping after one page.
    std::optional<std::string> next;
    if (it != functions_.end()) {
        auto begin = it->second.begin();
        if (!start_after.empty()) {
            auto sep = start_after.find('\n');
            begin = it->second.lower_bound(start_after.substr(0, sep));
        }
        for (auto fit = begin; fit != it->second.end(); ++fit) {
            const Function& f = *fit->second;
            std::vector<ConfigView> candidates;
            if (!all_versions) {
                candidates.push_back({f.name, f.latest, "", Phase::Steady});
            } else {
                candidates.push_back({f.name, f.latest, "$LATEST", Phase::Steady});
                for (const auto& [n, v] : f.versions)
                    candidates.push_back({f.name, v, v.version, Phase::Steady});
            }
            for (auto& c : candidates) {
                if (!start_after.empty() &&
                    f.name + "\n" + sortable_version(c.config.version) <= start_after)
                    continue;
                if (static_cast<int>(rows.size()) == p.max_items) {
                    next =
                        make_marker("functions", rows.back().name + "\n" +
                                                     sortable_version(rows.back().config.version));
                    break;
                }
                rows.push_back(std::move(c));
            }
            if (next) break;
        }
    }
    return std::make_pair(std::move(rows), std::move(next));
}

Result<ConfigView> Registry::publish_version(const Scope& s, const FunctionRef& ref,
                                             std::optional<std::string> code_sha256,
                                             std::optional<std::string> description,
                                             std::optional<std::string> revision_id) {
    std::unique_lock lk(mu_);
    const Function* cf = find(s, ref.name);
    if (!cf) return std::unexpected(not_found_function(s, ref.name));
    if (code_sha256 && *code_sha256 != cf->latest.code_sha256)
        return fail(
            ErrorCode::InvalidParameterValue,
            "CodeSHA256 (" + *code_sha256 + ") is different from current CodeSHA256 in $LATEST (" +
                cf->latest.code_sha256 + "). Please try again with the CodeSHA256 in $LATEST.");
    if (revision_id && *revision_id != cf->latest.revision_id)
        return std::unexpected(stale_revision());
    if (!cf->versions.empty() && cf->versions.rbegin()->second.same_code_and_config(cf->latest) &&
        cf->versions.rbegin()->second.source_description == cf->latest.description) {
        const auto& v = cf->versions.rbegin()->second;
        return ConfigView{cf->name, v, v.version, Phase::Steady};
    }
    Function f = *cf;
    std::int64_t n = f.last_version + 1;
    VersionConfig v = f.latest;
    v.version = std::to_string(n);
    v.source_description = f.latest.description;
    if (description) v.description = *description;
    v.revision_id = ids_.uuid();
    v.last_modified_ms = now_ms();
    f.versions[n] = v;
    f.last_version = n;
    f.latest.revision_id = ids_.uuid();
    LAMINA_CHECK(commit(s, f,
                        {store::Mutation::put(kVersionKind, version_key(function_key(s, f.name), n),
                                              v.to_doc().dump())}));
    *functions_[s][f.name] = std::move(f);
    return ConfigView{ref.name, v, v.version, Phase::Steady};
}

Result<std::pair<std::vector<ConfigView>, std::optional<std::string>>> Registry::list_versions(
    const Scope& s, const FunctionRef& ref, const Page& page) const {
    std::shared_lock lk(mu_);
    const Function* f = find(s, ref.name);
    if (!f) return std::unexpected(not_found_function(s, ref.name));
    std::vector<ConfigView> rows;
    rows.push_back({f->name, f->latest, "$LATEST", Phase::Steady});
    for (const auto& [n, v] : f->versions) rows.push_back({f->name, v, v.version, Phase::Steady});
    return paginate(std::move(rows), page, "versions:" + f->name,
                    [](const ConfigView& v) { return sortable_version(v.config.version); });
}

}  // namespace lamina::control
