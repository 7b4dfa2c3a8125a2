#include "lamina/s3/object_store.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"

namespace lamina::s3 {

namespace fs = std::filesystem;
using nlohmann::json;

std::string md5(std::string_view bytes) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_md5(), nullptr);
    return std::string(reinterpret_cast<char*>(out), len);
}

namespace {

json to_json(const ObjectInfo& o) {
    return {{"key", o.key},
            {"size", o.size},
            {"etag", o.etag},
            {"content_type", o.content_type},
            {"last_modified", o.last_modified_ms},
            {"metadata", o.metadata},
            {"headers", o.headers},
            {"crc32", o.checksum_crc32}};
}

std::optional<ObjectInfo> object_from_json(const std::string& line) {
    try {
        json j = json::parse(line);
        ObjectInfo o;
        o.key = j.at("key").get<std::string>();
        o.size = j.at("size").get<std::int64_t>();
        o.etag = j.at("etag").get<std::string>();
        o.content_type = j.at("content_type").get<std::string>();
        o.last_modified_ms = j.at("last_modified").get<std::int64_t>();
        o.metadata = j.at("metadata").get<std::map<std::string, std::string>>();
        o.headers = j.at("headers").get<std::map<std::string, std::string>>();
        o.checksum_crc32 = j.value("crc32", "");
        return o;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Writes `header` + '\n' + the pieces to `path`; false on any I/O error.
bool write_file(const fs::path& path, const std::string& header,
                const std::vector<std::string_view>& pieces) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.put('\n');
    for (auto p : pieces) out.write(p.data(), static_cast<std::streamsize>(p.size()));
    out.flush();
    return static_cast<bool>(out);
}

// Opens a header-line file: the header and the stream positioned at the bytes.
std::optional<std::string> read_header(std::ifstream& in) {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    return line;
}

S3Error internal(const std::string& what) {
    lamina::logger("store")->error("s3.io_error what=\"{}\"", what);
    return S3Error{S3ErrorCode::InternalError, {}, {}};
}

std::unexpected<S3Error> no_bucket(const std::string& name) {
    return s3_fail(S3ErrorCode::NoSuchBucket, {{"BucketName", name}});
}

bool valid_upload_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
    });
}

std::string quoted(const std::string& hex) { return "\"" + hex + "\""; }
std::string unquoted(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

}  // namespace

ObjectStore::ObjectStore(fs::path root, const Clock& clock, IdSource& ids)
    : root_(std::move(root)), clock_(clock), ids_(ids) {}

fs::path ObjectStore::bucket_dir(const std::string& name) const { return root_ / "buckets" / name; }

fs::path ObjectStore::object_path(const std::string& bucket, const std::string& key) const {
    return bucket_dir(bucket) / "objects" / to_hex(sha256(key));
}

fs::path ObjectStore::temp_path() { return root_ / "tmp" / ids_.hex(24); }

Status ObjectStore::init() {
    std::error_code ec;
    fs::remove_all(root_ / "tmp", ec);
    for (const char* d : {"tmp", "buckets", "uploads"}) {
        fs::create_directories(root_ / d, ec);
        if (ec)
            return fail(ErrorCode::Service,
                        "cannot create " + (root_ / d).string() + ": " + ec.message());
    }
    std::lock_guard lk(mu_);
    buckets_.clear();
    for (const auto& entry : fs::directory_iterator(root_ / "buckets", ec)) {
        std::ifstream in(entry.path() / "bucket.json");
        if (!in) continue;
        Bucket b;
        try {
            json j = json::parse(in);
            b.info.name = j.at("name").get<std::string>();
            b.info.region = j.at("region").get<std::string>();
            b.info.owner = j.at("owner").get<std::string>();
            b.info.created_ms = j.at("created").get<std::int64_t>();
        } catch (const std::exception&) {
            lamina::logger("store")->warn("s3.bad_bucket path={}", entry.path().string());
            continue;
        }
        if (std::ifstream nf(entry.path() / "notification.json"); nf) {
            auto j = json::parse(nf, nullptr, false);
            auto config = j.is_discarded() ? std::nullopt : notification_from_json(j);
            if (config)
                b.notification = std::move(*config);
            else
                lamina::logger("store")->warn("s3.bad_notification path={}", entry.path().string());
        }
        std::error_code oec;
        for (const auto& obj : fs::directory_iterator(entry.path() / "objects", oec)) {
            std::ifstream of(obj.path(), std::ios::binary);
            auto line = read_header(of);
            auto info = line ? object_from_json(*line) : std::nullopt;
            if (!info) {
                lamina::logger("store")->warn("s3.bad_object path={}", obj.path().string());
                continue;
            }
            b.objects[info->key] = std::move(*info);
        }
        buckets_[b.info.name] = std::move(b);
    }
    return {};
}

S3Result<bool> ObjectStore::create_bucket(const std::string& name, const std::string& region,
                                          const std::string& owner) {
    {
        std::lock_guard lk(mu_);
        if (auto it = buckets_.find(name); it != buckets_.end()) {
            if (it->second.info.owner == owner) return false;
            return s3_fail(S3ErrorCode::BucketAlreadyExists, {{"BucketName", name}});
        }
    }
    BucketInfo info{name, region, owner, clock_.now_ms()};
    fs::path tmp = temp_path();
    std::error_code ec;
    fs::create_directories(tmp / "objects", ec);
    json j = {{"name", name}, {"region", region}, {"owner", owner}, {"created", info.created_ms}};
    {
        std::ofstream out(tmp / "bucket.json");
        out << j.dump();
        if (!out.flush())
            return std::unexpected(internal("write " + (tmp / "bucket.json").string()));
    }
    std::lock_guard lk(mu_);
    if (auto it = buckets_.find(name); it != buckets_.end()) {  // created meanwhile
        fs::remove_all(tmp, ec);
        if (it->second.info.owner == owner) return false;
        return s3_fail(S3ErrorCode::BucketAlreadyExists, {{"BucketName", name}});
    }
    fs::rename(tmp, bucket_dir(name), ec);
    if (ec) {
        fs::remove_all(tmp, ec);
        return std::unexpected(internal("rename bucket " + name));
    }
    buckets_[name] = Bucket{info, {}};
    return true;
}

S3Result<BucketInfo> ObjectStore::head_bucket(const std::string& name) const {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(name);
    if (it == buckets_.end()) return no_bucket(name);
    return it->second.info;
}

S3Result<BucketInfo> ObjectStore::bucket_for(const std::string& name,
                                             const std::string& account) const {
    auto info = head_bucket(name);
    if (info && info->owner != account) return s3_fail(S3ErrorCode::AccessDenied);
    return info;
}

Status ObjectStore::clear() {
    std::vector<fs::path> trash;
    std::error_code ec;
    {
        std::lock_guard lk(mu_);
        for (const char* d : {"buckets", "uploads"}) {
            fs::path t = temp_path();
            fs::rename(root_ / d, t, ec);
            if (ec)
                return fail(ErrorCode::Service, "cannot move " + (root_ / d).string() + " away");
            trash.push_back(t);
            fs::create_directories(root_ / d, ec);
            if (ec) return fail(ErrorCode::Service, "cannot create " + (root_ / d).string());
        }
        buckets_.clear();
    }
    for (const auto& t : trash) fs::remove_all(t, ec);
    return {};
}

S3Result<void> ObjectStore::delete_bucket(const std::string& name) {
    fs::path trash = temp_path();
    std::error_code ec;
    {
        std::lock_guard lk(mu_);
        auto it = buckets_.find(name);
        if (it == buckets_.end()) return no_bucket(name);
        if (!it->second.objects.empty())
            return s3_fail(S3ErrorCode::BucketNotEmpty, {{"BucketName", name}});
        fs::rename(bucket_dir(name), trash, ec);
        if (ec) return std::unexpected(internal("rename bucket " + name + " away"));
        buckets_.erase(it);
    }
    fs::remove_all(trash, ec);
    // uploads still in progress into it go with it
    for (const auto& entry : fs::directory_iterator(root_ / "uploads", ec)) {
        std::ifstream in(entry.path() / "upload.json");
        try {
            if (in && json::parse(in).at("bucket").get<std::string>() == name) {
                std::error_code rec;
                fs::remove_all(entry.path(), rec);
            }
        } catch (const std::exception&) {
        }
    }
    return {};
}

std::vector<BucketInfo> ObjectStore::list_buckets() const {
    std::lock_guard lk(mu_);
    std::vector<BucketInfo> out;
    out.reserve(buckets_.size());
    for (const auto& [name, b] : buckets_) out.push_back(b.info);
    return out;
}

S3Result<NotificationConfig> ObjectStore::notification(const std::string& bucket) const {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return no_bucket(bucket);
    return it->second.notification;
}

S3Result<void> ObjectStore::put_notification(const std::string& bucket,
                                             const NotificationConfig& config) {
    fs::path tmp = temp_path();
    if (!write_file(tmp, notification_to_json(config).dump(), {}))
        return std::unexpected(internal("write " + tmp.string()));
    std::error_code ec;
    std::lock_guard lk(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) {
        fs::remove(tmp, ec);
        return no_bucket(bucket);
    }
    fs::rename(tmp, bucket_dir(bucket) / "notification.json", ec);
    if (ec) {
        fs::remove(tmp, ec);
        return std::unexpected(internal("rename notification of " + bucket));
    }
    it->second.notification = config;
    return {};
}

S3Result<ObjectInfo> ObjectStore::put_object(const std::string& bucket, const ObjectWrite& write,
                                             std::string_view data) {
    if (auto b = head_bucket(bucket); !b) return std::unexpected(b.error());
    ObjectInfo info;
    info.key = write.key;
    info.size = static_cast<std::int64_t>(data.size());
    info.etag = quoted(to_hex(md5(data)));
    if (!write.content_type.empty()) info.content_type = write.content_type;
    info.metadata = write.metadata;
    info.headers = write.headers;
    info.checksum_crc32 = write.checksum_crc32;
    info.last_modified_ms = clock_.now_ms();
    fs::path tmp = temp_path();
    if (!write_file(tmp, to_json(info).dump(), {data})) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return std::unexpected(internal("write " + tmp.string()));
    }
    return commit_object(bucket, std::move(info), tmp);
}

S3Result<ObjectInfo> ObjectStore::commit_object(const std::string& bucket, ObjectInfo info,
                                                const fs::path& tmp) {
    std::error_code ec;
    std::lock_guard lk(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) {  // deleted while the bytes were written
        fs::remove(tmp, ec);
        return no_bucket(bucket);
    }
    fs::rename(tmp, object_path(bucket, info.key), ec);
    if (ec) {
        fs::remove(tmp, ec);
        return std::unexpected(internal("rename object into " + bucket));
    }
    it->second.objects[info.key] = info;
    return info;
}

S3Result<ObjectInfo> ObjectStore::head_object(const std::string& bucket,
                                              const std::string& key) const {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return no_bucket(bucket);
    auto o = it->second.objects.find(key);
    if (o == it->second.objects.end()) return s3_fail(S3ErrorCode::NoSuchKey, {{"Key", key}});
    return o->second;
}

S3Result<ObjectRead> ObjectStore::get_object(const std::string& bucket, const std::string& key,
                                             const std::optional<ByteRange>& range) const {
    std::ifstream in;
    {
        // opened under the lock: the file is the one the index names
        std::lock_guard lk(mu_);
        auto it = buckets_.find(bucket);
        if (it == buckets_.end()) return no_bucket(bucket);
        if (!it->second.objects.contains(key))
            return s3_fail(S3ErrorCode::NoSuchKey, {{"Key", key}});
        in.open(object_path(bucket, key), std::ios::binary);
    }
    auto line = in ? read_header(in) : std::nullopt;
    auto info = line ? object_from_json(*line) : std::nullopt;
    if (!info) return std::unexpected(internal("read object " + key + " in " + bucket));
    ObjectRead out;
    auto size = static_cast<std::uint64_t>(info->size);
    std::uint64_t first = 0, count = size;
    if (range) {
        bool ok = true;
        if (range->suffix) {
            if (*range->suffix == 0) ok = false;
            count = std::min(*range->suffix, size);
            first = size - count;
        } else {
            first = range->first.value_or(0);
            std::uint64_t last =
                range->last ? std::min(*range->last, size ? size - 1 : 0) : (size ? size - 1 : 0);
            ok = first < size && (!range->last || *range->last >= first);
            count = ok ? last - first + 1 : 0;
        }
        if (!ok || size == 0)
            return s3_fail(S3ErrorCode::InvalidRange, {{"RangeRequested", range->text},
                                                       {"ActualObjectSize", std::to_string(size)}});
        out.partial = true;
    }
    if (count > kMaxObjectBytes)  // one response is held in memory, like one PUT
        return s3_fail(S3ErrorCode::InvalidRequest, {},
                       "lamina serves at most " + std::to_string(kMaxObjectBytes) +
                           " bytes per GET and this object has " + std::to_string(size) +
                           ": ask for byte ranges (aws s3 cp and boto3's download_file do)");
    out.offset = first;
    out.data.resize(count);
    in.seekg(static_cast<std::streamoff>(first), std::ios::cur);
    if (count && !in.read(out.data.data(), static_cast<std::streamsize>(count)))
        return std::unexpected(internal("short read of " + key + " in " + bucket));
    out.info = std::move(*info);
    return out;
}

S3Result<void> ObjectStore::delete_object(const std::string& bucket, const std::string& key) {
    fs::path trash = temp_path();
    std::error_code ec;
    {
        std::lock_guard lk(mu_);
        auto it = buckets_.find(bucket);
        if (it == buckets_.end()) return no_bucket(bucket);
        auto o = it->second.objects.find(key);
        if (o == it->second.objects.end()) return {};
        fs::rename(object_path(bucket, key), trash, ec);
        if (ec) return std::unexpected(internal("remove " + key + " from " + bucket));
        it->second.objects.erase(o);
    }
    fs::remove(trash, ec);
    return {};
}

S3Result<ListResult> ObjectStore::list_objects(const std::string& bucket,
                                               const ListQuery& q) const {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return no_bucket(bucket);
    const auto& objects = it->second.objects;
    ListResult out;
    int count = 0;
    auto start = objects.lower_bound(std::max(q.prefix, q.after));
    for (auto o = start; o != objects.end(); ++o) {
        const std::string& key = o->first;
        if (key.compare(0, q.prefix.size(), q.prefix) != 0) break;
        std::string entry = key;
        bool rolled = false;
        if (!q.delimiter.empty()) {
            auto d = key.find(q.delimiter, q.prefix.size());
            if (d != std::string::npos) {
                entry = key.substr(0, d + q.delimiter.size());
                rolled = true;
            }
        }
        if (!q.after.empty() && entry <= q.after) continue;
        if (rolled && !out.common_prefixes.empty() && out.common_prefixes.back() == entry) continue;
        if (count >= q.max_keys) {
            out.truncated = q.max_keys > 0;
            break;
        }
        ++count;
        out.last = entry;
        if (rolled)
            out.common_prefixes.push_back(entry);
        else
            out.contents.push_back(o->second);
    }
    return out;
}

S3Result<std::string> ObjectStore::create_upload(const std::string& bucket,
                                                 const ObjectWrite& write) {
    if (auto b = head_bucket(bucket); !b) return std::unexpected(b.error());
    std::string id = ids_.hex(32);
    fs::path tmp = temp_path();
    std::error_code ec;
    fs::create_directories(tmp, ec);
    json j = {{"bucket", bucket},
              {"key", write.key},
              {"content_type", write.content_type},
              {"metadata", write.metadata},
              {"headers", write.headers},
              {"initiated", clock_.now_ms()}};
    {
        std::ofstream out(tmp / "upload.json");
        out << j.dump();
        if (!out.flush()) return std::unexpected(internal("write upload " + id));
    }
    fs::rename(tmp, root_ / "uploads" / id, ec);
    if (ec) return std::unexpected(internal("rename upload " + id));
    return id;
}

S3Result<void> ObjectStore::check_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, ObjectWrite* write) const {
    if (auto b = head_bucket(bucket); !b) return std::unexpected(b.error());
    auto missing = [&] { return s3_fail(S3ErrorCode::NoSuchUpload, {{"UploadId", upload_id}}); };
    if (!valid_upload_id(upload_id)) return missing();
    std::ifstream in(root_ / "uploads" / upload_id / "upload.json");
    if (!in) return missing();
    try {
        json j = json::parse(in);
        if (j.at("bucket").get<std::string>() != bucket || j.at("key").get<std::string>() != key)
            return missing();
        if (write) {
            write->key = key;
            write->content_type = j.at("content_type").get<std::string>();
            write->metadata = j.at("metadata").get<std::map<std::string, std::string>>();
            write->headers = j.at("headers").get<std::map<std::string, std::string>>();
        }
    } catch (const std::exception&) {
        return missing();
    }
    return {};
}

S3Result<std::string> ObjectStore::upload_part(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id, int part_number,
                                               std::string_view data) {
    if (auto ok = check_upload(bucket, key, upload_id, nullptr); !ok)
        return std::unexpected(ok.error());
    std::string etag = quoted(to_hex(md5(data)));
    json header = {{"etag", etag}, {"size", data.size()}};
    fs::path tmp = temp_path();
    std::error_code ec;
    if (!write_file(tmp, header.dump(), {data})) {
        fs::remove(tmp, ec);
        return std::unexpected(internal("write part of " + upload_id));
    }
    fs::rename(tmp, root_ / "uploads" / upload_id / ("part-" + std::to_string(part_number)), ec);
    if (ec) {  // aborted meanwhile
        fs::remove(tmp, ec);
        return s3_fail(S3ErrorCode::NoSuchUpload, {{"UploadId", upload_id}});
    }
    return etag;
}

S3Result<ObjectInfo> ObjectStore::complete_upload(const std::string& bucket, const std::string& key,
                                                  const std::string& upload_id,
                                                  const std::vector<PartRef>& parts) {
    ObjectWrite write;
    if (auto ok = check_upload(bucket, key, upload_id, &write); !ok)
        return std::unexpected(ok.error());
    if (parts.empty()) return s3_fail(S3ErrorCode::MalformedXML);
    for (std::size_t i = 1; i < parts.size(); ++i)
        if (parts[i].number <= parts[i - 1].number) return s3_fail(S3ErrorCode::InvalidPartOrder);
    fs::path dir = root_ / "uploads" / upload_id;
    // check every part first: a refused completion changes nothing
    std::string digests;
    std::uint64_t total = 0;
    std::vector<std::pair<fs::path, std::uint64_t>> files;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto& p = parts[i];
        fs::path file = dir / ("part-" + std::to_string(p.number));
        std::ifstream in(file, std::ios::binary);
        auto line = in ? read_header(in) : std::nullopt;
        std::string etag;
        std::uint64_t size = 0;
        try {
            if (line) {
                json h = json::parse(*line);
                etag = h.at("etag").get<std::string>();
                size = h.at("size").get<std::uint64_t>();
            }
        } catch (const std::exception&) {
            line.reset();
        }
        if (!line || unquoted(etag) != unquoted(p.etag))
            return s3_fail(S3ErrorCode::InvalidPart, {{"UploadId", upload_id},
                                                      {"PartNumber", std::to_string(p.number)},
                                                      {"ETag", p.etag}});
        if (i + 1 < parts.size() && size < kMinPartBytes)
            return s3_fail(S3ErrorCode::EntityTooSmall,
                           {{"ProposedSize", std::to_string(size)},
                            {"MinSizeAllowed", std::to_string(kMinPartBytes)},
                            {"PartNumber", std::to_string(p.number)},
                            {"ETag", p.etag}});
        std::string hex = unquoted(etag);
        for (std::size_t k = 0; k + 1 < hex.size(); k += 2)
            digests.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
        total += size;
        files.emplace_back(file, line->size() + 1);
    }
    ObjectInfo info;
    info.key = key;
    info.size = static_cast<std::int64_t>(total);
    info.etag = quoted(to_hex(md5(digests)) + "-" + std::to_string(parts.size()));
    if (!write.content_type.empty()) info.content_type = write.content_type;
    info.metadata = write.metadata;
    info.headers = write.headers;
    info.last_modified_ms = clock_.now_ms();
    fs::path tmp = temp_path();
    std::error_code ec;
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        std::string header = to_json(info).dump();
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.put('\n');
        std::vector<char> buf(1 << 20);
        for (const auto& [file, offset] : files) {
            std::ifstream in(file, std::ios::binary);
            in.seekg(static_cast<std::streamoff>(offset));
            while (in) {
                in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
                out.write(buf.data(), in.gcount());
            }
        }
        out.flush();
        if (!out) {
            fs::remove(tmp, ec);
            return std::unexpected(internal("assemble upload " + upload_id));
        }
    }
    auto done = commit_object(bucket, std::move(info), tmp);
    if (done) fs::remove_all(dir, ec);
    return done;
}

S3Result<void> ObjectStore::abort_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id) {
    if (auto ok = check_upload(bucket, key, upload_id, nullptr); !ok)
        return std::unexpected(ok.error());
    fs::path trash = temp_path();
    std::error_code ec;
    fs::rename(root_ / "uploads" / upload_id, trash, ec);
    if (ec) return s3_fail(S3ErrorCode::NoSuchUpload, {{"UploadId", upload_id}});
    fs::remove_all(trash, ec);
    return {};
}

}  // namespace lamina::s3
