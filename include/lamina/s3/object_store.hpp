#pragma once
// lamina's S3 objects on disk, under <data-dir>/s3/:
//
//   buckets/<bucket>/bucket.json           name, region, owner, creation time
//   buckets/<bucket>/notification.json     its NotificationConfiguration (when one was put)
//   buckets/<bucket>/objects/<sha256(key)> one file per object: a one-line JSON
//                                          header (key, size, ETag, metadata)
//                                          then the bytes
//   uploads/<upload id>/upload.json        a multipart upload in progress
//   uploads/<upload id>/part-<n>           one part: JSON header line + bytes
//   tmp/                                   files being written
//
// Every object, part and bucket is written under tmp/ and renamed into
// place, so a crash never leaves a half-written one visible; tmp/ is
// emptied at start-up. An in-memory index (built from the headers at
// start-up) answers lists and HEADs; one mutex guards it and every rename.
// Buckets are global to the server, as bucket names are in S3; each belongs
// to the account that created it, and only that account may use it.

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/s3/notification.hpp"
#include "lamina/s3/s3_error.hpp"

namespace lamina::s3 {

// The largest single PUT (or part) lamina takes, and the most one GET
// serves (bodies are held in memory; larger objects are read by ranges).
constexpr std::uint64_t kMaxObjectBytes = 256ull * 1024 * 1024;
constexpr std::size_t kMaxKeyBytes = 1024;
constexpr std::uint64_t kMinPartBytes = 5ull * 1024 * 1024;  // every part but the last
constexpr int kMaxPartNumber = 10000;

struct ObjectInfo {
    std::string key;
    std::int64_t size = 0;
    std::string etag;  // with its quotes, e.g. "\"9a0364b9e99bb480dd25e1f0284c8555\""
    std::string content_type = "binary/octet-stream";
    std::int64_t last_modified_ms = 0;
    std::map<std::string, std::string> metadata;  // x-amz-meta-<name> (lower-case name) -> value
    std::map<std::string, std::string> headers;  // Cache-Control, Content-Disposition, ... as given
    std::string checksum_crc32;                  // as the client sent it (single PUT only)
};

struct BucketInfo {
    std::string name;
    std::string region;
    std::string owner;  // account id
    std::int64_t created_ms = 0;
};

// What a PutObject or CreateMultipartUpload says about the object besides its bytes.
struct ObjectWrite {
    std::string key;
    std::string content_type;  // empty: binary/octet-stream
    std::map<std::string, std::string> metadata;
    std::map<std::string, std::string> headers;
    std::string checksum_crc32;
};

struct ListQuery {
    std::string prefix;
    std::string delimiter;
    std::string after;  // return only entries (keys or common prefixes) after this
    int max_keys = 1000;
};

struct ListResult {
    std::vector<ObjectInfo> contents;
    std::vector<std::string> common_prefixes;
    bool truncated = false;
    std::string last;  // the last key or common prefix returned (the next page starts after it)
};

// A Range header's one range: "bytes=first-last", "bytes=first-" or "bytes=-suffix".
struct ByteRange {
    std::optional<std::uint64_t> first, last, suffix;
    std::string text;  // as requested, for the InvalidRange error
};

struct ObjectRead {
    ObjectInfo info;
    std::string data;
    std::uint64_t offset = 0;  // of data within the object
    bool partial = false;      // a range was served
};

struct PartRef {
    int number = 0;
    std::string etag;  // as the client sent it (quotes optional)
};

// Raw 16-byte MD5 digest.
std::string md5(std::string_view bytes);

class ObjectStore {
public:
    ObjectStore(std::filesystem::path root, const Clock& clock, IdSource& ids);

    const Clock& clock() const { return clock_; }
    IdSource& ids() { return ids_; }

    // Creates the folders, empties tmp/ and builds the index.
    Status init();

    // true when created; false when the same owner already has it.
    S3Result<bool> create_bucket(const std::string& name, const std::string& region,
                                 const std::string& owner);
    S3Result<BucketInfo> head_bucket(const std::string& name) const;
    // The bucket if `account` may use it: NoSuchBucket when there is none
    // (whoever asks), AccessDenied when another account owns it. Only the
    // owner has access: bucket policies and ACLs are not emulated, so
    // cross-account access is always denied. Every S3 request on an
    // existing bucket (S3Api) and every Lambda code read (LocalObjectSource)
    // passes here first.
    S3Result<BucketInfo> bucket_for(const std::string& name, const std::string& account) const;
    S3Result<void> delete_bucket(const std::string& name);
    std::vector<BucketInfo> list_buckets() const;
    // Removes every bucket, object and upload in progress.
    Status clear();
    // The bucket's notification configuration (empty when none was put).
    S3Result<NotificationConfig> notification(const std::string& bucket) const;
    // Replaces it, written to disk before it takes effect.
    S3Result<void> put_notification(const std::string& bucket, const NotificationConfig& config);

    S3Result<ObjectInfo> put_object(const std::string& bucket, const ObjectWrite& write,
                                    std::string_view data);
    S3Result<ObjectInfo> head_object(const std::string& bucket, const std::string& key) const;
    // The object's bytes, or the range of them asked for (the header and the
    // bytes come from one open file, so a concurrent overwrite cannot mix them).
    S3Result<ObjectRead> get_object(const std::string& bucket, const std::string& key,
                                    const std::optional<ByteRange>& range) const;
    // Deleting a key that does not exist succeeds, as in S3.
    S3Result<void> delete_object(const std::string& bucket, const std::string& key);
    S3Result<ListResult> list_objects(const std::string& bucket, const ListQuery& query) const;

    S3Result<std::string> create_upload(const std::string& bucket, const ObjectWrite& write);
    // Returns the part's ETag (quoted).
    S3Result<std::string> upload_part(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id, int part_number,
                                      std::string_view data);
    S3Result<ObjectInfo> complete_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id,
                                         const std::vector<PartRef>& parts);
    S3Result<void> abort_upload(const std::string& bucket, const std::string& key,
                                const std::string& upload_id);

private:
    struct Bucket {
        BucketInfo info;
        std::map<std::string, ObjectInfo> objects;
        NotificationConfig notification;
    };
    std::filesystem::path bucket_dir(const std::string& name) const;
    std::filesystem::path object_path(const std::string& bucket, const std::string& key) const;
    std::filesystem::path temp_path();
    // Renames a written object file into place and indexes it (NoSuchBucket
    // when the bucket went meanwhile).
    S3Result<ObjectInfo> commit_object(const std::string& bucket, ObjectInfo info,
                                       const std::filesystem::path& tmp);
    S3Result<void> check_upload(const std::string& bucket, const std::string& key,
                                const std::string& upload_id, ObjectWrite* write) const;

    std::filesystem::path root_;
    const Clock& clock_;
    IdSource& ids_;
    mutable std::mutex mu_;
    std::map<std::string, Bucket> buckets_;
};

}  // namespace lamina::s3
