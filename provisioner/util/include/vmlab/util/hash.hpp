#pragma once
// Non-cryptographic hashes for stable names and drift detection.

#include <cstdint>
#include <string>
#include <string_view>

namespace vmlab {

// 64-bit FNV-1a.
std::uint64_t fnv1a64(std::string_view text);

// Stable 64-bit FNV-1a hash as 16 hex digits (for drift detection, not for security).
std::string stable_hash(std::string_view text);

}  // namespace vmlab
