#pragma once
// Reading the inputs several Lambda operations share (paging, function
// names, code, function settings) with AWS's validation messages. Private
// to the api module.

#include <optional>
#include <string>
#include <string_view>

#include "json_input.hpp"
#include "lambda_routes.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/oci/image_source.hpp"
#include "lamina/s3/object_source.hpp"

namespace lamina::api {

// Marker and MaxItems (1..max_allowed, default_items when absent).
Result<control::Page> read_page(const http::Request& req, int max_allowed = 10000,
                                int default_items = 50);

// FunctionName (path) + Qualifier (query, unless !qualifier_param) of a call;
// `action` names the operation in access errors ("GetFunction").
Result<control::FunctionRef> function_ref(const LambdaCall& c, control::NameShape shape,
                                          const char* action, bool qualifier_param = true);

struct CodeInput {
    std::optional<std::string> zip;  // decoded ZipFile (a small one), or the S3 object once read
    // a large ZipFile, decoded in place over its base64 text in the request body
    std::optional<std::string_view> zip_in_place;
    // or the S3 object holding it
    std::optional<std::string> s3_bucket, s3_key, s3_version;
    std::optional<std::string> image_uri;  // ImageUri (PackageType Image)
    bool from_s3() const { return s3_bucket.has_value(); }
};

// Code.* / Content.* / UpdateFunctionCode's body. `extracted` is ZipFile when
// parse_body_extracting cut it out of the body (writable_blob): it is decoded
// in place, so its text is gone afterwards; `field_prefix` names the members
// in validation messages ("code.", "content.", "").
Result<CodeInput> read_code(const ojson& code, bool for_update,
                            std::optional<std::span<char>> extracted,
                            const std::string& field_prefix);
// Hot reload: when the code names `bucket` (--hot-reload-bucket) as its
// S3Bucket, its S3Key must be an absolute path of an existing folder on this
// machine; the code to store is then that folder (nullopt: ordinary code).
// `field_prefix` as for read_code.
Result<std::optional<control::StoredCode>> hot_reload_code(const CodeInput& code,
                                                           const std::string& bucket,
                                                           const std::string& field_prefix);
// The zip bytes: the ZipFile, or the S3 object read from `source` (kept in
// `code`, which the bytes live in, or in the request body).
Result<std::string_view> code_bytes(s3::ObjectSource* source, const control::Scope& scope,
                                    CodeInput& code);
// Size limits, zip checks and digests of a zip about to be stored.
Result<control::StoredCode> check_code(std::string_view zip, bool from_s3 = false);

// An image function's code: `uri` (ImageUri) resolved against lamina's
// registry (`source`, null when this lamina has none) in the caller's account
// and region, with AWS's errors for a URI of another registry or region, a
// missing repository or tag, and an image index or unsupported media type.
// `request_host` is the Host the caller reached lamina at: an ImageUri may
// name lamina's own endpoint (127.0.0.1:<port>/<repo>:<tag>) instead of ECR.
Result<control::StoredCode> resolve_image_code(const oci::ImageSource* source,
                                               const control::Scope& scope, const std::string& uri,
                                               const std::string& request_host,
                                               unsigned short port);
// The ECR form of an image's resolved digest: <acct>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<hex>.
std::string resolved_image_uri(const control::Scope& scope, const control::VersionConfig& c);

// The settings shared by CreateFunction and UpdateFunctionConfiguration.
Result<control::FunctionSettings> read_settings(const ojson& body);
// Architectures: nullopt when absent, else its one value.
Result<std::optional<std::string>> read_architecture(const ojson& body);

// The invocation of a resolved version, as the data plane takes it (Invoke,
// the event queue, function URLs). lambda_invoke.cpp.
exec::InvokeRequest invoke_request(const control::Scope& scope, const control::FunctionRef& ref,
                                   control::ConfigView view, std::string payload,
                                   const std::string& request_id);

}  // namespace lamina::api
