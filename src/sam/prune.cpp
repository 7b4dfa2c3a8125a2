#include "sam/deployment.hpp"

// The prune phase: what the stack's previous record has and this deployment
// does not is deleted, newest kinds first (a permission before its function).

namespace lamina::sam {

using nlohmann::json;

namespace {

class Pruner {
public:
    Pruner(LambdaCalls& lambda, json& next, const Deployer::Say& say)
        : lambda_(lambda), next_(next), say_(say) {}

    // Layer versions replaced in this deployment, when the layer does not keep
    // them; one that cannot be deleted stays in the layer's record.
    void replaced_layer_versions() {
        for (auto& [id, st] : next_.items()) {
            if (!is_layer_type(st.value("Type", std::string())) || st.value("Retain", true))
                continue;
            json kept = json::array();
            for (const auto& v : st["Versions"])
                if (v == st["LayerVersionArn"] || !delete_layer_version(id, v.get<std::string>()))
                    kept.push_back(v);
            st["Versions"] = kept;
        }
    }

    void gone(const std::string& id, const json& prev) {
        std::string kind = prev.value("Type", std::string());
        std::string fn = prev.value("FunctionName", std::string());
        if (is_function_type(kind)) {
            if (done(id, prev, absent_is_done(lambda_.delete_function(fn, id))))
                say("deleted  " + id + "  function " + fn);
        } else if (is_layer_type(kind)) {
            bool retain = prev.value("Retain", true);
            json left = json::array();
            if (!retain)
                for (const auto& v : prev.value("Versions", json::array()))
                    if (!delete_layer_version(id, v.get<std::string>())) left.push_back(v);
            if (!left.empty()) {
                json rest = prev;
                rest["Versions"] = left;
                keep(id, rest);
                return;
            }
            say(std::string(retain ? "retained " : "deleted  ") + id + "  layer " +
                prev.value("LayerName", std::string()));
        } else if (kind == kAlias) {
            std::string name = prev.value("Name", std::string());
            if (done(id, prev, absent_is_done(lambda_.delete_alias(fn, name, id))))
                say("deleted  " + id + "  alias " + fn + ":" + name);
        } else if (kind == kVersion) {
            if (prev.value("Retain", false)) return;
            // Lambda refuses to delete a version an alias still routes to: it is
            // kept, as before, and goes with its function.
            std::string v = prev.value("Version", std::string());
            if (auto st = lambda_.delete_function_version(fn, v, ""); st)
                say("deleted  " + id + "  version " + fn + ":" + v);
            else
                say("kept     " + id + "  version " + fn + ":" + v + " (" + st.error().message +
                    ")");
        } else if (kind == kPermission) {
            std::string sid = prev.value("StatementId", std::string());
            auto st =
                lambda_.remove_permission(fn, prev.value("Qualifier", std::string()), sid, id);
            if (done(id, prev, absent_is_done(st))) say("removed  " + id + "  permission " + sid);
        } else if (kind == kLayerPermission) {
            auto layer =
                LambdaCalls::parse_layer_version_policy_path(prev.value("Base", std::string()));
            Status st = layer ? lambda_.remove_layer_version_permission(
                                    *layer, prev.value("StatementId", std::string()), id)
                              : fail(ErrorCode::Service,
                                     id + ": the stack record names no layer version policy");
            if (done(id, prev, absent_is_done(st))) say("removed  " + id + "  layer permission");
        } else if (kind == kEventInvokeConfig) {
            auto st = lambda_.delete_function_event_invoke_config(
                fn, prev.value("Qualifier", std::string()), id);
            if (done(id, prev, absent_is_done(st))) say("deleted  " + id + "  event invoke config");
        } else if (kind == kEventSourceMapping || kind == kQueue || kind == kBucket) {
            event_resource_gone(id, prev, kind);
        } else if (kind == kUrl) {
            auto st =
                lambda_.delete_function_url_config(fn, prev.value("Qualifier", std::string()), id);
            if (done(id, prev, absent_is_done(st)))
                say("deleted  " + id + "  function url " +
                    prev.value("FunctionUrl", std::string()));
        }
    }

    std::vector<std::string> failures;

private:
    // Mappings, queues and buckets; DeletionPolicy Retain keeps them.
    void event_resource_gone(const std::string& id, const json& prev, const std::string& kind) {
        std::string what = kind == kEventSourceMapping
                               ? "event source mapping " + prev.value("UUID", std::string())
                           : kind == kQueue ? "queue " + prev.value("QueueUrl", std::string())
                                            : "bucket " + prev.value("BucketName", std::string());
        if (prev.value("Retain", false)) {
            say("retained " + id + "  " + what);
            return;
        }
        Status st = kind == kEventSourceMapping
                        ? lambda_.delete_event_source_mapping(prev.value("UUID", std::string()), id)
                    : kind == kQueue
                        ? lambda_.delete_queue(prev.value("QueueUrl", std::string()), id)
                        : lambda_.delete_bucket(prev.value("BucketName", std::string()), id);
        if (done(id, prev, absent_is_done(st))) say("deleted  " + id + "  " + what);
    }

    // True when `st` succeeded; otherwise reports the failure and keeps `prev`.
    bool done(const std::string& id, const json& prev, const Status& st) {
        if (st) return true;
        failures.push_back(st.error().message);
        say("not deleted: " + st.error().message);
        keep(id, prev);
        return false;
    }
    // On the record for the next try, unless the id is now another resource's.
    void keep(const std::string& id, const json& prev) {
        if (!next_.contains(id)) next_[id] = prev;
    }
    bool delete_layer_version(const std::string& id, const std::string& arn) {
        auto v = parse_layer_version_arn(arn);
        Status st =
            v ? lambda_.delete_layer_version(*v, id)
              : fail(ErrorCode::Service, id + ": the stack record names no layer version: " + arn);
        if (auto gone = absent_is_done(st); !gone) {
            failures.push_back(gone.error().message);
            say("not deleted: " + gone.error().message);
            return false;
        }
        return true;
    }
    void say(const std::string& line) {
        if (say_) say_(line);
    }

    LambdaCalls& lambda_;
    json& next_;
    const Deployer::Say& say_;
};

}  // namespace

std::vector<std::string> prune_stack(LambdaCalls& lambda, const json& previous, json& next,
                                     const Deployer::Say& say) {
    Pruner pruner(lambda, next, say);
    pruner.replaced_layer_versions();
    // resources gone from the template (or replaced under another name), newest kinds first
    // (a bucket's notifications go before the permissions S3 checked, a
    // mapping before its function and queue)
    for (const char* kind :
         {kEventSourceMapping, kBucket, kPermission, kLayerPermission, kEventInvokeConfig, kUrl,
          kAlias, kVersion, kServerlessFunction, kFunction, kServerlessLayer, kLayer, kQueue}) {
        for (const auto& [id, prev] : previous.items()) {
            if (prev.value("Type", std::string()) != kind) continue;
            bool same = next.contains(id);
            for (const char* k : {"FunctionName", "LayerName", "Name", "Qualifier", "UUID",
                                  "QueueName", "BucketName"})
                same = same && next[id].value(k, std::string()) == prev.value(k, std::string());
            if (!same) pruner.gone(id, prev);
        }
    }
    return std::move(pruner.failures);
}

}  // namespace lamina::sam
