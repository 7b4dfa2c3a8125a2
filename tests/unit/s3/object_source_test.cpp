#include "lamina/s3/object_source.hpp"

#include <gtest/gtest.h>

#include "fakes/s3_store.hpp"

using namespace lamina;
using namespace lamina::s3;

namespace {

struct Fixture : fakes::S3Store {
    LocalObjectSource source{store};
    Fixture() {
        EXPECT_TRUE(store.create_bucket("code", "us-east-1", "111111111111").has_value());
        ObjectWrite w;
        w.key = "fn.zip";
        EXPECT_TRUE(store.put_object("code", w, "zip bytes").has_value());
    }
};

}  // namespace

TEST(LocalObjectSource, ReadsOnlyTheCallersOwnBuckets) {
    Fixture f;
    auto got = f.source.get_object("111111111111", "us-east-1", "code", "fn.zip", std::nullopt);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, "zip bytes");
    auto denied = f.source.get_object("222222222222", "us-east-1", "code", "fn.zip", std::nullopt);
    ASSERT_FALSE(denied.has_value());
    EXPECT_EQ(denied.error().code, "AccessDenied");
    EXPECT_EQ(denied.error().message, "Access Denied");
    // another account learns nothing of the keys in it
    denied = f.source.get_object("222222222222", "us-east-1", "code", "nope.zip", std::nullopt);
    EXPECT_EQ(denied.error().code, "AccessDenied");
    auto missing = f.source.get_object("222222222222", "us-east-1", "nope", "fn.zip", std::nullopt);
    EXPECT_EQ(missing.error().code, "NoSuchBucket");
    EXPECT_EQ(missing.error().message, "The specified bucket does not exist");
    auto no_key =
        f.source.get_object("111111111111", "us-east-1", "code", "nope.zip", std::nullopt);
    EXPECT_EQ(no_key.error().code, "NoSuchKey");
    auto redirect =
        f.source.get_object("111111111111", "eu-west-1", "code", "fn.zip", std::nullopt);
    EXPECT_EQ(redirect.error().code, "PermanentRedirect");
}
