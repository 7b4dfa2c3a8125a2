#include "lamina/common/encoding.hpp"
#include "sam/lambda_calls.hpp"

// The event source mapping, SQS and S3 calls of LambdaCalls: queues speak
// SQS's JSON protocol (signed for "sqs"), buckets S3's REST (signed for "s3").

namespace lamina::sam {

using nlohmann::json;

namespace {

const std::string kMappings = "/2015-03-31/event-source-mappings";

std::string context(const char* operation, const std::string& who) {
    return who.empty() ? std::string() : who + " (" + operation + "): ";
}

Status done(const Result<json>& r) {
    if (!r) return std::unexpected(r.error());
    return {};
}

std::string bucket_path(const std::string& bucket) { return "/" + path_segment(bucket); }

}  // namespace

// ---- event source mappings --------------------------------------------------

Result<json> LambdaCalls::create_event_source_mapping(const json& body, const std::string& who) {
    return send("POST", kMappings, body, "CreateEventSourceMapping", who);
}

Result<json> LambdaCalls::get_event_source_mapping(const std::string& uuid,
                                                   const std::string& who) {
    return send("GET", kMappings + "/" + path_segment(uuid), nullptr, "GetEventSourceMapping", who);
}

Result<json> LambdaCalls::update_event_source_mapping(const std::string& uuid, const json& body,
                                                      const std::string& who) {
    return send("PUT", kMappings + "/" + path_segment(uuid), body, "UpdateEventSourceMapping", who);
}

Status LambdaCalls::delete_event_source_mapping(const std::string& uuid, const std::string& who) {
    return done(send("DELETE", kMappings + "/" + path_segment(uuid), nullptr,
                     "DeleteEventSourceMapping", who));
}

// ---- SQS --------------------------------------------------------------------

Result<json> LambdaCalls::sqs(const char* action, const json& body, const std::string& who) {
    ApiCall c{"POST", "/", body.dump(), "application/x-amz-json-1.0", "sqs", {}};
    c.headers.emplace_back("X-Amz-Target", std::string("AmazonSQS.") + action);
    auto r = api_.send(c);
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) {
        std::string type = r->error_type();
        bool absent = type.find("QueueDoesNotExist") != std::string::npos ||
                      type.find("NonExistentQueue") != std::string::npos;
        return fail(absent ? ErrorCode::ResourceNotFound : ErrorCode::InvalidParameterValue,
                    context(action, who) + r->error_text());
    }
    json out = r->json();
    return out.is_object() ? out : json::object();
}

Result<std::string> LambdaCalls::create_queue(const std::string& name, const json& attributes,
                                              const json& tags, const std::string& who) {
    json body = {{"QueueName", name}};
    if (!attributes.empty()) body["Attributes"] = attributes;
    if (!tags.empty()) body["tags"] = tags;
    LAMINA_TRY(out, sqs("CreateQueue", body, who));
    return out.value("QueueUrl", std::string());
}

Result<std::string> LambdaCalls::get_queue_url(const std::string& name, const std::string& who) {
    LAMINA_TRY(out, sqs("GetQueueUrl", json{{"QueueName", name}}, who));
    return out.value("QueueUrl", std::string());
}

Result<json> LambdaCalls::get_queue_attributes(const std::string& url, const std::string& who) {
    LAMINA_TRY(out, sqs("GetQueueAttributes",
                        json{{"QueueUrl", url}, {"AttributeNames", json::array({"All"})}}, who));
    return out.value("Attributes", json::object());
}

Status LambdaCalls::set_queue_attributes(const std::string& url, const json& attributes,
                                         const std::string& who) {
    return done(
        sqs("SetQueueAttributes", json{{"QueueUrl", url}, {"Attributes", attributes}}, who));
}

Result<json> LambdaCalls::list_queue_tags(const std::string& url, const std::string& who) {
    LAMINA_TRY(out, sqs("ListQueueTags", json{{"QueueUrl", url}}, who));
    return out.value("Tags", json::object());
}

Status LambdaCalls::tag_queue(const std::string& url, const json& tags, const std::string& who) {
    return done(sqs("TagQueue", json{{"QueueUrl", url}, {"Tags", tags}}, who));
}

Status LambdaCalls::untag_queue(const std::string& url, const std::vector<std::string>& keys,
                                const std::string& who) {
    return done(sqs("UntagQueue", json{{"QueueUrl", url}, {"TagKeys", keys}}, who));
}

Status LambdaCalls::delete_queue(const std::string& url, const std::string& who) {
    return done(sqs("DeleteQueue", json{{"QueueUrl", url}}, who));
}

// ---- S3 ---------------------------------------------------------------------

Result<std::string> LambdaCalls::s3(const std::string& method, const std::string& target,
                                    const std::string& body, const char* operation,
                                    const std::string& who) {
    ApiCall c{method, target, body, "application/xml", "s3", {}};
    auto r = api_.send(c);
    if (!r) return std::unexpected(r.error());
    if (!r->ok())
        return fail(
            r->status == 404 ? ErrorCode::ResourceNotFound : ErrorCode::InvalidParameterValue,
            context(operation, who) + r->error_text());
    return r->body;
}

Status LambdaCalls::create_bucket(const std::string& bucket, const std::string& who) {
    std::string body;
    if (region() != "us-east-1")
        body = "<CreateBucketConfiguration><LocationConstraint>" + region() +
               "</LocationConstraint></CreateBucketConfiguration>";
    auto r = s3("PUT", bucket_path(bucket), body, "CreateBucket", who);
    if (!r) return std::unexpected(r.error());
    return {};
}

Result<std::string> LambdaCalls::get_bucket_notification(const std::string& bucket,
                                                         const std::string& who) {
    return s3("GET", bucket_path(bucket) + "?notification", "",
              "GetBucketNotificationConfiguration", who);
}

Status LambdaCalls::put_bucket_notification(const std::string& bucket, const std::string& xml,
                                            const std::string& who) {
    auto r = s3("PUT", bucket_path(bucket) + "?notification", xml,
                "PutBucketNotificationConfiguration", who);
    if (!r) return std::unexpected(r.error());
    return {};
}

Status LambdaCalls::delete_bucket(const std::string& bucket, const std::string& who) {
    auto r = s3("DELETE", bucket_path(bucket), "", "DeleteBucket", who);
    if (!r) return std::unexpected(r.error());
    return {};
}

}  // namespace lamina::sam
