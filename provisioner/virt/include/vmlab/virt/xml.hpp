#pragma once
// libvirt XML for the planned objects of a lab, and vmlab's <metadata> element read back.
// Built with pugixml only, so every value is escaped; the output is deterministic.

#include <optional>
#include <string>

#include "vmlab/lab/lab.hpp"
#include "vmlab/plan/plan.hpp"

namespace vmlab {

// What vmlab records in the <metadata> of its domains (all fields) and networks (lab, seat).
struct VmMetadata {
    std::string lab;
    unsigned seat = 0;  // 0 for lab-wide networks
    std::string vm, spec_hash, config_hash;
    std::string seed_id;  // the instance-id of a cloud-init VM's seed; empty without one
};

// The file a domain's serial console is logged to: {pool_path}/{domain}.console.log.
std::string console_log_file(const std::string& pool_path, const std::string& domain);

// domain_type: "kvm", "qemu" (TCG) or "test". Disks are files in pool_path; the serial console
// is logged to {pool_path}/{domain}.console.log, UEFI variables kept in {pool_path}/{domain}.nvram.fd.
// emulator may be empty (the driver's default). A console_password (VNC: at most 8
// characters) guards a graphical console that listens beyond the loopback.
std::string domain_xml(const PlannedVm& vm, const std::string& lab, const std::string& spec_hash,
                       const std::string& domain_type, const std::string& pool_path,
                       const std::string& emulator, const std::string& console_password = {},
                       const std::string& seed_id = {});

// seat: the seat the network belongs to, 0 for a lab-wide network.
std::string network_xml(const PlannedNetwork& net, const std::string& lab, unsigned seat);

// A directory pool.
std::string pool_xml(const std::string& name, const std::string& path);

// A qcow2 volume: a linked clone of backing_path, or blank when backing_path is empty.
// A clone with capacity_bytes 0 gets the size of its backing image. libvirt does not refuse a
// capacity below the backing image's size (the guest then sees a truncated disk).
std::string volume_xml(const PlannedDisk& disk, const std::string& backing_path, DiskFormat backing_format);

// From what virt::domain_metadata returns (the vmlab element); empty when it is not vmlab's.
std::optional<VmMetadata> parse_vm_metadata(const std::string& metadata_xml);
// From a whole network XML description; empty when it has no vmlab metadata.
std::optional<VmMetadata> parse_network_metadata(const std::string& network_xml);

}  // namespace vmlab
