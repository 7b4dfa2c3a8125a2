#include "lamina/oci/ecr_api.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"
#include "lamina/oci/auth_token.hpp"

namespace lamina::oci {

namespace {

using json = nlohmann::json;

constexpr const char* kNamePattern =
    "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*";

struct EcrError {
    unsigned status;
    std::string type;
    std::string message;
};

http::Response error_response(const EcrError& e, const std::string& request_id) {
    http::Response r;
    r.status = e.status;
    r.headers.set("Content-Type", "application/x-amz-json-1.1");
    r.headers.set("x-amzn-RequestId", request_id);
    r.body = json{{"__type", e.type}, {"message", e.message}}.dump(-1, ' ', false,
                                                                   json::error_handler_t::replace);
    return r;
}

EcrError invalid(std::string m) { return {400, "InvalidParameterException", std::move(m)}; }

EcrError from_failure(const Failure& f) {
    switch (f.fault) {
        case Fault::NameUnknown:
            return {400, "RepositoryNotFoundException", f.message};
        case Fault::RepositoryAlreadyExists:
            return {400, "RepositoryAlreadyExistsException", f.message};
        case Fault::RepositoryNotEmpty:
            return {400, "RepositoryNotEmptyException", f.message};
        case Fault::Internal:
            return {500, "ServerException", f.message};
        default:
            return invalid(f.message + (f.detail.empty() ? "" : ": " + f.detail));
    }
}

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

json repository_json(const Repository& r) {
    json enc = {{"encryptionType", r.encryption_type}};
    if (!r.kms_key.empty()) enc["kmsKey"] = r.kms_key;
    return {
        {"repositoryArn",
         "arn:aws:ecr:" + r.id.region + ":" + r.id.account + ":repository/" + r.id.name},
        {"registryId", r.id.account},
        {"repositoryName", r.id.name},
        {"repositoryUri", r.id.account + ".dkr.ecr." + r.id.region + ".amazonaws.com/" + r.id.name},
        {"createdAt", seconds(r.created_ms)},
        {"imageTagMutability", r.tag_mutability},
        {"imageScanningConfiguration", {{"scanOnPush", r.scan_on_push}}},
        {"encryptionConfiguration", enc}};
}

std::string image_id_text(const json& id) {
    auto part = [&](const char* k) {
        return id.contains(k) && id[k].is_string() ? id[k].get<std::string>() : std::string("null");
    };
    return "{imageDigest:'" + part("imageDigest") + "', imageTag:'" + part("imageTag") + "'}";
}

struct Call {
    const EcrContext& ctx;
    const json& in;
    Registry& registry;
    Clock& clock;

    std::expected<std::string, EcrError> string_member(const char* name, bool required) const {
        auto it = in.find(name);
        if (it == in.end() || it->is_null()) {
            if (required)
                return std::unexpected(invalid("1 validation error detected: Value null at '" +
                                               std::string(name) +
                                               "' failed to satisfy constraint: Member must not "
                                               "be null"));
            return std::string();
        }
        if (!it->is_string())
            return std::unexpected(
                invalid("Invalid parameter at '" + std::string(name) + "': expected a string"));
        return it->get<std::string>();
    }

    std::expected<RepoId, EcrError> repo_id() const {
        auto name = string_member("repositoryName", true);
        if (!name) return std::unexpected(name.error());
        if (!is_repository_name(*name))
            return std::unexpected(
                invalid("Invalid parameter at 'repositoryName' failed to satisfy constraint: "
                        "'must satisfy regular expression '" +
                        std::string(kNamePattern) + "''"));
        auto registry_id = string_member("registryId", false);
        if (!registry_id) return std::unexpected(registry_id.error());
        if (!registry_id->empty() && *registry_id != ctx.account)
            return std::unexpected(EcrError{400, "RepositoryNotFoundException",
                                            "The repository with name '" + *name +
                                                "' does not exist in the registry with id '" +
                                                *registry_id + "'"});
        return RepoId{ctx.account, ctx.region, *name};
    }

    std::expected<std::size_t, EcrError> max_results(std::size_t fallback) const {
        auto it = in.find("maxResults");
        if (it == in.end() || it->is_null()) return fallback;
        if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
            it->get<std::int64_t>() > 1000)
            return std::unexpected(
                invalid("1 validation error detected: Value at 'maxResults' failed to satisfy "
                        "constraint: Member must have value less than or equal to 1000"));
        return static_cast<std::size_t>(it->get<std::int64_t>());
    }

    // Pages `items` (already in order) by an opaque nextToken: the index to go on from.
    template <class T>
    std::expected<std::pair<std::vector<T>, std::string>, EcrError> page(std::vector<T> items,
                                                                         std::size_t max) const {
        std::size_t start = 0;
        if (auto it = in.find("nextToken"); it != in.end() && !it->is_null()) {
            auto decoded = it->is_string() ? base64_decode(it->get<std::string>()) : std::nullopt;
            bool ok = decoded && decoded->starts_with("lamina-ecr:");
            if (ok) {
                try {
                    start = std::stoul(decoded->substr(11));
                } catch (...) {
                    ok = false;
                }
            }
            if (!ok) return std::unexpected(invalid("Invalid parameter at 'nextToken'"));
        }
        std::vector<T> out;
        for (std::size_t i = start; i < items.size() && out.size() < max; ++i)
            out.push_back(std::move(items[i]));
        std::string next;
        if (start + out.size() < items.size())
            next = base64_encode("lamina-ecr:" + std::to_string(start + out.size()));
        return std::make_pair(std::move(out), std::move(next));
    }

    std::string tag_status() const {
        auto f = in.find("filter");
        if (f == in.end() || !f->is_object()) return "ANY";
        return f->value("tagStatus", "ANY");
    }
};

using Out = std::expected<json, EcrError>;

Out create_repository(const Call& c) {
    auto id = c.repo_id();
    if (!id) return std::unexpected(id.error());
    Repository r;
    r.id = *id;
    if (auto m = c.in.find("imageTagMutability"); m != c.in.end() && !m->is_null()) {
        std::string v = m->is_string() ? m->get<std::string>() : "";
        if (v != "MUTABLE" && v != "IMMUTABLE")
            return std::unexpected(invalid(
                v == "IMMUTABLE_WITH_EXCLUSION" || v == "MUTABLE_WITH_EXCLUSION"
                    ? "lamina does not emulate imageTagMutability " + v
                    : "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: "
                      "'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'"));
        r.tag_mutability = v;
    }
    if (auto s = c.in.find("imageScanningConfiguration"); s != c.in.end() && s->is_object())
        r.scan_on_push = s->value("scanOnPush", false);
    if (auto e = c.in.find("encryptionConfiguration"); e != c.in.end() && e->is_object()) {
        std::string type = e->value("encryptionType", "AES256");
        if (type != "AES256" && type != "KMS" && type != "KMS_DSSE")
            return std::unexpected(invalid("Invalid parameter at 'encryptionType'"));
        r.encryption_type = type;
        r.kms_key = e->value("kmsKey", "");
        if (type == "AES256" && !r.kms_key.empty())
            return std::unexpected(
                invalid("Invalid parameter at 'kmsKey': a KMS key needs encryptionType KMS"));
    }
    if (auto t = c.in.find("tags"); t != c.in.end() && t->is_array()) r.tags_json = t->dump();
    auto made = c.registry.create_repository(std::move(r));
    if (!made) return std::unexpected(from_failure(made.error()));
    return json{{"repository", repository_json(*made)}};
}

Out describe_repositories(const Call& c) {
    auto max = c.max_results(100);
    if (!max) return std::unexpected(max.error());
    std::vector<Repository> repos;
    if (auto names = c.in.find("repositoryNames"); names != c.in.end() && names->is_array()) {
        for (const auto& n : *names) {
            std::string name = n.is_string() ? n.get<std::string>() : "";
            auto r = c.registry.repository(RepoId{c.ctx.account, c.ctx.region, name});
            if (!r)
                return std::unexpected(EcrError{400, "RepositoryNotFoundException",
                                                "The repository with name '" + name +
                                                    "' does not exist in the registry with id '" +
                                                    c.ctx.account + "'"});
            repos.push_back(*r);
        }
    } else {
        repos = c.registry.repositories(c.ctx.account, c.ctx.region);
    }
    auto paged = c.page(std::move(repos), *max);
    if (!paged) return std::unexpected(paged.error());
    json list = json::array();
    for (const auto& r : paged->first) list.push_back(repository_json(r));
    json out = {{"repositories", list}};
    if (!paged->second.empty()) out["nextToken"] = paged->second;
    return out;
}

Out delete_repository(const Call& c) {
    auto id = c.repo_id();
    if (!id) return std::unexpected(id.error());
    bool force = c.in.value("force", false);
    auto gone = c.registry.delete_repository(*id, force);
    if (!gone) return std::unexpected(from_failure(gone.error()));
    return json{{"repository", repository_json(*gone)}};
}

// The stored image an imageId names, or the failure's code and reason.
std::expected<ImageRecord, std::pair<std::string, std::string>> find_image(
    const std::vector<ImageRecord>& images, const json& id) {
    std::string digest = id.value("imageDigest", "");
    std::string tag = id.value("imageTag", "");
    if (digest.empty() && tag.empty())
        return std::unexpected(
            std::make_pair("MissingDigestAndTag",
                           "Invalid request parameters: both tag and digest cannot be null"));
    if (!digest.empty() && !is_digest(digest))
        return std::unexpected(std::make_pair("InvalidImageDigest",
                                              "Invalid request parameters: image digest should "
                                              "satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"));
    if (!tag.empty() && !is_tag(tag))
        return std::unexpected(
            std::make_pair("InvalidImageTag", "Invalid request parameters: image tag is invalid"));
    for (const auto& img : images) {
        bool tagged =
            !tag.empty() && std::find(img.tags.begin(), img.tags.end(), tag) != img.tags.end();
        if (!digest.empty() && img.digest == digest) {
            if (!tag.empty() && !tagged)
                return std::unexpected(
                    std::make_pair("ImageTagDoesNotMatchDigest",
                                   "Invalid request parameters: image tag digest mismatch"));
            return img;
        }
        if (digest.empty() && tagged) return img;
    }
    return std::unexpected(std::make_pair("ImageNotFound", "Requested image not found"));
}

json image_detail(const Call& c, const RepoId& id, const ImageRecord& img) {
    json d = {{"registryId", id.account},
              {"repositoryName", id.name},
              {"imageDigest", img.digest},
              {"imageSizeInBytes", img.size},
              {"imagePushedAt", seconds(img.pushed_ms)},
              {"imageManifestMediaType", img.media_type}};
    if (!img.tags.empty()) d["imageTags"] = img.tags;
    if (!img.artifact_media_type.empty()) d["artifactMediaType"] = img.artifact_media_type;
    if (!img.subject.empty()) d["subjectManifestDigest"] = img.subject;
    (void)c;
    return d;
}

bool status_matches(const std::string& status, const ImageRecord& img) {
    if (status == "TAGGED") return !img.tags.empty();
    if (status == "UNTAGGED") return img.tags.empty();
    return true;
}

// What DescribeImages and ListImages read first: the repository, the page
// size, its images and the tagStatus filter.
struct Listing {
    RepoId id;
    std::size_t max = 0;
    std::vector<ImageRecord> images;
    std::string status;
};

std::expected<Listing, EcrError> listing(const Call& c) {
    auto id = c.repo_id();
    if (!id) return std::unexpected(id.error());
    auto max = c.max_results(100);
    if (!max) return std::unexpected(max.error());
    auto images = c.registry.images(*id);
    if (!images) return std::unexpected(from_failure(images.error()));
    std::string status = c.tag_status();
    if (status != "TAGGED" && status != "UNTAGGED" && status != "ANY")
        return std::unexpected(invalid("Invalid parameter at 'filter.tagStatus'"));
    return Listing{std::move(*id), *max, std::move(*images), std::move(status)};
}

Out describe_images(const Call& c) {
    auto l = listing(c);
    if (!l) return std::unexpected(l.error());
    const RepoId& id = l->id;
    const std::string& status = l->status;
    std::vector<ImageRecord> chosen;
    if (auto ids = c.in.find("imageIds"); ids != c.in.end() && ids->is_array()) {
        for (const auto& want : *ids) {
            auto img = find_image(l->images, want.is_object() ? want : json::object());
            if (!img) {
                if (img.error().first == "ImageNotFound")
                    return std::unexpected(
                        EcrError{400, "ImageNotFoundException",
                                 "The image with imageId " + image_id_text(want) +
                                     " does not exist within the repository with name '" + id.name +
                                     "' in the registry with id '" + id.account + "'"});
                return std::unexpected(invalid(img.error().second));
            }
            chosen.push_back(*img);
        }
    } else {
        for (const auto& img : l->images)
            if (status_matches(status, img)) chosen.push_back(img);
    }
    auto paged = c.page(std::move(chosen), l->max);
    if (!paged) return std::unexpected(paged.error());
    json list = json::array();
    for (const auto& img : paged->first) list.push_back(image_detail(c, id, img));
    json out = {{"imageDetails", list}};
    if (!paged->second.empty()) out["nextToken"] = paged->second;
    return out;
}

Out list_images(const Call& c) {
    auto l = listing(c);
    if (!l) return std::unexpected(l.error());
    const std::string& status = l->status;
    std::vector<json> ids;
    for (const auto& img : l->images) {
        if (!status_matches(status, img)) continue;
        if (img.tags.empty()) ids.push_back({{"imageDigest", img.digest}});
        for (const auto& t : img.tags)
            ids.push_back({{"imageDigest", img.digest}, {"imageTag", t}});
    }
    auto paged = c.page(std::move(ids), l->max);
    if (!paged) return std::unexpected(paged.error());
    json out = {{"imageIds", paged->first}};
    if (!paged->second.empty()) out["nextToken"] = paged->second;
    return out;
}

json failure(const json& id, const std::string& code, const std::string& reason) {
    return {{"imageId", id}, {"failureCode", code}, {"failureReason", reason}};
}

Out batch_get_image(const Call& c) {
    auto id = c.repo_id();
    if (!id) return std::unexpected(id.error());
    auto images = c.registry.images(*id);
    if (!images) return std::unexpected(from_failure(images.error()));
    auto ids = c.in.find("imageIds");
    if (ids == c.in.end() || !ids->is_array() || ids->empty())
        return std::unexpected(invalid(
            "1 validation error detected: Value null at 'imageIds' failed to satisfy constraint: "
            "Member must not be null"));
    std::vector<std::string> accepted;
    if (auto a = c.in.find("acceptedMediaTypes"); a != c.in.end() && a->is_array())
        for (const auto& t : *a)
            if (t.is_string()) accepted.push_back(t.get<std::string>());
    json found = json::array(), failures = json::array();
    for (const auto& want : *ids) {
        json wid = want.is_object() ? want : json::object();
        auto img = find_image(*images, wid);
        if (!img) {
            failures.push_back(failure(wid, img.error().first, img.error().second));
            continue;
        }
        if (!accepted.empty() &&
            std::find(accepted.begin(), accepted.end(), img->media_type) == accepted.end()) {
            failures.push_back(
                failure(wid, "ImageNotFound",
                        "Requested image not found: its manifest is " + img->media_type +
                            ", not one of acceptedMediaTypes (lamina does not convert manifests)"));
            continue;
        }
        auto m = c.registry.get_manifest(*id, img->digest);
        if (!m) {
            failures.push_back(failure(wid, "ImageNotFound", "Requested image not found"));
            continue;
        }
        json image_id = {{"imageDigest", img->digest}};
        if (wid.contains("imageTag")) image_id["imageTag"] = wid["imageTag"];
        found.push_back({{"registryId", id->account},
                         {"repositoryName", id->name},
                         {"imageId", image_id},
                         {"imageManifest", m->bytes},
                         {"imageManifestMediaType", m->record.media_type}});
    }
    return json{{"images", found}, {"failures", failures}};
}

Out batch_delete_image(const Call& c) {
    auto id = c.repo_id();
    if (!id) return std::unexpected(id.error());
    auto ids = c.in.find("imageIds");
    if (ids == c.in.end() || !ids->is_array() || ids->empty())
        return std::unexpected(invalid(
            "1 validation error detected: Value null at 'imageIds' failed to satisfy constraint: "
            "Member must not be null"));
    json deleted = json::array(), failures = json::array();
    for (const auto& want : *ids) {
        json wid = want.is_object() ? want : json::object();
        auto images = c.registry.images(*id);
        if (!images) return std::unexpected(from_failure(images.error()));
        auto img = find_image(*images, wid);
        if (!img) {
            failures.push_back(failure(wid, img.error().first, img.error().second));
            continue;
        }
        std::string tag = wid.value("imageTag", "");
        std::string ref = wid.contains("imageDigest") ? img->digest : tag;
        if (auto st = c.registry.delete_manifest(*id, ref, true); !st) {
            failures.push_back(failure(wid, "ImageNotFound", "Requested image not found"));
            continue;
        }
        if (is_digest(ref)) {
            if (img->tags.empty()) deleted.push_back({{"imageDigest", img->digest}});
            for (const auto& t : img->tags)
                deleted.push_back({{"imageDigest", img->digest}, {"imageTag", t}});
        } else {
            deleted.push_back({{"imageDigest", img->digest}, {"imageTag", tag}});
        }
    }
    return json{{"imageIds", deleted}, {"failures", failures}};
}

Out get_authorization_token(const Call& c) {
    std::int64_t expires = c.clock.now_ms() + kTokenLifetimeMs;
    std::string password = make_registry_password(c.ctx.token_key_id, c.ctx.token_secret, expires);
    return json{{"authorizationData",
                 {{{"authorizationToken", base64_encode("AWS:" + password)},
                   {"expiresAt", seconds(expires)},
                   {"proxyEndpoint", "http://" + c.ctx.host}}}}};
}

}  // namespace

http::Response EcrApi::handle(const EcrContext& ctx, const std::string& operation,
                              const http::Request& req) {
    json in = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (in.is_discarded() || !in.is_object())
        return error_response({400, "SerializationException", "the body is not a JSON object"},
                              ctx.request_id);
    Call c{ctx, in, registry_, clock_};
    Out out;
    if (operation == "CreateRepository")
        out = create_repository(c);
    else if (operation == "DescribeRepositories")
        out = describe_repositories(c);
    else if (operation == "DeleteRepository")
        out = delete_repository(c);
    else if (operation == "DescribeImages")
        out = describe_images(c);
    else if (operation == "ListImages")
        out = list_images(c);
    else if (operation == "BatchGetImage")
        out = batch_get_image(c);
    else if (operation == "BatchDeleteImage")
        out = batch_delete_image(c);
    else if (operation == "GetAuthorizationToken")
        out = get_authorization_token(c);
    else
        out = std::unexpected(
            EcrError{501, "NotImplementedException",
                     "lamina does not emulate the ECR operation " + operation +
                         " (it emulates CreateRepository, DescribeRepositories, DeleteRepository, "
                         "DescribeImages, ListImages, BatchGetImage, BatchDeleteImage and "
                         "GetAuthorizationToken)."});
    if (!out) return error_response(out.error(), ctx.request_id);
    http::Response r;
    r.headers.set("Content-Type", "application/x-amz-json-1.1");
    r.headers.set("x-amzn-RequestId", ctx.request_id);
    r.body = out->dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

}  // namespace lamina::oci
