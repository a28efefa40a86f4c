#include "vmlab/virt/xml.hpp"

#include <pugixml.hpp>

#include <charconv>
#include <initializer_list>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "vmlab/util/ipv4.hpp"
#include "vmlab/virt/libvirt.hpp"

namespace vmlab {
namespace {

constexpr const char* ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
constexpr const char* ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
constexpr const char* dnsmasq_uri = "http://libvirt.org/schemas/network/dnsmasq/1.0";
constexpr const char* metadata_element = "lab";

using Attributes = std::initializer_list<std::pair<const char*, std::string>>;

pugi::xml_node child(pugi::xml_node parent, const char* name, Attributes attributes = {}) {
    pugi::xml_node node = parent.append_child(name);
    for (const auto& [key, value] : attributes) node.append_attribute(key).set_value(value.c_str());
    return node;
}

pugi::xml_node text_child(pugi::xml_node parent, const char* name, const std::string& text,
                          Attributes attributes = {}) {
    pugi::xml_node node = child(parent, name, attributes);
    node.text().set(text.c_str());
    return node;
}

std::string serialize(const pugi::xml_document& doc) {
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
    return out.str();
}

const char* libvirt_name(NicModel model) {
    switch (model) {
    case NicModel::virtio: return "virtio";
    case NicModel::e1000: return "e1000";
    case NicModel::e1000e: return "e1000e";
    case NicModel::vmxnet3: return "vmxnet3";
    case NicModel::rtl8139: return "rtl8139";
    }
    return "virtio";
}

const char* libvirt_name(BootDevice device) {
    switch (device) {
    case BootDevice::disk: return "hd";
    case BootDevice::network: return "network";
    case BootDevice::cdrom: return "cdrom";
    }
    return "hd";
}

const char* libvirt_name(DiskFormat format) { return format == DiskFormat::raw ? "raw" : "qcow2"; }

// <metadata><vmlab:lab xmlns:vmlab="..." name="LAB" seat="N" .../></metadata>
pugi::xml_node add_metadata(pugi::xml_node parent, const std::string& lab, unsigned seat) {
    const std::string prefix = virt::vmlab_metadata_prefix;
    const std::string element_name = prefix + ":" + metadata_element;
    const std::string xmlns = "xmlns:" + prefix;
    pugi::xml_node element = child(child(parent, "metadata"), element_name.c_str(),
                                   {{xmlns.c_str(), virt::vmlab_metadata_uri}, {"name", lab}});
    if (seat != 0) element.append_attribute("seat").set_value(std::to_string(seat).c_str());
    return element;
}

void add_cpu(pugi::xml_node domain, CpuMode mode, const std::string& domain_type) {
    // Under TCG ("qemu") host-passthrough is refused at start; "maximum" is its emulated twin.
    // Without a <cpu>, QEMU emulates its generic qemu64.
    const bool tcg = domain_type == "qemu";
    switch (mode) {
    case CpuMode::host_model: child(domain, "cpu", {{"mode", "host-model"}}); break;
    case CpuMode::host_passthrough: child(domain, "cpu", {{"mode", tcg ? "maximum" : "host-passthrough"}}); break;
    case CpuMode::emulated: break;
    }
}

void add_os(pugi::xml_node domain, const PlannedVm& vm, const std::string& pool_path) {
    const bool uefi = vm.firmware == Firmware::uefi;
    pugi::xml_node os = child(domain, "os");
    text_child(os, "type", "hvm", {{"arch", "x86_64"}, {"machine", uefi ? "q35" : "pc"}});
    if (uefi) {
        text_child(os, "loader", ovmf_code, {{"readonly", "yes"}, {"type", "pflash"}});
        text_child(os, "nvram", pool_path + "/" + vm.domain + ".nvram.fd", {{"template", ovmf_vars}});
    }
    if (!vm.kernel.empty()) {
        text_child(os, "kernel", vm.kernel);
        if (!vm.initrd.empty()) text_child(os, "initrd", vm.initrd);
        if (!vm.cmdline.empty()) text_child(os, "cmdline", vm.cmdline);
        return;
    }
    for (BootDevice device : vm.boot) child(os, "boot", {{"dev", libvirt_name(device)}});
}

void add_devices(pugi::xml_node domain, const PlannedVm& vm, const std::string& pool_path,
                 const std::string& emulator, const std::string& console_password) {
    pugi::xml_node devices = child(domain, "devices");
    if (!emulator.empty()) text_child(devices, "emulator", emulator);
    for (const PlannedDisk& disk : vm.disks) {
        pugi::xml_node node = child(devices, "disk", {{"type", "file"}, {"device", "disk"}});
        child(node, "driver", {{"name", "qemu"}, {"type", "qcow2"}, {"discard", "unmap"}});
        child(node, "source", {{"file", pool_path + "/" + disk.volume}});
        child(node, "target", {{"dev", disk.target}, {"bus", "virtio"}});
    }
    if (!vm.seed_volume.empty()) {
        // The NoCloud seed: a read-only virtio disk (Debian's cloud kernel sees no SATA cdrom on q35).
        pugi::xml_node node = child(devices, "disk", {{"type", "file"}, {"device", "disk"}});
        child(node, "driver", {{"name", "qemu"}, {"type", "raw"}});
        child(node, "source", {{"file", pool_path + "/" + vm.seed_volume}});
        child(node, "target", {{"dev", vm.seed_target}, {"bus", "virtio"}});
        child(node, "readonly");
    }
    for (const PlannedNic& nic : vm.nics) {
        pugi::xml_node node = child(devices, "interface", {{"type", "network"}});
        child(node, "mac", {{"address", nic.mac}});
        child(node, "source", {{"network", nic.network}});
        child(node, "model", {{"type", libvirt_name(nic.model)}});
    }
    pugi::xml_node serial = child(devices, "serial", {{"type", "pty"}});
    child(serial, "log", {{"file", console_log_file(pool_path, vm.domain)}, {"append", "on"}});
    child(serial, "target", {{"port", "0"}});
    child(child(devices, "console", {{"type", "pty"}}), "target", {{"type", "serial"}, {"port", "0"}});
    if (vm.console.kind != ConsoleKind::none) {
        const char* type = vm.console.kind == ConsoleKind::spice ? "spice" : "vnc";
        pugi::xml_node graphics = child(devices, "graphics", {{"type", type}, {"autoport", "yes"}});
        if (!console_password.empty()) graphics.append_attribute("passwd") = console_password.c_str();
        child(graphics, "listen", {{"type", "address"}, {"address", vm.console.listen}});
    }
    child(devices, "memballoon", {{"model", "none"}});
}

// True for vmlab's metadata element. pugixml does not resolve namespaces, so look up the xmlns
// attribute for the element's prefix on it and its ancestors. virDomainGetMetadata returns the
// element without any namespace (it was looked up by it): an unprefixed, undeclared one counts.
bool is_vmlab_element(pugi::xml_node element) {
    const std::string qualified = element.name();
    const auto colon = qualified.find(':');
    if (qualified.substr(colon + 1) != metadata_element) return false;  // npos + 1 == 0
    const std::string xmlns = colon == std::string::npos ? "xmlns" : "xmlns:" + qualified.substr(0, colon);
    for (pugi::xml_node node = element; node; node = node.parent()) {
        pugi::xml_attribute declaration = node.attribute(xmlns.c_str());
        if (declaration) return declaration.value() == std::string_view(virt::vmlab_metadata_uri);
    }
    return colon == std::string::npos;
}

std::optional<VmMetadata> read_metadata(pugi::xml_node element) {
    if (!is_vmlab_element(element)) return std::nullopt;

    VmMetadata metadata;
    metadata.lab = element.attribute("name").value();
    if (metadata.lab.empty()) return std::nullopt;
    if (pugi::xml_attribute seat = element.attribute("seat")) {
        const std::string_view text = seat.value();
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), metadata.seat);
        if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    }
    metadata.vm = element.attribute("vm").value();
    metadata.spec_hash = element.attribute("spec-hash").value();
    metadata.config_hash = element.attribute("config-hash").value();
    metadata.seed_id = element.attribute("seed-id").value();
    return metadata;
}

}  // namespace

std::string console_log_file(const std::string& pool_path, const std::string& domain) {
    return pool_path + "/" + domain + ".console.log";
}

std::string domain_xml(const PlannedVm& vm, const std::string& lab, const std::string& spec_hash,
                       const std::string& domain_type, const std::string& pool_path,
                       const std::string& emulator, const std::string& console_password,
                       const std::string& seed_id) {
    pugi::xml_document doc;
    pugi::xml_node domain = child(doc, "domain", {{"type", domain_type}});
    text_child(domain, "name", vm.domain);
    text_child(domain, "memory", std::to_string((vm.memory_bytes + 1023) / 1024), {{"unit", "KiB"}});
    text_child(domain, "vcpu", std::to_string(vm.vcpus));
    pugi::xml_node metadata = add_metadata(domain, lab, vm.seat);
    metadata.append_attribute("vm").set_value(vm.spec_name.c_str());
    metadata.append_attribute("spec-hash").set_value(spec_hash.c_str());
    metadata.append_attribute("config-hash").set_value(vm.config_hash.c_str());
    if (!seed_id.empty()) metadata.append_attribute("seed-id").set_value(seed_id.c_str());
    add_os(domain, vm, pool_path);
    pugi::xml_node features = child(domain, "features");
    child(features, "acpi");
    child(features, "apic");
    add_cpu(domain, vm.cpu_mode, domain_type);
    child(domain, "clock", {{"offset", "utc"}});
    text_child(domain, "on_poweroff", "destroy");
    text_child(domain, "on_reboot", "restart");
    text_child(domain, "on_crash", "destroy");
    add_devices(domain, vm, pool_path, emulator, console_password);
    return serialize(doc);
}

std::string network_xml(const PlannedNetwork& net, const std::string& lab, unsigned seat) {
    const bool has_ip = net.mode != NetworkMode::fenced && net.gateway;
    const bool dhcp = has_ip && net.dhcp_first && net.dhcp_last;

    pugi::xml_document doc;
    pugi::xml_node network = child(doc, "network");
    if (dhcp) network.append_attribute("xmlns:dnsmasq").set_value(dnsmasq_uri);
    text_child(network, "name", net.libvirt_name);
    add_metadata(network, lab, seat);
    if (net.mode == NetworkMode::nat) child(network, "forward", {{"mode", "nat"}});
    // No spanning tree: a lab bridge holds only its VMs' taps, and with STP on the kernel keeps
    // every new port (each reset's fresh tap) listening and learning for 2 x its minimum forward
    // delay of 2 s before it forwards a frame. It would also join a router VM's spanning tree.
    child(network, "bridge", {{"name", net.bridge}, {"stp", "off"}});
    if (has_ip && !net.dns.empty()) {
        pugi::xml_node dns = child(network, "dns");
        for (const PlannedDnsName& name : net.dns)
            text_child(child(dns, "host", {{"ip", to_string(name.ip)}}), "hostname", name.hostname);
    }
    if (has_ip) {
        pugi::xml_node ip = child(network, "ip", {{"address", to_string(*net.gateway)},
                                                  {"prefix", std::to_string(net.subnet.prefix)}});
        if (dhcp) {
            pugi::xml_node node = child(ip, "dhcp");
            child(node, "range", {{"start", to_string(*net.dhcp_first)}, {"end", to_string(*net.dhcp_last)}});
            for (const PlannedDhcpHost& host : net.hosts) {
                pugi::xml_node entry = child(node, "host", {{"mac", host.mac}, {"ip", to_string(host.ip)}});
                if (!host.hostname.empty()) entry.append_attribute("name").set_value(host.hostname.c_str());
            }
        }
    }
    if (dhcp) {
        // dnsmasq pings each address before its first lease (~3 s per guest); skip that.
        child(child(network, "dnsmasq:options"), "dnsmasq:option", {{"value", "no-ping"}});
    }
    return serialize(doc);
}

std::string pool_xml(const std::string& name, const std::string& path) {
    pugi::xml_document doc;
    pugi::xml_node pool = child(doc, "pool", {{"type", "dir"}});
    text_child(pool, "name", name);
    pugi::xml_node target = child(pool, "target");
    text_child(target, "path", path);
    text_child(child(target, "permissions"), "mode", "0711");
    return serialize(doc);
}

std::string volume_xml(const PlannedDisk& disk, const std::string& backing_path, DiskFormat backing_format) {
    pugi::xml_document doc;
    pugi::xml_node volume = child(doc, "volume", {{"type", "file"}});
    text_child(volume, "name", disk.volume);
    // 0 with a backing store: the size of the backing image (the test driver needs the element).
    text_child(volume, "capacity", std::to_string(disk.capacity_bytes), {{"unit", "bytes"}});
    child(child(volume, "target"), "format", {{"type", "qcow2"}});
    if (!backing_path.empty()) {
        pugi::xml_node backing = child(volume, "backingStore");
        text_child(backing, "path", backing_path);
        child(backing, "format", {{"type", libvirt_name(backing_format)}});
    }
    return serialize(doc);
}

std::optional<VmMetadata> parse_vm_metadata(const std::string& metadata_xml) {
    pugi::xml_document doc;
    if (!doc.load_string(metadata_xml.c_str())) return std::nullopt;
    return read_metadata(doc.document_element());
}

std::optional<VmMetadata> parse_network_metadata(const std::string& network_xml) {
    pugi::xml_document doc;
    if (!doc.load_string(network_xml.c_str())) return std::nullopt;
    for (pugi::xml_node element : doc.document_element().child("metadata").children()) {
        if (auto metadata = read_metadata(element)) return metadata;
    }
    return std::nullopt;
}

}  // namespace vmlab
