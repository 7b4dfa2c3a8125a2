#include "lamina/s3/object_store.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "fakes/s3_store.hpp"
#include "lamina/common/encoding.hpp"

using namespace lamina;
using namespace lamina::s3;
namespace fs = std::filesystem;

namespace {

using Fixture = fakes::S3Store;

ObjectWrite named(const std::string& key) {
    ObjectWrite w;
    w.key = key;
    return w;
}

std::size_t files_under(const fs::path& p) {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) ++n;
    return n;
}

}  // namespace

TEST(ObjectStore, BucketLifecycle) {
    Fixture f;
    EXPECT_EQ(f.store.create_bucket("b1", "us-east-1", "111111111111").value(), true);
    EXPECT_EQ(f.store.create_bucket("b1", "us-east-1", "111111111111").value(),
              false);  // same owner
    auto other = f.store.create_bucket("b1", "us-east-1", "222222222222");
    ASSERT_FALSE(other.has_value());
    EXPECT_EQ(other.error().code, S3ErrorCode::BucketAlreadyExists);
    EXPECT_EQ(f.store.head_bucket("b1")->region, "us-east-1");
    EXPECT_EQ(f.store.head_bucket("nope").error().code, S3ErrorCode::NoSuchBucket);
    ASSERT_TRUE(f.store.put_object("b1", named("k"), "v").has_value());
    EXPECT_EQ(f.store.delete_bucket("b1").error().code, S3ErrorCode::BucketNotEmpty);
    ASSERT_TRUE(f.store.delete_object("b1", "k").has_value());
    ASSERT_TRUE(f.store.delete_bucket("b1").has_value());
    EXPECT_TRUE(f.store.list_buckets().empty());
    EXPECT_EQ(f.store.delete_bucket("b1").error().code, S3ErrorCode::NoSuchBucket);
}

TEST(ObjectStore, OnlyTheOwnerMayUseABucket) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b1", "us-east-1", "111111111111"));
    auto mine = f.store.bucket_for("b1", "111111111111");
    ASSERT_TRUE(mine.has_value());
    EXPECT_EQ(mine->owner, "111111111111");
    auto theirs = f.store.bucket_for("b1", "222222222222");
    ASSERT_FALSE(theirs.has_value());
    EXPECT_EQ(theirs.error().code, S3ErrorCode::AccessDenied);
    EXPECT_TRUE(theirs.error().fields.empty());  // S3 names no bucket in an AccessDenied
    EXPECT_EQ(s3_message(theirs.error()), "Access Denied");
    // a bucket that does not exist is NoSuchBucket, whoever asks
    EXPECT_EQ(f.store.bucket_for("nope", "222222222222").error().code, S3ErrorCode::NoSuchBucket);
    ASSERT_TRUE(f.store.delete_bucket("b1").has_value());
    EXPECT_EQ(f.store.bucket_for("b1", "111111111111").error().code, S3ErrorCode::NoSuchBucket);
    // a name freed and taken by another account is that account's
    ASSERT_TRUE(f.store.create_bucket("b1", "us-east-1", "222222222222"));
    EXPECT_TRUE(f.store.bucket_for("b1", "222222222222").has_value());
    EXPECT_EQ(f.store.bucket_for("b1", "111111111111").error().code, S3ErrorCode::AccessDenied);
}

TEST(ObjectStore, PutGetRangeAndMetadataSurviveRestart) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b", "eu-west-1", "111111111111"));
    ObjectWrite w = named("dir/a.txt");
    w.content_type = "text/plain";
    w.metadata = {{"color", "blue"}};
    auto put = f.store.put_object("b", w, "hello world");
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");  // md5("hello world")
    ObjectStore reopened(f.dir.path() / "s3", f.clock, f.ids);
    ASSERT_TRUE(reopened.init().has_value());
    auto got = reopened.get_object("b", "dir/a.txt", std::nullopt);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, "hello world");
    EXPECT_EQ(got->info.content_type, "text/plain");
    EXPECT_EQ(got->info.metadata.at("color"), "blue");
    EXPECT_EQ(got->info.last_modified_ms, f.clock.now_ms());
    EXPECT_EQ(reopened.head_bucket("b")->region, "eu-west-1");
    auto part =
        reopened.get_object("b", "dir/a.txt", ByteRange{6, 100, std::nullopt, "bytes=6-100"});
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->data, "world");
    EXPECT_EQ(part->offset, 6u);
    EXPECT_TRUE(part->partial);
    auto suffix =
        reopened.get_object("b", "dir/a.txt", ByteRange{std::nullopt, std::nullopt, 3, "bytes=-3"});
    EXPECT_EQ(suffix->data, "rld");
    auto bad = reopened.get_object("b", "dir/a.txt",
                                   ByteRange{11, std::nullopt, std::nullopt, "bytes=11-"});
    EXPECT_EQ(bad.error().code, S3ErrorCode::InvalidRange);
    EXPECT_EQ(reopened.get_object("b", "missing", std::nullopt).error().code,
              S3ErrorCode::NoSuchKey);
}

TEST(ObjectStore, OverwriteLeavesOneFileAndNoTemporaries) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b", "us-east-1", "1"));
    ASSERT_TRUE(f.store.put_object("b", named("k"), "one"));
    ASSERT_TRUE(f.store.put_object("b", named("k"), "two"));
    EXPECT_EQ(f.store.get_object("b", "k", std::nullopt)->data, "two");
    EXPECT_EQ(files_under(f.dir.path() / "s3" / "buckets" / "b" / "objects"), 1u);
    EXPECT_EQ(files_under(f.dir.path() / "s3" / "tmp"), 0u);
}

TEST(ObjectStore, StartupDropsHalfWrittenTemporaries) {
    Fixture f;
    { std::ofstream(f.dir.path() / "s3" / "tmp" / "leftover") << "partial"; }
    ObjectStore reopened(f.dir.path() / "s3", f.clock, f.ids);
    ASSERT_TRUE(reopened.init().has_value());
    EXPECT_EQ(files_under(f.dir.path() / "s3" / "tmp"), 0u);
}

TEST(ObjectStore, ListsWithPrefixDelimiterAndPages) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b", "us-east-1", "1"));
    for (const char* k : {"a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"})
        ASSERT_TRUE(f.store.put_object("b", named(k), k));
    ListQuery q;
    q.delimiter = "/";
    auto top = f.store.list_objects("b", q);
    ASSERT_TRUE(top.has_value());
    ASSERT_EQ(top->contents.size(), 2u);
    EXPECT_EQ(top->contents[0].key, "a.txt");
    EXPECT_EQ(top->contents[1].key, "z");
    EXPECT_EQ(top->common_prefixes, (std::vector<std::string>{"dir/", "other/"}));
    q.prefix = "dir/";
    auto dir = f.store.list_objects("b", q);
    ASSERT_EQ(dir->contents.size(), 2u);
    EXPECT_EQ(dir->common_prefixes, std::vector<std::string>{"dir/sub/"});
    // pages of 2 over everything, resuming after the last entry
    ListQuery page;
    page.max_keys = 2;
    std::vector<std::string> seen;
    for (int i = 0; i < 10; ++i) {
        auto r = f.store.list_objects("b", page);
        for (const auto& o : r->contents) seen.push_back(o.key);
        if (!r->truncated) break;
        page.after = r->last;
    }
    EXPECT_EQ(seen,
              (std::vector<std::string>{"a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"}));
    // pages of 1 with a delimiter: a common prefix is returned once
    ListQuery rolled;
    rolled.delimiter = "/";
    rolled.max_keys = 1;
    std::vector<std::string> entries;
    for (int i = 0; i < 10; ++i) {
        auto r = f.store.list_objects("b", rolled);
        entries.push_back(r->last);
        if (!r->truncated) break;
        rolled.after = r->last;
    }
    EXPECT_EQ(entries, (std::vector<std::string>{"a.txt", "dir/", "other/", "z"}));
}

TEST(ObjectStore, MultipartUpload) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b", "us-east-1", "1"));
    ObjectWrite w = named("big");
    w.content_type = "application/zip";
    auto id = f.store.create_upload("b", w);
    ASSERT_TRUE(id.has_value());
    std::string p1(kMinPartBytes, 'x'), p2 = "tail";
    auto e1 = f.store.upload_part("b", "big", *id, 1, p1);
    auto e2 = f.store.upload_part("b", "big", *id, 2, p2);
    ASSERT_TRUE(e1 && e2);
    // refused completions change nothing
    EXPECT_EQ(f.store.complete_upload("b", "big", *id, {{2, *e2}, {1, *e1}}).error().code,
              S3ErrorCode::InvalidPartOrder);
    EXPECT_EQ(f.store
                  .complete_upload("b", "big", *id,
                                   {{1, *e1}, {2, "\"00000000000000000000000000000000\""}})
                  .error()
                  .code,
              S3ErrorCode::InvalidPart);
    EXPECT_EQ(f.store.complete_upload("b", "big", *id, {{1, *e1}, {3, *e2}}).error().code,
              S3ErrorCode::InvalidPart);
    EXPECT_EQ(f.store.head_object("b", "big").error().code, S3ErrorCode::NoSuchKey);
    auto done = f.store.complete_upload("b", "big", *id, {{1, *e1}, {2, *e2}});
    ASSERT_TRUE(done.has_value());
    std::string digests = md5(p1) + md5(p2);
    EXPECT_EQ(done->etag, "\"" + to_hex(md5(digests)) + "-2\"");
    EXPECT_EQ(done->content_type, "application/zip");
    auto got = f.store.get_object("b", "big", std::nullopt);
    EXPECT_EQ(got->data, p1 + p2);
    EXPECT_EQ(f.store.upload_part("b", "big", *id, 3, "x").error().code, S3ErrorCode::NoSuchUpload);
    EXPECT_EQ(f.store.abort_upload("b", "big", "../../etc").error().code,
              S3ErrorCode::NoSuchUpload);
}

TEST(ObjectStore, SmallPartBeforeTheLastIsTooSmall) {
    Fixture f;
    ASSERT_TRUE(f.store.create_bucket("b", "us-east-1", "1"));
    auto id = f.store.create_upload("b", named("k"));
    auto e1 = f.store.upload_part("b", "k", *id, 1, "small");
    auto e2 = f.store.upload_part("b", "k", *id, 2, "last");
    EXPECT_EQ(f.store.complete_upload("b", "k", *id, {{1, *e1}, {2, *e2}}).error().code,
              S3ErrorCode::EntityTooSmall);
    ASSERT_TRUE(f.store.abort_upload("b", "k", *id).has_value());
    EXPECT_EQ(f.store.complete_upload("b", "k", *id, {{1, *e1}}).error().code,
              S3ErrorCode::NoSuchUpload);
}
