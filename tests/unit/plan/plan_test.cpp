#include "vmlab/plan/plan.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/lab/loader.hpp"
#include "vmlab/plan/plan_json.hpp"

namespace fs = std::filesystem;
using namespace vmlab;

namespace {

// Each test case writes its lab in a fresh directory of its own, removed afterwards.
class PlanTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "vmlab-plan-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    fs::path write(const fs::path& relative, std::string_view text) {
        const fs::path path = m_dir / relative;
        fs::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        return path;
    }

    // Loads a lab that must be valid.
    LabSpec load(std::string_view text) {
        const LoadResult result = load_lab(write("lab.toml", text));
        std::string problems;
        for (const auto& d : result.diagnostics)
            if (d.severity == Severity::error) problems += "\n  " + format(d);
        EXPECT_TRUE(result.lab) << problems;
        return result.lab.value_or(LabSpec{});
    }

    const fs::path& dir() const { return m_dir; }

private:
    fs::path m_dir;
};

// The demo lab, with a template that needs no files on this machine.
constexpr const char* demo_lab = R"([lab]
name = "demo"
seats = 3
cidr = "10.210.0.0/16"

[templates.tiny]
memory = "128MiB"
disk = "1GiB"

[networks.lan]

[vms.client]
template = "tiny"
nics = [{ network = "lan", address = 10 }]

[vms.web]
template = "tiny"
nics = [{ network = "lan", address = 20 }]
disks = ["2GiB"]
)";

const PlannedVm& vm_named(const PlannedSeat& seat, const std::string& name) {
    for (const auto& vm : seat.vms)
        if (vm.spec_name == name) return vm;
    throw std::runtime_error("no VM " + name);
}

const PlannedNetwork& network_named(const std::vector<PlannedNetwork>& networks, const std::string& name) {
    for (const auto& n : networks)
        if (n.spec_name == name) return n;
    throw std::runtime_error("no network " + name);
}

bool subnet_inside(const Ipv4Net& inner, const Ipv4Net& outer) {
    return inner.prefix >= outer.prefix && outer.contains(inner.base) && outer.contains(inner.broadcast());
}

// Running baselines only where readiness can be seen; the lab's choice is the default.
TEST_F(PlanTest, BaselineIsRunningOnlyWhereReadinessCanBeSeen) {
    write("k", "kernel");
    const Plan plan = make_plan(load(R"(
[lab]
name = "b"
seats = 2
cidr = "10.1.0.0/16"
[templates.t]
kernel = "k"
memory = "128MiB"
disk = "1GiB"
[networks.lan]
[networks.quiet]
dhcp = false
[vms.leased]
template = "t"
nics = [{ network = "lan" }]
[vms.silent]
template = "t"
nics = [{ network = "quiet", address = 5 }]
[vms.console]
template = "t"
nics = [{ network = "quiet", address = 6 }]
ready_console = "login:"
[vms.cold]
template = "t"
baseline = "powered-off"
nics = [{ network = "lan" }]
)"));
    std::map<std::string, Baseline> baseline;
    for (const auto& vm : plan.seats[0].vms) baseline[vm.spec_name] = vm.baseline;
    EXPECT_EQ(baseline["leased"], Baseline::running);
    EXPECT_EQ(baseline["silent"], Baseline::powered_off);
    EXPECT_EQ(baseline["console"], Baseline::running);
    EXPECT_EQ(baseline["cold"], Baseline::powered_off);
    EXPECT_EQ(plan.totals.baseline_bytes, 2u * 2u * (128ull << 20));  // two running VMs in each of two seats
    EXPECT_EQ(plan.ready_timeout_seconds, 300u);
}

TEST_F(PlanTest, LabWideBaselineAndReadyTimeout) {
    write("k", "kernel");
    const Plan plan = make_plan(load(R"(
[lab]
name = "b"
cidr = "10.1.0.0/16"
baseline = "powered-off"
ready_timeout = 90
[templates.t]
kernel = "k"
disk = "1GiB"
[networks.lan]
[vms.a]
template = "t"
[vms.b]
template = "t"
baseline = "running"
)"));
    EXPECT_EQ(plan.seats[0].vms[0].baseline, Baseline::powered_off);
    EXPECT_EQ(plan.seats[0].vms[1].baseline, Baseline::running);
    EXPECT_EQ(plan.ready_timeout_seconds, 90u);
    EXPECT_EQ(plan_to_json(plan)["seats"][0]["vms"][1]["baseline"], "running");
}

}  // namespace

TEST_F(PlanTest, IsDeterministic) {
    const LabSpec lab = load(demo_lab);
    const std::string first = plan_to_json(make_plan(lab)).dump();
    const std::string second = plan_to_json(make_plan(lab)).dump();
    EXPECT_EQ(first, second);
    // Loading the file again gives the same plan, too.
    EXPECT_EQ(plan_to_json(make_plan(load(demo_lab))).dump(), first);
}

TEST_F(PlanTest, Names) {
    const Plan plan = make_plan(load(demo_lab));
    EXPECT_EQ(plan.lab, "demo");
    EXPECT_EQ(plan.pool, "vmlab-demo");
    EXPECT_EQ(plan.pool_path, "/var/lib/vmlab/pools/demo");
    ASSERT_EQ(plan.seats.size(), 3u);
    const PlannedSeat& seat = plan.seats[0];
    EXPECT_EQ(seat.number, 1u);
    EXPECT_EQ(vm_named(seat, "web").domain, "demo-s01-web");
    EXPECT_EQ(vm_named(plan.seats[2], "client").domain, "demo-s03-client");
    ASSERT_EQ(seat.networks.size(), 1u);
    EXPECT_EQ(seat.networks[0].libvirt_name, "vmlab-demo-s01-lan");
    EXPECT_EQ(plan.seats[1].networks[0].libvirt_name, "vmlab-demo-s02-lan");
    EXPECT_TRUE(std::regex_match(seat.networks[0].bridge, std::regex("vl[0-9a-f]{4}-1-0"))) << seat.networks[0].bridge;
    // The examples in docs/lab-format.md ("Names of what vmlab creates").
    EXPECT_EQ(seat.networks[0].bridge, "vl67c1-1-0");
    EXPECT_EQ(plan.seats[2].networks[0].bridge, "vl67c1-3-0");
    EXPECT_EQ(vm_named(seat, "web").nics[0].mac, "52:67:c1:00:01:08");  // seat 1, VM 1 (name order), NIC 0

    const PlannedVm& web = vm_named(seat, "web");
    ASSERT_EQ(web.disks.size(), 2u);
    EXPECT_EQ(web.disks[0].volume, "demo-s01-web-root.qcow2");
    EXPECT_EQ(web.disks[0].target, "vda");
    EXPECT_EQ(web.disks[1].volume, "demo-s01-web-data1.qcow2");
    EXPECT_EQ(web.disks[1].target, "vdb");
    ASSERT_EQ(web.nics.size(), 1u);
    EXPECT_EQ(web.nics[0].network, "vmlab-demo-s01-lan");

    EXPECT_EQ(domain_name("demo", 7, "web"), "demo-s07-web");
    EXPECT_EQ(domain_name("demo", 123, "web"), "demo-s123-web");
    EXPECT_EQ(pool_name("demo"), "vmlab-demo");
    EXPECT_EQ(network_prefix("demo"), "vmlab-demo-");
    ASSERT_NE(plan.find_seat(3), nullptr);
    EXPECT_EQ(plan.find_seat(3)->number, 3u);
    EXPECT_EQ(plan.find_seat(0), nullptr);
    EXPECT_EQ(plan.find_seat(4), nullptr);
}

TEST_F(PlanTest, BaseImagesAndLinkedClones) {
    std::string header(512, '\0');
    header[0] = 'Q', header[1] = 'F', header[2] = 'I', header[3] = '\xfb';
    header[24 + 3] = 1;  // virtual size 2^32 = 4 GiB, big-endian at offset 24
    write("images/guest.qcow2", header);
    const Plan plan = make_plan(load(R"([lab]
name = "img"
cidr = "10.1.0.0/16"

[templates.guest]
image = "images/guest.qcow2"

[networks.lan]

[vms.big]
template = "guest"
disk = "10GiB"
[vms.same]
template = "guest"
)"));
    ASSERT_EQ(plan.images.size(), 1u);
    EXPECT_EQ(plan.images[0].template_name, "guest");
    EXPECT_EQ(plan.images[0].source_path, (dir() / "images/guest.qcow2").string());
    EXPECT_EQ(plan.images[0].volume, "base-guest.qcow2");
    EXPECT_EQ(plan.images[0].format, DiskFormat::qcow2);
    const PlannedVm& big = vm_named(plan.seats[0], "big");
    ASSERT_EQ(big.disks.size(), 1u);
    EXPECT_EQ(big.disks[0].backing_volume, "base-guest.qcow2");
    EXPECT_EQ(big.disks[0].capacity_bytes, 10ull << 30);
    const PlannedVm& same = vm_named(plan.seats[0], "same");
    EXPECT_EQ(same.disks[0].capacity_bytes, 4ull << 30);  // the image's virtual size
    EXPECT_EQ(plan.totals.image_bytes, 4ull << 30);
}

TEST_F(PlanTest, BridgeNamesFitTheKernelLimit) {
    // A bridge name is "vl" + 4 hex digits + "-" + seat + "-" + network index. Check that form at the
    // largest seat number (10000 seats) and the largest network index (99 networks), so seat 9999 on
    // network 98 gives "vlxxxx-9999-98": 14 characters, within IFNAMSIZ - 1 = 15.
    const std::regex form("vl[0-9a-f]{4}-([0-9]+)-([0-9]+)");
    auto check = [&](const Plan& plan, std::size_t seats, std::size_t networks) {
        std::set<std::string> bridges;
        for (const auto& seat : plan.seats)
            for (std::size_t i = 0; i < seat.networks.size(); ++i) {
                const std::string& bridge = seat.networks[i].bridge;
                std::smatch m;
                ASSERT_TRUE(std::regex_match(bridge, m, form)) << bridge;
                EXPECT_EQ(m[1].str(), std::to_string(seat.number));
                EXPECT_EQ(m[2].str(), std::to_string(i));
                EXPECT_LE(bridge.size(), 15u);
                bridges.insert(bridge);
            }
        EXPECT_EQ(bridges.size(), seats * networks);
    };

    LabSpec many_seats;
    many_seats.name = "abcdefghijklmnopqrst";
    many_seats.seats = 10000;
    many_seats.cidr = *parse_ipv4_net("10.0.0.0/8");
    many_seats.networks.push_back({});
    many_seats.networks[0].name = "lan";
    const Plan seats_plan = make_plan(many_seats);
    check(seats_plan, 10000, 1);
    EXPECT_EQ(seats_plan.seats.back().networks[0].bridge.size(), std::string("vlxxxx-10000-0").size());

    LabSpec many_networks = many_seats;
    many_networks.seats = 2;
    many_networks.networks.clear();
    for (int i = 0; i < 99; ++i) {
        NetworkSpec net;
        net.name = "net" + std::to_string(i);
        net.prefix = 29;
        many_networks.networks.push_back(net);
    }
    const Plan networks_plan = make_plan(many_networks);
    check(networks_plan, 2, 99);
    EXPECT_EQ(networks_plan.seats.back().networks.back().bridge.size(), std::string("vlxxxx-2-98").size());
    EXPECT_LE(std::string("vlxxxx-9999-98").size(), 15u);

    // Lab-wide networks: "vlxxxx-l<index>".
    many_networks.networks[0].scope = NetworkScope::lab;
    const Plan shared_plan = make_plan(many_networks);
    ASSERT_EQ(shared_plan.shared_networks.size(), 1u);
    EXPECT_TRUE(std::regex_match(shared_plan.shared_networks[0].bridge, std::regex("vl[0-9a-f]{4}-l0")));
    EXPECT_EQ(shared_plan.shared_networks[0].libvirt_name, "vmlab-abcdefghijklmnopqrst-all-net0");
}

TEST_F(PlanTest, MacsAreUniqueAcrossSeatsVmsAndNics) {
    // 200 seats x 32 VMs x 8 NICs: the largest lab the MAC layout has room for, per seat.
    std::string text = R"([lab]
name = "macs"
seats = 200
cidr = "10.0.0.0/12"

[templates.tiny]
disk = "1GiB"
)";
    for (int n = 0; n < 8; ++n) text += "[networks.n" + std::to_string(n) + "]\ndhcp = false\nprefix = 29\n";
    text += "[vms]\n";
    for (int v = 0; v < 32; ++v) {
        text += "vm" + std::to_string(v) + " = { template = \"tiny\", nics = [";
        for (int n = 0; n < 8; ++n) text += "{ network = \"n" + std::to_string(n) + "\" }, ";
        text += "] }\n";
    }
    const Plan plan = make_plan(load(text));
    std::set<std::string> macs;
    std::size_t nics = 0;
    const auto well_formed = [](const std::string& mac) {  // 52:xx:xx:xx:xx:xx, lowercase hex
        if (mac.size() != 17 || mac.compare(0, 2, "52") != 0) return false;
        for (std::size_t i = 2; i < mac.size(); ++i)
            if (i % 3 == 2 ? mac[i] != ':' : !std::isxdigit(static_cast<unsigned char>(mac[i])) || std::isupper(mac[i]))
                return false;
        return true;
    };
    for (const auto& seat : plan.seats)
        for (const auto& vm : seat.vms)
            for (const auto& nic : vm.nics) {
                EXPECT_TRUE(well_formed(nic.mac)) << nic.mac;
                macs.insert(nic.mac);
                ++nics;
            }
    EXPECT_EQ(nics, 200u * 32 * 8);
    EXPECT_EQ(macs.size(), nics);
    // 52:LL:LL:SS:SS:NN — seat 200 = 0x00c8, last VM (31) * 8 + last NIC (7) = 0xff.
    const std::string& last = plan.seats.back().vms.back().nics.back().mac;
    EXPECT_EQ(last.substr(8), ":00:c8:ff");
    EXPECT_EQ(last.substr(0, 8), plan.seats.front().vms.front().nics.front().mac.substr(0, 8));  // same lab hash
}

TEST_F(PlanTest, LabsDifferingInTheLastCharacterGetTheirOwnBridgesAndMacs) {
    std::set<std::string> bridges, macs;
    for (const char* name : {"lab-a", "lab-b", "lab-c", "demo1", "demo2", "demo3"}) {
        std::string text = demo_lab;
        text.replace(text.find("\"demo\""), 6, std::string("\"") + name + '"');
        const Plan plan = make_plan(load(text));
        ASSERT_EQ(plan.lab, name);
        for (const auto& seat : plan.seats) {
            for (const auto& net : seat.networks) EXPECT_TRUE(bridges.insert(net.bridge).second) << name << ' ' << net.bridge;
            for (const auto& vm : seat.vms)
                for (const auto& nic : vm.nics) EXPECT_TRUE(macs.insert(nic.mac).second) << name << ' ' << nic.mac;
        }
    }
    EXPECT_EQ(bridges.size(), 6u * 3);   // 3 seats, one network each
    EXPECT_EQ(macs.size(), 6u * 3 * 2);  // 3 seats, two VMs with one NIC each
}

TEST_F(PlanTest, SubnetsFitTheCidrAndNeverOverlap) {
    const LabSpec lab = load(R"([lab]
name = "nets"
seats = 50
cidr = "10.64.0.0/14"

[templates.tiny]
disk = "1GiB"

[networks.small]
prefix = 28
[networks.big]
prefix = 22
[networks.mid]
prefix = 26
[networks.shared]
scope = "lab"
prefix = 20

[vms.web]
template = "tiny"
nics = [{ network = "small" }, { network = "big" }, { network = "mid" }, { network = "shared" }]
)");
    const Plan plan = make_plan(lab);
    std::vector<Ipv4Net> all;
    ASSERT_EQ(plan.shared_networks.size(), 1u);
    // Lab-wide networks are carved first, at the start of the lab's cidr.
    EXPECT_EQ(to_string(plan.shared_networks[0].subnet), "10.64.0.0/20");
    all.push_back(plan.shared_networks[0].subnet);
    for (const auto& seat : plan.seats) {
        ASSERT_EQ(seat.networks.size(), 3u);
        for (const auto& net : seat.networks) {
            EXPECT_EQ(net.subnet.prefix, lab.find_network(net.spec_name)->prefix);
            EXPECT_EQ(net.subnet.base.value % net.subnet.size(), 0u) << to_string(net.subnet);  // aligned
            all.push_back(net.subnet);
        }
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_TRUE(subnet_inside(all[i], lab.cidr)) << to_string(all[i]);
        for (std::size_t j = i + 1; j < all.size(); ++j)
            EXPECT_FALSE(all[i].overlaps(all[j])) << to_string(all[i]) << " and " << to_string(all[j]);
    }
    // Seat by seat, in the networks' (alphabetical) order: seat 1 takes big, then mid, then small.
    EXPECT_EQ(to_string(network_named(plan.seats[0].networks, "big").subnet), "10.64.16.0/22");
    EXPECT_EQ(to_string(network_named(plan.seats[0].networks, "mid").subnet), "10.64.20.0/26");
    EXPECT_EQ(to_string(network_named(plan.seats[0].networks, "small").subnet), "10.64.20.64/28");
    EXPECT_EQ(to_string(network_named(plan.seats[1].networks, "big").subnet), "10.64.24.0/22");

    const SubnetLayout layout = layout_subnets(lab);
    EXPECT_TRUE(layout.error.empty());
    ASSERT_EQ(layout.seats.size(), 50u);
    EXPECT_EQ(layout.seats[1].at("big"), network_named(plan.seats[1].networks, "big").subnet);
}

TEST_F(PlanTest, GatewayAndDhcpPool) {
    const Plan plan = make_plan(load(demo_lab));
    const PlannedNetwork& lan = plan.seats[1].networks[0];
    EXPECT_EQ(to_string(lan.subnet), "10.210.1.0/24");
    ASSERT_TRUE(lan.gateway);
    EXPECT_EQ(to_string(*lan.gateway), "10.210.1.1");
    ASSERT_TRUE(lan.dhcp_first && lan.dhcp_last);
    EXPECT_EQ(to_string(*lan.dhcp_first), "10.210.1.128");
    EXPECT_EQ(to_string(*lan.dhcp_last), "10.210.1.254");

    NetworkSpec net;
    net.prefix = 24;
    EXPECT_EQ(static_range(net).first, 2u);
    EXPECT_EQ(static_range(net).last, 127u);
    EXPECT_EQ(dhcp_pool(net).first, 128u);
    EXPECT_EQ(dhcp_pool(net).last, 254u);
    net.prefix = 29;
    EXPECT_EQ(static_range(net).last, 3u);
    EXPECT_EQ(dhcp_pool(net).first, 4u);
    EXPECT_EQ(dhcp_pool(net).last, 6u);
    net.dhcp = false;
    EXPECT_EQ(static_range(net).last, 6u);
    net.mode = NetworkMode::fenced;
    net.prefix = 24;
    EXPECT_EQ(static_range(net).first, 1u);  // no host side: .1 is free for a VM
    EXPECT_EQ(static_range(net).last, 254u);
}

TEST_F(PlanTest, AutoAddressesStartAtTenAndSkipFixedOnes) {
    const LabSpec lab = load(R"([lab]
name = "auto"
seats = 2
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.a]
template = "tiny"
[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 10 }]
[vms.c]
template = "tiny"
nics = [{ network = "lan" }, { network = "lan", address = 11 }, { network = "lan" }]
[vms.d]
template = "tiny"
)");
    const Plan plan = make_plan(lab);
    const PlannedSeat& seat = plan.seats[1];
    auto ip = [&](const std::string& vm, std::size_t nic) {
        const auto& n = vm_named(seat, vm).nics.at(nic);
        return n.ip ? to_string(*n.ip) : std::string("none");
    };
    EXPECT_EQ(ip("b", 0), "10.210.1.10");  // fixed
    EXPECT_EQ(ip("c", 1), "10.210.1.11");  // fixed
    EXPECT_EQ(ip("a", 0), "10.210.1.12");  // first free from 10, in VM order (alphabetical)
    EXPECT_EQ(ip("c", 0), "10.210.1.13");
    EXPECT_EQ(ip("c", 2), "10.210.1.14");
    EXPECT_EQ(ip("d", 0), "10.210.1.15");
}

TEST_F(PlanTest, SmallSubnetsAutoAssignFromTwo) {
    const Plan plan = make_plan(load(R"([lab]
name = "small"
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]
prefix = 27

[vms.a]
template = "tiny"
)"));
    ASSERT_TRUE(plan.seats[0].vms[0].nics[0].ip);
    EXPECT_EQ(to_string(*plan.seats[0].vms[0].nics[0].ip), "10.210.0.2");  // a /27 has hosts 2-15 below its pool
}

TEST_F(PlanTest, DhcpHostsMatchTheNics) {
    const Plan plan = make_plan(load(R"([lab]
name = "dhcp"
seats = 4
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]
[networks.back]
[networks.quiet]
dhcp = false

[vms.web]
template = "tiny"
nics = [{ network = "lan" }, { network = "back", address = 50 }, { network = "quiet", address = 7 }]
[vms.db]
template = "tiny"
nics = [{ network = "back" }, { network = "lan" }]
)"));
    for (const auto& seat : plan.seats) {
        std::map<std::string, std::set<std::tuple<std::string, std::string, std::string>>> from_nics, from_dhcp;
        for (const auto& vm : seat.vms)
            for (const auto& nic : vm.nics) {
                if (nic.network.ends_with("-quiet")) continue;
                ASSERT_TRUE(nic.ip) << vm.domain << ' ' << nic.network;
                // On per-seat networks a DHCP entry carries the VM's hostname (its name by default).
                from_nics[nic.network].insert({nic.mac, to_string(*nic.ip), vm.hostname});
                EXPECT_EQ(vm.hostname, vm.spec_name);
            }
        for (const auto& net : seat.networks)
            for (const auto& host : net.hosts) {
                EXPECT_TRUE(net.subnet.contains(host.ip));
                EXPECT_LT(host.ip, *net.dhcp_first);  // static entries sit below the pool
                from_dhcp[net.libvirt_name].insert({host.mac, to_string(host.ip), host.hostname});
            }
        EXPECT_EQ(from_nics, from_dhcp) << "seat " << seat.number;
        const PlannedNetwork& quiet = network_named(seat.networks, "quiet");
        EXPECT_FALSE(quiet.dhcp_first);
        EXPECT_TRUE(quiet.hosts.empty());
        // A fixed address on a network without DHCP is still planned (the guest is configured for it).
        ASSERT_TRUE(vm_named(seat, "web").nics[2].ip);
        EXPECT_EQ(*vm_named(seat, "web").nics[2].ip, quiet.subnet.host(7));
    }
}

TEST_F(PlanTest, LabWideNetworksGetHostsFromEverySeat) {
    const LabSpec lab = load(R"([lab]
name = "shared"
seats = 30
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]
[networks.services]
scope = "lab"
prefix = 23

[vms.web]
template = "tiny"
nics = [{ network = "lan" }, { network = "services" }]
[vms.app]
template = "tiny"
nics = [{ network = "lan" }, { network = "services" }]
[vms.db]
template = "tiny"
)");
    const Plan plan = make_plan(lab);
    ASSERT_EQ(plan.shared_networks.size(), 1u);
    const PlannedNetwork& services = plan.shared_networks[0];
    EXPECT_EQ(services.libvirt_name, "vmlab-shared-all-services");
    EXPECT_EQ(services.scope, NetworkScope::lab);
    EXPECT_EQ(to_string(services.subnet), "10.210.0.0/23");
    ASSERT_EQ(services.hosts.size(), 60u);  // web and app of every seat
    std::set<std::string> hostnames, ips, macs;
    for (const auto& h : services.hosts) {
        hostnames.insert(h.hostname);
        ips.insert(to_string(h.ip));
        macs.insert(h.mac);
        EXPECT_TRUE(services.subnet.contains(h.ip));
        EXPECT_LT(h.ip, *services.dhcp_first);
    }
    EXPECT_EQ(hostnames.size(), 60u);
    EXPECT_EQ(ips.size(), 60u);  // every seat's NICs get their own addresses
    EXPECT_EQ(macs.size(), 60u);
    EXPECT_TRUE(hostnames.count("shared-s30-web"));
    // Seat N takes the block after seat N-1: 2 NICs per seat from .10.
    EXPECT_EQ(to_string(*vm_named(plan.seats[0], "app").nics[1].ip), "10.210.0.10");
    EXPECT_EQ(to_string(*vm_named(plan.seats[0], "web").nics[1].ip), "10.210.0.11");
    EXPECT_EQ(to_string(*vm_named(plan.seats[1], "app").nics[1].ip), "10.210.0.12");
    EXPECT_EQ(to_string(*vm_named(plan.seats[29], "web").nics[1].ip), "10.210.0.69");
    EXPECT_EQ(vm_named(plan.seats[4], "web").nics[1].network, "vmlab-shared-all-services");
    // Every seat's own networks come after the lab-wide one.
    EXPECT_EQ(to_string(plan.seats[0].networks[0].subnet), "10.210.2.0/24");
}

TEST_F(PlanTest, FencedNetworksRepeatInEverySeat) {
    const Plan plan = make_plan(load(R"([lab]
name = "fence"
seats = 5
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.mgmt]
mode = "fenced"
cidr = "192.168.10.0/24"
[networks.lan]

[vms.esx]
template = "tiny"
nics = [{ network = "mgmt", address = 11 }, { network = "lan" }]
)"));
    std::set<std::string> bridges, names;
    for (const auto& seat : plan.seats) {
        const PlannedNetwork& mgmt = network_named(seat.networks, "mgmt");
        EXPECT_EQ(to_string(mgmt.subnet), "192.168.10.0/24");
        EXPECT_EQ(mgmt.mode, NetworkMode::fenced);
        EXPECT_FALSE(mgmt.gateway);
        EXPECT_FALSE(mgmt.dhcp_first);
        EXPECT_FALSE(mgmt.dhcp_last);
        EXPECT_TRUE(mgmt.hosts.empty());
        bridges.insert(mgmt.bridge);
        names.insert(mgmt.libvirt_name);
        const PlannedVm& esx = vm_named(seat, "esx");
        ASSERT_TRUE(esx.nics[0].ip);
        EXPECT_EQ(to_string(*esx.nics[0].ip), "192.168.10.11");  // the same address in every seat
        // The fenced network takes nothing from the lab's cidr.
        EXPECT_EQ(to_string(network_named(seat.networks, "lan").subnet), "10.210." + std::to_string(seat.number - 1) + ".0/24");
    }
    EXPECT_EQ(bridges.size(), 5u);  // but each seat has its own bridge
    EXPECT_EQ(names.size(), 5u);
}

TEST_F(PlanTest, ConfigHashFollowsTheVm) {
    const std::string text = demo_lab;
    const Plan before = make_plan(load(text));
    std::string changed = text;
    changed.replace(changed.find("memory = \"128MiB\""), 17, "memory = \"256MiB\"");
    const Plan after = make_plan(load(changed));
    for (std::size_t s = 0; s < before.seats.size(); ++s)
        for (std::size_t v = 0; v < before.seats[s].vms.size(); ++v) {
            EXPECT_EQ(before.seats[s].vms[v].config_hash.size(), 16u);
            EXPECT_NE(before.seats[s].vms[v].config_hash, after.seats[s].vms[v].config_hash);
        }
    EXPECT_NE(before.spec_hash, after.spec_hash);

    // A change to one VM changes only that VM's hash.
    LabSpec lab = load(text);
    const Plan base = make_plan(lab);
    lab.vms[1].memory_bytes += 1 << 20;
    const Plan one = make_plan(lab);
    EXPECT_EQ(base.seats[0].vms[0].config_hash, one.seats[0].vms[0].config_hash);
    EXPECT_NE(base.seats[0].vms[1].config_hash, one.seats[0].vms[1].config_hash);
    // Every VM of a seat differs from the others (the domain name is part of it).
    EXPECT_NE(base.seats[0].vms[0].config_hash, base.seats[1].vms[0].config_hash);
    // A title is not part of any VM.
    lab = load(text);
    lab.title = "another title";
    EXPECT_EQ(make_plan(lab).spec_hash, base.spec_hash);
}

TEST_F(PlanTest, Totals) {
    const Plan plan = make_plan(load(R"([lab]
name = "totals"
seats = 4
cidr = "10.210.0.0/16"

[templates.small]
vcpus = 2
memory = "1GiB"
disk = "10GiB"

[networks.lan]
[networks.back]
[networks.shared]
scope = "lab"

[vms.web]
template = "small"
nics = [{ network = "lan" }]
[vms.db]
template = "small"
vcpus = 4
memory = "4GiB"
disks = ["100GiB", "50GiB"]
nics = [{ network = "back" }]
)"));
    EXPECT_EQ(plan.totals.vms, 8u);
    EXPECT_EQ(plan.totals.networks, 4u * 2 + 1);
    EXPECT_EQ(plan.totals.vcpus, 4u * (2 + 4));
    EXPECT_EQ(plan.totals.memory_bytes, 4 * (5ull << 30));
    EXPECT_EQ(plan.totals.disk_bytes, 4 * ((10ull + 10 + 100 + 50) << 30));
    EXPECT_EQ(plan.totals.image_bytes, 0u);
    const auto json = plan_to_json(plan);
    EXPECT_EQ(json["totals"]["vms"], 8);
    EXPECT_EQ(json["totals"]["memory_bytes"], 4 * (5ull << 30));
}

TEST_F(PlanTest, VmSettingsComeFromTemplateAndVm) {
    const Plan plan = make_plan(load(R"([lab]
name = "settings"
cidr = "10.210.0.0/16"

[templates.esx]
firmware = "uefi"
cpu = "host-passthrough"
nic_model = "e1000"
vcpus = 4
memory = "16GiB"
disk = "32GiB"

[networks.lan]

[vms.host]
template = "esx"
vcpus = 8
boot = ["cdrom", "disk"]
console = "none"
)"));
    const PlannedVm& vm = plan.seats[0].vms[0];
    EXPECT_EQ(vm.firmware, Firmware::uefi);
    EXPECT_EQ(vm.cpu_mode, CpuMode::host_passthrough);
    EXPECT_EQ(vm.vcpus, 8u);
    EXPECT_EQ(vm.memory_bytes, 16ull << 30);
    EXPECT_EQ(vm.nics[0].model, NicModel::e1000);
    EXPECT_EQ(vm.boot, (std::vector<BootDevice>{BootDevice::cdrom, BootDevice::disk}));
    EXPECT_EQ(vm.console.kind, ConsoleKind::none);
    ASSERT_EQ(vm.disks.size(), 1u);
    EXPECT_TRUE(vm.disks[0].backing_volume.empty());  // no image: a blank root disk
    EXPECT_EQ(vm.disks[0].capacity_bytes, 32ull << 30);
    EXPECT_TRUE(plan.images.empty());
}

TEST(LabHash, IsMixedFnv1a64) {
    // splitmix64's finalizer over FNV-1a 64, top 16 bits; docs/lab-format.md names these two.
    EXPECT_EQ(lab_hash16("demo"), 0x67c1);
    EXPECT_EQ(lab_hash16("three-tier"), 0x311a);
    // Plain FNV-1a's top 16 bits were 0x3939 for all three.
    EXPECT_EQ(lab_hash16("lab-a"), 0x5e2d);
    EXPECT_EQ(lab_hash16("lab-b"), 0x3e90);
    EXPECT_EQ(lab_hash16("lab-c"), 0xc785);
}

TEST(LabHash, NamesDifferingInTheLastCharacterDiffer) {
    auto distinct = [](const std::vector<std::string>& names) {
        std::map<std::uint16_t, std::string> seen;
        for (const auto& name : names)
            if (auto [it, fresh] = seen.emplace(lab_hash16(name), name); !fresh)
                ADD_FAILURE() << name << " and " << it->second << " share the lab hash " << it->first;
    };
    std::vector<std::string> letters, digits, numbers;
    for (char c = 'a'; c <= 'z'; ++c) letters.push_back(std::string("lab-") + c);
    for (int n = 1; n <= 9; ++n) digits.push_back("demo" + std::to_string(n));
    for (int n = 1; n <= 99; ++n) numbers.push_back("team" + std::to_string(n));
    distinct(letters);
    distinct(digits);
    distinct(numbers);
}

TEST(LabHash, CollidesNoMoreThanRandom16BitValues) {
    // 999 names spread over 65536 values: about 999*998/2/65536 = 7.6 colliding pairs are
    // expected (plain FNV-1a's top bits gave only 100 distinct values here).
    std::set<std::uint16_t> hashes;
    for (int n = 1; n <= 999; ++n) hashes.insert(lab_hash16("lab-" + std::to_string(n)));
    EXPECT_GE(hashes.size(), 999u - 25);
    // Every output bit is used.
    std::uint16_t ored = 0, anded = 0xffff;
    for (auto h : hashes) {
        ored |= h;
        anded &= h;
    }
    EXPECT_EQ(ored, 0xffff);
    EXPECT_EQ(anded, 0);
}

TEST(LabFiles, OnlyNamesVmlabGivesBelongToTheLab) {
    for (const char* name : {"base-tiny.qcow2", "base-tiny.qcow2.partial", "demo-s01-a-root.qcow2", "demo-s12-a.nvram.fd",
                             "demo-s03-web.console.log", "demo-s01-a-root.qcow2.baseline-20261129T010000"})
        EXPECT_TRUE(is_lab_file("demo", name)) << name;
    for (const char* name : {"notes.txt", "demo-summary.txt", "demo-s-a", "demo-s01", "demo-sx1-a", "other-s01-a-root.qcow2",
                             ".bashrc", "demo2-s01-a-root.qcow2"})
        EXPECT_FALSE(is_lab_file("demo", name)) << name;
}
