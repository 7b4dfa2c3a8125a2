#include "lamina/store/layer_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakes/temp_dir.hpp"
#include "fakes/zip_builder.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/zip_archive.hpp"

namespace fs = std::filesystem;
namespace store = lamina::store;
using lamina::ErrorCode;
using lamina::Result;

namespace {

using lamina::fakes::dir;
using lamina::fakes::Entry;
using lamina::fakes::file;
using lamina::fakes::make_zip;
using lamina::fakes::sym;

std::string hex_of(const std::string& bytes) { return lamina::to_hex(lamina::sha256(bytes)); }

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) ADD_FAILURE() << "lstat " << p << " failed";
    return st;
}

std::vector<std::string> names_in(const fs::path& d) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) out.push_back(e.path().filename().string());
    return out;
}

template <typename T>
std::string err(const Result<T>& r) {
    return r ? std::string("(no error)") : r.error().message;
}

constexpr std::int64_t kBigLimit = 262144000;

}  // namespace

// Suite named after the class under test; the class itself is store::LayerCache.
class LayerCache : public ::testing::Test {
protected:
    void SetUp() override { open(kBigLimit); }

    void open(std::int64_t limit) {
        blobs_ = std::make_unique<store::BlobStore>(dir_.path() / "blobs");
        ASSERT_TRUE(blobs_->init().has_value());
        cache_ = std::make_unique<store::LayerCache>(dir_.path(), *blobs_, limit);
        auto st = cache_->init();
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }

    // Stores the zip as a blob (as PublishLayerVersion does) and returns its hex name.
    std::string put(const std::string& zip) {
        std::string hex = hex_of(zip);
        EXPECT_TRUE(blobs_->put(hex, zip).has_value());
        return hex;
    }

    // A layer: stored and extracted.
    std::string layer(const std::vector<Entry>& entries) {
        std::string zip = make_zip(entries);
        std::string hex = put(zip);
        auto r = cache_->extract(hex, zip);
        EXPECT_TRUE(r.has_value()) << err(r);
        return hex;
    }

    fs::path assemble(const std::vector<std::string>& hexes) {
        auto r = cache_->assemble(hexes);
        EXPECT_TRUE(r.has_value()) << err(r);
        return r.value_or(fs::path());
    }

    // The zip is refused as not safe to unzip and nothing is left under extracted/.
    void expect_refused(const std::vector<Entry>& entries, const std::string& why) {
        SCOPED_TRACE(why);
        std::string zip = make_zip(entries);
        auto r = cache_->extract(hex_of(zip), zip);
        EXPECT_FALSE(r.has_value());
        if (!r) {
            EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
            EXPECT_EQ(r.error().message.rfind(store::kUnzipErrorMessage, 0), 0u)
                << r.error().message;
        }
        // no tree, no ".tmp-*", and nothing written outside
        EXPECT_TRUE(names_in(cache_->extracted_dir()).empty());
        EXPECT_FALSE(fs::exists(dir_.path() / "evil"));
        EXPECT_FALSE(fs::exists(cache_->extracted_dir() / "evil"));
    }

    lamina::fakes::TempDir dir_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<store::LayerCache> cache_;
};

// ---- assembling the /opt view -------------------------------------------------------

TEST_F(LayerCache, LaterLayersWinOnTheSamePath) {
    auto a = layer({file("all.txt", "from a"), file("ab.txt", "from a"), file("a_only.txt", "a"),
                    file("python/mod.py", "a-mod")});
    auto b = layer({file("all.txt", "from b"), file("ab.txt", "from b"), file("b_only.txt", "b")});
    auto c =
        layer({file("all.txt", "from c"), file("c_only.txt", "c"), file("python/mod.py", "c-mod")});

    fs::path opt = assemble({a, b, c});
    EXPECT_EQ(slurp(opt / "all.txt"), "from c");
    EXPECT_EQ(slurp(opt / "ab.txt"), "from b");
    EXPECT_EQ(slurp(opt / "a_only.txt"), "a");
    EXPECT_EQ(slurp(opt / "b_only.txt"), "b");
    EXPECT_EQ(slurp(opt / "c_only.txt"), "c");
    EXPECT_EQ(slurp(opt / "python/mod.py"), "c-mod");
    // the extracted trees themselves are untouched
    EXPECT_EQ(slurp(cache_->extracted_dir() / a / "all.txt"), "from a");
}

TEST_F(LayerCache, LayerOrderMatters) {
    auto a = layer({file("same.txt", "from a"), file("a.txt", "a")});
    auto c = layer({file("same.txt", "from c"), file("c.txt", "c")});

    fs::path ac = assemble({a, c});
    fs::path ca = assemble({c, a});
    EXPECT_NE(ac, ca);
    EXPECT_EQ(slurp(ac / "same.txt"), "from c");
    EXPECT_EQ(slurp(ca / "same.txt"), "from a");
    // both views hold every file
    for (const auto& v : {ac, ca}) {
        EXPECT_TRUE(fs::is_regular_file(v / "a.txt"));
        EXPECT_TRUE(fs::is_regular_file(v / "c.txt"));
    }
}

TEST_F(LayerCache, FileReplacesDirectoryAndDirectoryReplacesFile) {
    auto with_dir = layer({dir("x/"), file("x/inner.txt", "inner"), file("keep.txt", "k")});
    auto with_file = layer({file("x", "x is a file")});

    fs::path dir_then_file = assemble({with_dir, with_file});
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir_then_file / "x")));
    EXPECT_EQ(slurp(dir_then_file / "x"), "x is a file");
    EXPECT_TRUE(fs::is_regular_file(dir_then_file / "keep.txt"));

    fs::path file_then_dir = assemble({with_file, with_dir});
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(file_then_dir / "x")));
    EXPECT_EQ(slurp(file_then_dir / "x/inner.txt"), "inner");

    // replacing in a view never touches the extracted trees
    EXPECT_EQ(slurp(cache_->extracted_dir() / with_dir / "x/inner.txt"), "inner");
    EXPECT_EQ(slurp(cache_->extracted_dir() / with_file / "x"), "x is a file");
}

TEST_F(LayerCache, ViewFilesAreHardLinksNotCopies) {
    auto a = layer({file("python/lib/big.bin", std::string(100000, 'q'))});
    auto b = layer({file("bin/tool", "#!/bin/sh\n", 0755)});
    fs::path opt = assemble({a, b});

    for (const auto& [hex, rel] : {std::pair{a, "python/lib/big.bin"}, std::pair{b, "bin/tool"}}) {
        SCOPED_TRACE(rel);
        struct stat in_view = lstat_of(opt / rel);
        struct stat in_tree = lstat_of(cache_->extracted_dir() / hex / rel);
        EXPECT_EQ(in_view.st_ino, in_tree.st_ino);
        EXPECT_EQ(in_view.st_dev, in_tree.st_dev);
        EXPECT_GE(in_view.st_nlink, 2u);
    }
}

TEST_F(LayerCache, SameListIsAssembledOnce) {
    auto a = layer({file("a.txt", "a")});
    auto b = layer({file("b.txt", "b")});
    fs::path first = assemble({a, b});
    struct stat before = lstat_of(first);
    // something only the first build has: a rebuild would not keep it
    std::ofstream(first / "sentinel") << "x";

    fs::path second = assemble({a, b});
    EXPECT_EQ(second, first);
    struct stat after = lstat_of(second);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_TRUE(fs::exists(second / "sentinel"));
    // one view per distinct list
    EXPECT_EQ(names_in(cache_->opt_dir()).size(), 1u);
}

TEST_F(LayerCache, EmptyListGivesAnExistingEmptyDirectory) {
    fs::path opt = assemble({});
    ASSERT_FALSE(opt.empty());
    EXPECT_TRUE(fs::is_directory(opt));
    EXPECT_TRUE(fs::is_empty(opt));
    EXPECT_EQ(assemble({}), opt);
}

TEST_F(LayerCache, AssembleExtractsStoredBlobsThatWereNeverExtracted) {
    std::string zip = make_zip({file("only-in-blob.txt", "stored")});
    std::string hex = put(zip);
    EXPECT_FALSE(fs::exists(cache_->extracted_dir() / hex));
    fs::path opt = assemble({hex});
    EXPECT_EQ(slurp(opt / "only-in-blob.txt"), "stored");
    EXPECT_TRUE(fs::is_directory(cache_->extracted_dir() / hex));
}

TEST_F(LayerCache, AssembleWithUnknownBlobFailsAndLeavesNoView) {
    auto a = layer({file("a.txt", "a")});
    auto r = cache_->assemble({a, std::string(64, 'f')});
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(names_in(cache_->opt_dir()).empty());
}

// ---- file modes ---------------------------------------------------------------------

TEST_F(LayerCache, UnixModesAreKeptWithoutSpecialBits) {
    auto hex =
        layer({file("bin/tool", "#!/bin/sh\necho hi\n", 0755), file("data.txt", "plain", 0644),
               file("bin/suid", "#!/bin/sh\n", S_ISUID | S_ISGID | S_ISVTX | 0755),
               dir("locked/", 0644), file("locked/inside.txt", "reachable")});
    fs::path tree = cache_->extracted_dir() / hex;
    fs::path opt = assemble({hex});

    for (const auto& root : {tree, opt}) {
        SCOPED_TRACE(root.string());
        EXPECT_EQ(lstat_of(root / "bin/tool").st_mode & 07777, 0755u);
        EXPECT_EQ(::access((root / "bin/tool").c_str(), X_OK), 0);
        EXPECT_EQ(lstat_of(root / "data.txt").st_mode & 07777, 0644u);
        EXPECT_NE(::access((root / "data.txt").c_str(), X_OK), 0);
        EXPECT_EQ(lstat_of(root / "bin/suid").st_mode & 07777, 0755u);
        // a directory stays walkable whatever mode the zip gave it
        EXPECT_TRUE(lstat_of(root / "locked").st_mode & S_IXUSR);
        EXPECT_EQ(slurp(root / "locked/inside.txt"), "reachable");
    }
}

// ---- symlinks -----------------------------------------------------------------------

TEST_F(LayerCache, ContainedSymlinkIsKeptInTreeAndView) {
    auto hex = layer({file("lib/libx.so.1", "ELF..."), sym("lib/libx.so", "libx.so.1"),
                      sym("python/shared", "../lib")});
    fs::path opt = assemble({hex});
    for (const auto& root : {cache_->extracted_dir() / hex, opt}) {
        SCOPED_TRACE(root.string());
        EXPECT_TRUE(fs::is_symlink(root / "lib/libx.so"));
        EXPECT_EQ(fs::read_symlink(root / "lib/libx.so"), "libx.so.1");
        EXPECT_EQ(slurp(root / "lib/libx.so"), "ELF...");
        EXPECT_TRUE(fs::is_symlink(root / "python/shared"));
        EXPECT_EQ(fs::read_symlink(root / "python/shared"), "../lib");
        EXPECT_EQ(slurp(root / "python/shared/libx.so.1"), "ELF...");
    }
}

TEST_F(LayerCache, UnsafeEntriesAreRefusedAndLeaveNothingBehind) {
    expect_refused({file("ok.txt", "x"), sym("lib/evil", "../../evil")},
                   "symlink pointing outside");
    expect_refused({sym("abs", "/etc/passwd")}, "absolute symlink");
    expect_refused({file("ok.txt", "x"), file("../evil", "x")}, "../ entry");
    expect_refused({file("a/../../evil", "x")}, "a/../../ entry");
    expect_refused({file("/tmp/evil", "x")}, "absolute entry");
    expect_refused({dir("sub/"), sym("s", "sub"), file("s/evil", "x")}, "entry under a symlink");
    expect_refused({sym("s", "."), file("s/../evil", "x")}, "entry under a symlink, then ..");
    expect_refused({file("bin" + std::string(300, 'F') + "/run", "x")},
                   "a name part longer than NAME_MAX");
    EXPECT_TRUE(names_in(cache_->opt_dir()).empty());
}

// A "./" (or "x/./") spelling must not hide a link among an entry's prefixes:
// "s" -> "." then "./s/../evil" is lexically "evil", but extraction would
// resolve <tree>/./s -> <tree> and "../evil" would land outside the tree.
TEST_F(LayerCache, EntryUnderSymlinkSpelledWithDotIsRefused) {
    expect_refused({sym("s", "."), file("./s/../evil", "x")}, "./s/../evil");
}

// Each link is contained on its own, but "a" resolves through "x/b" (-> "..",
// the tree root) and then climbs one more level: a symlink that points outside.
TEST_F(LayerCache, SymlinkChainPointingOutsideIsRefused) {
    expect_refused({dir("x/"), sym("x/b", ".."), sym("a", "x/b/..")}, "symlink chain");
}

// ---- size limit ---------------------------------------------------------------------

TEST_F(LayerCache, RealUnzippedSizeOverLimitIsRefusedWhileExtracting) {
    open(1 << 20);
    Entry zeros = file("zeros.bin", std::string(2 << 20, '\0'));
    zeros.deflate = true;
    std::string zip = make_zip({file("small.txt", "s"), zeros});
    ASSERT_LT(zip.size(), 1u << 20);  // compressed it is under the limit: only unzipping tells
    auto r = cache_->extract(hex_of(zip), zip);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message, "Unzipped size must be smaller than 262144000 bytes");
    EXPECT_TRUE(names_in(cache_->extracted_dir()).empty());
}

TEST_F(LayerCache, SizeLimitCountsAllFilesTogether) {
    open(1 << 20);
    Entry half = file("one.bin", std::string(600 << 10, 'a'));
    half.deflate = true;
    Entry other = half;
    other.name = "two.bin";

    auto under = layer({half});  // one file alone fits
    EXPECT_EQ(fs::file_size(cache_->extracted_dir() / under / "one.bin"), 600u << 10);

    std::string zip = make_zip({half, other});
    auto r = cache_->extract(hex_of(zip), zip);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "Unzipped size must be smaller than 262144000 bytes");
    EXPECT_EQ(names_in(cache_->extracted_dir()), std::vector<std::string>{under});
}

// ---- lifecycle ----------------------------------------------------------------------

TEST_F(LayerCache, EnsureExtractedRebuildsADeletedTreeFromTheBlob) {
    auto hex = layer({file("a.txt", "contents"), file("bin/x", "x", 0755)});
    fs::path tree = cache_->extracted_dir() / hex;
    fs::remove_all(tree);
    ASSERT_FALSE(fs::exists(tree));

    auto r = cache_->ensure_extracted(hex);
    ASSERT_TRUE(r.has_value()) << err(r);
    EXPECT_EQ(*r, tree);
    EXPECT_EQ(slurp(tree / "a.txt"), "contents");
    EXPECT_EQ(lstat_of(tree / "bin/x").st_mode & 0777, 0755u);
}

TEST_F(LayerCache, EnsureExtractedWithoutBlobFails) {
    auto r = cache_->ensure_extracted(std::string(64, 'a'));
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(names_in(cache_->extracted_dir()).empty());
}

TEST_F(LayerCache, ExtractingTwiceKeepsTheFirstTree) {
    std::string zip = make_zip({file("a.txt", "a")});
    std::string hex = put(zip);
    auto first = cache_->extract(hex, zip);
    ASSERT_TRUE(first.has_value()) << err(first);
    struct stat before = lstat_of(*first / "a.txt");
    auto second = cache_->extract(hex, zip);
    ASSERT_TRUE(second.has_value()) << err(second);
    EXPECT_EQ(*second, *first);
    EXPECT_EQ(lstat_of(*second / "a.txt").st_ino, before.st_ino);
}

TEST_F(LayerCache, InitRemovesHalfMadeTreesOnly) {
    auto hex = layer({file("a.txt", "a")});
    fs::path view = assemble({hex});
    fs::create_directories(cache_->extracted_dir() / ".tmp-abc-0123" / "sub");
    std::ofstream(cache_->extracted_dir() / ".tmp-abc-0123" / "sub" / "f") << "partial";
    fs::create_directories(cache_->opt_dir() / ".tmp-def-4567");

    cache_ = std::make_unique<store::LayerCache>(dir_.path(), *blobs_, kBigLimit);
    ASSERT_TRUE(cache_->init().has_value());
    EXPECT_EQ(names_in(cache_->extracted_dir()), std::vector<std::string>{hex});
    EXPECT_EQ(names_in(cache_->opt_dir()), std::vector<std::string>{view.filename().string()});
    EXPECT_EQ(slurp(cache_->extracted_dir() / hex / "a.txt"), "a");
}

TEST_F(LayerCache, CollectGarbageKeepsOnlyListedTreesAndDropsEveryView) {
    auto a = layer({file("a.txt", "a")});
    auto b = layer({file("b.txt", "b")});
    assemble({a});
    assemble({a, b});
    assemble({});

    cache_->collect_garbage({a});
    EXPECT_EQ(names_in(cache_->extracted_dir()), std::vector<std::string>{a});
    EXPECT_TRUE(names_in(cache_->opt_dir()).empty());
    // b's blob is still stored, so a later assemble rebuilds what it needs
    fs::path opt = assemble({a, b});
    EXPECT_EQ(slurp(opt / "b.txt"), "b");
}

// A zip that names the same path twice is ambiguous (which file is the
// layer's?): lamina refuses it as inconsistent, like any other malformed zip,
// and extracts nothing.
TEST_F(LayerCache, DuplicateEntryNamesAreRefused) {
    // two entries of the same name length, then renamed in the bytes
    std::string zip = make_zip({file("dupA.txt", "first"), file("dupB.txt", "second")});
    for (std::size_t pos; (pos = zip.find("dupB.txt")) != std::string::npos;)
        zip.replace(pos, 8, "dupA.txt");
    auto r = cache_->extract(hex_of(zip), zip);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message.rfind("Could not unzip uploaded file.", 0), 0u)
        << r.error().message;
    EXPECT_TRUE(names_in(cache_->extracted_dir()).empty());
}

// Found by tests/fuzz (fuzz_zip): a symlink named "a/.." lands on a folder
// that exists; symlink(2) failed with EEXIST and the layer failed with a
// ServiceException instead of the unzip error.
TEST_F(LayerCache, LinkNamedLikeAFolderIsRefusedAsAnUnzipError) {
    expect_refused({file("a/x", "x"), sym("a/..", "a/x")}, "link a/..");
    expect_refused({file("a/b/x", "x"), sym("a/b/..", "b/x")}, "link a/b/..");
}

// Found by tests/fuzz (fuzz_zip): a folder entry at the path of a link to
// itself made mkdir fail with ELOOP, reported as a ServiceException.
TEST_F(LayerCache, FolderWhereASelfLinkIsIsRefusedAsAnUnzipError) {
    expect_refused({sym("x", "x"), dir("x/")}, "folder over link x -> x");
}
