#pragma once
// Where a lab's addresses lie: the subnet of every network (lab-wide and per seat) carved from
// the lab's CIDR, and the host numbers inside a subnet. The loader checks the address math with
// it; the planner assigns addresses with it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vmlab/lab/lab.hpp"
#include "vmlab/util/ipv4.hpp"

namespace vmlab {

// Host numbers inside a network's subnet: .1 is the host side (gateway), fixed addresses sit
// below the DHCP pool, the pool takes the upper half.
struct AddressRange {
    std::uint32_t first = 0, last = 0;
};
AddressRange static_range(const NetworkSpec& net);
AddressRange dhcp_pool(const NetworkSpec& net);

// Where each network's subnet lies: lab-wide networks first, then seat by seat, each aligned
// to its own size. `error` says why the lab's CIDR is too small.
struct SubnetLayout {
    std::map<std::string, Ipv4Net> lab_wide;
    std::vector<std::map<std::string, Ipv4Net>> seats;  // index 0 is seat 1
    std::string error;
};
SubnetLayout layout_subnets(const LabSpec& lab);

}  // namespace vmlab
