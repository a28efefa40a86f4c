#include "leases.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <pugixml.hpp>
#include <set>
#include <thread>

namespace vmlab::detail {

std::vector<WantedLease> planned_leases(virt::Connection& conn, const virt::Domain& domain, unsigned seat) {
    std::vector<WantedLease> wanted;
    pugi::xml_document doc;
    if (!doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str())) return wanted;
    const std::string domain_name = virt::name(domain);
    std::map<std::string, std::map<std::string, std::string>> hosts;  // network -> mac -> ip
    for (auto nic : doc.child("domain").child("devices").children("interface")) {
        const std::string network = nic.child("source").attribute("network").as_string();
        const std::string mac = nic.child("mac").attribute("address").as_string();
        if (network.empty() || mac.empty()) continue;
        if (!hosts.count(network)) {
            auto& entries = hosts[network];
            if (virt::Network net = conn.find_network(network)) {
                pugi::xml_document net_doc;
                net_doc.load_string(virt::xml_desc(net).c_str());
                for (auto ip : net_doc.child("network").children("ip"))
                    for (auto host : ip.child("dhcp").children("host"))
                        entries[host.attribute("mac").as_string()] = host.attribute("ip").as_string();
            }
        }
        if (auto it = hosts[network].find(mac); it != hosts[network].end())
            wanted.push_back({seat, domain_name, network, mac, it->second, 0});
    }
    return wanted;
}

std::vector<WantedLease> wait_for_leases(virt::Connection& conn, std::vector<WantedLease> pending,
                                         std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pending.empty()) {
        std::set<std::string> networks;
        for (const auto& w : pending) networks.insert(w.network);
        std::map<std::pair<std::string, std::string>, std::int64_t> leased;  // (mac, ip) -> expiry
        for (const auto& name : networks)
            if (virt::Network net = conn.find_network(name))
                for (const auto& lease : virt::dhcp_leases(net)) leased[{lease.mac, lease.ip}] = lease.expiry_time;
        std::erase_if(pending, [&](const WantedLease& w) {
            const auto it = leased.find({w.mac, w.ip});
            return it != leased.end() && it->second >= w.min_expiry;
        });
        if (pending.empty() || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return pending;
}

}  // namespace vmlab::detail
