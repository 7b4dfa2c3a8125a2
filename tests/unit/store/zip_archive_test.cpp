#include "lamina/store/zip_archive.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fakes/zip_builder.hpp"

using namespace lamina;
using namespace lamina::store;

namespace {

using fakes::Entry;
using fakes::make_zip;

constexpr mode_t kDir = S_IFDIR | 0755;
constexpr mode_t kLink = S_IFLNK | 0777;

void expect_unzip_error(const Result<ZipSummary>& r, const std::string& detail) {
    ASSERT_FALSE(r.has_value()) << "expected: " << detail;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
    EXPECT_EQ(r.error().message.rfind(kUnzipErrorMessage, 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(detail), std::string::npos) << r.error().message;
}

}  // namespace

TEST(ZipArchive, AwsMessageIsVerbatim) {
    EXPECT_STREQ(
        kUnzipErrorMessage,
        "Could not unzip uploaded file. Please check your file, then try to upload again.");
}

TEST(ZipArchive, GoodZipReportsEntriesAndUnzippedSize) {
    const std::string big(100000, 'x');  // compresses well: unzipped size must be the real size
    const std::string code = "def handler(e, c):\n    return e\n";
    auto zip = make_zip({{"index.py", code},
                         {"lib/", "", kDir},
                         {"lib/big.txt", big, S_IFREG | 0644, true},
                         {"lib/empty", ""}});
    EXPECT_LT(zip.size(), big.size());
    auto r = inspect_zip(zip);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->entries, 4);
    EXPECT_EQ(r->unzipped_size, static_cast<std::int64_t>(code.size() + big.size()));
}

TEST(ZipArchive, NotAZipIsRefusedWithAwsMessageExactly) {
    auto expect_exact = [](const Result<ZipSummary>& r) {
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(r.error().message, kUnzipErrorMessage);
    };
    expect_exact(inspect_zip(""));
    expect_exact(inspect_zip("PK"));
    expect_exact(inspect_zip(std::string(1000, 'z')));
    expect_exact(inspect_zip("#!/bin/sh\necho this is a shell script, not an archive\n"));

    // A real archive cut short (central directory missing) is not a zip either.
    auto zip = make_zip({{"index.py", std::string(5000, 'a')}, {"b.py", "b"}});
    expect_exact(inspect_zip(std::string_view(zip).substr(0, zip.size() / 2)));
    // A corrupt central directory is caught too.
    std::string corrupt = zip;
    corrupt[corrupt.size() - 22 + 10] = '\x7f';  // EOCD: total number of entries
    expect_exact(inspect_zip(corrupt));
}

TEST(ZipArchive, DotDotEntryIsRefused) {
    auto r = inspect_zip(make_zip({{"ok.py", "x"}, {"../evil", "x"}}));
    expect_unzip_error(r, "entry '../evil' would be extracted outside its folder");
    expect_unzip_error(inspect_zip(make_zip({{"a/../../evil", "x"}})), "a/../../evil");
    EXPECT_TRUE(inspect_zip(make_zip({{"a/../fine", "x"}})).has_value());
}

// Found by fuzz_zip in CI: a folder name of 300 bytes passed inspection and
// failed at extraction with ENAMETOOLONG, answered as lamina's own failure.
TEST(ZipArchive, NamesTheFileSystemCannotHoldAreRefused) {
    const std::string part255(255, 'a');
    EXPECT_TRUE(inspect_zip(make_zip({{"lib/" + part255 + "/x.py", "x"}})).has_value());
    const std::string part256(256, 'b');
    auto r = inspect_zip(make_zip({{"lib/" + part256 + "/x.py", "x"}}));
    expect_unzip_error(r, "a part of its name is longer than 255 bytes");
    // the message shows the start of the name, not all of it
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("entry 'lib/bbbb"), std::string::npos) << r.error().message;
    EXPECT_LT(r.error().message.size(), 400u) << r.error().message;

    std::string deep;  // 16 levels of 200 bytes: every part fits, the whole does not
    for (int i = 0; i < 16; ++i) deep += std::string(200, static_cast<char>('c' + i)) + "/";
    expect_unzip_error(inspect_zip(make_zip({{deep + "x.py", "x"}})),
                       "its name is longer than 3072 bytes");
}

TEST(ZipArchive, AbsoluteEntryIsRefused) {
    expect_unzip_error(inspect_zip(make_zip({{"/etc/passwd", "x"}})),
                       "entry '/etc/passwd' would be extracted outside its folder");
}

TEST(ZipArchive, SymlinkPointingOutsideIsRefused) {
    expect_unzip_error(
        inspect_zip(make_zip({{"index.py", "x"}, {"link", "../../etc/passwd", kLink}})),
        "symlink 'link' points outside its folder");
    expect_unzip_error(inspect_zip(make_zip({{"link", "/etc/passwd", kLink}})),
                       "symlink 'link' points outside its folder");
    expect_unzip_error(inspect_zip(make_zip({{"lib/link", "../..", kLink}})),
                       "symlink 'lib/link' points outside its folder");
}

TEST(ZipArchive, SymlinkInsideIsAllowed) {
    auto r = inspect_zip(make_zip({{"lib/", "", kDir},
                                   {"lib/real.py", "x"},
                                   {"lib/link.py", "real.py", kLink},
                                   {"lib/up", "../index.py", kLink},
                                   {"index.py", "y"}}));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->entries, 5);
}

TEST(ZipArchive, FileWithSymlinkLookingContentIsJustAFile) {
    // Without the S_IFLNK mode bits the content is data, not a link target.
    auto r = inspect_zip(make_zip({{"notes.txt", "../../../etc/passwd"}}));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->unzipped_size, 19);
}

// Lexical checks alone would accept an entry that walks through an
// in-archive symlink: "s" -> "." is contained and "s/../evil" is lexically
// "evil", but an extraction that follows the link writes <root>/../evil.
// Any entry under a symlink is refused.
TEST(ZipArchive, EntryThroughSymlinkThenDotDotIsRefused) {
    auto r = inspect_zip(make_zip({{"s", ".", kLink}, {"s/../evil", "x"}}));
    EXPECT_FALSE(r.has_value());
}

TEST(ZipArchive, EntryPathContainment) {
    struct Case {
        std::string_view path;
        bool contained;
    };
    const Case cases[] = {
        {"a", true},
        {"a/b/c.py", true},
        {"a/", true},
        {"./a", true},
        {"a/./b", true},
        {"a/../b", true},
        {"a/b/../../c", true},
        {"a//b", true},
        {".", true},
        {"a/..", true},
        {"..a/b", true},  // a name that starts with dots is just a name
        {"a/..b", true},
        {"", false},
        {"/a", false},
        {"/", false},
        {"..", false},
        {"../a", false},
        {"a/../../b", false},
        {"a/b/../../../c", false},
        {"./../a", false},
        {"a\\b", false},
        {"\\a", false},
        {"..\\a", false},
        {"C:/windows", false},
        {"c:x", false},
        {std::string_view("a\0b", 3), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(entry_path_is_contained(c.path), c.contained)
            << "'" << std::string(c.path) << "'";
}

TEST(ZipArchive, SymlinkContainment) {
    struct Case {
        std::string_view link, target;
        bool contained;
    };
    const Case cases[] = {
        {"link", "target", true},
        {"link", "a/b/c", true},
        {"link", ".", true},
        {"link", "./x", true},
        {"a/link", "../x", true},
        {"a/link", "..", true},
        {"a/b/link", "../../x", true},
        {"a/link", "b/../../x", true},
        {"link", "..", false},
        {"link", "../x", false},
        {"a/link", "../../x", false},
        {"a/b/link", "../../../x", false},
        {"a/link", "b/../../../x", false},
        {"link", "/etc/passwd", false},
        {"a/link", "/", false},
        {"link", "", false},
        {"../link", "x", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(symlink_is_contained(c.link, c.target), c.contained)
            << "'" << std::string(c.link) << "' -> '" << std::string(c.target) << "'";
}

// Found by tests/fuzz (fuzz_zip): a symlink target with a NUL was checked as
// a whole ("..\0" is a name, one level down) but symlink(2) made it up to
// the NUL (".."): a link out of the extracted folder.
TEST(ZipArchive, SymlinkTargetWithANulIsRefused) {
    EXPECT_FALSE(symlink_is_contained("l", std::string("..\0", 3)));
    EXPECT_FALSE(symlink_is_contained("a/l", std::string("b\0/../..", 8)));
    auto r = inspect_zip(make_zip({fakes::sym("l", std::string("..\0", 3))}));
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("points outside its folder"), std::string::npos);
}

namespace lamina::store {
namespace {

TEST(ZipArchive, VerifyCatchesCorruptDataBehindIntactHeaders) {
    std::string zip = fakes::make_zip({{"handler.py", std::string(20000, 'x') + "y"}});
    ASSERT_TRUE(inspect_zip(zip, 1 << 20).has_value());
    // the first local header (30 bytes + name) is followed by the deflate data
    for (std::size_t i = 30 + 10; i < 30 + 10 + 8; ++i) zip[i] = '\xff';
    EXPECT_TRUE(inspect_zip(zip).has_value());  // the headers alone look fine
    auto r = inspect_zip(zip, 1 << 20);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, kUnzipErrorMessage);
}

TEST(ZipArchive, VerifyMeasuresTheRealSizeUpToTheLimit) {
    std::string zip =
        fakes::make_zip({{"a", std::string(300000, '\0')}, {"b", std::string(300000, '\0')}});
    auto r = inspect_zip(zip, 1000);
    ASSERT_TRUE(r);
    EXPECT_GT(r->unzipped_size, 1000);  // past the limit: the caller refuses it
    EXPECT_EQ(inspect_zip(zip, 1 << 30)->unzipped_size, 600000);
}

}  // namespace
}  // namespace lamina::store
