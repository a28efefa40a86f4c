#pragma once
// A guest's NoCloud seed: meta-data, user-data and network-config, and the ISO 9660 image
// (volume label `cidata`) that carries them to the guest as a read-only disk.

#include <optional>
#include <string>
#include <vector>

#include "vmlab/util/ipv4.hpp"

namespace vmlab {

// One NIC as the guest configures it (in the order of the VM's NICs: eth0, eth1, …).
struct GuestNic {
    std::string mac;                 // "52:54:00:…", lowercase
    bool dhcp = true;                // the host's DHCP gives it its (fixed) address
    std::optional<Ipv4> address;     // set, with dhcp false: configured in the guest
    unsigned prefix = 24;
    std::optional<Ipv4> gateway;     // a default route through it (static NICs only)
    std::vector<Ipv4> dns;           // name servers (static NICs only)
};

// network-config version 2: every NIC matched by its MAC and named eth0, eth1, … in the VM's
// order; DHCP where the host serves it, the planned address where it does not. Empty for a VM
// without NICs (cloud-init's fallback then applies).
std::string network_config(const std::vector<GuestNic>& nics);

struct SeedInput {
    std::string domain;              // the libvirt domain name, the instance-id's prefix
    std::string hostname;
    std::string user_data;           // as merge_user_data made it
    std::vector<GuestNic> nics;
};

struct NoCloudSeed {
    std::string instance_id;         // "<domain>-<hash of everything else>": changes with the VM's configuration
    std::string meta_data, user_data, network_config;  // network_config empty: no such file
};

NoCloudSeed make_seed(const SeedInput& input);

// The seed as an ISO 9660 image with Joliet and Rock Ridge, volume label `cidata`, made by
// xorriso (through the process runner, never a shell) in a private temporary directory.
// Throws vmlab::Error (with xorriso's message) when it cannot be made.
std::string seed_iso_image(const NoCloudSeed& seed);

}  // namespace vmlab
