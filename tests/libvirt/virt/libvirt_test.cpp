// The libvirt layer and the generated XML against libvirt's test driver (in-process, no daemon).
// All connections of this process share one fake host: every test uses its own names and
// removes what it created.

#include "vmlab/virt/libvirt.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "vmlab/virt/xml.hpp"

namespace {

using namespace vmlab;

static_assert(!std::is_copy_constructible_v<virt::Connection>);
static_assert(std::is_nothrow_move_constructible_v<virt::Connection>);

constexpr const char* uri = "test:///default";

Ipv4 ip(unsigned a, unsigned b, unsigned c, unsigned d) { return Ipv4{a << 24 | b << 16 | c << 8 | d}; }

template <class Handle>
std::vector<std::string> names(const std::vector<Handle>& handles) {
    std::vector<std::string> result;
    for (const Handle& h : handles) result.push_back(virt::name(h));
    return result;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

class Libvirt : public ::testing::Test {
protected:
    void SetUp() override { prefix = std::string("vmlab-t-") + test_info()->name() + "-"; }

    void TearDown() override {
        const auto ours = [&](const auto& handle) { return virt::name(handle).starts_with(prefix); };
        for (const auto& domain : conn.all_domains()) {
            if (!ours(domain)) continue;
            virt::destroy(domain);
            virt::undefine(domain);
        }
        for (const auto& network : conn.all_networks()) {
            if (!ours(network)) continue;
            virt::destroy(network);
            virt::undefine(network);
        }
        for (const auto& pool : conn.all_pools()) {
            if (!ours(pool)) continue;
            if (virt::is_active(pool)) {
                for (const auto& volume : conn.all_volumes(pool)) virt::delete_volume(volume);
            }
            virt::destroy(pool);
            virt::undefine(pool);
        }
    }

    static const ::testing::TestInfo* test_info() {
        return ::testing::UnitTest::GetInstance()->current_test_info();
    }

    std::string unique(const std::string& what) const { return prefix + what; }

    PlannedVm planned_vm(const std::string& vm_name) const {
        PlannedVm vm;
        vm.spec_name = vm_name;
        vm.domain = unique(vm_name);
        vm.seat = 2;
        vm.memory_bytes = 128ull << 20;
        vm.disks = {{vm.domain + "-root.qcow2", 1ull << 30, "base.qcow2", "vda"}};
        vm.nics = {{unique("lan"), "52:54:00:aa:00:01", std::nullopt, NicModel::virtio}};
        vm.boot = {BootDevice::disk};
        vm.config_hash = "0123456789abcdef";
        return vm;
    }

    PlannedNetwork planned_network(const std::string& bridge) const {
        PlannedNetwork net;
        net.spec_name = "lan";
        net.libvirt_name = unique("lan");
        net.bridge = bridge;
        net.subnet = {ip(10, 77, 2, 0), 24};
        net.gateway = ip(10, 77, 2, 1);
        net.dhcp_first = ip(10, 77, 2, 100);
        net.dhcp_last = ip(10, 77, 2, 199);
        net.hosts = {{"52:54:00:aa:00:01", ip(10, 77, 2, 10), "web"}};
        return net;
    }

    virt::Domain define_vm(const PlannedVm& vm) {
        return conn.define_domain(domain_xml(vm, "demo", "feedfacefeedface", "test", "/vmlab-test/pool", ""));
    }

    virt::Connection conn = virt::Connection::open(uri);
    std::string prefix;
};

TEST_F(Libvirt, OpensAndDescribesTheHost) {
    EXPECT_EQ(conn.uri(), uri);
    EXPECT_NE(conn.get(), nullptr);
    EXPECT_EQ(conn.hypervisor_type(), "test");
    const virt::HostInfo host = conn.host_info();
    EXPECT_GT(host.cpus, 0u);
    EXPECT_GT(host.memory_bytes, 0u);
    EXPECT_GT(host.free_memory_bytes, 0u);
    EXPECT_LE(host.free_memory_bytes, host.memory_bytes);
}

TEST_F(Libvirt, MovedConnectionKeepsWorking) {
    virt::Connection moved = std::move(conn);
    EXPECT_EQ(moved.hypervisor_type(), "test");
    conn = virt::Connection::open(uri);  // for TearDown
}

TEST_F(Libvirt, FindReturnsEmptyForMissingObjects) {
    EXPECT_FALSE(conn.find_domain(unique("nope")));
    EXPECT_FALSE(conn.find_network(unique("nope")));
    EXPECT_FALSE(conn.find_pool(unique("nope")));
    const virt::StoragePool pool = conn.find_pool("default-pool");  // the test driver's own
    ASSERT_TRUE(pool);
    EXPECT_FALSE(conn.find_volume(pool, unique("nope")));

    const virt::Domain domain = conn.find_domain("test");
    ASSERT_TRUE(domain);
    EXPECT_EQ(virt::name(domain), "test");
    EXPECT_TRUE(conn.find_network("default"));
}

TEST_F(Libvirt, NetworkLifecycleKeepsDhcpAndMetadata) {
    const virt::Network network = conn.define_network(network_xml(planned_network("vmt-net0"), "demo", 2));
    EXPECT_EQ(virt::name(network), unique("lan"));
    EXPECT_FALSE(virt::is_active(network));
    virt::set_autostart(network, virt::Autostart::yes);
    virt::start(network);
    EXPECT_TRUE(virt::is_active(network));
    EXPECT_TRUE(contains(names(conn.all_networks()), unique("lan")));

    const std::string xml = virt::xml_desc(network);
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(xml.c_str()));
    const auto ip_node = doc.child("network").child("ip");
    EXPECT_STREQ(ip_node.attribute("address").value(), "10.77.2.1");
    EXPECT_STREQ(ip_node.attribute("prefix").value(), "24");
    EXPECT_STREQ(ip_node.child("dhcp").child("range").attribute("start").value(), "10.77.2.100");
    const auto host = ip_node.child("dhcp").child("host");
    EXPECT_STREQ(host.attribute("mac").value(), "52:54:00:aa:00:01");
    EXPECT_STREQ(host.attribute("ip").value(), "10.77.2.10");
    EXPECT_STREQ(host.attribute("name").value(), "web");
    EXPECT_STREQ(doc.child("network").child("bridge").attribute("name").value(), "vmt-net0");

    const auto metadata = parse_network_metadata(xml);
    ASSERT_TRUE(metadata) << xml;
    EXPECT_EQ(metadata->lab, "demo");
    EXPECT_EQ(metadata->seat, 2u);

    virt::destroy(network);
    virt::destroy(network);  // not running: no-op
    EXPECT_FALSE(virt::is_active(network));
    virt::undefine(network);
    EXPECT_FALSE(conn.find_network(unique("lan")));
}

TEST_F(Libvirt, FencedAndNatNetworksAreAccepted) {
    PlannedNetwork fenced = planned_network("vmt-fen0");
    fenced.libvirt_name = unique("fenced");
    fenced.mode = NetworkMode::fenced;
    fenced.gateway.reset();
    const virt::Network isolated = conn.define_network(network_xml(fenced, "demo", 1));
    virt::start(isolated);
    EXPECT_NE(virt::xml_desc(isolated).find("<bridge"), std::string::npos);

    PlannedNetwork nat = planned_network("vmt-nat0");
    nat.libvirt_name = unique("nat");
    nat.mode = NetworkMode::nat;
    nat.subnet = {ip(10, 77, 3, 0), 24};
    nat.gateway = ip(10, 77, 3, 1);
    nat.dhcp_first.reset();
    const virt::Network forwarded = conn.define_network(network_xml(nat, "demo", 0));
    virt::start(forwarded);
    EXPECT_NE(virt::xml_desc(forwarded).find("<forward mode='nat'"), std::string::npos);
}

TEST_F(Libvirt, DomainLifecycle) {
    const virt::Domain domain = define_vm(planned_vm("web"));
    EXPECT_EQ(virt::name(domain), unique("web"));
    EXPECT_EQ(virt::state(domain), virt::DomainState::shut_off);
    EXPECT_FALSE(virt::is_active(domain));
    EXPECT_TRUE(contains(names(conn.all_domains()), unique("web")));

    virt::start(domain);
    EXPECT_EQ(virt::state(domain), virt::DomainState::running);
    EXPECT_TRUE(virt::is_active(domain));
    virt::shutdown(domain);
    EXPECT_EQ(virt::state(domain), virt::DomainState::shut_off);

    virt::start(domain);
    virt::destroy(domain);
    EXPECT_EQ(virt::state(domain), virt::DomainState::shut_off);
    virt::destroy(domain);  // not running: no-op
    virt::undefine(domain);
    EXPECT_FALSE(conn.find_domain(unique("web")));
    EXPECT_EQ(virt::to_string(virt::DomainState::shut_off), "shut off");
}

TEST_F(Libvirt, GeneratedDomainXmlIsKept) {
    PlannedVm vm = planned_vm("db");
    vm.kernel = "/vmlab-test/vmlinuz";
    vm.cmdline = R"(console=ttyS0 x="<&>")";
    vm.console.kind = ConsoleKind::spice;
    const virt::Domain domain = define_vm(vm);

    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(virt::xml_desc(domain).c_str()));
    const auto root = doc.child("domain");
    EXPECT_STREQ(root.child("memory").attribute("unit").value(), "KiB");
    EXPECT_STREQ(root.child_value("memory"), "131072");
    EXPECT_STREQ(root.child("os").child_value("cmdline"), vm.cmdline.c_str());
    const auto devices = root.child("devices");
    EXPECT_STREQ(devices.child("disk").child("source").attribute("file").value(),
                 ("/vmlab-test/pool/" + vm.domain + "-root.qcow2").c_str());
    EXPECT_STREQ(devices.child("interface").child("mac").attribute("address").value(), "52:54:00:aa:00:01");
    EXPECT_STREQ(devices.child("graphics").attribute("type").value(), "spice");
}

TEST_F(Libvirt, DomainMetadataRoundTrips) {
    const virt::Domain domain = define_vm(planned_vm("web"));
    const std::optional<std::string> raw = virt::domain_metadata(domain);
    ASSERT_TRUE(raw);
    const std::optional<VmMetadata> metadata = parse_vm_metadata(*raw);
    ASSERT_TRUE(metadata) << *raw;
    EXPECT_EQ(metadata->lab, "demo");
    EXPECT_EQ(metadata->seat, 2u);
    EXPECT_EQ(metadata->vm, "web");
    EXPECT_EQ(metadata->spec_hash, "feedfacefeedface");
    EXPECT_EQ(metadata->config_hash, "0123456789abcdef");

    EXPECT_FALSE(virt::domain_metadata(conn.find_domain("test")));  // not vmlab's
}

TEST_F(Libvirt, UndefineRemovesUefiDomainWithSnapshots) {
    PlannedVm vm = planned_vm("uefi");
    vm.firmware = Firmware::uefi;
    const virt::Domain domain = define_vm(vm);
    const virt::DomainSnapshot snapshot{virDomainSnapshotCreateXML(
        domain.get(), "<domainsnapshot><name>clean</name></domainsnapshot>", 0)};
    ASSERT_TRUE(snapshot);
    virt::undefine(domain);  // the test driver refuses the NVRAM flag: falls back
    EXPECT_FALSE(conn.find_domain(unique("uefi")));
}

TEST_F(Libvirt, PoolAndVolumes) {
    const std::string pool_name = unique("pool");
    const std::string path = "/vmlab-test/" + pool_name;
    const virt::StoragePool pool = conn.define_pool(pool_xml(pool_name, path));
    EXPECT_FALSE(virt::is_active(pool));
    virt::build(pool);
    virt::set_autostart(pool, virt::Autostart::yes);
    virt::start(pool);
    EXPECT_TRUE(virt::is_active(pool));
    EXPECT_TRUE(contains(names(conn.all_pools()), pool_name));
    const virt::PoolInfo info = virt::info(pool);
    EXPECT_GT(info.capacity_bytes, 0u);
    EXPECT_LE(info.allocation_bytes, info.capacity_bytes);

    const virt::StorageVol base = conn.create_volume(pool, volume_xml({"base.qcow2", 64ull << 20, "", ""}, "",
                                                                      DiskFormat::qcow2));
    EXPECT_EQ(virt::name(base), "base.qcow2");
    EXPECT_EQ(virt::volume_path(base), path + "/base.qcow2");
    EXPECT_EQ(virt::capacity(base), 64ull << 20);

    const PlannedDisk root{"web-root.qcow2", 1ull << 30, "base.qcow2", "vda"};
    const virt::StorageVol clone = conn.create_volume(pool, volume_xml(root, virt::volume_path(base), DiskFormat::qcow2));
    EXPECT_EQ(virt::capacity(clone), 1ull << 30);
    const virt::XmlString clone_xml{virStorageVolGetXMLDesc(clone.get(), 0)};
    ASSERT_TRUE(clone_xml);
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(clone_xml.get()));
    EXPECT_STREQ(doc.child("volume").child("backingStore").child_value("path"), (path + "/base.qcow2").c_str());
    EXPECT_STREQ(doc.child("volume").child("target").child("format").attribute("type").value(), "qcow2");

    virt::refresh(pool);
    EXPECT_TRUE(conn.find_volume(pool, "web-root.qcow2"));
    EXPECT_EQ(conn.all_volumes(pool).size(), 2u);
    virt::delete_volume(clone);
    EXPECT_FALSE(conn.find_volume(pool, "web-root.qcow2"));

    virt::destroy(pool);
    virt::destroy(pool);  // not running: no-op
    EXPECT_FALSE(virt::is_active(pool));
    virt::undefine(pool);
    EXPECT_FALSE(conn.find_pool(pool_name));
}

TEST_F(Libvirt, ErrorsKeepTheLibvirtCodeAndNameTheObject) {
    try {
        conn.define_domain("<domain type='test'><name>" + unique("broken") + "</name><memory>x</memory></domain>");
        FAIL() << "broken XML was accepted";
    } catch (const virt::LibvirtError& e) {
        EXPECT_EQ(e.code(), VIR_ERR_XML_ERROR) << e.what();
        EXPECT_TRUE(std::string(e.what()).starts_with("cannot define domain " + unique("broken") + ": "))
            << e.what();
    }
    try {
        conn.define_domain("<domain");
        FAIL() << "malformed XML was accepted";
    } catch (const virt::LibvirtError& e) {
        EXPECT_EQ(e.code(), VIR_ERR_XML_DETAIL) << e.what();
        EXPECT_TRUE(std::string(e.what()).starts_with("cannot define domain: ")) << e.what();
    }

    const virt::Domain domain = define_vm(planned_vm("web"));
    virt::start(domain);
    try {
        virt::start(domain);
        FAIL() << "a running domain was started again";
    } catch (const virt::LibvirtError& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("cannot start domain " + unique("web") + ": ")) << e.what();
        EXPECT_EQ(e.domain(), VIR_FROM_TEST);
    }

    const virt::Network network = conn.define_network(network_xml(planned_network("vmt-err0"), "demo", 2));
    try {
        virt::dhcp_leases(network);  // not implemented by the test driver
        FAIL() << "the test driver now reports leases: test them";
    } catch (const virt::LibvirtError& e) {
        EXPECT_EQ(e.code(), VIR_ERR_NO_SUPPORT);
        EXPECT_TRUE(std::string(e.what()).starts_with("cannot read DHCP leases of network " + unique("lan")))
            << e.what();
    }
}

TEST_F(Libvirt, UnreachableUriThrows) {
    try {
        virt::Connection::open("test:///nonexistent/vmlab/host.xml");
        FAIL() << "opened a host that does not exist";
    } catch (const virt::LibvirtError& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("cannot connect to test:///nonexistent/vmlab/host.xml: "))
            << e.what();
        EXPECT_NE(e.code(), VIR_ERR_OK);
        EXPECT_EQ(e.hint(), "check the URI (-c/--connect, or lab.host in the lab file), e.g. qemu:///system");
    }
}

}  // namespace
