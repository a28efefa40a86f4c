#include "vmlab/util/token.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    return text.data();
}

// RFC 4648 base32, lowercase, without padding.
std::string base32(const unsigned char* bytes, std::size_t size) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    out.reserve((size * 8 + 4) / 5);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        buffer = (buffer << 8) | bytes[i];
        bits += 8;
        while (bits >= 5) {
            out += alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
    return out;
}

}  // namespace

std::string new_token() {
    std::array<unsigned char, token_bits / 8> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
        throw Error("cannot make an access token: the random generator failed (" + openssl_error() + ")",
                    "check that the system's entropy source (getrandom, /dev/urandom) works");
    std::string token(token_prefix);
    token += base32(random.data(), random.size());
    OPENSSL_cleanse(random.data(), random.size());
    return token;
}

std::string token_hash(std::string_view token) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1)
        throw Error("cannot hash an access token: SHA-256 failed (" + openssl_error() + ")",
                    "check the OpenSSL installation (libssl3)");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vmlab
