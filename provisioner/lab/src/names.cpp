#include "vmlab/lab/names.hpp"

#include <cstdio>

namespace vmlab {

std::string seat_tag(unsigned seat) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "s%02u", seat);
    return buf;
}

std::string pool_name(const std::string& lab) { return "vmlab-" + lab; }
std::string network_prefix(const std::string& lab) { return "vmlab-" + lab + "-"; }
std::string domain_name(const std::string& lab, unsigned seat, const std::string& vm) {
    return lab + "-" + seat_tag(seat) + "-" + vm;
}

bool is_lab_file(const std::string& lab, std::string_view file) {
    if (file.starts_with("base-")) return true;
    const std::string prefix = lab + "-s";
    if (!file.starts_with(prefix)) return false;
    file.remove_prefix(prefix.size());
    const std::size_t digits = file.find_first_not_of("0123456789");
    return digits != 0 && digits != std::string_view::npos && file[digits] == '-';
}

std::vector<std::string> foreign_files(const std::filesystem::path& storage, const std::string& lab, std::size_t limit) {
    std::vector<std::string> foreign;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(storage, ec), end; !ec && it != end && foreign.size() < limit; it.increment(ec))
        if (const std::string name = it->path().filename().string(); !is_lab_file(lab, name)) foreign.push_back(name);
    return foreign;
}

}  // namespace vmlab
