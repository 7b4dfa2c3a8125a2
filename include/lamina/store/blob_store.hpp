#pragma once
// Content-addressed blobs (code and layer zips) under <dir>/<sha256 hex>.
// Each blob is written to a temp file, fsynced, renamed into place and the
// directory fsynced, so a blob that exists is always whole. A Temporary
// store (--ephemeral: the directory goes with the server) skips both fsyncs:
// the rename alone keeps a blob whole for anyone but a power cut.

#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "lamina/common/error.hpp"
#include "lamina/store/durability.hpp"

namespace lamina::store {

class BlobStore {
public:
    explicit BlobStore(std::filesystem::path dir, Durability durability = Durability::Crash);

    Status init();
    // Stores bytes under their hex SHA-256 (given, already computed). Idempotent.
    Status put(const std::string& hex, std::string_view bytes);
    // Moves a file of the same file system (already verified to hash to hex)
    // into place; with `sync`, fsyncs it and the directory first. The file
    // is gone afterwards either way. Idempotent.
    Status put_file(const std::string& hex, const std::filesystem::path& file, bool sync);
    bool exists(const std::string& hex) const;
    Result<std::string> read(const std::string& hex) const;
    std::filesystem::path path(const std::string& hex) const;
    // Removes every blob not in keep and every leftover temp file; returns how many.
    std::size_t collect_garbage(const std::set<std::string>& keep);

private:
    std::filesystem::path dir_;
    Durability durability_;
};

}  // namespace lamina::store
