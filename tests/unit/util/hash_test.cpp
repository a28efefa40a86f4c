#include "vmlab/util/hash.hpp"

#include <gtest/gtest.h>

using namespace vmlab;

TEST(StableHash, IsFnv1a64) {
    EXPECT_EQ(stable_hash(""), "cbf29ce484222325");
    EXPECT_EQ(stable_hash("a"), "af63dc4c8601ec8c");
    EXPECT_EQ(stable_hash("foobar"), "85944171f73967e8");
}
