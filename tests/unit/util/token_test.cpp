#include "vmlab/util/token.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace vmlab;

TEST(TokenTest, HasPrefixAndCarries256BitsInBase32) {
    const std::string token = new_token();
    ASSERT_TRUE(token.starts_with(token_prefix)) << token;
    const std::string body = token.substr(token_prefix.size());
    EXPECT_EQ(body.size(), 52u);  // ceil(256 / 5)
    EXPECT_GE(body.size() * 5, token_bits);
    for (char c : body) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << token;
}

TEST(TokenTest, ThousandTokensAreDistinct) {
    std::set<std::string> tokens, hashes;
    for (int i = 0; i < 1000; ++i) {
        const std::string token = new_token();
        tokens.insert(token);
        hashes.insert(token_hash(token));
    }
    EXPECT_EQ(tokens.size(), 1000u);
    EXPECT_EQ(hashes.size(), 1000u);
}

TEST(TokenTest, HashIsStableHexSha256) {
    // Known answers (FIPS 180-2 / `printf abc | sha256sum`).
    EXPECT_EQ(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(token_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::string token = new_token();
    EXPECT_EQ(token_hash(token), token_hash(token));
    EXPECT_EQ(token_hash(token).size(), 64u);
    EXPECT_NE(token_hash(token), token_hash(token + "x"));
}

TEST(TokenTest, ConstantTimeEqualCompares) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("vmlab_abc", "vmlab_abc"));
    EXPECT_FALSE(constant_time_equal("vmlab_abc", "vmlab_abd"));
    EXPECT_FALSE(constant_time_equal("vmlab_abc", "vmlab_ab"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    const std::string hash = token_hash(new_token());
    EXPECT_TRUE(constant_time_equal(hash, std::string(hash)));
    std::string other = hash;
    other.back() = other.back() == '0' ? '1' : '0';
    EXPECT_FALSE(constant_time_equal(hash, other));
}

}  // namespace
