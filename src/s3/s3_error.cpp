#include "lamina/s3/s3_error.hpp"

#include "lamina/common/encoding.hpp"

namespace lamina::s3 {

namespace {

struct Row {
    S3ErrorCode code;
    unsigned status;
    const char* name;
    const char* message;
};

// Messages as S3 sends them (trailing periods included or not, as S3 does).
constexpr Row kRows[] = {
    {S3ErrorCode::AccessDenied, 403, "AccessDenied", "Access Denied"},
    {S3ErrorCode::BadDigest, 400, "BadDigest",
     "The Content-MD5 you specified did not match what we received."},
    {S3ErrorCode::BucketAlreadyExists, 409, "BucketAlreadyExists",
     "The requested bucket name is not available. The bucket namespace is shared by all users of "
     "the system. "
     "Please select a different name and try again."},
    {S3ErrorCode::BucketAlreadyOwnedByYou, 409, "BucketAlreadyOwnedByYou",
     "Your previous request to create the named bucket succeeded and you already own it."},
    {S3ErrorCode::BucketNotEmpty, 409, "BucketNotEmpty",
     "The bucket you tried to delete is not empty"},
    {S3ErrorCode::EntityTooLarge, 400, "EntityTooLarge",
     "Your proposed upload exceeds the maximum allowed size"},
    {S3ErrorCode::EntityTooSmall, 400, "EntityTooSmall",
     "Your proposed upload is smaller than the minimum allowed object size."},
    {S3ErrorCode::IncompleteBody, 400, "IncompleteBody",
     "The request body terminated unexpectedly"},
    {S3ErrorCode::InternalError, 500, "InternalError",
     "We encountered an internal error. Please try again."},
    {S3ErrorCode::InvalidAccessKeyId, 403, "InvalidAccessKeyId",
     "The AWS Access Key Id you provided does not exist in our records."},
    {S3ErrorCode::InvalidArgument, 400, "InvalidArgument", "Invalid Argument"},
    {S3ErrorCode::InvalidBucketName, 400, "InvalidBucketName",
     "The specified bucket is not valid."},
    {S3ErrorCode::InvalidPart, 400, "InvalidPart",
     "One or more of the specified parts could not be found.  The part may not have been uploaded, "
     "or the "
     "specified entity tag may not have matched the part's entity tag."},
    {S3ErrorCode::InvalidPartOrder, 400, "InvalidPartOrder",
     "The list of parts was not in ascending order. The parts list must be specified in order by "
     "part number."},
    {S3ErrorCode::InvalidRange, 416, "InvalidRange", "The requested range is not satisfiable"},
    {S3ErrorCode::InvalidRequest, 400, "InvalidRequest", "Invalid Request"},
    {S3ErrorCode::KeyTooLongError, 400, "KeyTooLongError", "Your key is too long"},
    {S3ErrorCode::MalformedXML, 400, "MalformedXML",
     "The XML you provided was not well-formed or did not validate against our published schema"},
    {S3ErrorCode::MethodNotAllowed, 405, "MethodNotAllowed",
     "The specified method is not allowed against this resource."},
    {S3ErrorCode::MissingContentLength, 411, "MissingContentLength",
     "You must provide the Content-Length HTTP header."},
    {S3ErrorCode::NoSuchBucket, 404, "NoSuchBucket", "The specified bucket does not exist"},
    {S3ErrorCode::NoSuchKey, 404, "NoSuchKey", "The specified key does not exist."},
    {S3ErrorCode::NoSuchUpload, 404, "NoSuchUpload",
     "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
     "been aborted or "
     "completed."},
    {S3ErrorCode::NoSuchVersion, 404, "NoSuchVersion", "The specified version does not exist."},
    {S3ErrorCode::NotImplemented, 501, "NotImplemented",
     "A header you provided implies functionality that is not implemented"},
    {S3ErrorCode::PermanentRedirect, 301, "PermanentRedirect",
     "The bucket you are attempting to access must be addressed using the specified endpoint. "
     "Please send all "
     "future requests to this endpoint."},
    {S3ErrorCode::SignatureDoesNotMatch, 403, "SignatureDoesNotMatch",
     "The request signature we calculated does not match the signature you provided. Check your "
     "key and signing "
     "method."},
    {S3ErrorCode::XAmzContentSHA256Mismatch, 400, "XAmzContentSHA256Mismatch",
     "The provided 'x-amz-content-sha256' header does not match what was computed."},
};

const Row& row(S3ErrorCode code) {
    for (const auto& r : kRows)
        if (r.code == code) return r;
    return kRows[8];  // InternalError
}

}  // namespace

unsigned s3_status(S3ErrorCode code) { return row(code).status; }
std::string s3_code_name(S3ErrorCode code) { return row(code).name; }
std::string s3_message(const S3Error& error) {
    return error.message.empty() ? row(error.code).message : error.message;
}

http::Response s3_error_response(const S3Error& error, const std::string& request_id, bool head) {
    http::Response r;
    r.status = s3_status(error.code);
    r.headers.set("x-amz-request-id", request_id);
    if (head) return r;
    r.headers.set("Content-Type", "application/xml");
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                       s3_code_name(error.code) + "</Code><Message>" +
                       xml_escape(s3_message(error)) + "</Message>";
    for (const auto& [name, value] : error.fields)
        body += "<" + name + ">" + xml_escape(value) + "</" + name + ">";
    body += "<RequestId>" + xml_escape(request_id) + "</RequestId><HostId>" +
            xml_escape(request_id) + "</HostId></Error>";
    r.body = std::move(body);
    return r;
}

}  // namespace lamina::s3
