#include "vmlab/guest/password.hpp"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac_sha256(const LabSecret& secret, const std::string& message) {
    Digest digest{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.bytes().data(), static_cast<int>(secret.bytes().size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
             &length) == nullptr ||
        length != digest.size())
        throw Error("cannot derive a seat password: HMAC-SHA256 failed in OpenSSL");
    return digest;
}

// `length` characters of `alphabet`, from HMAC blocks of (purpose, seat, block number); bytes
// that would favour the first letters of the alphabet are skipped, so every letter is equally
// likely.
std::string derive(const LabSecret& secret, std::string_view purpose, unsigned seat, std::string_view alphabet,
                   std::size_t length) {
    const unsigned limit = 256 - 256 % alphabet.size();
    std::string out;
    for (unsigned block = 0; out.size() < length; ++block) {
        const Digest digest = hmac_sha256(secret, "vmlab/" + std::string(purpose) + "/v1/seat " +
                                                      std::to_string(seat) + "/block " + std::to_string(block));
        for (const unsigned char byte : digest) {
            if (byte >= limit) continue;
            out += alphabet[byte % alphabet.size()];
            if (out.size() == length) break;
        }
    }
    return out;
}

}  // namespace

LabSecret LabSecret::generate() {
    LabSecret secret;
    std::size_t filled = 0;
    while (filled < size) {
        const ssize_t got = ::getrandom(secret.m_bytes.data() + filled, size - filled, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw Error(std::string("cannot make the lab's secret: getrandom failed: ") + std::strerror(errno));
        }
        filled += static_cast<std::size_t>(got);
    }
    return secret;
}

std::optional<LabSecret> LabSecret::from_hex(std::string_view hex) {
    if (hex.size() != 2 * size) return std::nullopt;
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    LabSecret secret;
    for (std::size_t i = 0; i < size; ++i) {
        const int high = nibble(hex[2 * i]), low = nibble(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        secret.m_bytes[i] = static_cast<unsigned char>(high << 4 | low);
    }
    return secret;
}

std::string LabSecret::to_hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char byte : m_bytes) {
        out += digits[byte >> 4];
        out += digits[byte & 15];
    }
    return out;
}

std::string seat_password(const LabSecret& secret, unsigned seat) {
    return derive(secret, "password", seat, password_alphabet, password_length);
}

std::string seat_salt(const LabSecret& secret, unsigned seat) {
    return derive(secret, "salt", seat, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 16);
}

std::string sha512_crypt(std::string_view password, std::string_view salt) {
    const std::string setting = "$6$" + std::string(salt);
    const std::string phrase(password);
    struct crypt_data data;
    std::memset(&data, 0, sizeof data);
    const char* hashed = ::crypt_rn(phrase.c_str(), setting.c_str(), &data, sizeof data);
    if (hashed == nullptr || hashed[0] == '*')
        throw Error("cannot hash the password: crypt(3) refused the salt '" + std::string(salt) + "'");
    std::string result = hashed;
    explicit_bzero(&data, sizeof data);
    return result;
}

}  // namespace vmlab
