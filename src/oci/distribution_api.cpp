#include "lamina/oci/distribution_api.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"
#include "lamina/http/body_stream.hpp"

namespace lamina::oci {

namespace {

constexpr std::uint64_t kMaxBlobBytes = 64ULL * 1024 * 1024 * 1024;
constexpr std::uint64_t kSmallBody = 1024 * 1024;
constexpr std::int64_t kInlineBlobBytes = 1024 * 1024;  // larger blobs are streamed from their file

enum class Kind { Base, Tags, Manifest, Blob, UploadStart, Upload, Referrers, Bad };

struct Target {
    Kind kind = Kind::Bad;
    std::string name;
    std::string ref;  // tag or digest, blob digest, upload id
};

Target parse_path(const std::string& raw) {
    Target t;
    if (raw == "/v2" || raw == "/v2/") {
        t.kind = Kind::Base;
        return t;
    }
    std::string path = url_decode(raw).value_or("");
    std::string rest = path.substr(4);  // after "/v2/"
    auto take = [&](const std::string& marker, Kind k) {
        auto at = rest.rfind(marker);
        if (at == std::string::npos || at == 0) return false;
        t.name = rest.substr(0, at);
        t.ref = rest.substr(at + marker.size());
        t.kind = k;
        return true;
    };
    if (rest.ends_with("/tags/list")) {
        t.name = rest.substr(0, rest.size() - 10);
        t.kind = t.name.empty() ? Kind::Bad : Kind::Tags;
        return t;
    }
    if (rest.ends_with("/blobs/uploads") || rest.ends_with("/blobs/uploads/")) {
        t.name = rest.substr(0, rest.rfind("/blobs/uploads"));
        t.kind = t.name.empty() ? Kind::Bad : Kind::UploadStart;
        return t;
    }
    if (take("/blobs/uploads/", Kind::Upload)) return t;
    if (take("/manifests/", Kind::Manifest)) return t;
    if (take("/blobs/", Kind::Blob)) return t;
    if (take("/referrers/", Kind::Referrers)) return t;
    t.kind = Kind::Bad;
    return t;
}

http::Response json_response(unsigned status, const nlohmann::json& body) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = body.dump();
    return r;
}

http::Response empty(unsigned status) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Length", "0");
    return r;
}

std::string upload_location(const std::string& name, const std::string& id) {
    return "/v2/" + name + "/blobs/uploads/" + id;
}

std::string range_header(std::int64_t size) {
    return "0-" + std::to_string(size > 0 ? size - 1 : 0);
}

http::Response upload_accepted(unsigned status, const std::string& name, const std::string& id,
                               std::int64_t size) {
    http::Response r = empty(status);
    r.headers.set("Location", upload_location(name, id));
    r.headers.set("Docker-Upload-UUID", id);
    r.headers.set("Range", range_header(size));
    return r;
}

http::Response blob_created(const std::string& name, const std::string& digest) {
    http::Response r = empty(201);
    r.headers.set("Location", "/v2/" + name + "/blobs/" + digest);
    r.headers.set("Docker-Content-Digest", digest);
    return r;
}

// "<start>-<end>" or "bytes <start>-<end>[/<total>]"
std::optional<std::pair<std::int64_t, std::int64_t>> parse_content_range(std::string v) {
    if (v.starts_with("bytes ")) v = v.substr(6);
    if (auto slash = v.find('/'); slash != std::string::npos) v = v.substr(0, slash);
    auto dash = v.find('-');
    if (dash == std::string::npos) return std::nullopt;
    std::int64_t a = 0, b = 0;
    auto r1 = std::from_chars(v.data(), v.data() + dash, a);
    auto r2 = std::from_chars(v.data() + dash + 1, v.data() + v.size(), b);
    if (r1.ec != std::errc() || r1.ptr != v.data() + dash || r2.ec != std::errc() ||
        r2.ptr != v.data() + v.size() || a < 0 || b < a)
        return std::nullopt;
    return std::make_pair(a, b);
}

// A file range as a streamed response body, 1 MiB at a time.
class FileSource final : public http::BodySource {
public:
    FileSource(int fd, std::int64_t offset, std::int64_t length)
        : fd_(fd), offset_(offset), left_(length) {}
    ~FileSource() override { ::close(fd_); }
    void next(std::function<void(http::BodyPiece)> fn) override {
        if (cancelled_ || left_ <= 0) return fn(http::BodyPiece::end());
        std::string buf(static_cast<std::size_t>(std::min<std::int64_t>(left_, 1 << 20)), '\0');
        ssize_t n = ::pread(fd_, buf.data(), buf.size(), offset_);
        if (n <= 0) return fn(http::BodyPiece::failed("read"));
        buf.resize(static_cast<std::size_t>(n));
        offset_ += n;
        left_ -= n;
        fn(http::BodyPiece::bytes(std::move(buf)));
    }
    void cancel() override { cancelled_ = true; }

private:
    int fd_;
    std::int64_t offset_;
    std::int64_t left_;
    bool cancelled_ = false;
};

// Empties a request's body pipe on the worker pool: into an upload (hashed
// as written), or nowhere when the head was refused already.
class Drain : public std::enable_shared_from_this<Drain> {
public:
    struct Outcome {
        bool whole = false;
        std::string write_error;
    };
    Drain(Registry& registry, boost::asio::any_io_executor ex, std::shared_ptr<http::BodyPipe> pipe)
        : registry_(registry), ex_(std::move(ex)), pipe_(std::move(pipe)) {}
    ~Drain() {
        if (append) registry_.abort(std::move(append));
    }
    std::optional<Failure> refused;            // what the head decided already
    std::unique_ptr<Registry::Append> append;  // where the bytes go
    std::optional<std::pair<std::int64_t, std::int64_t>> content_range;

    void start() { pull(); }
    void when_done(std::function<void(Outcome)> fn) {
        std::unique_lock lk(mu_);
        if (!done_) {
            waiter_ = std::move(fn);
            return;
        }
        Outcome o = outcome_;
        lk.unlock();
        fn(o);
    }

private:
    void pull() {
        pipe_->next([self = shared_from_this()](http::BodyPiece p) {
            boost::asio::post(self->ex_, [self, p = std::move(p)] { self->on_piece(p); });
        });
    }
    void on_piece(const http::BodyPiece& p) {
        if (p.kind == http::BodyPiece::Kind::Data) {
            if (append && outcome_.write_error.empty())
                if (auto st = append->write(p.data); !st) outcome_.write_error = st.error().message;
            pull();
            return;
        }
        std::function<void(Outcome)> fn;
        {
            std::lock_guard lk(mu_);
            outcome_.whole = p.kind == http::BodyPiece::Kind::End;
            if (!outcome_.whole && append) registry_.abort(std::move(append));
            done_ = true;
            fn = std::move(waiter_);
        }
        if (fn) fn(outcome_);
    }

    Registry& registry_;
    boost::asio::any_io_executor ex_;
    std::shared_ptr<http::BodyPipe> pipe_;
    std::mutex mu_;
    bool done_ = false;
    Outcome outcome_;
    std::function<void(Outcome)> waiter_;
};

struct Prepared {
    std::shared_ptr<Drain> drain;
    std::shared_ptr<http::BodyPipe> pipe;  // the server only writes it: the handler ends it
};

Failure bad_name(const std::string& name) {
    return Failure{Fault::NameInvalid, "invalid repository name", name};
}

}  // namespace

http::Response DistributionApi::error(const Failure& f, bool head) {
    nlohmann::json e = {{"code", fault_code(f.fault)}, {"message", f.message}};
    e["detail"] = f.detail.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.detail);
    http::Response r = json_response(fault_status(f.fault), {{"errors", {e}}});
    if (head) {
        r.body.clear();
        r.headers.set("Content-Length", "0");
    }
    return r;
}

http::Response DistributionApi::unauthorized(const std::string& realm) {
    http::Response r = json_response(
        401,
        {{"errors",
          {{{"code", "UNAUTHORIZED"},
            {"message", "authentication required"},
            {"detail", "log in with user AWS and the password GetAuthorizationToken gives"}}}}});
    r.headers.set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
    return r;
}

http::BodyPolicy DistributionApi::body_policy(const http::RequestHead& head,
                                              const RegistryScope& scope, bool authorized) const {
    http::BodyPolicy p;
    p.limit = kSmallBody;
    std::string path;
    std::multimap<std::string, std::string> query;
    if (!http::parse_target(head.target, path, query)) return p;
    Target t = parse_path(path);
    if (t.kind == Kind::Manifest && head.method == "PUT") {
        p.limit = kMaxManifestBytes;
        p.too_large = [](std::uint64_t) {
            // the spec: a manifest refused for its size is 413 Payload Too Large
            http::Response r =
                error(Failure{Fault::SizeInvalid, "manifest is larger than 4 MiB",
                              "the limit is " + std::to_string(kMaxManifestBytes) + " bytes"});
            r.status = 413;
            return r;
        };
        return p;
    }
    auto has_digest = query.find("digest") != query.end();
    bool streamed = (t.kind == Kind::Upload && (head.method == "PATCH" || head.method == "PUT")) ||
                    (t.kind == Kind::UploadStart && head.method == "POST" && has_digest &&
                     query.find("mount") == query.end());
    if (!streamed) return p;
    auto pipe = std::make_shared<http::BodyPipe>();
    auto drain = std::make_shared<Drain>(registry_, workers_, pipe);
    RepoId repo{scope.account, scope.region, t.name};
    if (!authorized) {
        drain->refused = Failure{Fault::Internal, "unauthorized", ""};
    } else if (!is_repository_name(t.name)) {
        drain->refused = bad_name(t.name);
    } else if (t.kind == Kind::UploadStart) {
        auto a = registry_.begin_monolithic(repo);
        if (a)
            drain->append = std::move(*a);
        else
            drain->refused = a.error();
    } else {
        std::optional<std::int64_t> start;
        if (auto cr = head.headers.find("Content-Range")) {
            drain->content_range = parse_content_range(*cr);
            if (!drain->content_range)
                drain->refused = Failure{Fault::RangeInvalid, "invalid content range", *cr};
            else
                start = drain->content_range->first;
        }
        if (!drain->refused) {
            auto a = registry_.begin_append(repo, t.ref, start);
            if (a)
                drain->append = std::move(*a);
            else
                drain->refused = a.error();
        }
    }
    p.limit = kMaxBlobBytes;
    p.sink = pipe;
    p.tag = Prepared{drain, pipe};
    drain->start();
    return p;
}

void DistributionApi::handle(const http::Request& req, const std::any& prepared,
                             const RegistryScope& scope,
                             std::function<void(http::Response)> respond) const {
    const bool head = req.method == "HEAD";
    auto answer_error = [&](const Failure& f) { respond(error(f, head)); };
    Target t = parse_path(req.path);
    if (t.kind == Kind::Bad) {
        respond(
            error(Failure{Fault::NameInvalid, "invalid repository name or path", req.path}, head));
        return;
    }
    if (t.kind == Kind::Base) {
        if (req.method != "GET" && !head)
            return answer_error(Failure{Fault::Unsupported, "unsupported", req.method});
        http::Response r = head ? empty(200) : json_response(200, nlohmann::json::object());
        r.headers.set("Docker-Distribution-API-Version", "registry/2.0");
        return respond(std::move(r));
    }
    if (!is_repository_name(t.name)) return answer_error(bad_name(t.name));
    RepoId repo{scope.account, scope.region, t.name};

    // a streamed body: answer once it has been written
    if (req.streamed) {
        const auto* prep = std::any_cast<Prepared>(&prepared);
        if (!prep) return answer_error(Failure{Fault::Internal, "internal error", ""});
        auto drain = prep->drain;
        // the body has been read (or broke off): the drain sees its end after the last piece
        if (req.stream_error.empty())
            prep->pipe->finish();
        else
            prep->pipe->fail(req.stream_error);
        std::string digest = req.query_param("digest").value_or("");
        drain->when_done([this, drain, t, repo, digest, respond,
                          method = req.method](const Drain::Outcome& o) {
            if (drain->refused) return respond(error(*drain->refused));
            if (!o.whole || !o.write_error.empty()) {
                if (drain->append) registry_.abort(std::move(drain->append));
                return respond(
                    error(Failure{Fault::BlobUploadInvalid, "blob upload invalid",
                                  o.write_error.empty() ? "the body broke off" : o.write_error}));
            }
            auto a = std::move(drain->append);
            if (method == "PATCH") {
                if (drain->content_range &&
                    drain->content_range->second - drain->content_range->first + 1 !=
                        a->written()) {
                    registry_.abort(std::move(a));
                    return respond(error(Failure{Fault::RangeInvalid, "blob upload invalid",
                                                 "Content-Range does not match the body's size"}));
                }
                std::string upload = t.ref;
                auto size = registry_.commit(std::move(a));
                if (!size) return respond(error(size.error()));
                return respond(upload_accepted(202, t.name, upload, *size));
            }
            // PUT ?digest= (the last chunk, maybe empty) or POST ?digest= (monolithic)
            if (auto st = registry_.finish(std::move(a), repo, digest); !st)
                return respond(error(st.error()));
            respond(blob_created(t.name, digest));
        });
        return;
    }

    switch (t.kind) {
        case Kind::Tags: {
            if (req.method != "GET") break;
            auto tags = registry_.tags(repo);
            if (!tags) return answer_error(tags.error());
            std::vector<std::string> page;
            std::string last = req.query_param("last").value_or("");
            std::optional<std::size_t> n;
            if (auto nq = req.query_param("n")) {
                std::size_t v = 0;
                auto [end, ec] = std::from_chars(nq->data(), nq->data() + nq->size(), v);
                if (ec != std::errc() || end != nq->data() + nq->size())
                    return answer_error(Failure{Fault::Unsupported, "invalid n", *nq});
                n = v;
            }
            for (const auto& tag : *tags)
                if (last.empty() || tag > last) page.push_back(tag);
            bool more = n && page.size() > *n;
            if (n) page.resize(std::min(page.size(), *n));
            http::Response r = json_response(200, {{"name", t.name}, {"tags", page}});
            if (more && !page.empty())
                r.headers.set("Link", "</v2/" + t.name + "/tags/list?n=" + std::to_string(*n) +
                                          "&last=" + url_encode(page.back()) + ">; rel=\"next\"");
            return respond(std::move(r));
        }
        case Kind::Manifest: {
            if (req.method == "GET" || head) {
                auto m = registry_.get_manifest(repo, t.ref);
                if (!m) return answer_error(m.error());
                http::Response r;
                r.headers.set("Content-Type", m->record.media_type);
                r.headers.set("Docker-Content-Digest", m->record.digest);
                r.headers.set("ETag", "\"" + m->record.digest + "\"");
                if (head)
                    r.headers.set("Content-Length", std::to_string(m->bytes.size()));
                else
                    r.body = std::move(m->bytes);
                return respond(std::move(r));
            }
            if (req.method == "PUT") {
                auto digest =
                    registry_.put_manifest(repo, t.ref, req.body, req.headers.get("Content-Type"));
                if (!digest) return answer_error(digest.error());
                http::Response r = empty(201);
                r.headers.set("Location", "/v2/" + t.name + "/manifests/" + *digest);
                r.headers.set("Docker-Content-Digest", *digest);
                auto parsed = parse_manifest(req.body, req.headers.get("Content-Type"));
                if (parsed && parsed->subject)
                    r.headers.set("OCI-Subject", parsed->subject->digest);
                return respond(std::move(r));
            }
            if (req.method == "DELETE") {
                auto m = registry_.get_manifest(repo, t.ref);
                if (!m) return answer_error(m.error());
                if (auto st = registry_.delete_manifest(repo, t.ref); !st)
                    return answer_error(st.error());
                http::Response r = empty(202);
                r.headers.set("Docker-Content-Digest", m->record.digest);
                return respond(std::move(r));
            }
            break;
        }
        case Kind::Blob: {
            if (req.method == "DELETE")
                return answer_error(Failure{Fault::Unsupported, "The operation is unsupported.",
                                            "blobs are removed with their repository"});
            if (req.method != "GET" && !head) break;
            if (!is_digest(t.ref))
                return answer_error(Failure{Fault::DigestInvalid, "invalid digest", t.ref});
            auto size = registry_.blob_size(repo, t.ref);
            if (!size) return answer_error(size.error());
            auto file = registry_.blob_path(t.ref);
            if (!file)
                return answer_error(Failure{Fault::BlobUnknown, "blob unknown to registry", t.ref});
            std::int64_t from = 0, to = *size - 1;
            unsigned status = 200;
            if (auto range = req.headers.find("Range"); range && range->starts_with("bytes=")) {
                std::string spec = range->substr(6);
                auto dash = spec.find('-');
                std::int64_t a = 0, b = to;
                bool ok = dash != std::string::npos && dash > 0;
                if (ok) {
                    auto r1 = std::from_chars(spec.data(), spec.data() + dash, a);
                    ok = r1.ec == std::errc() && r1.ptr == spec.data() + dash;
                    if (ok && dash + 1 < spec.size()) {
                        auto r2 =
                            std::from_chars(spec.data() + dash + 1, spec.data() + spec.size(), b);
                        ok = r2.ec == std::errc() && r2.ptr == spec.data() + spec.size();
                    }
                }
                if (!ok || a > b || a >= *size) {
                    http::Response r = error(
                        Failure{Fault::RangeInvalid, "requested range not satisfiable", *range},
                        head);
                    r.headers.set("Content-Range", "bytes */" + std::to_string(*size));
                    return respond(std::move(r));
                }
                from = a;
                to = std::min(b, *size - 1);
                status = 206;
            }
            std::int64_t length = *size == 0 ? 0 : to - from + 1;
            http::Response r;
            r.status = status;
            r.headers.set("Content-Type", "application/octet-stream");
            r.headers.set("Docker-Content-Digest", t.ref);
            r.headers.set("Accept-Ranges", "bytes");
            if (status == 206)
                r.headers.set("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                   std::to_string(to) + "/" +
                                                   std::to_string(*size));
            if (head) {
                r.headers.set("Content-Length", std::to_string(length));
                return respond(std::move(r));
            }
            int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return answer_error(Failure{Fault::BlobUnknown, "blob unknown to registry", t.ref});
            if (length <= kInlineBlobBytes) {
                r.body.resize(static_cast<std::size_t>(length));
                ssize_t n = length ? ::pread(fd, r.body.data(), r.body.size(), from) : 0;
                ::close(fd);
                if (n != length)
                    return answer_error(Failure{Fault::Internal, "blob read failed", t.ref});
                return respond(std::move(r));
            }
            r.stream = std::make_shared<FileSource>(fd, from, length);
            return respond(std::move(r));
        }
        case Kind::UploadStart: {
            if (req.method != "POST") break;
            auto mount = req.query_param("mount");
            if (mount) {
                std::string from = req.query_param("from").value_or("");
                if (is_digest(*mount) && is_repository_name(from)) {
                    auto mounted = registry_.mount_blob(repo, *mount,
                                                        RepoId{scope.account, scope.region, from});
                    if (!mounted) return answer_error(mounted.error());
                    if (*mounted) return respond(blob_created(t.name, *mount));
                }
                // not there to mount: an ordinary upload session instead
            }
            if (!req.body.empty())
                return answer_error(
                    Failure{Fault::DigestInvalid, "a body needs ?digest= (monolithic upload)", ""});
            auto id = registry_.start_upload(repo);
            if (!id) return answer_error(id.error());
            return respond(upload_accepted(202, t.name, *id, 0));
        }
        case Kind::Upload: {
            if (req.method == "GET") {
                auto size = registry_.upload_size(repo, t.ref);
                if (!size) return answer_error(size.error());
                return respond(upload_accepted(204, t.name, t.ref, *size));
            }
            if (req.method == "DELETE") {
                if (auto st = registry_.cancel_upload(repo, t.ref); !st)
                    return answer_error(st.error());
                return respond(empty(204));
            }
            break;
        }
        case Kind::Referrers: {
            if (req.method != "GET") break;
            if (!is_digest(t.ref))
                return answer_error(Failure{Fault::DigestInvalid, "invalid digest", t.ref});
            auto refs = registry_.referrers(repo, t.ref);
            if (!refs) return answer_error(refs.error());
            std::string filter = req.query_param("artifactType").value_or("");
            nlohmann::json list = nlohmann::json::array();
            for (const auto& img : *refs) {
                std::string type =
                    img.artifact_type.empty() ? img.artifact_media_type : img.artifact_type;
                if (!filter.empty() && type != filter) continue;
                nlohmann::json d = {{"mediaType", img.media_type},
                                    {"digest", img.digest},
                                    {"size", img.manifest_size}};
                if (!type.empty()) d["artifactType"] = type;
                list.push_back(d);
            }
            http::Response r = json_response(
                200, {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", list}});
            r.headers.set("Content-Type", kOciIndex);
            if (!filter.empty()) r.headers.set("OCI-Filters-Applied", "artifactType");
            return respond(std::move(r));
        }
        default:
            break;
    }
    answer_error(
        Failure{Fault::Unsupported, "The operation is unsupported.", req.method + " " + req.path});
}

}  // namespace lamina::oci
