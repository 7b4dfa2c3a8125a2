#pragma once
// S3's errors: one table from S3ErrorCode to HTTP status, the <Code> S3
// sends and its default <Message>, and the XML body S3 answers with:
// <Error><Code/><Message/>[<BucketName/>|<Key/>|...]<RequestId/></Error>.
// S3 names its codes itself (NoSuchBucket, not NoSuchBucketException), so
// they live here rather than in lamina's ErrorCode.

#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "lamina/http/message.hpp"

namespace lamina::s3 {

enum class S3ErrorCode {
    AccessDenied,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    KeyTooLongError,
    MalformedXML,
    MethodNotAllowed,
    MissingContentLength,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    NotImplemented,
    PermanentRedirect,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
};

struct S3Error {
    S3ErrorCode code = S3ErrorCode::InternalError;
    std::string message;  // empty: the table's default message
    // extra elements after <Message>, e.g. {"BucketName", "b"} or {"Key", "k"}
    std::vector<std::pair<std::string, std::string>> fields;
};

template <class T>
using S3Result = std::expected<T, S3Error>;

inline std::unexpected<S3Error> s3_fail(
    S3ErrorCode code, std::vector<std::pair<std::string, std::string>> fields = {},
    std::string message = {}) {
    return std::unexpected(S3Error{code, std::move(message), std::move(fields)});
}

unsigned s3_status(S3ErrorCode code);
// The <Code> element, e.g. "NoSuchBucket".
std::string s3_code_name(S3ErrorCode code);
// The message S3 sends for this error (the error's own, else the table's).
std::string s3_message(const S3Error& error);

// The XML error response (no body when `head`: S3 answers HEAD errors with
// the status alone).
http::Response s3_error_response(const S3Error& error, const std::string& request_id,
                                 bool head = false);

}  // namespace lamina::s3
