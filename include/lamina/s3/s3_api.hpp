#pragma once
// The S3 REST surface on lamina's endpoint: buckets, objects, multipart
// uploads, in S3's XML shapes and errors, path or virtual-host addressed.
//
// Which requests are S3's is api::classify's decision (api/classify.hpp).
//
// A bucket is its owner's alone (ObjectStore::bucket_for): any other
// account's request on it, except CreateBucket (BucketAlreadyExists), is
// 403 AccessDenied and changes nothing.

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/encoding.hpp"
#include "lamina/common/error.hpp"
#include "lamina/http/message.hpp"
#include "lamina/http/server.hpp"
#include "lamina/s3/notification.hpp"
#include "lamina/s3/object_store.hpp"

namespace lamina::s3 {

struct S3Context {
    std::string request_id;
    std::string region;   // the request's (SigV4 scope, else lamina's --region)
    std::string account;  // who makes it (owns the buckets it creates, and only it may use them)
    // Set when lamina verified the request's SigV4 signature (--auth sigv4):
    // a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body's chunk signatures are then
    // checked against it. Without it they are read and not checked.
    std::optional<SigV4Seed> seed;
};

// The service a request is SigV4-signed for (Authorization header or
// X-Amz-Credential query); empty when unsigned.
std::string signing_service(const http::Headers& headers,
                            const std::multimap<std::string, std::string>& query);
std::string signing_service(const http::Request& req);

// S3's answer when SigV4 verification refused the request.
S3Error auth_error(const Error& error);

// "bytes=0-9", "bytes=5-", "bytes=-3"; nullopt when the header is not one
// byte range (S3 then serves the whole object).
std::optional<ByteRange> parse_range(const std::string& header);

class S3Api {
public:
    S3Api(ObjectStore& store, std::vector<std::string> host_bases);

    const std::vector<std::string>& host_bases() const { return host_bases_; }

    // PUTs and parts up to kMaxObjectBytes (plus aws-chunked framing); other
    // requests 8 MiB. Too large: S3's EntityTooLarge.
    http::BodyPolicy body_policy(const http::RequestHead& head) const;

    http::Response handle(const S3Context& ctx, const http::Request& req);

    // Where notifications go. Unset hooks: Lambda destinations fail
    // validation (unless skipped) and are not delivered to; queue
    // destinations are refused (NotImplemented) without send_to_queue.
    void set_notification_hooks(NotificationHooks hooks) { hooks_ = std::move(hooks); }

    // GET/PUT /<bucket>?notification: the configuration's XML for a GET,
    // nullopt for a successful PUT of `body`.
    S3Result<std::optional<std::string>> notification_request(const S3Context& ctx,
                                                              const http::Request& req,
                                                              const std::string& bucket,
                                                              std::string_view body);
    // Hands a record to every configuration of the bucket that matches the
    // event (after the change is on disk). Never fails: a destination that
    // refuses is logged. `info`: the object created (nullptr for removals).
    void object_event(const S3Context& ctx, const http::Request& req, const std::string& bucket,
                      const std::string& event_name, const std::string& key,
                      const ObjectInfo* info);

private:
    std::string next_sequencer();

    ObjectStore& store_;
    std::vector<std::string> host_bases_;
    NotificationHooks hooks_;
    std::atomic<std::uint64_t> sequence_{0};
};

}  // namespace lamina::s3
