#include "lamina/store/zip_archive.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace lamina;
using namespace lamina::store;

namespace {

struct Entry {
    std::string name;
    std::string data;  // for a symlink: its target
    enum Kind { File, Dir, Symlink } kind = File;
};

// Builds a zip archive in memory with libzip.
std::string make_zip(const std::vector<Entry>& entries) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
    if (!src) throw std::runtime_error("zip_source_buffer_create");
    zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
    if (!za) throw std::runtime_error("zip_open_from_source");
    zip_source_keep(src);
    for (const auto& e : entries) {
        if (e.kind == Entry::Dir) {
            if (zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8) < 0)
                throw std::runtime_error(zip_strerror(za));
            continue;
        }
        zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
        zip_int64_t idx = zip_file_add(za, e.name.c_str(), data, ZIP_FL_ENC_UTF_8);
        if (idx < 0) {
            zip_source_free(data);
            throw std::runtime_error(std::string("zip_file_add ") + e.name + ": " +
                                     zip_strerror(za));
        }
        zip_uint32_t mode = e.kind == Entry::Symlink ? (S_IFLNK | 0777) : (S_IFREG | 0644);
        if (zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                             mode << 16) < 0)
            throw std::runtime_error("zip_file_set_external_attributes");
    }
    if (zip_close(za) < 0) throw std::runtime_error("zip_close");
    if (zip_source_open(src) < 0) throw std::runtime_error("zip_source_open");
    zip_source_seek(src, 0, SEEK_END);
    zip_int64_t size = zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    std::string out(static_cast<std::size_t>(size), '\0');
    zip_int64_t got = zip_source_read(src, out.data(), out.size());
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&err);
    if (got != size) throw std::runtime_error("zip_source_read");
    return out;
}

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
    auto zip = make_zip(
        {{"index.py", code}, {"lib/", "", Entry::Dir}, {"lib/big.txt", big}, {"lib/empty", ""}});
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

TEST(ZipArchive, AbsoluteEntryIsRefused) {
    expect_unzip_error(inspect_zip(make_zip({{"/etc/passwd", "x"}})),
                       "entry '/etc/passwd' would be extracted outside its folder");
}

TEST(ZipArchive, SymlinkPointingOutsideIsRefused) {
    expect_unzip_error(
        inspect_zip(make_zip({{"index.py", "x"}, {"link", "../../etc/passwd", Entry::Symlink}})),
        "symlink 'link' points outside its folder");
    expect_unzip_error(inspect_zip(make_zip({{"link", "/etc/passwd", Entry::Symlink}})),
                       "symlink 'link' points outside its folder");
    expect_unzip_error(inspect_zip(make_zip({{"lib/link", "../..", Entry::Symlink}})),
                       "symlink 'lib/link' points outside its folder");
}

TEST(ZipArchive, SymlinkInsideIsAllowed) {
    auto r = inspect_zip(make_zip({{"lib/", "", Entry::Dir},
                                   {"lib/real.py", "x"},
                                   {"lib/link.py", "real.py", Entry::Symlink},
                                   {"lib/up", "../index.py", Entry::Symlink},
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
    auto r = inspect_zip(make_zip({{"s", ".", Entry::Symlink}, {"s/../evil", "x"}}));
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
