#include "lamina/oci/manifest.hpp"

#include <nlohmann/json.hpp>

#include "lamina/common/encoding.hpp"

namespace lamina::oci {

namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_path_component(std::string_view s) {
    if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
    std::size_t i = 0;
    while (i < s.size()) {
        if (lower_alnum(s[i])) {
            ++i;
            continue;
        }
        // a separator run: ".", "_", "__" or one or more "-"
        std::size_t j = i;
        while (j < s.size() && !lower_alnum(s[j])) ++j;
        std::string_view sep = s.substr(i, j - i);
        bool ok = sep == "." || sep == "_" || sep == "__" ||
                  sep.find_first_not_of('-') == std::string_view::npos;
        if (!ok) return false;
        i = j;
    }
    return true;
}

std::optional<Descriptor> descriptor(const nlohmann::json& j, std::string& why) {
    if (!j.is_object()) {
        why = "a descriptor is not an object";
        return std::nullopt;
    }
    Descriptor d;
    auto mt = j.find("mediaType");
    auto dg = j.find("digest");
    auto sz = j.find("size");
    if (mt == j.end() || !mt->is_string() || mt->get_ref<const std::string&>().empty()) {
        why = "a descriptor has no mediaType";
        return std::nullopt;
    }
    if (dg == j.end() || !dg->is_string() || !is_digest(dg->get_ref<const std::string&>())) {
        why = "a descriptor has no valid sha256 digest";
        return std::nullopt;
    }
    if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0) {
        why = "a descriptor has no valid size";
        return std::nullopt;
    }
    d.media_type = mt->get<std::string>();
    d.digest = dg->get<std::string>();
    d.size = sz->get<std::int64_t>();
    return d;
}

// "application/json; charset=utf-8" -> "application/json"
std::string_view bare_type(std::string_view ct) {
    auto semi = ct.find(';');
    if (semi != std::string_view::npos) ct = ct.substr(0, semi);
    while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
    while (!ct.empty() && ct.front() == ' ') ct.remove_prefix(1);
    return ct;
}

}  // namespace

bool is_digest(std::string_view s) {
    if (s.size() != 71 || !s.starts_with("sha256:")) return false;
    for (char c : s.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string digest_of(std::string_view bytes) { return "sha256:" + to_hex(sha256(bytes)); }

bool is_tag(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    auto word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    };
    if (!word(s.front())) return false;
    for (char c : s.substr(1))
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

bool is_repository_name(std::string_view s) {
    if (s.size() < 2 || s.size() > 256) return false;
    std::size_t start = 0;
    for (;;) {
        auto slash = s.find('/', start);
        if (!is_path_component(s.substr(start, slash - start))) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

bool is_manifest_media_type(std::string_view s) {
    return s == kOciManifest || s == kDockerManifest || is_index_media_type(s);
}

bool is_index_media_type(std::string_view s) { return s == kOciIndex || s == kDockerList; }

std::expected<ParsedManifest, ManifestProblem> parse_manifest(std::string_view bytes,
                                                              std::string_view content_type) {
    auto bad = [](std::string m) { return std::unexpected(ManifestProblem{std::move(m)}); };
    if (bytes.size() > kMaxManifestBytes) return bad("manifest is larger than 4 MiB");
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("manifest is not a JSON object");
    auto sv = j.find("schemaVersion");
    if (sv == j.end() || !sv->is_number_integer() || sv->get<std::int64_t>() != 2)
        return bad("schemaVersion must be 2");
    std::string field;
    if (auto mt = j.find("mediaType"); mt != j.end()) {
        if (!mt->is_string()) return bad("mediaType is not a string");
        field = mt->get<std::string>();
    }
    std::string header(bare_type(content_type));
    bool specific = is_manifest_media_type(header);
    ParsedManifest m;
    if (specific) {
        if (!field.empty() && field != header)
            return bad("mediaType " + field + " does not match the Content-Type " + header);
        m.media_type = header;
    } else if (!field.empty()) {
        m.media_type = field;
    } else {
        // an OCI manifest may leave mediaType out: its members say which it is
        m.media_type = j.contains("manifests") ? kOciIndex : kOciManifest;
    }
    if (!is_manifest_media_type(m.media_type))
        return bad("unsupported manifest media type " + m.media_type);
    m.is_index = is_index_media_type(m.media_type);
    std::string why;
    if (auto at = j.find("artifactType"); at != j.end()) {
        if (!at->is_string()) return bad("artifactType is not a string");
        m.artifact_type = at->get<std::string>();
    }
    if (auto sub = j.find("subject"); sub != j.end()) {
        auto d = descriptor(*sub, why);
        if (!d) return bad("subject: " + why);
        m.subject = std::move(*d);
    }
    if (m.is_index) {
        auto list = j.find("manifests");
        if (list == j.end() || !list->is_array()) return bad("an index needs a manifests array");
        for (const auto& e : *list) {
            auto d = descriptor(e, why);
            if (!d) return bad("manifests: " + why);
            m.manifests.push_back(std::move(*d));
        }
        return m;
    }
    auto config = j.find("config");
    if (config == j.end()) return bad("a manifest needs a config descriptor");
    auto c = descriptor(*config, why);
    if (!c) return bad("config: " + why);
    m.config = std::move(*c);
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array()) return bad("a manifest needs a layers array");
    for (const auto& e : *layers) {
        auto d = descriptor(e, why);
        if (!d) return bad("layers: " + why);
        m.layers.push_back(std::move(*d));
    }
    return m;
}

}  // namespace lamina::oci
