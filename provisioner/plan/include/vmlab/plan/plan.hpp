#pragma once
// The planner: turns a validated LabSpec into the concrete layout on a host — every libvirt
// name, bridge, MAC, address and volume. Pure and deterministic: the same lab always gives the
// same plan.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/ipv4.hpp"
#include "vmlab/lab/addresses.hpp"
#include "vmlab/lab/lab.hpp"
#include "vmlab/lab/names.hpp"

namespace vmlab {

struct PlannedBaseImage {
    std::string template_name;
    std::string source_path;  // the file on the host the image is imported from
    std::string volume;       // volume name in the lab's pool
    DiskFormat format = DiskFormat::qcow2;
};

struct PlannedDhcpHost {
    std::string mac;
    Ipv4 ip;
    std::string hostname;
};

// A name the network's DNS answers for (a VM's hostname on a per-seat network).
struct PlannedDnsName {
    Ipv4 ip;
    std::string hostname;
};

struct PlannedNetwork {
    std::string spec_name;    // name in the lab file
    std::string libvirt_name;  // vmlab-<lab>-s01-<net> (or vmlab-<lab>-<net> when lab-wide)
    std::string bridge;        // <= 15 characters
    NetworkMode mode = NetworkMode::isolated;
    NetworkScope scope = NetworkScope::seat;
    Ipv4Net subnet;
    std::optional<Ipv4> gateway;  // host-side address; none for fenced networks
    std::optional<Ipv4> dhcp_first, dhcp_last;
    std::vector<PlannedDhcpHost> hosts;
    std::vector<PlannedDnsName> dns;
};

struct PlannedDisk {
    std::string volume;        // volume name in the lab's pool
    std::uint64_t capacity_bytes = 0;
    std::string backing_volume;  // base image volume for linked clones, empty for blank disks
    std::string target;        // vda, vdb, ...
};

struct PlannedNic {
    std::string network;       // libvirt network name
    std::string mac;
    std::optional<Ipv4> ip;    // planned address (DHCP static entry or fenced fixed address)
    NicModel model = NicModel::virtio;
};

struct PlannedVm {
    std::string spec_name;
    std::string domain;        // <lab>-s01-<vm>
    unsigned seat = 0;
    unsigned vcpus = 1;
    std::uint64_t memory_bytes = 0;
    Firmware firmware = Firmware::bios;
    CpuMode cpu_mode = CpuMode::host_model;
    std::string kernel, initrd, cmdline;
    std::vector<PlannedDisk> disks;
    std::vector<PlannedNic> nics;
    std::vector<BootDevice> boot;
    ConsoleSpec console;
    // running only where readiness can be seen: a planned DHCP lease or a ready_console line.
    Baseline baseline = Baseline::powered_off;
    std::string ready_console;
    std::string hostname;      // expanded; the VM's DNS name in its seat's networks
    // cloud-init VMs: a NoCloud seed volume, attached read-only as a virtio disk (seed_target).
    bool cloud_init = false;
    bool login = true;         // the attendee's account ([login]) on this VM
    std::string seed_volume, seed_target;
    std::string user_data;     // the presenter's cloud-config template; empty for none
    std::string user_data_file;
    std::string config_hash;   // changes whenever anything above changes (drift detection)
};

struct PlannedSeat {
    unsigned number = 0;       // 1-based
    std::vector<PlannedNetwork> networks;
    std::vector<PlannedVm> vms;
};

struct PlanTotals {
    unsigned vms = 0;
    unsigned networks = 0;
    std::uint64_t vcpus = 0;
    std::uint64_t memory_bytes = 0;
    std::uint64_t disk_bytes = 0;   // virtual size of all VM disks
    std::uint64_t image_bytes = 0;  // bytes of base images to import (0 when unknown)
    std::uint64_t baseline_bytes = 0;  // memory images of running baselines (about the guests' memory)
};

struct Plan {
    std::string lab;
    std::string title;
    std::string host_uri;
    std::string spec_hash;
    std::string pool;          // vmlab-<lab>
    std::string pool_path;
    std::vector<PlannedBaseImage> images;
    std::vector<PlannedNetwork> shared_networks;  // lab-wide
    std::vector<PlannedSeat> seats;
    PlanTotals totals;
    unsigned ready_timeout_seconds = 300;
    LoginSpec login;

    const PlannedSeat* find_seat(unsigned number) const;
};

Plan make_plan(const LabSpec& lab);

// The 16 bits of a lab's name in its bridge names and MACs (vl<hash>-…, 52:LL:LL:…): the 64-bit
// FNV-1a hash of the name, mixed by the splitmix64 finalizer, top 16 bits. Every input byte
// reaches every output bit, so names differing only in their last character differ here too
// (apart from the ~1/65536 chance of any two names colliding).
std::uint16_t lab_hash16(std::string_view lab);

}  // namespace vmlab
