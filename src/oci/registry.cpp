#include "lamina/oci/registry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"

namespace lamina::oci {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRepoKind = "ecr_repo";
constexpr const char* kImageKind = "ecr_image";
constexpr const char* kTagKind = "ecr_tag";
constexpr const char* kBlobKind = "ecr_blob";

std::string hex_of(const std::string& digest) { return digest.substr(7); }

// "acct:region:rest" -> {acct, region, rest}
std::optional<std::array<std::string, 3>> split_key(const std::string& key) {
    auto a = key.find(':');
    if (a == std::string::npos) return std::nullopt;
    auto b = key.find(':', a + 1);
    if (b == std::string::npos) return std::nullopt;
    return std::array<std::string, 3>{key.substr(0, a), key.substr(a + 1, b - a - 1),
                                      key.substr(b + 1)};
}

Failure name_unknown(const RepoId& id) {
    return Failure{Fault::NameUnknown,
                   "The repository with name '" + id.name +
                       "' does not exist in the registry with id '" + id.account + "'",
                   id.name};
}

EVP_MD_CTX* new_hash() {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), nullptr);
    return c;
}

std::string finish_hash(EVP_MD_CTX* c) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(c, out, &n);
    return "sha256:" + to_hex(std::string_view(reinterpret_cast<const char*>(out), n));
}

}  // namespace

const char* fault_code(Fault f) {
    switch (f) {
        case Fault::BlobUnknown:
            return "BLOB_UNKNOWN";
        case Fault::BlobUploadInvalid:
            return "BLOB_UPLOAD_INVALID";
        case Fault::BlobUploadUnknown:
            return "BLOB_UPLOAD_UNKNOWN";
        case Fault::DigestInvalid:
            return "DIGEST_INVALID";
        case Fault::ManifestBlobUnknown:
            return "MANIFEST_BLOB_UNKNOWN";
        case Fault::ManifestInvalid:
            return "MANIFEST_INVALID";
        case Fault::ManifestUnknown:
            return "MANIFEST_UNKNOWN";
        case Fault::NameInvalid:
            return "NAME_INVALID";
        case Fault::NameUnknown:
            return "NAME_UNKNOWN";
        case Fault::SizeInvalid:
            return "SIZE_INVALID";
        case Fault::RangeInvalid:
            return "BLOB_UPLOAD_INVALID";
        case Fault::TagInvalid:
            return "TAG_INVALID";
        case Fault::Unsupported:
            return "UNSUPPORTED";
        case Fault::RepositoryAlreadyExists:
        case Fault::RepositoryNotEmpty:
        case Fault::InvalidParameter:
            return "DENIED";
        case Fault::Internal:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

unsigned fault_status(Fault f) {
    switch (f) {
        case Fault::BlobUnknown:
        case Fault::BlobUploadUnknown:
        case Fault::ManifestUnknown:
        case Fault::NameUnknown:
            return 404;
        case Fault::RangeInvalid:
            return 416;
        case Fault::Unsupported:
            return 405;
        case Fault::Internal:
            return 500;
        default:
            return 400;
    }
}

Registry::Append::~Append() {
    if (fd_ >= 0) ::close(fd_);
    if (hash_) EVP_MD_CTX_free(hash_);
}

Status Registry::Append::write(std::string_view data) {
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(ErrorCode::Service, std::string("write: ") + std::strerror(errno));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    EVP_DigestUpdate(hash_, data.data(), data.size());
    written_ += static_cast<std::int64_t>(data.size());
    return {};
}

Registry::Registry(store::DocumentStore& docs, store::BlobStore& blobs, Clock& clock, IdSource& ids,
                   Options options)
    : docs_(docs), blobs_(blobs), clock_(clock), ids_(ids), options_(std::move(options)) {}

Registry::~Registry() {
    for (auto& [id, u] : uploads_)
        if (u.hash) EVP_MD_CTX_free(u.hash);
}

std::string Registry::key(const RepoId& id) { return id.account + ":" + id.region + ":" + id.name; }

Registry::RepoState* Registry::find(const RepoId& id) {
    auto it = repos_.find(key(id));
    return it == repos_.end() ? nullptr : &it->second;
}

const Registry::RepoState* Registry::find(const RepoId& id) const {
    auto it = repos_.find(key(id));
    return it == repos_.end() ? nullptr : &it->second;
}

std::string Registry::repo_doc(const Repository& r) {
    nlohmann::json j = {{"createdAt", r.created_ms},
                        {"imageTagMutability", r.tag_mutability},
                        {"scanOnPush", r.scan_on_push},
                        {"encryptionType", r.encryption_type},
                        {"kmsKey", r.kms_key},
                        {"tags", nlohmann::json::parse(r.tags_json, nullptr, false)}};
    return j.dump();
}

std::string Registry::image_doc(const ImageRecord& rec) {
    nlohmann::json j = {
        {"mediaType", rec.media_type},       {"artifactMediaType", rec.artifact_media_type},
        {"pushedAt", rec.pushed_ms},         {"size", rec.size},
        {"manifestSize", rec.manifest_size}, {"subject", rec.subject},
        {"artifactType", rec.artifact_type}, {"blobs", rec.blobs},
        {"children", rec.children}};
    return j.dump();
}

ImageRecord Registry::image_from_doc(const std::string& digest, const std::string& doc) {
    ImageRecord rec;
    rec.digest = digest;
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (!j.is_object()) return rec;
    rec.media_type = j.value("mediaType", "");
    rec.artifact_media_type = j.value("artifactMediaType", "");
    rec.pushed_ms = j.value("pushedAt", std::int64_t{0});
    rec.size = j.value("size", std::int64_t{0});
    rec.manifest_size = j.value("manifestSize", std::int64_t{0});
    rec.subject = j.value("subject", "");
    rec.artifact_type = j.value("artifactType", "");
    rec.blobs = j.value("blobs", std::vector<std::string>{});
    rec.children = j.value("children", std::vector<std::string>{});
    return rec;
}

Status Registry::load() {
    std::lock_guard lk(mu_);
    repos_.clear();
    LAMINA_CHECK(docs_.for_each(kRepoKind, [&](const std::string& k, const std::string& doc) {
        auto parts = split_key(k);
        if (!parts) return;
        RepoState st;
        st.meta.id = RepoId{(*parts)[0], (*parts)[1], (*parts)[2]};
        auto j = nlohmann::json::parse(doc, nullptr, false);
        if (j.is_object()) {
            st.meta.created_ms = j.value("createdAt", std::int64_t{0});
            st.meta.tag_mutability = j.value("imageTagMutability", "MUTABLE");
            st.meta.scan_on_push = j.value("scanOnPush", false);
            st.meta.encryption_type = j.value("encryptionType", "AES256");
            st.meta.kms_key = j.value("kmsKey", "");
            if (j.contains("tags") && j["tags"].is_array()) st.meta.tags_json = j["tags"].dump();
        }
        repos_[k] = std::move(st);
    }));
    // "acct:region:name@sha256:..." -> the repository and the digest
    auto split_at = [this](const std::string& k) -> std::pair<RepoState*, std::string> {
        auto at = k.rfind('@');
        if (at == std::string::npos) return {nullptr, {}};
        auto it = repos_.find(k.substr(0, at));
        return {it == repos_.end() ? nullptr : &it->second, k.substr(at + 1)};
    };
    LAMINA_CHECK(docs_.for_each(kImageKind, [&](const std::string& k, const std::string& doc) {
        auto [repo, digest] = split_at(k);
        if (repo) repo->images[digest] = image_from_doc(digest, doc);
    }));
    LAMINA_CHECK(docs_.for_each(kBlobKind, [&](const std::string& k, const std::string& doc) {
        auto [repo, digest] = split_at(k);
        auto j = nlohmann::json::parse(doc, nullptr, false);
        if (repo && j.is_object()) repo->blobs[digest] = j.value("size", std::int64_t{0});
    }));
    LAMINA_CHECK(docs_.for_each(kTagKind, [&](const std::string& k, const std::string& doc) {
        auto colon = k.rfind(':');
        if (colon == std::string::npos) return;
        auto it = repos_.find(k.substr(0, colon));
        auto j = nlohmann::json::parse(doc, nullptr, false);
        if (it == repos_.end() || !j.is_object()) return;
        std::string digest = j.value("digest", "");
        auto img = it->second.images.find(digest);
        if (img == it->second.images.end()) return;
        std::string tag = k.substr(colon + 1);
        it->second.tags[tag] = digest;
        img->second.tags.push_back(tag);
    }));
    for (auto& [k, r] : repos_)
        for (auto& [d, img] : r.images) std::sort(img.tags.begin(), img.tags.end());
    // uploads of an earlier run cannot be finished: their hash state is gone
    for (auto& [id, u] : uploads_)
        if (u.hash) EVP_MD_CTX_free(u.hash);
    uploads_.clear();
    std::error_code ec;
    fs::remove_all(options_.uploads_dir, ec);
    fs::create_directories(options_.uploads_dir, ec);
    if (ec)
        return fail(ErrorCode::Service,
                    "cannot create " + options_.uploads_dir.string() + ": " + ec.message());
    return {};
}

std::set<std::string> Registry::referenced_blobs() const {
    std::lock_guard lk(mu_);
    std::set<std::string> keep;
    for (const auto& [k, r] : repos_) {
        for (const auto& [d, size] : r.blobs) keep.insert(hex_of(d));
        for (const auto& [d, img] : r.images) keep.insert(hex_of(d));
    }
    return keep;
}

Status Registry::clear() {
    std::lock_guard lk(mu_);
    std::vector<store::Mutation> batch;
    for (const char* kind : {kRepoKind, kImageKind, kTagKind, kBlobKind})
        batch.push_back(store::Mutation::erase_prefix(kind, ""));
    LAMINA_CHECK(docs_.apply(batch));
    repos_.clear();
    for (auto& [id, u] : uploads_) {
        if (u.hash) EVP_MD_CTX_free(u.hash);
        std::error_code ec;
        fs::remove(u.file, ec);
    }
    uploads_.clear();
    return {};
}

// --- ImageSource

std::expected<ResolvedImage, ResolveFailure> Registry::resolve(const std::string& account,
                                                               const std::string& region,
                                                               const std::string& repository,
                                                               const std::string& reference) const {
    RepoId id{account, region, repository};
    auto m = get_manifest(id, reference);
    if (!m)
        return std::unexpected(m.error().fault == Fault::NameUnknown
                                   ? ResolveFailure::RepositoryNotFound
                                   : ResolveFailure::ImageNotFound);
    ResolvedImage out;
    out.account = account;
    out.region = region;
    out.repository = repository;
    out.manifest_digest = m->record.digest;
    out.manifest_media_type = m->record.media_type;
    auto parsed = parse_manifest(m->bytes, m->record.media_type);
    if (!parsed || parsed->is_index) {
        out.is_index = true;
        return out;
    }
    out.config = parsed->config;
    out.layers = parsed->layers;
    if (auto cfg = blobs_.read(hex_of(parsed->config.digest))) out.config_json = std::move(*cfg);
    return out;
}

std::optional<fs::path> Registry::blob_path(const std::string& digest) const {
    if (!is_digest(digest)) return std::nullopt;
    if (!blobs_.exists(hex_of(digest))) return std::nullopt;
    return blobs_.path(hex_of(digest));
}

// --- repositories

OResult<Repository> Registry::create_repository(Repository r) {
    if (!is_repository_name(r.id.name))
        return refuse(Fault::NameInvalid, "invalid repository name", r.id.name);
    std::lock_guard lk(mu_);
    if (find(r.id))
        return refuse(Fault::RepositoryAlreadyExists,
                      "The repository with name '" + r.id.name +
                          "' already exists in the registry with id '" + r.id.account + "'");
    r.created_ms = clock_.now_ms();
    if (auto st = docs_.apply({store::Mutation::put(kRepoKind, key(r.id), repo_doc(r))}); !st)
        return refuse(Fault::Internal, st.error().message);
    RepoState s;
    s.meta = r;
    repos_[key(r.id)] = std::move(s);
    return r;
}

std::vector<Repository> Registry::repositories(const std::string& account,
                                               const std::string& region) const {
    std::lock_guard lk(mu_);
    std::vector<Repository> out;
    for (const auto& [k, r] : repos_)
        if (r.meta.id.account == account && r.meta.id.region == region) out.push_back(r.meta);
    return out;
}

std::optional<Repository> Registry::repository(const RepoId& id) const {
    std::lock_guard lk(mu_);
    const RepoState* r = find(id);
    if (!r) return std::nullopt;
    return r->meta;
}

OResult<Repository> Registry::delete_repository(const RepoId& id, bool force) {
    std::lock_guard lk(mu_);
    RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    if (!force && !r->images.empty())
        return refuse(Fault::RepositoryNotEmpty,
                      "The repository with name '" + id.name + "' in registry with id '" +
                          id.account + "' cannot be deleted because it still contains images");
    std::string k = key(id);
    std::vector<store::Mutation> batch = {
        store::Mutation::erase(kRepoKind, k),
        store::Mutation::erase_prefix(kImageKind, k + "@"),
        store::Mutation::erase_prefix(kBlobKind, k + "@"),
        store::Mutation::erase_prefix(kTagKind, k + ":"),
    };
    if (auto st = docs_.apply(batch); !st) return refuse(Fault::Internal, st.error().message);
    Repository meta = r->meta;
    repos_.erase(k);
    return meta;
}

OResult<std::vector<ImageRecord>> Registry::images(const RepoId& id) const {
    std::lock_guard lk(mu_);
    const RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    std::vector<ImageRecord> out;
    out.reserve(r->images.size());
    for (const auto& [d, img] : r->images) out.push_back(img);
    return out;
}

// --- manifests

OResult<const ImageRecord*> Registry::lookup(const RepoState& r, const std::string& reference,
                                             const RepoId& id) const {
    std::string digest = reference;
    if (!is_digest(reference)) {
        auto t = r.tags.find(reference);
        if (t == r.tags.end())
            return refuse(Fault::ManifestUnknown,
                          "manifest tagged by \"" + reference + "\" is not found",
                          id.name + ":" + reference);
        digest = t->second;
    }
    auto it = r.images.find(digest);
    if (it == r.images.end())
        return refuse(Fault::ManifestUnknown, "manifest unknown", id.name + "@" + digest);
    return &it->second;
}

OResult<Registry::Manifest> Registry::get_manifest(const RepoId& id,
                                                   const std::string& reference) const {
    ImageRecord rec;
    {
        std::lock_guard lk(mu_);
        const RepoState* r = find(id);
        if (!r) return std::unexpected(name_unknown(id));
        auto found = lookup(*r, reference, id);
        if (!found) return std::unexpected(found.error());
        rec = **found;
    }
    auto bytes = blobs_.read(hex_of(rec.digest));
    if (!bytes) return refuse(Fault::Internal, "manifest bytes missing: " + rec.digest);
    return Manifest{std::move(rec), std::move(*bytes)};
}

OResult<std::string> Registry::put_manifest(const RepoId& id, const std::string& reference,
                                            const std::string& bytes,
                                            const std::string& content_type) {
    bool by_digest = is_digest(reference);
    if (!by_digest && !is_tag(reference)) {
        if (reference.starts_with("sha256:") || reference.find(':') != std::string::npos)
            return refuse(Fault::DigestInvalid, "provided digest did not match uploaded content",
                          reference);
        return refuse(Fault::TagInvalid, "manifest tag did not match URI", reference);
    }
    if (bytes.size() > kMaxManifestBytes)
        return refuse(Fault::SizeInvalid, "manifest is larger than 4 MiB",
                      std::to_string(bytes.size()));
    std::string digest = digest_of(bytes);
    if (by_digest && digest != reference)
        return refuse(Fault::DigestInvalid, "provided digest did not match uploaded content",
                      "expected " + reference + ", got " + digest);
    auto parsed = parse_manifest(bytes, content_type);
    if (!parsed) return refuse(Fault::ManifestInvalid, "manifest invalid", parsed.error().message);

    ImageRecord rec;
    rec.digest = digest;
    rec.media_type = parsed->media_type;
    rec.pushed_ms = clock_.now_ms();
    rec.size = static_cast<std::int64_t>(bytes.size());
    rec.manifest_size = rec.size;
    rec.artifact_type = parsed->artifact_type;
    if (parsed->subject) rec.subject = parsed->subject->digest;
    {
        std::lock_guard lk(mu_);
        RepoState* r = find(id);
        if (!r) return std::unexpected(name_unknown(id));
        if (parsed->is_index) {
            for (const auto& child : parsed->manifests) {
                auto it = r->images.find(child.digest);
                if (it == r->images.end())
                    return refuse(Fault::ManifestBlobUnknown, "manifest blob unknown to registry",
                                  child.digest);
                rec.children.push_back(child.digest);
                rec.size += it->second.size;
            }
        } else {
            std::vector<Descriptor> refs = parsed->layers;
            refs.insert(refs.begin(), parsed->config);
            for (const auto& d : refs) {
                // foreign (non-distributable) layers live elsewhere
                if (d.media_type.find("foreign") != std::string::npos ||
                    d.media_type.find("nondistributable") != std::string::npos)
                    continue;
                auto it = r->blobs.find(d.digest);
                if (it == r->blobs.end())
                    return refuse(Fault::ManifestBlobUnknown, "blob unknown to registry", d.digest);
                if (it->second != d.size)
                    return refuse(Fault::ManifestInvalid, "manifest invalid",
                                  "descriptor " + d.digest + " states size " +
                                      std::to_string(d.size) + ", the blob has " +
                                      std::to_string(it->second));
                rec.blobs.push_back(d.digest);
                rec.size += d.size;
            }
            rec.artifact_media_type = parsed->config.media_type;
        }
        std::string old_digest;
        if (!by_digest) {
            if (auto t = r->tags.find(reference); t != r->tags.end()) old_digest = t->second;
            if (!old_digest.empty() && old_digest != digest &&
                r->meta.tag_mutability.starts_with("IMMUTABLE"))
                return refuse(Fault::TagInvalid,
                              "The image tag '" + reference + "' already exists in the '" +
                                  id.name +
                                  "' repository and cannot be overwritten because the "
                                  "repository is immutable.",
                              reference);
        }
        auto existing = r->images.find(digest);
        if (existing != r->images.end()) rec.pushed_ms = existing->second.pushed_ms;
        if (auto st = blobs_.put(hex_of(digest), bytes); !st)
            return refuse(Fault::Internal, st.error().message);
        std::vector<store::Mutation> batch;
        if (existing == r->images.end())
            batch.push_back(
                store::Mutation::put(kImageKind, key(id) + "@" + digest, image_doc(rec)));
        if (!by_digest && old_digest != digest)
            batch.push_back(store::Mutation::put(kTagKind, key(id) + ":" + reference,
                                                 nlohmann::json{{"digest", digest}}.dump()));
        if (!batch.empty())
            if (auto st = docs_.apply(batch); !st)
                return refuse(Fault::Internal, st.error().message);
        if (existing == r->images.end()) r->images[digest] = rec;
        if (!by_digest && old_digest != digest) {
            if (!old_digest.empty()) {
                auto& old_tags = r->images[old_digest].tags;
                old_tags.erase(std::remove(old_tags.begin(), old_tags.end(), reference),
                               old_tags.end());
            }
            r->tags[reference] = digest;
            auto& tags = r->images[digest].tags;
            tags.push_back(reference);
            std::sort(tags.begin(), tags.end());
        }
    }
    return digest;
}

OResult<void> Registry::delete_manifest(const RepoId& id, const std::string& reference,
                                        bool drop_untagged) {
    std::lock_guard lk(mu_);
    RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    auto found = lookup(*r, reference, id);
    if (!found) return std::unexpected(found.error());
    std::string digest = (*found)->digest;
    std::string k = key(id);
    std::vector<store::Mutation> batch;
    bool whole = is_digest(reference);
    if (!whole) {
        batch.push_back(store::Mutation::erase(kTagKind, k + ":" + reference));
        whole = drop_untagged && (*found)->tags.size() == 1;
    }
    if (whole) {
        batch.push_back(store::Mutation::erase(kImageKind, k + "@" + digest));
        for (const auto& t : (*found)->tags)
            batch.push_back(store::Mutation::erase(kTagKind, k + ":" + t));
    }
    if (auto st = docs_.apply(batch); !st) return refuse(Fault::Internal, st.error().message);
    auto& img = r->images[digest];
    if (whole) {
        for (const auto& t : img.tags) r->tags.erase(t);
        r->images.erase(digest);
    } else {
        r->tags.erase(reference);
        img.tags.erase(std::remove(img.tags.begin(), img.tags.end(), reference), img.tags.end());
    }
    return {};
}

OResult<std::vector<std::string>> Registry::tags(const RepoId& id) const {
    std::lock_guard lk(mu_);
    const RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    std::vector<std::string> out;
    out.reserve(r->tags.size());
    for (const auto& [t, d] : r->tags) out.push_back(t);
    return out;
}

OResult<std::vector<ImageRecord>> Registry::referrers(const RepoId& id,
                                                      const std::string& digest) const {
    std::lock_guard lk(mu_);
    const RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    std::vector<ImageRecord> out;
    for (const auto& [d, img] : r->images)
        if (img.subject == digest) out.push_back(img);
    return out;
}

// --- blobs

OResult<std::int64_t> Registry::blob_size(const RepoId& id, const std::string& digest) const {
    std::lock_guard lk(mu_);
    const RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    auto it = r->blobs.find(digest);
    if (it == r->blobs.end()) return refuse(Fault::BlobUnknown, "blob unknown to registry", digest);
    return it->second;
}

OResult<bool> Registry::mount_blob(const RepoId& id, const std::string& digest,
                                   const RepoId& from) {
    std::lock_guard lk(mu_);
    RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    const RepoState* src = find(from);
    if (!src) return false;
    auto it = src->blobs.find(digest);
    if (it == src->blobs.end() || !blobs_.exists(hex_of(digest))) return false;
    if (!r->blobs.contains(digest)) {
        if (auto st = docs_.apply({store::Mutation::put(
                kBlobKind, key(id) + "@" + digest, nlohmann::json{{"size", it->second}}.dump())});
            !st)
            return refuse(Fault::Internal, st.error().message);
        r->blobs[digest] = it->second;
    }
    return true;
}

// --- uploads

OResult<std::string> Registry::start_upload(const RepoId& id) {
    collect_idle_uploads();
    std::lock_guard lk(mu_);
    if (!find(id)) return std::unexpected(name_unknown(id));
    std::string uid = ids_.uuid();
    Upload u;
    u.repo = id;
    u.file = options_.uploads_dir / uid;
    int fd = ::open(u.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return refuse(Fault::Internal, std::string("create upload: ") + std::strerror(errno));
    ::close(fd);
    u.hash = new_hash();
    u.touched_ms = clock_.now_ms();
    uploads_[uid] = std::move(u);
    return uid;
}

OResult<std::int64_t> Registry::upload_size(const RepoId& id, const std::string& upload) const {
    std::lock_guard lk(mu_);
    auto it = uploads_.find(upload);
    if (it == uploads_.end() || it->second.hidden || key(it->second.repo) != key(id))
        return refuse(Fault::BlobUploadUnknown, "blob upload unknown to registry", upload);
    return it->second.size;
}

void Registry::drop_upload_locked(const std::string& id) {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return;
    if (it->second.hash) EVP_MD_CTX_free(it->second.hash);
    std::error_code ec;
    fs::remove(it->second.file, ec);
    uploads_.erase(it);
}

OResult<void> Registry::cancel_upload(const RepoId& id, const std::string& upload) {
    std::lock_guard lk(mu_);
    auto it = uploads_.find(upload);
    if (it == uploads_.end() || it->second.hidden || key(it->second.repo) != key(id))
        return refuse(Fault::BlobUploadUnknown, "blob upload unknown to registry", upload);
    if (it->second.busy)
        return refuse(Fault::BlobUploadInvalid, "blob upload invalid",
                      "a request is still writing to this upload");
    drop_upload_locked(upload);
    return {};
}

OResult<std::unique_ptr<Registry::Append>> Registry::begin_append(
    const RepoId& id, const std::string& upload, std::optional<std::int64_t> expected_start) {
    std::lock_guard lk(mu_);
    auto it = uploads_.find(upload);
    if (it == uploads_.end() || key(it->second.repo) != key(id) ||
        (it->second.hidden && expected_start))
        return refuse(Fault::BlobUploadUnknown, "blob upload unknown to registry", upload);
    Upload& u = it->second;
    if (u.busy)
        return refuse(Fault::BlobUploadInvalid, "blob upload invalid",
                      "a request is still writing to this upload");
    if (expected_start && *expected_start != u.size)
        return refuse(Fault::RangeInvalid, "blob upload invalid",
                      "the chunk starts at " + std::to_string(*expected_start) +
                          ", the upload has " + std::to_string(u.size) + " bytes");
    std::unique_ptr<Append> a(new Append());
    a->upload_ = upload;
    a->fd_ = ::open(u.file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->fd_ < 0)
        return refuse(Fault::Internal, std::string("open upload: ") + std::strerror(errno));
    a->hash_ = EVP_MD_CTX_new();
    EVP_MD_CTX_copy_ex(a->hash_, u.hash);
    a->start_ = u.size;
    u.busy = true;
    u.touched_ms = clock_.now_ms();
    return a;
}

OResult<std::unique_ptr<Registry::Append>> Registry::begin_monolithic(const RepoId& id) {
    auto uid = start_upload(id);
    if (!uid) return std::unexpected(uid.error());
    {
        std::lock_guard lk(mu_);
        uploads_[*uid].hidden = true;
    }
    return begin_append(id, *uid, std::nullopt);
}

OResult<std::int64_t> Registry::commit(std::unique_ptr<Append> a) {
    std::lock_guard lk(mu_);
    auto it = uploads_.find(a->upload_);
    if (it == uploads_.end()) return refuse(Fault::BlobUploadUnknown, "blob upload unknown");
    Upload& u = it->second;
    std::swap(u.hash, a->hash_);
    u.size = a->start_ + a->written_;
    u.busy = false;
    u.touched_ms = clock_.now_ms();
    return u.size;
}

void Registry::abort(std::unique_ptr<Append> a) {
    std::lock_guard lk(mu_);
    auto it = uploads_.find(a->upload_);
    if (it == uploads_.end()) return;
    if (it->second.hidden) {
        drop_upload_locked(a->upload_);
        return;
    }
    if (::ftruncate(a->fd_, a->start_) != 0) {
        drop_upload_locked(a->upload_);  // cannot take the bytes back: the upload is lost
        return;
    }
    it->second.busy = false;
    it->second.touched_ms = clock_.now_ms();
}

OResult<void> Registry::finish(std::unique_ptr<Append> a, const RepoId& id,
                               const std::string& digest) {
    if (!is_digest(digest)) {
        abort(std::move(a));
        return refuse(Fault::DigestInvalid, "provided digest did not match uploaded content",
                      digest.empty() ? std::string("no digest given") : digest);
    }
    std::string got = finish_hash(a->hash_);
    if (got != digest) {
        abort(std::move(a));
        return refuse(Fault::DigestInvalid, "provided digest did not match uploaded content",
                      "expected " + digest + ", got " + got);
    }
    std::int64_t size = a->start_ + a->written_;
    fs::path file;
    {
        std::lock_guard lk(mu_);
        auto it = uploads_.find(a->upload_);
        if (it == uploads_.end()) return refuse(Fault::BlobUploadUnknown, "blob upload unknown");
        file = it->second.file;
    }
    ::close(a->fd_);
    a->fd_ = -1;
    auto stored = blobs_.put_file(hex_of(digest), file, sync());
    std::lock_guard lk(mu_);
    drop_upload_locked(a->upload_);
    if (!stored) return refuse(Fault::Internal, stored.error().message);
    RepoState* r = find(id);
    if (!r) return std::unexpected(name_unknown(id));
    if (!r->blobs.contains(digest)) {
        if (auto st = docs_.apply({store::Mutation::put(kBlobKind, key(id) + "@" + digest,
                                                        nlohmann::json{{"size", size}}.dump())});
            !st)
            return refuse(Fault::Internal, st.error().message);
        r->blobs[digest] = size;
    }
    return {};
}

std::size_t Registry::collect_idle_uploads() {
    std::lock_guard lk(mu_);
    std::int64_t now = clock_.now_ms();
    std::vector<std::string> idle;
    for (const auto& [id, u] : uploads_)
        if (!u.busy && now - u.touched_ms > options_.upload_max_idle_ms) idle.push_back(id);
    for (const auto& id : idle) drop_upload_locked(id);
    return idle.size();
}

}  // namespace lamina::oci
