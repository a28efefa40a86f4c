#include "time_format.hpp"

#include <ctime>
#include <string_view>

namespace vmlab::cli {

std::string iso_local_time(std::int64_t unix_seconds) {
    if (unix_seconds == 0) return {};
    const std::time_t time = unix_seconds;
    std::tm local{};
    localtime_r(&time, &local);
    char buffer[64];
    const std::size_t length = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S%z", &local);
    const std::string_view text(buffer, length);
    if (length < 2) return std::string(text);
    // ISO 8601 wants the offset as +01:00, strftime gives +0100.
    std::string out(text.substr(0, length - 2));
    out += ':';
    out += text.substr(length - 2);
    return out;
}

}  // namespace vmlab::cli
