#include "vmlab/util/password.hpp"

#include <gtest/gtest.h>

#include <set>

namespace vmlab {
namespace {

TEST(Password, DerivedFromSecretAndContextWithoutLookAlikes) {
    const std::string secret = new_secret();
    EXPECT_EQ(secret.size(), 64u);
    const std::string one = derive_password(secret, "lab|1");
    EXPECT_EQ(one.size(), password_length);
    EXPECT_EQ(one, derive_password(secret, "lab|1"));
    EXPECT_NE(one, derive_password(secret, "lab|2"));
    EXPECT_NE(one, derive_password(new_secret(), "lab|1"));
    std::set<std::string> seen;
    for (int seat = 1; seat <= 200; ++seat) {
        const std::string p = derive_password(secret, "lab|" + std::to_string(seat));
        EXPECT_EQ(p.find_first_of("0Oo1lIi"), std::string::npos) << p;
        seen.insert(p);
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(Password, Sha512CryptHashIsStableForTheSameInputs) {
    const std::string hash = password_hash("S3cret-Pass", "k", "lab|1|web");
    EXPECT_EQ(hash.rfind("$6$", 0), 0u) << hash;
    EXPECT_EQ(hash, password_hash("S3cret-Pass", "k", "lab|1|web"));
    EXPECT_NE(hash, password_hash("S3cret-Pass", "k", "lab|2|web"));
    EXPECT_NE(hash, password_hash("other", "k", "lab|1|web"));
}

}  // namespace
}  // namespace vmlab
