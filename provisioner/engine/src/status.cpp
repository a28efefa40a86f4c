#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <pugixml.hpp>

#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/xml.hpp"
#include "console_log.hpp"
#include "journal.hpp"

namespace vmlab {

namespace {

struct LiveDomain {
    std::string console;                               // "vnc://127.0.0.1:5901", empty when none
    std::vector<std::pair<std::string, std::string>> nics;  // (mac, network)
    std::string console_log;                           // the serial console's log file, empty when none
};

LiveDomain read_live(const virt::Domain& domain) {
    LiveDomain live;
    pugi::xml_document doc;
    if (!doc.load_string(virt::xml_desc(domain).c_str())) return live;
    const auto devices = doc.child("domain").child("devices");
    for (auto graphics : devices.children("graphics")) {
        const int port = graphics.attribute("port").as_int(-1);
        if (port <= 0) continue;
        std::string listen = graphics.attribute("listen").as_string();
        if (listen.empty()) listen = graphics.child("listen").attribute("address").as_string("127.0.0.1");
        live.console = std::string(graphics.attribute("type").as_string()) + "://" + listen + ":" + std::to_string(port);
        break;
    }
    live.console_log = devices.child("serial").child("log").attribute("file").as_string();
    for (auto nic : devices.children("interface"))
        live.nics.emplace_back(nic.child("mac").attribute("address").as_string(),
                               nic.child("source").attribute("network").as_string());
    return live;
}

}  // namespace

std::vector<VmStatus> Engine::status(const std::string& lab, std::optional<unsigned> seat) {
    std::map<unsigned, SeatRecord> seats;
    for (auto& record : m_store.seats(lab)) seats[record.seat] = std::move(record);
    std::map<std::string, std::map<std::string, Ipv4>> leases;  // network -> mac -> ip
    for (const auto& net : m_store.networks(lab))
        if (seat && net.seat != 0 && net.seat != *seat) {
            continue;  // another seat's network
        } else if (virt::Network network = m_conn.find_network(net.name); network && virt::is_active(network)) try {
                for (const auto& lease : virt::dhcp_leases(network))
                    if (const auto ip = parse_ipv4(lease.ip)) leases[net.name][lease.mac] = *ip;
            } catch (const virt::LibvirtError& e) {
                if (e.code() != VIR_ERR_NO_SUPPORT) throw;  // a driver without DHCP (the test driver): no leases
            }

    std::map<std::string, std::string> ready_lines;  // domain -> the line that says its setup finished
    for (const auto& guest : m_store.guests(lab))
        if (!guest.ready_console.empty()) ready_lines[guest.domain] = guest.ready_console;

    std::vector<VmStatus> rows;
    for (const auto& vm : m_store.vms(lab)) {
        if (seat && vm.seat != *seat) continue;
        VmStatus row{vm.seat, vm.vm, vm.domain, "missing", vm.ips, "", seats[vm.seat].attendee_name, {},
                     seats[vm.seat].last_reset_at};
        if (virt::Domain domain = m_conn.find_domain(vm.domain)) {
            row.state = virt::to_string(virt::state(domain));
            const LiveDomain live = read_live(domain);
            // Running, but its setup (cloud-init) has not said it finished on this boot's console.
            if (const auto ready = ready_lines.find(vm.domain); ready != ready_lines.end() && row.state == "running" &&
                                                                !detail::console_says(live.console_log, ready->second))
                row.state = "configuring";
            row.console = live.console;
            if (virt::is_active(domain))  // a powered-off guest's old lease stays listed for an hour
                for (const auto& [mac, network] : live.nics)
                    if (auto it = leases[network].find(mac); it != leases[network].end()) row.leased_ips.push_back(it->second);
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

bool VmStatus::holds_planned_leases() const {
    return !ips.empty() && std::all_of(ips.begin(), ips.end(), [&](Ipv4 ip) {
        return std::find(leased_ips.begin(), leased_ips.end(), ip) != leased_ips.end();
    });
}

std::string Engine::console_password(const std::string& domain_name) {
    const virt::Domain domain = m_conn.find_domain(domain_name);
    if (!domain) return {};
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_SECURE).c_str());
    return doc.child("domain").child("devices").child("graphics").attribute("passwd").as_string();
}

std::vector<LabSummary> Engine::summaries() {
    std::vector<LabSummary> out;
    for (const auto& lab : m_store.labs()) {
        LabSummary summary{lab.name, lab.title, lab.host_uri, lab.seats, 0, 0, 0};
        for (const auto& seat : m_store.seats(lab.name)) summary.failed_seats += seat.state == SeatState::failed;
        for (const auto& vm : m_store.vms(lab.name)) {
            ++summary.vms;
            if (virt::Domain domain = m_conn.find_domain(vm.domain))
                summary.running += virt::state(domain) == virt::DomainState::running;
        }
        out.push_back(std::move(summary));
    }
    return out;
}

Capacity Engine::capacity(const Plan& plan) {
    Capacity c;
    const virt::HostInfo host = m_conn.host_info();
    c.host_memory_bytes = host.memory_bytes;
    c.host_free_memory_bytes = host.free_memory_bytes;
    c.host_cpus = host.cpus;
    c.vcpus = plan.totals.vcpus;
    c.needed_memory_bytes = plan.totals.memory_bytes + plan.totals.vms * qemu_overhead_bytes;
    c.disk_worst_case_bytes = plan.totals.image_bytes + plan.totals.baseline_bytes + plan.totals.disk_bytes;
    c.disk_needed_now_bytes = plan.totals.image_bytes + plan.totals.baseline_bytes + plan.totals.vms * (1ull << 20);  // fresh overlays are tiny
    if (virt::StoragePool pool = m_conn.find_pool(plan.pool); pool && virt::is_active(pool)) {
        c.disk_free_bytes = virt::info(pool).available_bytes;
    } else {
        // The pool's directory may not exist yet: its nearest existing parent's file system.
        std::filesystem::path dir = plan.pool_path;
        std::error_code ec;
        while (!dir.empty() && !std::filesystem::exists(dir, ec) && dir != dir.parent_path()) dir = dir.parent_path();
        struct statvfs fs {};
        if (::statvfs(dir.c_str(), &fs) == 0) c.disk_free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    }
    return c;
}

HostComparison Engine::compare(const Plan& plan) {
    HostComparison cmp;
    std::set<std::string> our_domains;  // planned, existing and this lab's
    virt::StoragePool pool = m_conn.find_pool(plan.pool);
    (pool ? cmp.keep : cmp.create).push_back("pool " + plan.pool);
    for (const auto& img : plan.images)
        (pool && virt::is_active(pool) && m_conn.find_volume(pool, img.volume) ? cmp.keep : cmp.create)
            .push_back("volume " + img.volume);
    auto network = [&](const PlannedNetwork& net) {
        virt::Network existing = m_conn.find_network(net.libvirt_name);
        if (!existing) return cmp.create.push_back("network " + net.libvirt_name);
        const auto owner = parse_network_metadata(virt::xml_desc(existing));
        (owner && owner->lab == plan.lab ? cmp.keep : cmp.conflicts)
            .push_back("network " + net.libvirt_name + (owner && owner->lab == plan.lab ? "" : " (exists, not this lab's)"));
    };
    for (const auto& net : plan.shared_networks) network(net);
    for (const auto& seat : plan.seats) {
        for (const auto& net : seat.networks) network(net);
        for (const auto& vm : seat.vms) {
            virt::Domain domain = m_conn.find_domain(vm.domain);
            if (!domain) {
                cmp.create.push_back("domain " + vm.domain);
                continue;
            }
            const auto metadata = virt::domain_metadata(domain);
            const auto owner = metadata ? parse_vm_metadata(*metadata) : std::nullopt;
            if (!owner || owner->lab != plan.lab) {
                cmp.conflicts.push_back("domain " + vm.domain + " (exists, not this lab's)");
                continue;
            }
            our_domains.insert(vm.domain);
            if (owner->config_hash != vm.config_hash)
                cmp.change.push_back("domain " + vm.domain + " (configuration changed; up --recreate replaces it)");
            else
                cmp.keep.push_back("domain " + vm.domain);
        }
    }
    // Bridges and subnets of other networks on the host must not collide with ours.
    std::map<std::string, std::string> planned_bridges;
    std::vector<std::pair<Ipv4Net, std::string>> planned_subnets;
    auto collect = [&](const PlannedNetwork& n) {
        planned_bridges[n.bridge] = n.libvirt_name;
        if (n.gateway) planned_subnets.emplace_back(n.subnet, n.libvirt_name);
    };
    for (const auto& n : plan.shared_networks) collect(n);
    for (const auto& seat : plan.seats)
        for (const auto& n : seat.networks) collect(n);
    // Nor may their DHCP host entries or other domains' interfaces use our MACs (the lab name's
    // 16-bit hash is in every MAC, so two labs can clash).
    std::map<std::string, std::string> planned_macs;  // mac -> our domain
    for (const auto& seat : plan.seats)
        for (const auto& vm : seat.vms)
            for (const auto& nic : vm.nics) planned_macs[nic.mac] = vm.domain;
    auto our_mac = [&](std::string mac) -> const std::string* {
        std::transform(mac.begin(), mac.end(), mac.begin(), [](unsigned char c) { return std::tolower(c); });
        const auto it = planned_macs.find(mac);
        return it == planned_macs.end() ? nullptr : &it->second;
    };
    auto mac_conflict = [&](const std::string& mac, const std::string& domain, const std::string& user) {
        cmp.conflicts.push_back("MAC " + mac + " of " + domain + " is used by " + user +
                                "; rename this lab (its name sets the MACs)");
    };
    for (const auto& existing : m_conn.all_networks()) {
        const std::string xml = virt::xml_desc(existing);
        const auto owner = parse_network_metadata(xml);
        if (owner && owner->lab == plan.lab) continue;
        pugi::xml_document doc;
        if (!doc.load_string(xml.c_str())) continue;
        const auto net = doc.child("network");
        const std::string bridge = net.child("bridge").attribute("name").as_string();
        if (auto it = planned_bridges.find(bridge); !bridge.empty() && it != planned_bridges.end())
            cmp.conflicts.push_back("bridge " + bridge + " of " + it->second + " is used by network " + virt::name(existing));
        for (auto ip : net.children("ip"))
            for (auto host : ip.child("dhcp").children("host"))
                if (const std::string* ours = our_mac(host.attribute("mac").as_string()))
                    mac_conflict(host.attribute("mac").as_string(), *ours,
                                 "a DHCP host entry of network " + virt::name(existing));
        for (auto ip : net.children("ip")) {
            const auto address = parse_ipv4(ip.attribute("address").as_string());
            const auto mask = parse_ipv4(ip.attribute("netmask").as_string());
            unsigned prefix = ip.attribute("prefix").as_uint(0);
            if (mask) prefix = static_cast<unsigned>(__builtin_popcount(mask->value));
            if (!address || prefix == 0) continue;
            const Ipv4Net theirs{Ipv4{address->value & Ipv4Net{{}, prefix}.netmask().value}, prefix};
            for (const auto& [subnet, name] : planned_subnets)
                if (subnet.overlaps(theirs)) {
                    cmp.conflicts.push_back("subnet " + to_string(subnet) + " of " + name + " overlaps " + to_string(theirs) +
                                            " of network " + virt::name(existing));
                    break;
                }
        }
    }
    // One XML read per domain not already known as ours; whose it is only matters (and is read)
    // when a MAC matches.
    for (const auto& domain : m_conn.all_domains()) {
        if (our_domains.count(virt::name(domain))) continue;
        std::string xml;
        try {
            xml = virt::xml_desc(domain);
        } catch (const virt::LibvirtError& e) {
            if (e.code() != VIR_ERR_NO_DOMAIN) throw;
            continue;  // removed meanwhile
        }
        pugi::xml_document doc;
        if (!doc.load_string(xml.c_str())) continue;
        std::vector<std::pair<std::string, const std::string*>> clashes;  // (their mac, our domain)
        for (auto nic : doc.child("domain").child("devices").children("interface")) {
            const std::string mac = nic.child("mac").attribute("address").as_string();
            if (const std::string* ours = our_mac(mac)) clashes.emplace_back(mac, ours);
        }
        if (clashes.empty()) continue;
        const auto metadata = virt::domain_metadata(domain);
        const auto owner = metadata ? parse_vm_metadata(*metadata) : std::nullopt;
        if (owner && owner->lab == plan.lab) continue;
        for (const auto& [mac, ours] : clashes)
            mac_conflict(mac, *ours, "domain " + virt::name(domain) + (owner ? " of lab " + owner->lab : ""));
    }
    return cmp;
}

std::vector<JournalEntry> Engine::interrupted(const std::string& lab) { return detail::interrupted_steps(m_store, lab); }

}  // namespace vmlab
