#include "console_log.hpp"

#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <sstream>

namespace vmlab::detail {
namespace {

// The whole log; empty when it is missing.
std::string read_log(const std::string& log_path) {
    std::ifstream in(log_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

std::string console_log_path(const virt::Domain& domain) {
    pugi::xml_document doc;
    if (!doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str())) return {};
    return doc.child("domain").child("devices").child("serial").child("log").attribute("file").as_string();
}

std::string console_tail(const std::string& log_path, std::size_t lines) {
    const std::string all = read_log(log_path);
    std::size_t start = all.size();
    for (std::size_t n = 0; n <= lines && start > 0; ++n) {
        const auto nl = all.rfind('\n', start - 1);
        if (nl == std::string::npos) {
            start = 0;
            break;
        }
        start = nl;
        if (n == lines) ++start;
    }
    std::string tail = all.substr(start);
    for (char& c : tail)
        if (c == '\r' || (static_cast<unsigned char>(c) < 32 && c != '\n')) c = ' ';
    return tail;
}

bool console_says(const std::string& log_path, const std::string& line) {
    return read_log(log_path).find(line) != std::string::npos;
}

void forget_previous_boot(const virt::Domain& domain) {
    const std::string log = console_log_path(domain);
    if (log.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(log, ignored);
}

}  // namespace vmlab::detail
