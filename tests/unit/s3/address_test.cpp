#include "lamina/s3/address.hpp"

#include <gtest/gtest.h>

using namespace lamina::s3;

namespace {
const std::vector<std::string> kBases = {"localhost", "lamina.test"};
}

TEST(S3Address, PathStyle) {
    auto a = parse_address("127.0.0.1:4566", "/bucket/dir/my%20file%2Bx.txt", kBases);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->virtual_host);
    EXPECT_EQ(a->bucket, "bucket");
    EXPECT_EQ(a->key, "dir/my file+x.txt");
    a = parse_address("localhost:4566", "/bucket", kBases);
    EXPECT_EQ(a->bucket, "bucket");
    EXPECT_EQ(a->key, "");
    a = parse_address("localhost:4566", "/bucket/", kBases);
    EXPECT_EQ(a->key, "");
    a = parse_address("localhost:4566", "/", kBases);
    EXPECT_EQ(a->bucket, "");
    EXPECT_FALSE(parse_address("localhost", "/b/%zz", kBases).has_value());
}

TEST(S3Address, VirtualHostStyle) {
    auto a = parse_address("my-bucket.localhost:4566", "/a/b.zip", kBases);
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->virtual_host);
    EXPECT_EQ(a->bucket, "my-bucket");
    EXPECT_EQ(a->key, "a/b.zip");
    a = parse_address("My.Bucket.LOCALHOST", "/", kBases);
    EXPECT_EQ(a->bucket, "my.bucket");
    EXPECT_EQ(a->key, "");
    EXPECT_EQ(virtual_host_bucket("b1.lamina.test:80", kBases).value_or(""), "b1");
    EXPECT_EQ(virtual_host_bucket("b2.s3.amazonaws.com", kBases).value_or(""), "b2");
    EXPECT_EQ(virtual_host_bucket("b3.s3.eu-west-1.amazonaws.com", kBases).value_or(""), "b3");
    EXPECT_FALSE(virtual_host_bucket("localhost:4566", kBases).has_value());
    EXPECT_FALSE(virtual_host_bucket("127.0.0.1:4566", kBases).has_value());
    EXPECT_FALSE(virtual_host_bucket("[::1]:4566", kBases).has_value());
    EXPECT_FALSE(virtual_host_bucket("lambda.us-east-1.amazonaws.com", kBases).has_value());
}

TEST(S3Address, BucketNames) {
    EXPECT_TRUE(valid_bucket_name("abc"));
    EXPECT_TRUE(valid_bucket_name("my-bucket.with.dots-1"));
    EXPECT_TRUE(valid_bucket_name(std::string(63, 'a')));
    EXPECT_FALSE(valid_bucket_name("ab"));
    EXPECT_FALSE(valid_bucket_name(std::string(64, 'a')));
    EXPECT_FALSE(valid_bucket_name("Bad_Name"));
    EXPECT_FALSE(valid_bucket_name("UPPER"));
    EXPECT_FALSE(valid_bucket_name("-abc"));
    EXPECT_FALSE(valid_bucket_name("abc-"));
    EXPECT_FALSE(valid_bucket_name("a..b"));
    EXPECT_FALSE(valid_bucket_name("192.168.1.1"));
    EXPECT_FALSE(valid_bucket_name("xn--abc"));
    EXPECT_FALSE(valid_bucket_name("abc-s3alias"));
}
