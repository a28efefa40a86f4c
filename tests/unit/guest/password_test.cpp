#include "vmlab/guest/password.hpp"

#include <crypt.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

namespace vmlab {
namespace {

LabSecret fixed_secret() {
    return *LabSecret::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

TEST(LabSecret, IsFreshEachTimeAndRoundTripsThroughHex) {
    const LabSecret a = LabSecret::generate(), b = LabSecret::generate();
    EXPECT_NE(a, b);
    EXPECT_EQ(a.to_hex().size(), 64u);
    EXPECT_EQ(LabSecret::from_hex(a.to_hex()), a);
}

TEST(LabSecret, RefusesAnythingButItsHexForm) {
    EXPECT_FALSE(LabSecret::from_hex(""));
    EXPECT_FALSE(LabSecret::from_hex(std::string(63, 'a')));
    EXPECT_FALSE(LabSecret::from_hex(std::string(64, 'g')));
    EXPECT_FALSE(LabSecret::from_hex(std::string(64, 'A')));  // to_hex writes lowercase only
}

TEST(SeatPassword, IsLongEnoughAndHasNoLookAlikes) {
    const LabSecret secret = LabSecret::generate();
    for (unsigned seat = 1; seat <= 50; ++seat) {
        const std::string password = seat_password(secret, seat);
        EXPECT_GE(password.size(), 12u);
        EXPECT_EQ(password.find_first_not_of(password_alphabet), std::string::npos) << password;
        EXPECT_EQ(password.find_first_of("0Oo1lIij"), std::string::npos) << password;
    }
    EXPECT_EQ(std::string(password_alphabet).find_first_of("0Oo1lIij"), std::string::npos);
}

TEST(SeatPassword, IsTheSameForTheSameSecretAndSeatAndDiffersOtherwise) {
    const LabSecret secret = fixed_secret();
    EXPECT_EQ(seat_password(secret, 1), seat_password(*LabSecret::from_hex(secret.to_hex()), 1));
    std::set<std::string> seen;
    for (unsigned seat = 1; seat <= 200; ++seat) seen.insert(seat_password(secret, seat));
    EXPECT_EQ(seen.size(), 200u);
    EXPECT_NE(seat_password(secret, 1), seat_password(LabSecret::generate(), 1));
}

TEST(SeatPassword, UsesTheWholeAlphabetEvenly) {
    // 16 characters × 2000 seats: every letter of the 54 appears, none far from 1/54.
    const LabSecret secret = LabSecret::generate();
    std::map<char, int> counts;
    for (unsigned seat = 1; seat <= 2000; ++seat)
        for (const char c : seat_password(secret, seat)) ++counts[c];
    EXPECT_EQ(counts.size(), password_alphabet.size());
    const double expected = 2000.0 * password_length / password_alphabet.size();
    for (const auto& [c, n] : counts) EXPECT_NEAR(n, expected, expected * 0.25) << c;
}

TEST(Sha512Crypt, MakesAHashCryptVerifies) {
    const LabSecret secret = fixed_secret();
    const std::string salt = seat_salt(secret, 4);
    EXPECT_EQ(salt.size(), 16u);
    EXPECT_EQ(salt, seat_salt(secret, 4));
    EXPECT_NE(salt, seat_salt(secret, 5));
    const std::string hash = sha512_crypt("correct horse", salt);
    EXPECT_EQ(hash.rfind("$6$" + salt + "$", 0), 0u) << hash;
    EXPECT_EQ(hash.size(), 3 + 16 + 1 + 86u);
    EXPECT_STREQ(::crypt("correct horse", hash.c_str()), hash.c_str());
    EXPECT_STRNE(::crypt("wrong horse", hash.c_str()), hash.c_str());
}

TEST(Sha512Crypt, KnownAnswer) {
    // From the SHA-crypt specification (Drepper), test vector 1.
    EXPECT_EQ(sha512_crypt("Hello world!", "saltstring"),
              "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1");
}

}  // namespace
}  // namespace vmlab
