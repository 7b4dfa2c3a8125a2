#include "lamina/s3/object_source.hpp"

namespace lamina::s3 {

std::expected<std::string, GetObjectFailure> LocalObjectSource::get_object(
    const std::string& account, const std::string& region, const std::string& bucket,
    const std::string& key, const std::optional<std::string>& version) {
    auto failure = [](const S3Error& e) {
        return std::unexpected(GetObjectFailure{s3_code_name(e.code), s3_message(e)});
    };
    auto info = store_.bucket_for(bucket, account);
    if (!info) return failure(info.error());
    if (info->region != region)
        return std::unexpected(GetObjectFailure{
            "PermanentRedirect", "The bucket is in this region: " + info->region +
                                     ". Please use this region to retry the request"});
    if (version && *version != "null") return failure(S3Error{S3ErrorCode::NoSuchVersion, {}, {}});
    auto got = store_.get_object(bucket, key, std::nullopt);
    if (!got) return failure(got.error());
    return std::move(got->data);
}

}  // namespace lamina::s3
