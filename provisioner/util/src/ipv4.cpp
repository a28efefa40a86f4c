#include "vmlab/util/ipv4.hpp"

#include <charconv>

namespace vmlab {

Ipv4 Ipv4Net::netmask() const {
    return Ipv4{prefix == 0 ? 0u : ~0u << (32 - prefix)};
}

bool Ipv4Net::contains(Ipv4 ip) const {
    return (ip.value & netmask().value) == base.value;
}

bool Ipv4Net::overlaps(const Ipv4Net& other) const {
    const Ipv4Net& wider = prefix <= other.prefix ? *this : other;
    const Ipv4Net& narrower = prefix <= other.prefix ? other : *this;
    return wider.contains(narrower.base);
}

std::optional<Ipv4Net> Ipv4Net::subnet(unsigned sub_prefix, std::uint64_t index) const {
    if (sub_prefix < prefix || sub_prefix > 32) return std::nullopt;
    const std::uint64_t count = 1ull << (sub_prefix - prefix);
    if (index >= count) return std::nullopt;
    const std::uint64_t offset = index << (32 - sub_prefix);
    return Ipv4Net{Ipv4{base.value + static_cast<std::uint32_t>(offset)}, sub_prefix};
}

std::optional<Ipv4> parse_ipv4(std::string_view text) {
    std::uint32_t value = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        if (p == end || *p < '0' || *p > '9') return std::nullopt;
        if (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9') return std::nullopt;  // no octal look-alikes
        unsigned part = 0;
        auto [next, ec] = std::from_chars(p, end, part);
        if (ec != std::errc{} || part > 255) return std::nullopt;
        p = next;
        value = (value << 8) | part;
    }
    if (p != end) return std::nullopt;
    return Ipv4{value};
}

std::optional<Ipv4Net> parse_ipv4_net(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto ip = parse_ipv4(text.substr(0, slash));
    const auto prefix_text = text.substr(slash + 1);
    unsigned prefix = 0;
    auto [next, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
    if (!ip || prefix_text.empty() || ec != std::errc{} || next != prefix_text.data() + prefix_text.size() ||
        prefix > 32)
        return std::nullopt;
    Ipv4Net net{*ip, prefix};
    if ((ip->value & net.netmask().value) != ip->value) return std::nullopt;
    return net;
}

std::string to_string(Ipv4 ip) {
    return std::to_string(ip.value >> 24) + '.' + std::to_string((ip.value >> 16) & 0xff) + '.' +
           std::to_string((ip.value >> 8) & 0xff) + '.' + std::to_string(ip.value & 0xff);
}

std::string to_string(const Ipv4Net& net) {
    return to_string(net.base) + '/' + std::to_string(net.prefix);
}

std::vector<std::string> to_strings(const std::vector<Ipv4>& ips) {
    std::vector<std::string> texts;
    texts.reserve(ips.size());
    for (const auto ip : ips) texts.push_back(to_string(ip));
    return texts;
}

std::string join(const std::vector<Ipv4>& ips, std::string_view separator) {
    std::string text;
    for (const auto ip : ips) text += (text.empty() ? "" : std::string(separator)) + to_string(ip);
    return text;
}

}  // namespace vmlab
