#include "vmlab/lab/lab.hpp"

#include <algorithm>

namespace vmlab {

namespace {
template <class T>
const T* find_by_name(const std::vector<T>& items, const std::string& name) {
    auto it = std::find_if(items.begin(), items.end(), [&](const T& t) { return t.name == name; });
    return it == items.end() ? nullptr : &*it;
}
}  // namespace

const TemplateSpec* LabSpec::find_template(const std::string& n) const { return find_by_name(templates, n); }
const NetworkSpec* LabSpec::find_network(const std::string& n) const { return find_by_name(networks, n); }

std::string to_string(Firmware v) { return v == Firmware::bios ? "bios" : "uefi"; }

std::string to_string(CpuMode v) {
    switch (v) {
        case CpuMode::host_model: return "host-model";
        case CpuMode::host_passthrough: return "host-passthrough";
        case CpuMode::emulated: return "emulated";
    }
    return {};
}

std::string to_string(NicModel v) {
    switch (v) {
        case NicModel::virtio: return "virtio";
        case NicModel::e1000: return "e1000";
        case NicModel::e1000e: return "e1000e";
        case NicModel::vmxnet3: return "vmxnet3";
        case NicModel::rtl8139: return "rtl8139";
    }
    return {};
}

std::string to_string(DiskFormat v) { return v == DiskFormat::qcow2 ? "qcow2" : "raw"; }

std::string to_string(ConsoleKind v) {
    switch (v) {
        case ConsoleKind::vnc: return "vnc";
        case ConsoleKind::spice: return "spice";
        case ConsoleKind::none: return "none";
    }
    return {};
}

std::string to_string(BootDevice v) {
    switch (v) {
        case BootDevice::disk: return "disk";
        case BootDevice::network: return "network";
        case BootDevice::cdrom: return "cdrom";
    }
    return {};
}

std::string to_string(NetworkMode v) {
    switch (v) {
        case NetworkMode::isolated: return "isolated";
        case NetworkMode::nat: return "nat";
        case NetworkMode::fenced: return "fenced";
    }
    return {};
}

std::string to_string(NetworkScope v) { return v == NetworkScope::seat ? "seat" : "lab"; }

std::string to_string(Virtualization v) {
    switch (v) {
        case Virtualization::automatic: return "auto";
        case Virtualization::kvm: return "kvm";
        case Virtualization::qemu: return "qemu";
    }
    return {};
}

std::string to_string(Baseline v) { return v == Baseline::running ? "running" : "powered-off"; }

}  // namespace vmlab
