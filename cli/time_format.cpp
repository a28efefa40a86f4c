#include "time_format.hpp"

#include <ctime>

namespace vmlab::cli {

std::string iso_local_time(std::int64_t unix_seconds) {
    if (unix_seconds == 0) return {};
    const std::time_t time = unix_seconds;
    std::tm local{};
    localtime_r(&time, &local);
    char buffer[64];
    std::string out(buffer, std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S%z", &local));
    if (out.size() > 2) out.insert(out.size() - 2, ":");
    return out;
}

}  // namespace vmlab::cli
