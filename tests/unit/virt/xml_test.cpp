#include "vmlab/virt/xml.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <sstream>
#include <string>

namespace {

using namespace vmlab;

constexpr const char* pool_path = "/srv/vmlab/demo";

Ipv4 ip(unsigned a, unsigned b, unsigned c, unsigned d) { return Ipv4{a << 24 | b << 16 | c << 8 | d}; }

PlannedVm web_vm() {
    PlannedVm vm;
    vm.spec_name = "web";
    vm.domain = "demo-s01-web";
    vm.seat = 1;
    vm.vcpus = 2;
    vm.memory_bytes = 512ull << 20;
    vm.disks = {{"demo-s01-web-root.qcow2", 10ull << 30, "base-debian.qcow2", "vda"},
                {"demo-s01-web-data.qcow2", 1ull << 30, "", "vdb"}};
    vm.nics = {{"vmlab-demo-s01-lan", "52:54:00:12:34:56", ip(10, 0, 1, 10), NicModel::virtio},
               {"vmlab-demo-s01-dmz", "52:54:00:12:34:57", std::nullopt, NicModel::e1000}};
    vm.boot = {BootDevice::disk, BootDevice::network};
    vm.config_hash = "00112233aabbccdd";
    return vm;
}

PlannedNetwork lan_network() {
    PlannedNetwork net;
    net.spec_name = "lan";
    net.libvirt_name = "vmlab-demo-s01-lan";
    net.bridge = "vl-demo-1-lan";
    net.subnet = {ip(10, 0, 1, 0), 24};
    net.gateway = ip(10, 0, 1, 1);
    net.dhcp_first = ip(10, 0, 1, 100);
    net.dhcp_last = ip(10, 0, 1, 199);
    net.hosts = {{"52:54:00:12:34:56", ip(10, 0, 1, 10), "web"}, {"52:54:00:12:34:58", ip(10, 0, 1, 11), "db"}};
    return net;
}

pugi::xml_document parse(const std::string& xml) {
    pugi::xml_document doc;
    const pugi::xml_parse_result result = doc.load_string(xml.c_str());
    EXPECT_TRUE(result) << result.description() << "\n" << xml;
    return doc;
}

pugi::xml_document domain_doc(const PlannedVm& vm, const std::string& type = "kvm") {
    return parse(domain_xml(vm, "demo", "ffeeddccbbaa9988", type, pool_path, ""));
}

std::string outer_xml(pugi::xml_node node) {
    std::ostringstream out;
    node.print(out, "", pugi::format_raw);
    return out.str();
}

TEST(DomainXml, NamesSizesAndLifecycle) {
    const auto doc = domain_doc(web_vm());
    const auto domain = doc.child("domain");
    EXPECT_STREQ(domain.attribute("type").value(), "kvm");
    EXPECT_STREQ(domain.child_value("name"), "demo-s01-web");
    EXPECT_STREQ(domain.child("memory").attribute("unit").value(), "KiB");
    EXPECT_STREQ(domain.child_value("memory"), "524288");
    EXPECT_STREQ(domain.child_value("vcpu"), "2");
    EXPECT_TRUE(domain.child("features").child("acpi"));
    EXPECT_TRUE(domain.child("features").child("apic"));
    EXPECT_STREQ(domain.child("clock").attribute("offset").value(), "utc");
    EXPECT_STREQ(domain.child_value("on_poweroff"), "destroy");
    EXPECT_STREQ(domain.child_value("on_reboot"), "restart");
    EXPECT_STREQ(domain.child_value("on_crash"), "destroy");
    EXPECT_STREQ(domain.child("devices").child("memballoon").attribute("model").value(), "none");
}

TEST(DomainXml, BiosBootsFromTheListedDevicesInOrder) {
    const auto doc = domain_doc(web_vm());
    const auto os = doc.child("domain").child("os");
    EXPECT_STREQ(os.child_value("type"), "hvm");
    EXPECT_STREQ(os.child("type").attribute("arch").value(), "x86_64");
    EXPECT_STREQ(os.child("type").attribute("machine").value(), "pc");
    EXPECT_FALSE(os.child("loader"));
    EXPECT_FALSE(os.child("kernel"));
    std::string boot;
    for (auto node : os.children("boot")) boot += std::string(node.attribute("dev").value()) + " ";
    EXPECT_EQ(boot, "hd network ");
}

TEST(DomainXml, DirectKernelBootReplacesBootDevices) {
    PlannedVm vm = web_vm();
    vm.kernel = "/var/lib/vmlab/vmlinuz";
    vm.initrd = "/var/lib/vmlab/initrd.gz";
    vm.cmdline = "console=ttyS0 quiet panic=-1";
    const auto doc = domain_doc(vm);
    const auto os = doc.child("domain").child("os");
    EXPECT_STREQ(os.child_value("kernel"), "/var/lib/vmlab/vmlinuz");
    EXPECT_STREQ(os.child_value("initrd"), "/var/lib/vmlab/initrd.gz");
    EXPECT_STREQ(os.child_value("cmdline"), "console=ttyS0 quiet panic=-1");
    EXPECT_FALSE(os.child("boot"));

    vm.initrd.clear();
    vm.cmdline.clear();
    const auto bare = domain_doc(vm);
    EXPECT_FALSE(bare.child("domain").child("os").child("initrd"));
    EXPECT_FALSE(bare.child("domain").child("os").child("cmdline"));
}

TEST(DomainXml, UefiUsesQ35PflashAndPerDomainNvram) {
    PlannedVm vm = web_vm();
    vm.firmware = Firmware::uefi;
    const auto doc = domain_doc(vm);
    const auto os = doc.child("domain").child("os");
    EXPECT_STREQ(os.child("type").attribute("machine").value(), "q35");
    EXPECT_STREQ(os.child_value("loader"), "/usr/share/OVMF/OVMF_CODE_4M.fd");
    EXPECT_STREQ(os.child("loader").attribute("readonly").value(), "yes");
    EXPECT_STREQ(os.child("loader").attribute("type").value(), "pflash");
    EXPECT_STREQ(os.child_value("nvram"), "/srv/vmlab/demo/demo-s01-web.nvram.fd");
    EXPECT_STREQ(os.child("nvram").attribute("template").value(), "/usr/share/OVMF/OVMF_VARS_4M.fd");
}

TEST(DomainXml, CpuModeDependsOnAccelerator) {
    auto cpu_of = [](CpuMode mode, const std::string& type) {
        PlannedVm vm = web_vm();
        vm.cpu_mode = mode;
        const auto doc = domain_doc(vm, type);
        const auto cpu = doc.child("domain").child("cpu");
        return cpu ? std::string(cpu.attribute("mode").value()) : std::string("(none)");
    };
    EXPECT_EQ(cpu_of(CpuMode::host_model, "kvm"), "host-model");
    EXPECT_EQ(cpu_of(CpuMode::host_passthrough, "kvm"), "host-passthrough");
    EXPECT_EQ(cpu_of(CpuMode::emulated, "kvm"), "(none)");
    EXPECT_EQ(cpu_of(CpuMode::host_model, "qemu"), "host-model");
    EXPECT_EQ(cpu_of(CpuMode::host_passthrough, "qemu"), "maximum");
    EXPECT_EQ(cpu_of(CpuMode::emulated, "qemu"), "(none)");
}

TEST(DomainXml, DisksAreFilesInThePool) {
    const auto doc = domain_doc(web_vm());
    const auto devices = doc.child("domain").child("devices");
    std::string targets;
    for (auto disk : devices.children("disk")) {
        EXPECT_STREQ(disk.attribute("type").value(), "file");
        EXPECT_STREQ(disk.attribute("device").value(), "disk");
        EXPECT_STREQ(disk.child("driver").attribute("type").value(), "qcow2");
        EXPECT_STREQ(disk.child("driver").attribute("discard").value(), "unmap");
        EXPECT_STREQ(disk.child("target").attribute("bus").value(), "virtio");
        targets += std::string(disk.child("target").attribute("dev").value()) + "=" +
                   disk.child("source").attribute("file").value() + " ";
    }
    EXPECT_EQ(targets,
              "vda=/srv/vmlab/demo/demo-s01-web-root.qcow2 vdb=/srv/vmlab/demo/demo-s01-web-data.qcow2 ");
}

TEST(DomainXml, NicsJoinTheirNetworksWithFixedMacs) {
    const auto doc = domain_doc(web_vm());
    std::string nics;
    for (auto nic : doc.child("domain").child("devices").children("interface")) {
        EXPECT_STREQ(nic.attribute("type").value(), "network");
        nics += std::string(nic.child("source").attribute("network").value()) + "," +
                nic.child("mac").attribute("address").value() + "," + nic.child("model").attribute("type").value() +
                " ";
    }
    EXPECT_EQ(nics, "vmlab-demo-s01-lan,52:54:00:12:34:56,virtio vmlab-demo-s01-dmz,52:54:00:12:34:57,e1000 ");
}

TEST(DomainXml, SerialConsoleIsLoggedAndGraphicsFollowConsoleKind) {
    PlannedVm vm = web_vm();
    const auto doc = domain_doc(vm);
    const auto devices = doc.child("domain").child("devices");
    EXPECT_STREQ(devices.child("serial").attribute("type").value(), "pty");
    EXPECT_STREQ(devices.child("serial").child("log").attribute("file").value(),
                 "/srv/vmlab/demo/demo-s01-web.console.log");
    EXPECT_STREQ(devices.child("serial").child("log").attribute("append").value(), "on");
    EXPECT_STREQ(devices.child("console").child("target").attribute("type").value(), "serial");
    EXPECT_STREQ(devices.child("graphics").attribute("type").value(), "vnc");
    EXPECT_STREQ(devices.child("graphics").attribute("autoport").value(), "yes");
    EXPECT_STREQ(devices.child("graphics").child("listen").attribute("address").value(), "127.0.0.1");
    EXPECT_FALSE(devices.child("emulator"));

    vm.console = {ConsoleKind::spice, "0.0.0.0"};
    const auto spice = parse(domain_xml(vm, "demo", "h", "kvm", pool_path, "/usr/bin/qemu-system-x86_64"));
    const auto spice_devices = spice.child("domain").child("devices");
    EXPECT_STREQ(spice_devices.child("graphics").attribute("type").value(), "spice");
    EXPECT_STREQ(spice_devices.child("graphics").child("listen").attribute("address").value(), "0.0.0.0");
    EXPECT_STREQ(spice_devices.child_value("emulator"), "/usr/bin/qemu-system-x86_64");

    vm.console.kind = ConsoleKind::none;
    EXPECT_FALSE(domain_doc(vm).child("domain").child("devices").child("graphics"));
}

TEST(DomainXml, MetadataRoundTrips) {
    const auto doc = domain_doc(web_vm());
    const auto element = doc.child("domain").child("metadata").first_child();
    EXPECT_STREQ(element.name(), "vmlab:lab");
    EXPECT_STREQ(element.attribute("xmlns:vmlab").value(), "https://vmlab.dev/xmlns/vmlab/1");

    const auto metadata = parse_vm_metadata(outer_xml(element));
    ASSERT_TRUE(metadata);
    EXPECT_EQ(metadata->lab, "demo");
    EXPECT_EQ(metadata->seat, 1u);
    EXPECT_EQ(metadata->vm, "web");
    EXPECT_EQ(metadata->spec_hash, "ffeeddccbbaa9988");
    EXPECT_EQ(metadata->config_hash, "00112233aabbccdd");
}

TEST(DomainXml, MetadataParserChecksTheNamespaceNotThePrefix) {
    const auto other_prefix = parse_vm_metadata(
        R"(<v:lab xmlns:v="https://vmlab.dev/xmlns/vmlab/1" name="demo" seat="3" vm="db"/>)");
    ASSERT_TRUE(other_prefix);
    EXPECT_EQ(other_prefix->seat, 3u);
    EXPECT_EQ(other_prefix->vm, "db");
    EXPECT_TRUE(parse_vm_metadata(R"(<lab xmlns="https://vmlab.dev/xmlns/vmlab/1" name="demo" seat="1"/>)"));
    // What virDomainGetMetadata returns: the element stripped of its namespace.
    const auto from_libvirt = parse_vm_metadata(R"(<lab name="demo" seat="2" vm="web" spec-hash="s"/>)");
    ASSERT_TRUE(from_libvirt);
    EXPECT_EQ(from_libvirt->seat, 2u);
    EXPECT_EQ(from_libvirt->spec_hash, "s");

    EXPECT_FALSE(parse_vm_metadata(R"(<lab xmlns="https://example.com/x" name="demo"/>)"));
    EXPECT_FALSE(parse_vm_metadata(R"(<vmlab:other xmlns:vmlab="https://vmlab.dev/xmlns/vmlab/1" name="demo"/>)"));
    EXPECT_FALSE(parse_vm_metadata(R"(<vmlab:lab xmlns:vmlab="https://example.com/x" name="demo"/>)"));
    EXPECT_FALSE(parse_vm_metadata(R"(<vmlab:lab name="demo"/>)"));
    EXPECT_FALSE(parse_vm_metadata(R"(<vmlab:lab xmlns:vmlab="https://vmlab.dev/xmlns/vmlab/1" seat="1"/>)"));
    EXPECT_FALSE(
        parse_vm_metadata(R"(<vmlab:lab xmlns:vmlab="https://vmlab.dev/xmlns/vmlab/1" name="x" seat="1a"/>)"));
    EXPECT_FALSE(parse_vm_metadata("not xml <"));
    EXPECT_FALSE(parse_vm_metadata(""));
}

TEST(DomainXml, HostileValuesAreEscapedAndRoundTrip) {
    PlannedVm vm = web_vm();
    vm.domain = R"(evil'"<x>&y)";
    vm.spec_name = R"(a"b'c<d>&e)";
    vm.kernel = "/k";
    vm.cmdline = R"(console=ttyS0 init="/bin/sh -c 'echo <&>'" ]]> --)";
    vm.console.listen = R"(127.0.0.1"/><evil a=")";
    const std::string xml = domain_xml(vm, R"(lab"<&>')", "hash", "test", "/pool 'dir'", "");
    EXPECT_EQ(xml.find("<x>"), std::string::npos);

    const auto doc = parse(xml);
    const auto domain = doc.child("domain");
    EXPECT_STREQ(domain.child_value("name"), vm.domain.c_str());
    EXPECT_STREQ(domain.child("os").child_value("cmdline"), vm.cmdline.c_str());
    EXPECT_STREQ(domain.child("devices").child("graphics").child("listen").attribute("address").value(),
                 vm.console.listen.c_str());
    EXPECT_FALSE(domain.child("devices").child("graphics").child("evil"));
    EXPECT_EQ(std::string(domain.child("devices").child("serial").child("log").attribute("file").value()),
              "/pool 'dir'/" + vm.domain + ".console.log");

    const auto metadata = parse_vm_metadata(outer_xml(domain.child("metadata").first_child()));
    ASSERT_TRUE(metadata);
    EXPECT_EQ(metadata->lab, R"(lab"<&>')");
    EXPECT_EQ(metadata->vm, vm.spec_name);
}

TEST(DomainXml, OutputIsDeterministic) {
    EXPECT_EQ(domain_xml(web_vm(), "demo", "h", "kvm", pool_path, ""),
              domain_xml(web_vm(), "demo", "h", "kvm", pool_path, ""));
    EXPECT_EQ(network_xml(lan_network(), "demo", 1), network_xml(lan_network(), "demo", 1));
}

TEST(NetworkXml, IsolatedWithDhcpHostsAndNoPing) {
    const auto doc = parse(network_xml(lan_network(), "demo", 1));
    const auto network = doc.child("network");
    EXPECT_STREQ(network.child_value("name"), "vmlab-demo-s01-lan");
    EXPECT_FALSE(network.child("forward"));
    EXPECT_STREQ(network.child("bridge").attribute("name").value(), "vl-demo-1-lan");
    EXPECT_STREQ(network.child("bridge").attribute("stp").value(), "off");

    const auto ip_node = network.child("ip");
    EXPECT_STREQ(ip_node.attribute("address").value(), "10.0.1.1");
    EXPECT_STREQ(ip_node.attribute("prefix").value(), "24");
    const auto dhcp = ip_node.child("dhcp");
    EXPECT_STREQ(dhcp.child("range").attribute("start").value(), "10.0.1.100");
    EXPECT_STREQ(dhcp.child("range").attribute("end").value(), "10.0.1.199");
    std::string hosts;
    for (auto host : dhcp.children("host")) {
        hosts += std::string(host.attribute("mac").value()) + "=" + host.attribute("ip").value() + "/" +
                 host.attribute("name").value() + " ";
    }
    EXPECT_EQ(hosts, "52:54:00:12:34:56=10.0.1.10/web 52:54:00:12:34:58=10.0.1.11/db ");

    EXPECT_STREQ(network.attribute("xmlns:dnsmasq").value(), "http://libvirt.org/schemas/network/dnsmasq/1.0");
    EXPECT_STREQ(network.child("dnsmasq:options").child("dnsmasq:option").attribute("value").value(), "no-ping");
}

TEST(NetworkXml, NatForwards) {
    PlannedNetwork net = lan_network();
    net.mode = NetworkMode::nat;
    const auto doc = parse(network_xml(net, "demo", 1));
    EXPECT_STREQ(doc.child("network").child("forward").attribute("mode").value(), "nat");
    EXPECT_TRUE(doc.child("network").child("ip"));
}

TEST(NetworkXml, FencedHasNoAddressNoDhcpNoForward) {
    PlannedNetwork net = lan_network();
    net.mode = NetworkMode::fenced;
    net.gateway.reset();
    net.dhcp_first.reset();
    net.dhcp_last.reset();
    const auto doc = parse(network_xml(net, "demo", 1));
    const auto network = doc.child("network");
    EXPECT_FALSE(network.child("ip"));
    EXPECT_FALSE(network.child("forward"));
    EXPECT_FALSE(network.child("dnsmasq:options"));
    EXPECT_FALSE(network.attribute("xmlns:dnsmasq"));
    EXPECT_TRUE(network.child("bridge"));
}

TEST(NetworkXml, WithoutDhcpKeepsTheGatewayOnly) {
    PlannedNetwork net = lan_network();
    net.dhcp_first.reset();
    net.dhcp_last.reset();
    const auto doc = parse(network_xml(net, "demo", 1));
    EXPECT_TRUE(doc.child("network").child("ip"));
    EXPECT_FALSE(doc.child("network").child("ip").child("dhcp"));
    EXPECT_FALSE(doc.child("network").child("dnsmasq:options"));
}

TEST(NetworkXml, MetadataRoundTrips) {
    const auto seat = parse_network_metadata(network_xml(lan_network(), "demo", 7));
    ASSERT_TRUE(seat);
    EXPECT_EQ(seat->lab, "demo");
    EXPECT_EQ(seat->seat, 7u);
    EXPECT_EQ(seat->vm, "");

    const auto lab_wide = parse_network_metadata(network_xml(lan_network(), "demo", 0));
    ASSERT_TRUE(lab_wide);
    EXPECT_EQ(lab_wide->seat, 0u);

    EXPECT_FALSE(parse_network_metadata("<network><name>default</name></network>"));
    EXPECT_FALSE(parse_network_metadata(
        R"(<network><metadata><x:lab xmlns:x="urn:other" name="demo"/></metadata></network>)"));
}

TEST(StorageXml, DirectoryPool) {
    const auto doc = parse(pool_xml("vmlab-demo", "/srv/vmlab/demo"));
    const auto pool = doc.child("pool");
    EXPECT_STREQ(pool.attribute("type").value(), "dir");
    EXPECT_STREQ(pool.child_value("name"), "vmlab-demo");
    EXPECT_STREQ(pool.child("target").child_value("path"), "/srv/vmlab/demo");
    EXPECT_STREQ(pool.child("target").child("permissions").child_value("mode"), "0711");
}

TEST(StorageXml, BlankVolume) {
    const PlannedDisk disk{"demo-s01-web-data.qcow2", 1ull << 30, "", "vdb"};
    const auto doc = parse(volume_xml(disk, "", DiskFormat::qcow2));
    const auto volume = doc.child("volume");
    EXPECT_STREQ(volume.child_value("name"), "demo-s01-web-data.qcow2");
    EXPECT_STREQ(volume.child_value("capacity"), "1073741824");
    EXPECT_STREQ(volume.child("capacity").attribute("unit").value(), "bytes");
    EXPECT_STREQ(volume.child("target").child("format").attribute("type").value(), "qcow2");
    EXPECT_FALSE(volume.child("backingStore"));
}

TEST(StorageXml, LinkedCloneVolume) {
    const PlannedDisk disk{"demo-s01-web-root.qcow2", 0, "base.img", "vda"};
    const auto doc = parse(volume_xml(disk, "/srv/vmlab/demo/base.img", DiskFormat::raw));
    const auto volume = doc.child("volume");
    EXPECT_STREQ(volume.child_value("capacity"), "0");  // the size of the backing image
    EXPECT_STREQ(volume.child("target").child("format").attribute("type").value(), "qcow2");
    EXPECT_STREQ(volume.child("backingStore").child_value("path"), "/srv/vmlab/demo/base.img");
    EXPECT_STREQ(volume.child("backingStore").child("format").attribute("type").value(), "raw");
}

}  // namespace
