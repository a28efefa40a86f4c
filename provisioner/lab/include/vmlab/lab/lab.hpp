#pragma once
// The lab model: what a lab file says, after loading and validation, with defaults applied.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/util/diagnostic.hpp"
#include "vmlab/util/ipv4.hpp"

namespace vmlab {

inline constexpr const char* default_host_uri = "qemu:///system";

enum class Firmware { bios, uefi };
enum class CpuMode { host_model, host_passthrough, emulated };
enum class NicModel { virtio, e1000, e1000e, vmxnet3, rtl8139 };
enum class DiskFormat { qcow2, raw };
enum class ConsoleKind { vnc, spice, none };
enum class BootDevice { disk, network, cdrom };
enum class Virtualization { automatic, kvm, qemu };
// What a reset returns to: the seat as it ran once ready (memory and disk), or its disks as
// they were before the first boot.
enum class Baseline { running, powered_off };

enum class NetworkMode { isolated, nat, fenced };
enum class NetworkScope { seat, lab };

struct TemplateSpec {
    std::string name;
    SourcePos where;
    std::string image;                  // base disk image (absolute path), empty for none
    DiskFormat image_format = DiskFormat::qcow2;
    std::string kernel, initrd, cmdline;  // direct kernel boot (absolute paths)
    Firmware firmware = Firmware::bios;
    CpuMode cpu_mode = CpuMode::host_model;
    unsigned vcpus = 1;
    std::uint64_t memory_bytes = 512ull << 20;
    std::uint64_t disk_bytes = 0;       // size of the VM's root disk; 0 = size of the image
    std::uint64_t image_virtual_bytes = 0;  // read from the image when it exists
    NicModel nic_model = NicModel::virtio;
    bool cloud_init = false;            // the image runs cloud-init: vmlab gives each VM a NoCloud seed
};

struct NetworkSpec {
    std::string name;
    SourcePos where;
    NetworkMode mode = NetworkMode::isolated;
    NetworkScope scope = NetworkScope::seat;
    unsigned prefix = 24;               // per-seat subnet size (from the lab's CIDR)
    std::optional<Ipv4Net> cidr;        // explicit subnet (lab-wide or fenced networks)
    bool dhcp = true;
};

struct DiskSpec {
    std::uint64_t size_bytes = 0;
    SourcePos where;
};

struct NicSpec {
    std::string network;
    std::optional<std::uint32_t> host;  // fixed host number inside the subnet (10 -> x.y.z.10)
    SourcePos where;
};

struct ConsoleSpec {
    ConsoleKind kind = ConsoleKind::vnc;
    std::string listen = "127.0.0.1";
};

// The attendee's account on every cloud-init VM ([login]).
struct LoginSpec {
    std::string user = "student";
    std::optional<std::string> password;  // a fixed password; nothing: a random one per seat
    std::vector<std::string> ssh_keys;    // the presenter's public keys
    bool sudo = true;
};

struct VmSpec {
    std::string name;
    SourcePos where;
    std::string template_name;
    unsigned vcpus = 1;
    std::uint64_t memory_bytes = 0;
    std::uint64_t disk_bytes = 0;
    std::vector<DiskSpec> extra_disks;
    std::vector<NicSpec> nics;
    std::vector<BootDevice> boot = {BootDevice::disk};
    ConsoleSpec console;
    Baseline baseline = Baseline::running;
    std::string ready_console;  // a VM is ready when its serial console printed this (besides its leases)
    // cloud-init VMs (on a template with cloud_init = true):
    bool cloud_init = false;
    std::string hostname;        // a template ({{seat}}, {{vm}}, {{lab}}); the VM's name by default
    SourcePos hostname_where;    // its first character in the lab file
    std::string user_data;       // the presenter's cloud-config template, as read; empty for none
    std::string user_data_file;  // where it was read from (absolute)
    bool login = true;           // false: no attendee account on this VM
};

struct LabSpec {
    std::string name;
    std::string title;
    unsigned seats = 1;
    std::string host_uri = default_host_uri;
    std::string storage;                // directory of the lab's storage pool
    Ipv4Net cidr;                       // lab address space, split into per-seat subnets
    Virtualization virtualization = Virtualization::automatic;
    unsigned ready_timeout_seconds = 300;  // how long up waits for readiness before capturing baselines
    LoginSpec login;
    std::string source_file;            // absolute path of the lab file
    std::string source_text;            // the file as read (stored with the lab's state)
    std::vector<TemplateSpec> templates;  // every template a VM uses, resolved
    std::vector<NetworkSpec> networks;
    std::vector<VmSpec> vms;

    const TemplateSpec* find_template(const std::string& name) const;
    const NetworkSpec* find_network(const std::string& name) const;
};

std::string to_string(Firmware v);
std::string to_string(CpuMode v);
std::string to_string(NicModel v);
std::string to_string(DiskFormat v);
std::string to_string(ConsoleKind v);
std::string to_string(BootDevice v);
std::string to_string(NetworkMode v);
std::string to_string(NetworkScope v);
std::string to_string(Virtualization v);
std::string to_string(Baseline v);

}  // namespace vmlab
