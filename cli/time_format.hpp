#pragma once

#include <cstdint>
#include <string>

namespace vmlab::cli {

// "2024-05-01T10:00:00+02:00" in local time; empty for 0 (never).
std::string iso_local_time(std::int64_t unix_seconds);

}  // namespace vmlab::cli
