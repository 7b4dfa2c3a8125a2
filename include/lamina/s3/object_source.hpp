#pragma once
// Where Lambda reads Code.S3Bucket/S3Key from: lamina's own object store,
// or another S3-compatible server (--s3-endpoint). A failure carries S3's
// error code and message, which Lambda quotes ("Error occurred while
// GetObject. S3 Error Code: NoSuchKey. S3 Error Message: ...").

#include <expected>
#include <optional>
#include <string>

#include "lamina/s3/object_store.hpp"

namespace lamina::s3 {

struct GetObjectFailure {
    std::string code;
    std::string message;
};

class ObjectSource {
public:
    virtual ~ObjectSource() = default;
    // `account` and `region` are the caller's: Lambda reads code only from
    // buckets in its own region, and (from lamina's own store) only from its
    // own account's buckets.
    virtual std::expected<std::string, GetObjectFailure> get_object(
        const std::string& account, const std::string& region, const std::string& bucket,
        const std::string& key, const std::optional<std::string>& version) = 0;
};

class LocalObjectSource final : public ObjectSource {
public:
    explicit LocalObjectSource(ObjectStore& store) : store_(store) {}
    // AccessDenied for a bucket another account owns (ObjectStore::bucket_for).
    std::expected<std::string, GetObjectFailure> get_object(
        const std::string& account, const std::string& region, const std::string& bucket,
        const std::string& key, const std::optional<std::string>& version) override;

private:
    ObjectStore& store_;
};

}  // namespace lamina::s3
