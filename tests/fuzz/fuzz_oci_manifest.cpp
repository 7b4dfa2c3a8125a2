// OCI/Docker manifests and indexes (src/oci/manifest.cpp): parse_manifest
// over arbitrary bytes with each Content-Type a client may send, and the
// name/tag/digest checks over the same bytes.
//
// Input: the first line is the Content-Type, the rest the manifest bytes.
// Checked beyond the sanitizers: an accepted manifest has one of the four
// stored media types, a manifest has no children and an index no layers,
// every descriptor's digest passes is_digest and its size is >= 0, and
// parsing is deterministic.

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_request.hpp"
#include "lamina/oci/manifest.hpp"

namespace {

using namespace lamina::oci;
using lamina::fuzz::finding;

void check_descriptor(const Descriptor& d) {
    if (!is_digest(d.digest)) finding("accepted descriptor with a bad digest", d.digest);
    if (d.size < 0) finding("accepted descriptor with a negative size", d.digest);
    if (d.media_type.empty()) finding("accepted descriptor without a media type", d.digest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nl = in.find('\n');
    std::string_view content_type =
        nl == std::string_view::npos ? std::string_view() : in.substr(0, nl);
    std::string_view bytes = nl == std::string_view::npos ? in : in.substr(nl + 1);
    auto m = parse_manifest(bytes, content_type);
    auto again = parse_manifest(bytes, content_type);
    if (m.has_value() != again.has_value()) finding("parse_manifest is not deterministic", in);
    if (m) {
        if (!is_manifest_media_type(m->media_type))
            finding("accepted an unsupported media type", in);
        if (m->is_index != is_index_media_type(m->media_type)) finding("is_index disagrees", in);
        if (m->is_index && (!m->layers.empty() || !m->config.digest.empty()))
            finding("an index with layers or a config", in);
        if (!m->is_index && !m->manifests.empty()) finding("a manifest with children", in);
        for (const auto& d : m->layers) check_descriptor(d);
        for (const auto& d : m->manifests) check_descriptor(d);
        if (!m->is_index) check_descriptor(m->config);
        if (m->subject) check_descriptor(*m->subject);
    }
    // the name checks never crash and agree with their own definitions
    std::string s(bytes.substr(0, 300));
    if (is_tag(s) && (s.empty() || s.size() > 128)) finding("is_tag accepted a bad length", in);
    if (is_repository_name(s) && (s.size() < 2 || s.find("//") != std::string::npos))
        finding("is_repository_name accepted a bad name", in);
    if (is_digest(s) && digest_of("").size() != s.size()) finding("is_digest length", in);
    return 0;
}
