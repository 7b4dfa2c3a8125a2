#pragma once
// The Lambda operations (and lamina's own stack calls, and the SQS and S3
// operations queues and buckets need) a deployment makes, one
// function per operation over an ApiClient, each building its REST path in one
// place. A call the API refuses fails with AWS's answer in the message:
//   "<who> (<Operation>): <ErrorType>: <message>"   when `who` is given,
//   "<ErrorType>: <message>"                         when it is empty;
// its code is ResourceNotFound when the API answered 404 (the thing is not
// there), InvalidParameterValue otherwise. A transport failure is passed on
// as the ApiClient reported it.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/sam/api_client.hpp"

namespace lamina::sam {

// A layer version named by "arn:aws:lambda:<region>:<account>:layer:<name>:<version>".
struct LayerVersionId {
    std::string layer;
    std::int64_t version = 0;
};
std::optional<LayerVersionId> parse_layer_version_arn(const std::string& arn);

// A failed delete of something already gone counts as done.
Status absent_is_done(Status st);
// A Get* answer, nullopt when the thing is not there.
Result<std::optional<nlohmann::json>> if_found(Result<nlohmann::json> r);

class LambdaCalls {
public:
    explicit LambdaCalls(ApiClient& api) : api_(api) {}
    const std::string& region() const { return api_.region(); }

    // STS GetCallerIdentity: the account the client's calls land in.
    Result<std::string> caller_account();

    // functions
    Result<nlohmann::json> get_function(const std::string& name, const std::string& who);
    Result<nlohmann::json> get_function_configuration(const std::string& name,
                                                      const std::string& who);
    Result<nlohmann::json> create_function(const nlohmann::json& body, const std::string& who);
    Status delete_function(const std::string& name, const std::string& who);
    Status delete_function_version(const std::string& name, const std::string& version,
                                   const std::string& who);
    Result<nlohmann::json> update_function_code(const std::string& name, const nlohmann::json& body,
                                                const std::string& who);
    Result<nlohmann::json> update_function_configuration(const std::string& name,
                                                         const nlohmann::json& body,
                                                         const std::string& who);
    Status tag_resource(const std::string& arn, const nlohmann::json& tags, const std::string& who);
    Status untag_resource(const std::string& arn, const std::vector<std::string>& keys,
                          const std::string& who);
    Status put_function_concurrency(const std::string& name, std::int64_t reserved,
                                    const std::string& who);
    Status delete_function_concurrency(const std::string& name, const std::string& who);

    // versions and aliases
    Result<nlohmann::json> publish_version(const std::string& name, const nlohmann::json& body,
                                           const std::string& who);
    Result<nlohmann::json> get_alias(const std::string& name, const std::string& alias,
                                     const std::string& who);
    Status create_alias(const std::string& name, const nlohmann::json& body,
                        const std::string& who);
    Status update_alias(const std::string& name, const std::string& alias,
                        const nlohmann::json& body, const std::string& who);
    Status delete_alias(const std::string& name, const std::string& alias, const std::string& who);

    // provisioned concurrency and asynchronous invocation, per qualifier
    Result<nlohmann::json> get_provisioned_concurrency_config(const std::string& name,
                                                              const std::string& qualifier,
                                                              const std::string& who);
    Status put_provisioned_concurrency_config(const std::string& name, const std::string& qualifier,
                                              std::int64_t n, const std::string& who);
    Status delete_provisioned_concurrency_config(const std::string& name,
                                                 const std::string& qualifier,
                                                 const std::string& who);
    Status put_function_event_invoke_config(const std::string& name, const std::string& qualifier,
                                            const nlohmann::json& body, const std::string& who);
    Status delete_function_event_invoke_config(const std::string& name,
                                               const std::string& qualifier,
                                               const std::string& who);

    // function URL configs; qualifier "" is the unqualified function, else an alias
    Result<nlohmann::json> get_function_url_config(const std::string& name,
                                                   const std::string& qualifier,
                                                   const std::string& who);
    Result<nlohmann::json> create_function_url_config(const std::string& name,
                                                      const std::string& qualifier,
                                                      const nlohmann::json& body,
                                                      const std::string& who);
    Result<nlohmann::json> update_function_url_config(const std::string& name,
                                                      const std::string& qualifier,
                                                      const nlohmann::json& body,
                                                      const std::string& who);
    Status delete_function_url_config(const std::string& name, const std::string& qualifier,
                                      const std::string& who);

    // resource policies; qualifier "" is the unqualified function
    Result<nlohmann::json> get_policy(const std::string& name, const std::string& qualifier,
                                      const std::string& who);
    Status add_permission(const std::string& name, const std::string& qualifier,
                          const nlohmann::json& body, const std::string& who);
    Status remove_permission(const std::string& name, const std::string& qualifier,
                             const std::string& sid, const std::string& who);

    // layers
    Result<nlohmann::json> publish_layer_version(const std::string& layer,
                                                 const nlohmann::json& body,
                                                 const std::string& who);
    Status delete_layer_version(const LayerVersionId& id, const std::string& who);
    Result<nlohmann::json> get_layer_version_by_arn(const std::string& arn, const std::string& who);
    Result<nlohmann::json> get_layer_version_policy(const LayerVersionId& id,
                                                    const std::string& who);
    Status add_layer_version_permission(const LayerVersionId& id, const nlohmann::json& body,
                                        const std::string& who);
    Status remove_layer_version_permission(const LayerVersionId& id, const std::string& sid,
                                           const std::string& who);
    // The policy path of a layer version, as stack records keep it ("Base"),
    // and back; nullopt for a path of another shape.
    static std::string layer_version_policy_path(const LayerVersionId& id);
    static std::optional<LayerVersionId> parse_layer_version_policy_path(const std::string& path);

    // event source mappings (service_calls.cpp)
    Result<nlohmann::json> create_event_source_mapping(const nlohmann::json& body,
                                                       const std::string& who);
    Result<nlohmann::json> get_event_source_mapping(const std::string& uuid,
                                                    const std::string& who);
    Result<nlohmann::json> update_event_source_mapping(const std::string& uuid,
                                                       const nlohmann::json& body,
                                                       const std::string& who);
    Status delete_event_source_mapping(const std::string& uuid, const std::string& who);

    // SQS, in its JSON protocol; a queue that is not there is ResourceNotFound
    Result<std::string> create_queue(const std::string& name, const nlohmann::json& attributes,
                                     const nlohmann::json& tags, const std::string& who);
    Result<std::string> get_queue_url(const std::string& name, const std::string& who);
    Result<nlohmann::json> get_queue_attributes(const std::string& url, const std::string& who);
    Status set_queue_attributes(const std::string& url, const nlohmann::json& attributes,
                                const std::string& who);
    Result<nlohmann::json> list_queue_tags(const std::string& url, const std::string& who);
    Status tag_queue(const std::string& url, const nlohmann::json& tags, const std::string& who);
    Status untag_queue(const std::string& url, const std::vector<std::string>& keys,
                       const std::string& who);
    Status delete_queue(const std::string& url, const std::string& who);

    // S3 buckets (path style); a bucket that is not there is ResourceNotFound
    Status create_bucket(const std::string& bucket, const std::string& who);
    // GetBucketNotificationConfiguration's XML
    Result<std::string> get_bucket_notification(const std::string& bucket, const std::string& who);
    Status put_bucket_notification(const std::string& bucket, const std::string& xml,
                                   const std::string& who);
    Status delete_bucket(const std::string& bucket, const std::string& who);

    // lamina's stack records (/_lamina/stacks/{name}; nullopt: no such stack) and traffic shifts
    Result<std::optional<nlohmann::json>> get_stack(const std::string& stack);
    Status put_stack(const std::string& stack, const nlohmann::json& record);
    Status delete_stack(const std::string& stack);
    Status start_traffic_shifts(const std::string& stack, const nlohmann::json& body);

private:
    // The reply's JSON body, or the refusal as described above.
    Result<nlohmann::json> send(const std::string& method, const std::string& target,
                                const nlohmann::json& body, const char* operation,
                                const std::string& who);
    Result<nlohmann::json> sqs(const char* action, const nlohmann::json& body,
                               const std::string& who);
    Result<std::string> s3(const std::string& method, const std::string& target,
                           const std::string& body, const char* operation, const std::string& who);

    ApiClient& api_;
};

}  // namespace lamina::sam
