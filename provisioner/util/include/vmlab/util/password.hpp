#pragma once
// Passwords people type: derived from a secret, so the same secret and context always give the
// same password, and nothing but the secret needs keeping.

#include <string>
#include <string_view>

namespace vmlab {

// Characters of generated passwords: letters and digits without look-alikes (0 O o 1 l I i).
inline constexpr std::string_view password_alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
inline constexpr std::size_t password_length = 14;

// A new random secret (32 bytes from the OS, as hex).
std::string new_secret();

// HMAC-SHA256(secret, context) mapped onto password_alphabet, password_length characters.
std::string derive_password(std::string_view secret, std::string_view context);

// A SHA-512 crypt(3) hash ("$6$salt$…") of the password, with a salt derived from the secret and
// context (the same inputs give the same hash, so a guest's seed only changes when they do).
std::string password_hash(std::string_view password, std::string_view secret, std::string_view context);

}  // namespace vmlab
