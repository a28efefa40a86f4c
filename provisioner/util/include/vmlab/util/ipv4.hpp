#pragma once
// IPv4 addresses and subnets: parsing, printing and the arithmetic the planner needs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmlab {

struct Ipv4 {
    std::uint32_t value = 0;
    friend bool operator==(Ipv4, Ipv4) = default;
    friend auto operator<=>(Ipv4, Ipv4) = default;
};

struct Ipv4Net {
    Ipv4 base;            // network address (host bits zero)
    unsigned prefix = 0;  // 0..32

    std::uint64_t size() const { return 1ull << (32 - prefix); }
    Ipv4 host(std::uint32_t n) const { return Ipv4{base.value + n}; }
    Ipv4 broadcast() const { return Ipv4{base.value + static_cast<std::uint32_t>(size() - 1)}; }
    Ipv4 netmask() const;
    bool contains(Ipv4 ip) const;
    bool overlaps(const Ipv4Net& other) const;
    // The index-th subnet of the given prefix inside this one, if it fits.
    std::optional<Ipv4Net> subnet(unsigned sub_prefix, std::uint64_t index) const;
    friend bool operator==(const Ipv4Net&, const Ipv4Net&) = default;
};

std::optional<Ipv4> parse_ipv4(std::string_view text);
// "10.0.0.0/16"; rejects host bits set, so a typo cannot silently move a lab.
std::optional<Ipv4Net> parse_ipv4_net(std::string_view text);
std::string to_string(Ipv4 ip);
std::string to_string(const Ipv4Net& net);
// Each address as a dotted quad, in order (for JSON); and all of them joined by `separator`.
std::vector<std::string> to_strings(const std::vector<Ipv4>& ips);
std::string join(const std::vector<Ipv4>& ips, std::string_view separator);

}  // namespace vmlab
