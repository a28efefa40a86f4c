#pragma once
// Seat access tokens: secrets handed to attendees, stored by vmlab only as their SHA-256.
//
// A token is "vmlab_" followed by 256 random bits (OpenSSL's RAND_bytes) in lowercase base32
// (RFC 4648 alphabet, no padding): 58 characters, safe in URLs, file names and shells. Because
// the secret is uniformly random and 256 bits long, an unsalted SHA-256 is enough to store it:
// salts and slow hashes protect guessable secrets (passwords) against precomputed tables and
// brute force, neither of which applies here; and an unsalted hash lets the database find a
// seat by its token's hash through an index.

#include <string>
#include <string_view>

namespace vmlab {

inline constexpr std::string_view token_prefix = "vmlab_";
inline constexpr std::size_t token_bits = 256;

// A fresh token. Throws vmlab::Error if the system's random generator fails.
std::string new_token();

// Lowercase hex SHA-256 of the token's bytes (64 characters).
std::string token_hash(std::string_view token);

// Whether a and b are equal, in a time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace vmlab
