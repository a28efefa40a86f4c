#pragma once
// Waiting for planned DHCP leases (used by up and reset). Internal to the engine.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vmlab/virt/libvirt.hpp"

namespace vmlab::detail {

// dnsmasq's lease time, which libvirt keeps when the network XML sets none.
inline constexpr std::int64_t lease_seconds = 3600;

// The least expiry time of a lease granted after the second `time` (Unix seconds, like
// dnsmasq's): a lease the guest held before that second ends sooner. The guest must have been
// stopped by `time`, so that it could not renew its old lease afterwards.
inline std::int64_t min_expiry_of_lease_granted_after(std::int64_t time) { return time + lease_seconds + 1; }

struct WantedLease {
    unsigned seat = 0;
    std::string domain, network, mac, ip;
    std::int64_t min_expiry = 0;  // a lease granted before the guest's boot does not count
};

// For a domain: each NIC on a network whose DHCP has a static entry for its MAC.
std::vector<WantedLease> planned_leases(virt::Connection& conn, const virt::Domain& domain, unsigned seat);

// Polls the networks' leases until every wanted one is there; returns those still missing.
std::vector<WantedLease> wait_for_leases(virt::Connection& conn, std::vector<WantedLease> wanted,
                                         std::chrono::seconds timeout);

}  // namespace vmlab::detail
