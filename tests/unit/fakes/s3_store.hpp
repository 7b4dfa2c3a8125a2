#pragma once
// An S3 ObjectStore over a temporary folder, initialised, with a fake clock
// and counting ids: the base of the s3 unit tests' fixtures.

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/s3/object_store.hpp"

namespace lamina::fakes {

struct S3Store {
    TempDir dir;
    FakeClock clock;
    CountingIds ids;
    s3::ObjectStore store{dir.path() / "s3", clock, ids};
    S3Store() { EXPECT_TRUE(store.init().has_value()); }
};

}  // namespace lamina::fakes
