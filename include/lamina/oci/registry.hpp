#pragma once
// lamina's image registry: ECR repositories per account and region, their
// manifests (stored byte-exact as pushed, content-addressed in the blob
// store), tags, the blobs linked into each repository, and blob uploads in
// progress. The OCI Distribution API (distribution_api.hpp) and the ECR API
// (ecr_api.hpp) are two faces of it; image functions read it as an
// ImageSource. Repositories, tags, manifests and blob links are documents in
// the document store (kinds ecr_repo, ecr_image, ecr_tag, ecr_blob), loaded
// at start; blob bytes live in store::BlobStore. Thread-safe (one mutex;
// file I/O of uploads happens outside it).

#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/oci/image_source.hpp"
#include "lamina/oci/manifest.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/document_store.hpp"
#include "lamina/store/durability.hpp"

namespace lamina::oci {

// Why the registry refused: the distribution spec's codes, plus ECR's own.
enum class Fault {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    RangeInvalid,  // 416: a chunk that does not start where the upload ends
    TagInvalid,    // a tag of an IMMUTABLE repository pushed again
    Unsupported,
    RepositoryAlreadyExists,
    RepositoryNotEmpty,
    InvalidParameter,
    Internal,
};

struct Failure {
    Fault fault;
    std::string message;
    std::string detail;
};
template <class T>
using OResult = std::expected<T, Failure>;
inline std::unexpected<Failure> refuse(Fault f, std::string message, std::string detail = {}) {
    return std::unexpected(Failure{f, std::move(message), std::move(detail)});
}

struct RepoId {
    std::string account;
    std::string region;
    std::string name;
};

struct Repository {
    RepoId id;
    std::int64_t created_ms = 0;
    std::string tag_mutability = "MUTABLE";
    bool scan_on_push = false;
    std::string encryption_type = "AES256";
    std::string kms_key;
    std::string tags_json = "[]";  // CreateRepository's tags, as given
};

// What the registry knows of one stored manifest.
struct ImageRecord {
    std::string digest;
    std::string media_type;
    std::string artifact_media_type;  // the config's media type (manifests)
    std::int64_t pushed_ms = 0;
    std::int64_t size = 0;  // manifest bytes + config + layers (an index: + its children's)
    std::int64_t manifest_size = 0;  // the manifest's own bytes
    std::string subject;             // OCI 1.1 subject digest, when set
    std::string artifact_type;
    std::vector<std::string> tags;      // sorted
    std::vector<std::string> blobs;     // config and layers (manifests)
    std::vector<std::string> children;  // child manifests (indexes)
};

class Registry final : public ImageSource {
public:
    struct Options {
        std::filesystem::path uploads_dir;  // <data-dir>/oci-uploads: emptied at start
        store::Durability durability = store::Durability::Crash;
        std::int64_t upload_max_idle_ms =
            60 * 60 * 1000;  // an upload untouched this long is dropped
    };
    Registry(store::DocumentStore& docs, store::BlobStore& blobs, Clock& clock, IdSource& ids,
             Options options);
    ~Registry() override;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Loads the stored repositories; removes every unfinished upload.
    Status load();
    // Every blob digest (hex) a repository links or a manifest is stored as:
    // what the blob store's garbage collection must keep.
    std::set<std::string> referenced_blobs() const;
    // Deletes everything (POST /_lamina/reset).
    Status clear();

    // --- ImageSource
    std::expected<ResolvedImage, ResolveFailure> resolve(
        const std::string& account, const std::string& region, const std::string& repository,
        const std::string& reference) const override;
    std::optional<std::filesystem::path> blob_path(const std::string& digest) const override;

    // --- repositories (ECR)
    OResult<Repository> create_repository(Repository r);
    std::vector<Repository> repositories(const std::string& account,
                                         const std::string& region) const;
    std::optional<Repository> repository(const RepoId& id) const;
    // Refuses RepositoryNotEmpty unless forced.
    OResult<Repository> delete_repository(const RepoId& id, bool force);
    // Every image of the repository, digest order.
    OResult<std::vector<ImageRecord>> images(const RepoId& id) const;

    // --- manifests and tags
    struct Manifest {
        ImageRecord record;
        std::string bytes;
    };
    // `reference` is a tag or a digest.
    OResult<Manifest> get_manifest(const RepoId& id, const std::string& reference) const;
    // Stores the manifest (checking what it references) and tags it when
    // `reference` is a tag. Returns its digest.
    OResult<std::string> put_manifest(const RepoId& id, const std::string& reference,
                                      const std::string& bytes, const std::string& content_type);
    // By digest: the manifest and its tags; by tag: the tag only (the
    // manifest stays, untagged). An ECR BatchDeleteImage by tag deletes the
    // image with its last tag: `drop_untagged`.
    OResult<void> delete_manifest(const RepoId& id, const std::string& reference,
                                  bool drop_untagged = false);
    OResult<std::vector<std::string>> tags(const RepoId& id) const;
    // Manifests whose subject is `digest` (referrers), as index descriptors.
    OResult<std::vector<ImageRecord>> referrers(const RepoId& id, const std::string& digest) const;

    // --- blobs
    // The blob's size when the repository links it.
    OResult<std::int64_t> blob_size(const RepoId& id, const std::string& digest) const;
    // Links a blob of repository `from` (same account and region) into `id`;
    // false when `from` does not have it.
    OResult<bool> mount_blob(const RepoId& id, const std::string& digest, const RepoId& from);

    // --- uploads
    OResult<std::string> start_upload(const RepoId& id);
    // The bytes received so far.
    OResult<std::int64_t> upload_size(const RepoId& id, const std::string& upload) const;
    OResult<void> cancel_upload(const RepoId& id, const std::string& upload);

    // A body being appended to an upload: taken with begin_append, written
    // with write (off the registry's lock, one writer per upload), ended with
    // exactly one of commit (a chunk), finish (the last one: digest checked,
    // blob stored and linked) or abort (the upload as it was before).
    class Append {
    public:
        ~Append();
        Append(const Append&) = delete;
        Append& operator=(const Append&) = delete;
        Status write(std::string_view data);
        std::int64_t start() const { return start_; }
        std::int64_t written() const { return written_; }

    private:
        friend class Registry;
        Append() = default;
        std::string upload_;
        int fd_ = -1;
        std::int64_t start_ = 0;
        std::int64_t written_ = 0;
        EVP_MD_CTX* hash_ = nullptr;  // a copy of the upload's, with this body added
    };
    // `expected_start`: the chunk's Content-Range start, when given.
    OResult<std::unique_ptr<Append>> begin_append(const RepoId& id, const std::string& upload,
                                                  std::optional<std::int64_t> expected_start);
    OResult<std::int64_t> commit(std::unique_ptr<Append> a);  // the upload's new size
    OResult<void> finish(std::unique_ptr<Append> a, const RepoId& id, const std::string& digest);
    void abort(std::unique_ptr<Append> a);
    // A monolithic upload (POST ?digest=): a hidden upload ended by finish.
    OResult<std::unique_ptr<Append>> begin_monolithic(const RepoId& id);

    // Drops uploads untouched for longer than upload_max_idle_ms.
    std::size_t collect_idle_uploads();

private:
    struct Upload {
        RepoId repo;
        std::filesystem::path file;
        std::int64_t size = 0;
        EVP_MD_CTX* hash = nullptr;
        std::int64_t touched_ms = 0;
        bool busy = false;
        bool hidden = false;  // monolithic: not addressable
    };
    struct RepoState {
        Repository meta;
        std::map<std::string, ImageRecord> images;  // by digest
        std::map<std::string, std::string> tags;    // tag -> digest
        std::map<std::string, std::int64_t> blobs;  // digest -> size
    };
    static std::string key(const RepoId& id);
    RepoState* find(const RepoId& id);
    const RepoState* find(const RepoId& id) const;
    OResult<const ImageRecord*> lookup(const RepoState& r, const std::string& reference,
                                       const RepoId& id) const;
    static std::string image_doc(const ImageRecord& rec);
    static ImageRecord image_from_doc(const std::string& digest, const std::string& doc);
    static std::string repo_doc(const Repository& r);
    void drop_upload_locked(const std::string& id);
    bool sync() const { return options_.durability == store::Durability::PowerLoss; }

    store::DocumentStore& docs_;
    store::BlobStore& blobs_;
    Clock& clock_;
    IdSource& ids_;
    Options options_;
    mutable std::mutex mu_;
    std::map<std::string, RepoState> repos_;  // by key()
    std::map<std::string, Upload> uploads_;   // by id
};

// The names of the distribution-spec errors (BLOB_UNKNOWN, ...) and their HTTP statuses.
const char* fault_code(Fault f);
unsigned fault_status(Fault f);

}  // namespace lamina::oci
