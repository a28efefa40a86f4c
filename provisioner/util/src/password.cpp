#include "vmlab/util/password.hpp"

#include <crypt.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view message) {
    std::array<unsigned char, 32> out{};
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length))
        throw Error("cannot compute HMAC-SHA256 (OpenSSL)");
    return out;
}

// Characters from a digest, without modulo bias (rejection of the top of the byte range).
std::string characters(std::string_view secret, std::string_view context, std::string_view alphabet, std::size_t count) {
    std::string out;
    const unsigned limit = 256 - 256 % alphabet.size();
    for (unsigned round = 0; out.size() < count; ++round) {
        const auto digest = hmac_sha256(secret, std::string(context) + '#' + std::to_string(round));
        for (unsigned char byte : digest)
            if (byte < limit && out.size() < count) out += alphabet[byte % alphabet.size()];
    }
    return out;
}

}  // namespace

std::string new_secret() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw Error("cannot get random bytes (OpenSSL)");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) out += {hex[b >> 4], hex[b & 15]};
    return out;
}

std::string derive_password(std::string_view secret, std::string_view context) {
    return characters(secret, std::string("password|") + std::string(context), password_alphabet, password_length);
}

std::string password_hash(std::string_view password, std::string_view secret, std::string_view context) {
    static constexpr std::string_view salt_alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const std::string setting = "$6$" + characters(secret, std::string("salt|") + std::string(context), salt_alphabet, 16);
    crypt_data data{};
    const char* hash = crypt_r(std::string(password).c_str(), setting.c_str(), &data);
    if (!hash || hash[0] != '$') throw Error("cannot hash a password with crypt(3) SHA-512");
    return hash;
}

}  // namespace vmlab
