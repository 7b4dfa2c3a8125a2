#include "image_load.hpp"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "lamina/common/encoding.hpp"
#include "lamina/oci/manifest.hpp"

namespace lamina::cli {

namespace {

using json = nlohmann::json;

// The regular files of a tar archive (ustar, GNU long names, pax paths), by name.
Result<std::map<std::string, std::string>> read_tar(const std::string& data) {
    std::map<std::string, std::string> files;
    std::size_t pos = 0;
    std::string long_name;
    auto octal = [](std::string_view f) -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        bool any = false;
        for (char c : f) {
            if (c == ' ' || c == '\0') {
                if (any) break;
                continue;
            }
            if (c < '0' || c > '7') return std::nullopt;
            v = v * 8 + static_cast<std::uint64_t>(c - '0');
            any = true;
        }
        return v;
    };
    auto field = [](std::string_view f) { return std::string(f.substr(0, f.find('\0'))); };
    while (pos + 512 <= data.size()) {
        std::string_view h(data.data() + pos, 512);
        if (h.find_first_not_of('\0') == std::string_view::npos) break;  // the end blocks
        auto size = octal(h.substr(124, 12));
        if (!size) return fail(ErrorCode::InvalidParameterValue, "not a tar archive");
        char type = h[156];
        std::string name = field(h.substr(0, 100));
        if (h.substr(257, 5) == "ustar") {
            std::string prefix = field(h.substr(345, 155));
            if (!prefix.empty()) name = prefix + "/" + name;
        }
        pos += 512;
        if (pos + *size > data.size())
            return fail(ErrorCode::InvalidParameterValue, "the tar archive is cut short");
        std::string body = data.substr(pos, *size);
        pos += (*size + 511) / 512 * 512;
        if (type == 'L') {
            long_name = field(body);
            continue;
        }
        if (type == 'x') {
            // pax records "<len> key=value\n"
            std::size_t p = 0;
            while (p < body.size()) {
                auto sp = body.find(' ', p);
                if (sp == std::string::npos) break;
                std::size_t len = std::stoul(body.substr(p, sp - p));
                std::string rec = body.substr(sp + 1, len - (sp - p) - 2);
                if (rec.starts_with("path=")) long_name = rec.substr(5);
                p += len;
            }
            continue;
        }
        if (!long_name.empty()) name = std::exchange(long_name, {});
        while (name.starts_with("./")) name = name.substr(2);
        if (type == '0' || type == '\0') files[name] = std::move(body);
    }
    if (files.empty()) return fail(ErrorCode::InvalidParameterValue, "not a tar archive");
    return files;
}

struct Pusher {
    ImageLoadClients c;
    std::string basic;  // "Basic ..." for /v2
    std::set<std::string> repos_made;

    Result<sam::ApiReply> v2(const std::string& method, const std::string& target, std::string body,
                             const std::string& content_type) {
        sam::ApiCall call{method, target, std::move(body), content_type};
        call.headers.emplace_back("Authorization", basic);
        return c.registry_client.send(call);
    }
    Status ensure_repo(const std::string& repo) {
        if (repos_made.contains(repo)) return {};
        sam::ApiCall call{"POST", "/", json{{"repositoryName", repo}}.dump(),
                          "application/x-amz-json-1.1"};
        call.service = "ecr";
        call.headers.emplace_back("X-Amz-Target",
                                  "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
        LAMINA_TRY(reply, c.signed_client.send(call));
        if (!reply.ok() && reply.error_type() != "RepositoryAlreadyExistsException")
            return fail(ErrorCode::InvalidParameterValue,
                        "CreateRepository " + repo + ": " + reply.error_text());
        repos_made.insert(repo);
        return {};
    }
    Status blob(const std::string& repo, const std::string& bytes) {
        std::string digest = oci::digest_of(bytes);
        LAMINA_TRY(reply, v2("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest, bytes,
                             "application/octet-stream"));
        if (reply.status != 201)
            return fail(
                ErrorCode::InvalidParameterValue,
                "pushing blob " + digest + ": " + std::to_string(reply.status) + " " + reply.body);
        return {};
    }
    Status manifest(const std::string& repo, const std::string& tag, const std::string& bytes,
                    const std::string& media_type) {
        LAMINA_TRY(reply, v2("PUT", "/v2/" + repo + "/manifests/" + tag, bytes, media_type));
        if (reply.status != 201)
            return fail(ErrorCode::InvalidParameterValue,
                        "pushing the manifest of " + repo + ":" + tag + ": " +
                            std::to_string(reply.status) + " " + reply.body);
        return {};
    }
};

// "host:port/repo:tag", "repo:tag", "repo" -> {repo, tag}
Result<std::pair<std::string, std::string>> split_name(std::string ref) {
    auto slash = ref.find('/');
    if (slash != std::string::npos) {
        std::string first = ref.substr(0, slash);
        if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
            first == "localhost")
            ref = ref.substr(slash + 1);
    }
    if (ref.starts_with("library/")) ref = ref.substr(8);
    std::string tag = "latest";
    auto colon = ref.rfind(':');
    if (colon != std::string::npos && ref.find('/', colon) == std::string::npos) {
        tag = ref.substr(colon + 1);
        ref = ref.substr(0, colon);
    }
    if (!oci::is_repository_name(ref) || !oci::is_tag(tag))
        return fail(
            ErrorCode::InvalidParameterValue,
            "'" + ref + ":" + tag + "' is not a valid REPOSITORY:TAG for lamina's registry");
    return std::make_pair(ref, tag);
}

}  // namespace

Result<std::vector<std::string>> load_image_archive(
    const std::filesystem::path& file, const std::string& tag, ImageLoadClients clients,
    const std::function<void(const std::string&)>& say) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(ErrorCode::InvalidParameterValue, "cannot read " + file.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    LAMINA_TRY(files, read_tar(ss.str()));

    Pusher p{clients, {}, {}};
    {
        sam::ApiCall call{"POST", "/", "{}", "application/x-amz-json-1.1"};
        call.service = "ecr";
        call.headers.emplace_back("X-Amz-Target",
                                  "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken");
        LAMINA_TRY(reply, clients.signed_client.send(call));
        if (!reply.ok())
            return fail(ErrorCode::InvalidParameterValue,
                        "GetAuthorizationToken: " + reply.error_text());
        auto j = reply.json();
        p.basic = "Basic " + j["authorizationData"][0].value("authorizationToken", "");
    }
    std::vector<std::string> loaded;
    auto get = [&](const std::string& name) -> Result<std::string> {
        auto it = files.find(name);
        if (it == files.end())
            return fail(ErrorCode::InvalidParameterValue, "the archive has no " + name);
        return it->second;
    };

    if (files.contains("manifest.json")) {  // docker save
        auto m = json::parse(files["manifest.json"], nullptr, false);
        if (!m.is_array() || m.empty())
            return fail(ErrorCode::InvalidParameterValue, "manifest.json is not a list of images");
        for (const auto& entry : m) {
            std::vector<std::string> names;
            if (!tag.empty())
                names.push_back(tag);
            else if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
                for (const auto& t : entry["RepoTags"])
                    if (t.is_string()) names.push_back(t.get<std::string>());
            if (names.empty())
                return fail(ErrorCode::InvalidParameterValue,
                            "an image of the archive has no RepoTags: give --tag REPOSITORY:TAG");
            LAMINA_TRY(config, get(entry.value("Config", "")));
            std::vector<std::string> layers;
            if (entry.contains("Layers") && entry["Layers"].is_array())
                for (const auto& l : entry["Layers"]) {
                    LAMINA_TRY(bytes, get(l.is_string() ? l.get<std::string>() : ""));
                    layers.push_back(std::move(bytes));
                }
            // layers go as they are in the archive (uncompressed tars): their digests are the
            // config's diff_ids, and loopback gains nothing from gzip's CPU time
            json manifest = {{"schemaVersion", 2},
                             {"mediaType", oci::kDockerManifest},
                             {"config",
                              {{"mediaType", oci::kDockerConfig},
                               {"digest", oci::digest_of(config)},
                               {"size", config.size()}}},
                             {"layers", json::array()}};
            for (const auto& l : layers)
                manifest["layers"].push_back({{"mediaType", oci::kDockerLayerTar},
                                              {"digest", oci::digest_of(l)},
                                              {"size", l.size()}});
            std::string bytes = manifest.dump(3);
            for (const auto& name : names) {
                LAMINA_TRY(ref, split_name(name));
                LAMINA_CHECK(p.ensure_repo(ref.first));
                LAMINA_CHECK(p.blob(ref.first, config));
                for (const auto& l : layers) LAMINA_CHECK(p.blob(ref.first, l));
                LAMINA_CHECK(p.manifest(ref.first, ref.second, bytes, oci::kDockerManifest));
                say("loaded " + ref.first + ":" + ref.second + " " + oci::digest_of(bytes));
                loaded.push_back(ref.first + ":" + ref.second);
            }
        }
        return loaded;
    }
    if (!files.contains("index.json"))
        return fail(ErrorCode::InvalidParameterValue,
                    "neither a docker save archive (manifest.json) nor an OCI image layout "
                    "(index.json)");
    auto index = json::parse(files["index.json"], nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
        return fail(ErrorCode::InvalidParameterValue, "index.json has no manifests");
    auto blob = [&](const std::string& digest) -> Result<std::string> {
        if (!oci::is_digest(digest))
            return fail(ErrorCode::InvalidParameterValue, "bad digest " + digest);
        LAMINA_TRY(bytes, get("blobs/sha256/" + digest.substr(7)));
        if (oci::digest_of(bytes) != digest)
            return fail(ErrorCode::InvalidParameterValue, "blob " + digest + " is corrupt");
        return bytes;
    };
    for (const auto& d : index["manifests"]) {
        std::string digest = d.value("digest", "");
        std::string name = tag;
        if (name.empty() && d.contains("annotations") && d["annotations"].is_object())
            name = d["annotations"].value("io.containerd.image.name", "");
        if (name.empty())
            return fail(ErrorCode::InvalidParameterValue,
                        "the OCI archive does not name its repository: give --tag REPOSITORY:TAG");
        LAMINA_TRY(ref, split_name(name));
        LAMINA_TRY(bytes, blob(digest));
        std::string media_type = d.value("mediaType", "");
        auto parsed = oci::parse_manifest(bytes, media_type);
        if (!parsed)
            return fail(ErrorCode::InvalidParameterValue,
                        "manifest " + digest + ": " + parsed.error().message);
        if (parsed->is_index)
            return fail(ErrorCode::InvalidParameterValue,
                        "manifest " + digest +
                            " is an image index: lamina image load takes "
                            "single-platform images");
        LAMINA_CHECK(p.ensure_repo(ref.first));
        LAMINA_TRY(config, blob(parsed->config.digest));
        LAMINA_CHECK(p.blob(ref.first, config));
        for (const auto& l : parsed->layers) {
            LAMINA_TRY(layer, blob(l.digest));
            LAMINA_CHECK(p.blob(ref.first, layer));
        }
        LAMINA_CHECK(p.manifest(ref.first, ref.second, bytes, parsed->media_type));
        say("loaded " + ref.first + ":" + ref.second + " " + digest);
        loaded.push_back(ref.first + ":" + ref.second);
    }
    return loaded;
}

}  // namespace lamina::cli
