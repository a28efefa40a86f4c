#pragma once
// Attendee passwords: one per seat, derived from a per-lab secret, so every `up` of the lab
// writes the same password into a seat's guests and `seats --json` can print it again without
// vmlab storing any password. The secret is 256 bits from getrandom(2); it lives (mode 0600)
// as long as the lab, and `down` forgets it, so the next `up` of the lab gives new passwords.
//
// A password is 16 characters of an alphabet without look-alikes (no 0 O o 1 l I i j):
// about 92 bits. Guests get only its SHA-512 crypt(3) hash ("$6$…"), with a salt derived
// from the secret too, so a seat's seed is the same on every `up`.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace vmlab {

inline constexpr std::string_view password_alphabet = "23456789abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
inline constexpr std::size_t password_length = 16;

class LabSecret {
public:
    static constexpr std::size_t size = 32;

    // A fresh secret from the kernel's CSPRNG. Throws vmlab::Error if getrandom fails.
    static LabSecret generate();
    // From its 64 hex digits, as to_hex() wrote them; nothing for anything else.
    static std::optional<LabSecret> from_hex(std::string_view hex);

    std::string to_hex() const;
    const std::array<unsigned char, size>& bytes() const { return m_bytes; }

    friend bool operator==(const LabSecret&, const LabSecret&) = default;

private:
    std::array<unsigned char, size> m_bytes{};
};

// Seat N's password (HMAC-SHA256 of the secret, rejection-sampled onto password_alphabet).
std::string seat_password(const LabSecret& secret, unsigned seat);

// The salt of seat N's password hash: 16 characters of crypt's alphabet, derived from the secret.
std::string seat_salt(const LabSecret& secret, unsigned seat);

// crypt(3) SHA-512: "$6$SALT$…". The salt is 1–16 characters of [./0-9A-Za-z].
// Throws vmlab::Error if libcrypt refuses (a bad salt).
std::string sha512_crypt(std::string_view password, std::string_view salt);

}  // namespace vmlab
