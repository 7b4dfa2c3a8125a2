#include "lamina/store/blob_store.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"

using namespace lamina;
using namespace lamina::store;
namespace fs = std::filesystem;

namespace {

std::string hex_of(std::string_view bytes) { return to_hex(sha256(bytes)); }

std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST(BlobStore, PutThenReadRoundTrips) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path() / "blobs");
    ASSERT_TRUE(blobs.init().has_value());
    std::string bytes("PK\x03\x04 binary \0 content", 21);
    const auto hex = hex_of(bytes);
    EXPECT_FALSE(blobs.exists(hex));
    ASSERT_TRUE(blobs.put(hex, bytes).has_value());
    EXPECT_TRUE(blobs.exists(hex));
    EXPECT_EQ(blobs.path(hex), dir.path() / "blobs" / hex);
    auto back = blobs.read(hex);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, bytes);
    // Nothing but the blob itself is left in the directory (no temp files).
    EXPECT_EQ(files_in(dir.path() / "blobs"), 1u);
}

// --ephemeral's store skips the fsyncs and nothing else: the blob is in
// place under its name, whole, with no temp file left behind.
TEST(BlobStore, TemporaryStorePutsWholeBlobsInPlace) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path() / "blobs", Durability::Temporary);
    ASSERT_TRUE(blobs.init().has_value());
    std::string bytes(3 * 1024 * 1024 + 7, 'z');
    const auto hex = hex_of(bytes);
    ASSERT_TRUE(blobs.put(hex, bytes).has_value());
    ASSERT_TRUE(blobs.put(hex, bytes).has_value());  // idempotent here too
    EXPECT_EQ(blobs.read(hex).value(), bytes);
    EXPECT_EQ(files_in(dir.path() / "blobs"), 1u);
}

TEST(BlobStore, PutIsIdempotent) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path());
    ASSERT_TRUE(blobs.init().has_value());
    const std::string bytes = "same bytes";
    const auto hex = hex_of(bytes);
    ASSERT_TRUE(blobs.put(hex, bytes).has_value());
    ASSERT_TRUE(blobs.put(hex, bytes).has_value());
    EXPECT_EQ(files_in(dir.path()), 1u);
    EXPECT_EQ(blobs.read(hex).value(), bytes);
}

TEST(BlobStore, EmptyBlobIsStored) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path());
    ASSERT_TRUE(blobs.init().has_value());
    const auto hex = hex_of("");
    ASSERT_TRUE(blobs.put(hex, "").has_value());
    EXPECT_TRUE(blobs.exists(hex));
    EXPECT_EQ(blobs.read(hex).value(), "");
}

TEST(BlobStore, ReadOfMissingOrBadNameFails) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path());
    ASSERT_TRUE(blobs.init().has_value());
    auto missing = blobs.read(hex_of("never stored"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::ResourceNotFound);
    // Names that are not 64 lowercase hex digits never reach the file system.
    for (std::string bad : {std::string(), std::string("../etc/passwd"), std::string(64, 'G'),
                            std::string(63, 'a'), std::string(64, 'A')}) {
        EXPECT_FALSE(blobs.read(bad).has_value()) << bad;
        auto put = blobs.put(bad, "x");
        EXPECT_FALSE(put.has_value()) << bad;
    }
    EXPECT_EQ(files_in(dir.path()), 0u);
}

TEST(BlobStore, InitCreatesNestedDirectories) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path() / "a" / "b" / "c");
    ASSERT_TRUE(blobs.init().has_value());
    EXPECT_TRUE(fs::is_directory(dir.path() / "a" / "b" / "c"));
    ASSERT_TRUE(blobs.init().has_value());  // again: fine
}

TEST(BlobStore, GarbageCollectionKeepsReferencedBlobs) {
    fakes::TempDir dir;
    BlobStore blobs(dir.path());
    ASSERT_TRUE(blobs.init().has_value());
    const auto keep1 = hex_of("keep one"), keep2 = hex_of("keep two"), drop = hex_of("drop me");
    ASSERT_TRUE(blobs.put(keep1, "keep one").has_value());
    ASSERT_TRUE(blobs.put(keep2, "keep two").has_value());
    ASSERT_TRUE(blobs.put(drop, "drop me").has_value());
    std::ofstream(dir.path() / (".tmp-" + drop + "-deadbeef")) << "half written";
    std::ofstream(dir.path() / "notes.txt") << "not ours";

    EXPECT_EQ(blobs.collect_garbage({keep1, keep2, hex_of("not stored at all")}), 2u);
    EXPECT_TRUE(blobs.exists(keep1));
    EXPECT_TRUE(blobs.exists(keep2));
    EXPECT_FALSE(blobs.exists(drop));
    EXPECT_FALSE(fs::exists(dir.path() / (".tmp-" + drop + "-deadbeef")));
    EXPECT_TRUE(fs::exists(dir.path() / "notes.txt"));
    EXPECT_EQ(blobs.read(keep2).value(), "keep two");

    EXPECT_EQ(blobs.collect_garbage({keep1, keep2}), 0u);
    EXPECT_EQ(blobs.collect_garbage({}), 2u);
    EXPECT_FALSE(blobs.exists(keep1));
}
