// VmStatus without a hypervisor: whether a VM holds the leases it was planned.

#include <gtest/gtest.h>

#include "vmlab/engine/engine.hpp"

namespace {

using vmlab::Ipv4;

Ipv4 ip(std::string_view text) {
    const auto ip = vmlab::parse_ipv4(text);
    EXPECT_TRUE(ip) << text;
    return ip.value_or(Ipv4{});
}

vmlab::VmStatus status(std::vector<Ipv4> planned, std::vector<Ipv4> leased) {
    vmlab::VmStatus row;
    row.ips = std::move(planned);
    row.leased_ips = std::move(leased);
    return row;
}

TEST(VmStatusTest, AnAddressThatMerelyStartsLikeThePlannedOneIsNotItsLease) {
    // The old check found "10.210.0.12" inside "10.210.0.128".
    EXPECT_FALSE(status({ip("10.210.0.12")}, {ip("10.210.0.128")}).holds_planned_leases());
    EXPECT_FALSE(status({ip("10.210.0.1")}, {ip("10.210.0.12"), ip("10.210.0.13")}).holds_planned_leases());
}

TEST(VmStatusTest, HoldsItsLeasesWhenEveryPlannedAddressIsLeased) {
    EXPECT_TRUE(status({ip("10.210.0.12")}, {ip("10.210.0.12")}).holds_planned_leases());
    EXPECT_TRUE(status({ip("10.0.1.10"), ip("10.0.2.10")}, {ip("10.0.2.10"), ip("10.0.1.10")})
                    .holds_planned_leases())
        << "in any order";
    EXPECT_FALSE(status({ip("10.0.1.10"), ip("10.0.2.10")}, {ip("10.0.1.10")}).holds_planned_leases())
        << "one of two is not enough";
}

TEST(VmStatusTest, AVmWithoutPlannedAddressesHoldsNoPlannedLeases) {
    EXPECT_FALSE(status({}, {ip("10.0.1.10")}).holds_planned_leases());
    EXPECT_FALSE(status({}, {}).holds_planned_leases());
}

}  // namespace
