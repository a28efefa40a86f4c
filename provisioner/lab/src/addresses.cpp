#include "vmlab/lab/addresses.hpp"

namespace vmlab {

AddressRange static_range(const NetworkSpec& net) {
    const std::uint32_t size = 1u << (32 - net.prefix);
    if (net.mode == NetworkMode::fenced) return {1, size - 2};
    return {2, net.dhcp ? dhcp_pool(net).first - 1 : size - 2};
}

AddressRange dhcp_pool(const NetworkSpec& net) {
    const std::uint32_t size = 1u << (32 - net.prefix);
    return {size / 2, size - 2};
}

SubnetLayout layout_subnets(const LabSpec& lab) {
    SubnetLayout layout;
    const std::uint64_t end = static_cast<std::uint64_t>(lab.cidr.base.value) + lab.cidr.size();
    std::uint64_t cursor = lab.cidr.base.value;
    auto take = [&](const NetworkSpec& net) -> std::optional<Ipv4Net> {
        const std::uint64_t size = 1ull << (32 - net.prefix);
        if (net.prefix < lab.cidr.prefix) {
            layout.error = "network '" + net.name + "' wants a /" + std::to_string(net.prefix) + " but lab.cidr " +
                           to_string(lab.cidr) + " is smaller";
            return std::nullopt;
        }
        cursor = (cursor + size - 1) / size * size;
        if (cursor + size > end) return std::nullopt;
        Ipv4Net subnet{Ipv4{static_cast<std::uint32_t>(cursor)}, net.prefix};
        cursor += size;
        return subnet;
    };
    auto too_small = [&]() {
        if (!layout.error.empty()) return;
        std::uint64_t needed = 0;
        for (const auto& net : lab.networks)
            if (net.mode != NetworkMode::fenced && !net.cidr)
                needed += (1ull << (32 - net.prefix)) * (net.scope == NetworkScope::seat ? lab.seats : 1);
        layout.error = to_string(lab.cidr) + " holds " + std::to_string(lab.cidr.size()) + " addresses but " +
                       std::to_string(lab.seats) + " seats need at least " + std::to_string(needed) +
                       "; use a larger cidr (smaller prefix) or smaller per-seat subnets (networks.*.prefix)";
    };
    for (const auto& net : lab.networks) {
        if (net.scope != NetworkScope::lab || net.mode == NetworkMode::fenced) continue;
        if (net.cidr) {
            layout.lab_wide[net.name] = *net.cidr;
        } else if (auto subnet = take(net)) {
            layout.lab_wide[net.name] = *subnet;
        } else {
            too_small();
            return layout;
        }
    }
    layout.seats.resize(lab.seats);
    for (unsigned seat = 0; seat < lab.seats; ++seat)
        for (const auto& net : lab.networks) {
            if (net.scope != NetworkScope::seat) continue;
            if (net.mode == NetworkMode::fenced) {
                layout.seats[seat][net.name] = *net.cidr;
            } else if (auto subnet = take(net)) {
                layout.seats[seat][net.name] = *subnet;
            } else {
                too_small();
                return layout;
            }
        }
    return layout;
}

}  // namespace vmlab
