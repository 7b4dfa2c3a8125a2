#pragma once
// Container images as execution environments see them: an image's layers
// (tar, tar+gzip) applied in order into one root file system per manifest
// digest, unpacked once and shared by every environment of that image, and
// the parts of its config blob a run needs (architecture, Env, Entrypoint,
// Cmd, WorkingDir).
//
// The unpacker takes the same care as zip extraction: no entry lands outside
// the root (absolute names, "..", writing through a symlinked parent),
// symlinks whose relative target climbs above the root and hard links to
// anything but a regular file inside the root are refused, device nodes and
// fifos are dropped, setuid/setgid bits cleared. OCI whiteouts (".wh.<name>")
// and opaque directories (".wh..wh..opq") hide lower layers' content. Every
// layer's bytes are counted against its descriptor's size and hashed against
// its digest while they are read; the unpacked total is held to AWS's 10 GB.
// A root is written to a temporary folder and renamed into place only when
// complete: a crash never leaves half a root behind.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/oci/image_source.hpp"

namespace lamina::oci {

// AWS's limit on an image's uncompressed size: 10 GB (10 * 2^30 bytes).
inline constexpr std::int64_t kMaxImageUnpackedSize = 10LL * 1024 * 1024 * 1024;

// The image config fields a run uses (OCI image-spec config.md).
struct ImageRunConfig {
    std::string architecture;  // amd64 | arm64 | ...
    std::string os;
    std::vector<std::string> env;  // "KEY=value"
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
};

// nullopt when the bytes are not a JSON object; missing fields stay empty.
std::optional<ImageRunConfig> parse_image_config(std::string_view json);

// Lambda's architecture name for an image platform ("amd64" -> "x86_64",
// "arm64" -> "arm64"); the platform's own name for any other.
std::string lambda_architecture(const std::string& image_architecture);

// Whether Lambda accepts a layer of this media type.
bool is_layer_media_type(const std::string& media_type);
// Whether a manifest media type is an image manifest (not an index).
bool is_manifest_media_type(const std::string& media_type);

// Reads up to `n` bytes into `buf`; 0 at the end of the stream.
using Reader = std::function<Result<std::size_t>(char* buf, std::size_t n)>;

// The state of one root being unpacked.
struct UnpackState {
    std::int64_t limit = kMaxImageUnpackedSize;
    std::int64_t unpacked = 0;  // file bytes written so far, all layers
    // directory modes applied once every layer is in (a read-only directory
    // must stay writable while later layers add to it)
    std::map<std::string, unsigned> dir_modes;
};

// Applies one uncompressed tar stream to `root`. Errors name the entry and
// the rule it breaks (ErrorCode::InvalidParameterValue); `root` may then hold
// part of the layer: callers discard it.
Status apply_tar(const std::filesystem::path& root, const Reader& tar, UnpackState& state);

// Applies the layer blob at `blob` (of descriptor `layer`) to `root`: its
// size and digest checked while reading, gzip undone for +gzip media types.
Status apply_layer(const std::filesystem::path& root, const std::filesystem::path& blob,
                   const Descriptor& layer, UnpackState& state);

// Sets the directory modes recorded while unpacking and makes the paths the
// sandbox mounts over (/proc, /dev, /tmp, /etc/hosts, /etc/resolv.conf,
// /etc/passwd, /etc/group) plain directories and files of the root.
Status finish_root(const std::filesystem::path& root, UnpackState& state);

// Unpacked images under `dir` (the data dir's images/): <hex>/rootfs and
// <hex>/config.json, one per manifest digest.
class ImageRoots {
public:
    explicit ImageRoots(std::filesystem::path dir, std::int64_t limit = kMaxImageUnpackedSize);

    struct Root {
        std::filesystem::path rootfs;
        ImageRunConfig config;
    };
    // The image's root, unpacked from `source`'s blobs if it is not there yet
    // (one unpack at a time; later callers of the same digest wait and share it).
    Result<Root> ensure(const ResolvedImage& image, const ImageSource& source);
    // The root of `manifest_digest` if it is unpacked already.
    std::optional<Root> find(const std::string& manifest_digest) const;
    // Removes leftovers of unpacks a crash interrupted.
    void clean_temporaries() const;

private:
    std::filesystem::path dir_;
    std::int64_t limit_;
    std::mutex mu_;
};

}  // namespace lamina::oci
