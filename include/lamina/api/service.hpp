#pragma once
// The api front door: turns an http::Request into a response. Classifies
// the request once (api/classify.hpp: the body policy's answer travels with
// the request), makes the request context once, starts invocations on the
// I/O thread and runs every other operation on the worker pool, maps errors
// through aws_error, and gives every answer, invocations included, its
// x-amzn-RequestId, Server-Timing and request log line in one place.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "lamina/api/classify.hpp"
#include "lamina/api/cloudwatch_api.hpp"
#include "lamina/api/dev_api.hpp"
#include "lamina/api/lambda_api.hpp"
#include "lamina/api/logs_api.hpp"
#include "lamina/api/query_api.hpp"
#include "lamina/api/sigv4.hpp"
#include "lamina/api/ui_api.hpp"
#include "lamina/common/clock.hpp"
#include "lamina/common/config.hpp"
#include "lamina/common/startup_findings.hpp"
#include "lamina/control/iam.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/control/stacks.hpp"
#include "lamina/http/router.hpp"
#include "lamina/http/server.hpp"
#include "lamina/oci/distribution_api.hpp"
#include "lamina/oci/ecr_api.hpp"
#include "lamina/s3/object_source.hpp"
#include "lamina/s3/s3_api.hpp"
#include "lamina/sqs/sqs_api.hpp"

namespace lamina::api {

class Service {
public:
    // /health reports the sandbox and limits of `findings`.
    Service(const Config& config, const StartupFindings& findings, control::Registry& registry,
            control::LayerRegistry& layers, store::LayerCache& layer_cache,
            control::IamRoles& roles, store::BlobStore& blobs, IdSource& ids,
            boost::asio::thread_pool& workers, exec::Invoker* invoker = nullptr,
            exec::EventQueue* events = nullptr, metrics::MetricsStore* metrics = nullptr,
            s3::ObjectStore* objects = nullptr, s3::ObjectSource* code_source = nullptr,
            sqs::Queues* queues = nullptr);

    // With credentials, every AWS call must carry a valid SigV4 signature by
    // one of their keys, and the key's account is the request's (--auth sigv4).
    void set_credentials(CredentialStore store) { credentials_ = std::move(store); }

    // Where deployed templates' records are kept (/_lamina/stacks/{name}).
    void set_stacks(control::StackRecords* stacks) { stacks_ = stacks; }
    // Where functions' logs are kept: serves the CloudWatch Logs API.
    // With `tail`, StartLiveTail too.
    void set_logs(logs::LogStore* store, Clock& clock, logs::LiveTail* tail = nullptr) {
        logs_ = store ? std::make_unique<LogsApi>(*store, clock, tail) : nullptr;
        classify_.logs = store != nullptr;
    }
    // Where event source mappings are kept (the Lambda API's *EventSourceMapping operations).
    void set_event_source_mappings(control::EventSourceMappings* esms) {
        lambda_.set_event_source_mappings(esms);
    }
    // The dashboard's sources (GET /_lamina/ui, /_lamina/ui/state); without them it is 404.
    void set_ui(UiSources sources, Clock& clock) {
        ui_ = std::make_unique<UiApi>(sources, control::Scope{config_.account_id, config_.region},
                                      clock);
        dev_.emplace(sources.recent, control::Scope{config_.account_id, config_.region});
    }
    // What POST /_lamina/reset does (api/dev_api.hpp); without it, set_ui's DevApi answers 404.
    void set_reset_handler(DevApi::ResetHandler h) {
        if (dev_) dev_->set_reset_handler(std::move(h));
    }
    // The image registry: serves the OCI Distribution API under /v2 and the ECR API.
    void set_image_registry(oci::Registry* registry, Clock& clock) {
        distribution_ = registry
                            ? std::make_unique<oci::DistributionApi>(
                                  *registry, boost::asio::any_io_executor(workers_.get_executor()))
                            : nullptr;
        ecr_ = registry ? std::make_unique<oci::EcrApi>(*registry, clock) : nullptr;
        classify_.images = registry != nullptr;
    }
    // lamina's S3 (nullptr without --s3), for the app to wire its notifications.
    s3::S3Api* s3_api() { return s3_.get(); }
    // Takes the traffic shifts of a deployment (POST /_lamina/stacks/{name}/traffic-shifts).
    using ShiftHandler = std::function<Status(const control::Scope&, const std::string& body)>;
    void set_shift_handler(ShiftHandler h) { shift_handler_ = std::move(h); }

    // Provisions the stored provisioned concurrency configs again (start-up).
    void restore_provisioned() { lambda_.restore_provisioned(); }
    // lamina's image registry, where image functions' ImageUri is resolved
    void set_image_source(const oci::ImageSource* source) { lambda_.set_image_source(source); }
    // Shutdown: SQS long polls answer now instead of when their timers end.
    void stop_long_polls() {
        if (sqs_) sqs_->stop();
    }

    // Called on an io thread; completes through `respond`, from a worker or
    // (invocations) from whichever thread the function's answer arrives on.
    void handle(http::Request req, http::Responder respond);
    // The body limit for the request's protocol and operation; the
    // classification rides along as the request's tag.
    http::BodyPolicy body_policy(const http::RequestHead& head) const;
    http::Response transport_error(unsigned status, const std::string& what);

    // Synchronous dispatch of every operation but invocations (tests, sam's
    // in-process client). The request is the handler's to change (a ZipFile
    // is decoded in place).
    http::Response dispatch(http::Request req);

private:
    // One request at the front door: what its answer gets, and its log line.
    struct Exchange;
    static http::Response finish(http::Response r, const Exchange& x, const std::string& op);
    using Reply = std::function<void(http::Response, const std::string& op)>;
    // Starts an invocation; `reply` is called once, when the function answers.
    void invoke(RequestContext& ctx, const http::Request& req, const Classified& c, Reply reply);
    // `reply`, counting the URL request's answer (status, latency) in the
    // URL's metrics on the way (metrics::record_url).
    Reply metered_url(const std::string& url_id, Reply reply) const;
    // SQS (either protocol; a query form posted to "/" naming an SQS Action too):
    // answered through `reply`, later for a long poll.
    std::optional<sqs::Wire> sqs_wire(const http::Request& req, const Classified& c) const;
    void answer_sqs(RequestContext& ctx, const http::Request& req, sqs::Wire wire,
                    const Reply& reply);
    // Every other operation; `op` names it in the log line. `req` is the
    // handler's to change (LambdaApi::handle).
    http::Response answer(RequestContext& ctx, http::Request& req, const Classified& c,
                          std::string& op);
    http::Response route(RequestContext& ctx, http::Request& req, const Classified& c,
                         std::string& op);
    // `s3`: the request is S3's, so no path is lamina's own page.
    // With `seed`, what a signed aws-chunked body is checked with (when signatures are verified).
    Status authenticate(const http::Request& req, RequestContext& ctx, bool s3 = false,
                        std::optional<SigV4Seed>* seed = nullptr) const;
    http::Response health(const RequestContext& ctx) const;
    // /v2 under --auth sigv4: Basic auth, user AWS, a password GetAuthorizationToken made.
    bool registry_authorized(const http::Headers& headers) const;
    void answer_registry(const RequestContext& ctx, const http::Request& req, const Classified& c,
                         const Reply& reply);
    http::Response answer_ecr(const RequestContext& ctx, const http::Request& req,
                              const Classified& c);
    // GET/PUT/DELETE /_lamina/stacks/{name}, GET /_lamina/stacks
    std::optional<http::Response> stacks(const RequestContext& ctx, const http::Request& req);

    const Config& config_;
    const StartupFindings& findings_;
    control::Registry& registry_;
    IdSource& ids_;
    boost::asio::thread_pool& workers_;
    LambdaApi lambda_;
    QueryApi query_;
    std::unique_ptr<CloudWatchApi> cloudwatch_;           // when metrics are recorded
    std::unique_ptr<s3::S3Api> s3_;                       // with --s3 on
    std::unique_ptr<sqs::SqsApi> sqs_;                    // when SQS is served
    std::unique_ptr<LogsApi> logs_;                       // when logs are stored
    std::unique_ptr<oci::DistributionApi> distribution_;  // with the image registry: /v2
    std::unique_ptr<oci::EcrApi> ecr_;                    // with the image registry: ECR
    std::unique_ptr<UiApi> ui_;                           // the dashboard, once set_ui was called
    std::optional<DevApi> dev_;                           // /_lamina/invocations and /_lamina/reset
    metrics::MetricsStore* metrics_ = nullptr;
    control::StackRecords* stacks_ = nullptr;
    ShiftHandler shift_handler_;
    std::optional<CredentialStore> credentials_;
    ClassifyOptions classify_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace lamina::api
