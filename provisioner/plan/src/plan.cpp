#include "vmlab/plan/plan.hpp"

#include "vmlab/guest/template.hpp"
#include "vmlab/guest/cloud_config.hpp"
#include "vmlab/lab/addresses.hpp"
#include "vmlab/lab/names.hpp"
#include "vmlab/util/hash.hpp"

#include <algorithm>
#include <cstdio>

namespace vmlab {

namespace {

// 52:LL:LL:SS:SS:NN — locally administered; lab hash, seat, VM index * 8 + NIC index.
std::string mac_address(std::uint16_t lab, unsigned seat, std::size_t vm_index, std::size_t nic_index) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "52:%02x:%02x:%02x:%02x:%02x", lab >> 8, lab & 0xff, (seat >> 8) & 0xff, seat & 0xff,
                  static_cast<unsigned>(vm_index * 8 + nic_index) & 0xff);
    return buf;
}

std::string bridge_name(std::uint16_t lab, unsigned seat, std::size_t net_index) {
    char buf[32];
    if (seat == 0)
        std::snprintf(buf, sizeof buf, "vl%04x-l%zu", lab, net_index);
    else
        std::snprintf(buf, sizeof buf, "vl%04x-%u-%zu", lab, seat, net_index);
    return buf;
}

PlannedNetwork plan_network(const LabSpec& lab, const NetworkSpec& spec, unsigned seat, std::size_t index,
                            const Ipv4Net& subnet) {
    PlannedNetwork net;
    net.spec_name = spec.name;
    net.libvirt_name = network_prefix(lab.name) + (seat ? seat_tag(seat) + "-" : "all-") + spec.name;
    net.bridge = bridge_name(lab_hash16(lab.name), seat, index);
    net.mode = spec.mode;
    net.scope = spec.scope;
    net.subnet = subnet;
    if (spec.mode != NetworkMode::fenced) net.gateway = subnet.host(1);
    if (spec.dhcp) {
        const AddressRange pool = dhcp_pool(spec);
        net.dhcp_first = subnet.host(pool.first);
        net.dhcp_last = subnet.host(pool.last);
    }
    return net;
}

std::string vm_fingerprint(const PlannedVm& vm) {
    std::string text = vm.domain + '|' + std::to_string(vm.vcpus) + '|' + std::to_string(vm.memory_bytes) + '|' +
                       to_string(vm.firmware) + '|' + to_string(vm.cpu_mode) + '|' + vm.kernel + '|' + vm.initrd + '|' +
                       vm.cmdline + '|' + to_string(vm.console.kind) + '|' + vm.console.listen;
    for (const auto& d : vm.disks) text += "|disk:" + d.volume + ':' + std::to_string(d.capacity_bytes) + ':' + d.backing_volume;
    for (const auto& n : vm.nics)
        text += "|nic:" + n.network + ':' + n.mac + ':' + (n.ip ? to_string(*n.ip) : "") + ':' + to_string(n.model);
    for (auto b : vm.boot) text += "|boot:" + to_string(b);
    // Written only when there is a seed, so labs without cloud-init keep their hashes.
    if (vm.cloud_init) text += "|seed:" + vm.seed_volume + ':' + vm.seed_target + ':' + vm.hostname;
    return text;
}

}  // namespace

const PlannedSeat* Plan::find_seat(unsigned number) const {
    return number >= 1 && number <= seats.size() ? &seats[number - 1] : nullptr;
}

std::uint16_t lab_hash16(std::string_view lab) {
    // FNV-1a's top bits hardly change with the last byte (lab-a, lab-b, lab-c shared them), so
    // first mix all 64 bits with the splitmix64 finalizer, then take the top 16.
    std::uint64_t h = fnv1a64(lab);
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return static_cast<std::uint16_t>(h >> 48);
}

Plan make_plan(const LabSpec& lab) {
    Plan plan;
    plan.lab = lab.name;
    plan.title = lab.title;
    plan.host_uri = lab.host_uri;
    plan.pool = pool_name(lab.name);
    plan.pool_path = lab.storage;
    plan.ready_timeout_seconds = lab.ready_timeout_seconds;
    plan.login = lab.login;
    const std::uint16_t lab_hash = lab_hash16(lab.name);
    const SubnetLayout layout = layout_subnets(lab);

    for (const auto& tpl : lab.templates) {
        if (tpl.image.empty()) continue;
        plan.images.push_back({tpl.name, tpl.image, "base-" + tpl.name + "." + to_string(tpl.image_format), tpl.image_format});
        plan.totals.image_bytes += tpl.image_virtual_bytes;
    }
    auto image_volume = [&](const std::string& tpl) {
        for (const auto& img : plan.images)
            if (img.template_name == tpl) return img.volume;
        return std::string{};
    };

    // Lab-wide networks: seat N's NICs take the block of host numbers after seat N-1's.
    std::map<std::string, std::uint32_t> nics_per_seat;
    for (const auto& vm : lab.vms)
        for (const auto& nic : vm.nics)
            if (const NetworkSpec* net = lab.find_network(nic.network); net && net->scope == NetworkScope::lab && nic.host)
                ++nics_per_seat[nic.network];

    std::size_t lab_index = 0;
    for (const auto& spec : lab.networks)
        if (spec.scope == NetworkScope::lab)
            plan.shared_networks.push_back(plan_network(lab, spec, 0, lab_index++, layout.lab_wide.at(spec.name)));

    for (unsigned number = 1; number <= lab.seats; ++number) {
        PlannedSeat seat;
        seat.number = number;
        std::size_t seat_index = 0;
        for (const auto& spec : lab.networks)
            if (spec.scope == NetworkScope::seat)
                seat.networks.push_back(
                    plan_network(lab, spec, number, seat_index++, layout.seats[number - 1].at(spec.name)));
        auto find_net = [&](const std::string& name) -> PlannedNetwork* {
            for (auto& n : seat.networks)
                if (n.spec_name == name) return &n;
            for (auto& n : plan.shared_networks)
                if (n.spec_name == name) return &n;
            return nullptr;
        };

        auto find_net_by_libvirt_name = [&](const std::string& name) -> const PlannedNetwork* {
            for (const auto& n : seat.networks)
                if (n.libvirt_name == name) return &n;
            for (const auto& n : plan.shared_networks)
                if (n.libvirt_name == name) return &n;
            return nullptr;
        };
        for (std::size_t vm_index = 0; vm_index < lab.vms.size(); ++vm_index) {
            const VmSpec& spec = lab.vms[vm_index];
            const TemplateSpec& tpl = *lab.find_template(spec.template_name);
            PlannedVm vm;
            vm.spec_name = spec.name;
            vm.domain = domain_name(lab.name, number, spec.name);
            vm.seat = number;
            vm.vcpus = spec.vcpus;
            vm.memory_bytes = spec.memory_bytes;
            vm.firmware = tpl.firmware;
            vm.cpu_mode = tpl.cpu_mode;
            vm.kernel = tpl.kernel;
            vm.initrd = tpl.initrd;
            vm.cmdline = tpl.cmdline;
            vm.boot = spec.boot;
            vm.console = spec.console;
            // The loader checked the template; a problem left means the spec was not loaded.
            const Expansion hostname = expand_hostname(spec.hostname, lab.name, number, spec.name, spec.hostname_where);
            vm.hostname = hostname.diagnostics.empty() ? hostname.text : spec.name;
            char target = 'a';
            if (!tpl.image.empty())
                vm.disks.push_back({vm.domain + "-root.qcow2", std::max(spec.disk_bytes, tpl.image_virtual_bytes),
                                    image_volume(tpl.name), std::string("vd") + target++});
            else if (spec.disk_bytes)
                vm.disks.push_back({vm.domain + "-root.qcow2", spec.disk_bytes, {}, std::string("vd") + target++});
            for (std::size_t i = 0; i < spec.extra_disks.size(); ++i)
                vm.disks.push_back({vm.domain + "-data" + std::to_string(i + 1) + ".qcow2", spec.extra_disks[i].size_bytes,
                                    {}, std::string("vd") + target++});
            for (std::size_t nic_index = 0; nic_index < spec.nics.size(); ++nic_index) {
                const NicSpec& nic_spec = spec.nics[nic_index];
                PlannedNetwork* net = find_net(nic_spec.network);
                PlannedNic nic;
                nic.network = net->libvirt_name;
                nic.mac = mac_address(lab_hash, number, vm_index, nic_index);
                nic.model = tpl.nic_model;
                if (nic_spec.host) {
                    const std::uint32_t offset = net->scope == NetworkScope::lab ? (number - 1) * nics_per_seat[nic_spec.network] : 0;
                    nic.ip = net->subnet.host(*nic_spec.host + offset);
                }
                // On a seat's own network the VM answers to its hostname; lab-wide networks keep the
                // domain name, unique across seats.
                const std::string dns_name = net->scope == NetworkScope::seat ? vm.hostname : vm.domain;
                if (nic.ip && net->dhcp_first) net->hosts.push_back({nic.mac, *nic.ip, dns_name});
                if (nic.ip && net->gateway) net->dns.push_back({*nic.ip, dns_name});
                vm.nics.push_back(nic);
            }
            const bool has_lease = std::any_of(vm.nics.begin(), vm.nics.end(), [&](const PlannedNic& n) {
                const PlannedNetwork* net = find_net_by_libvirt_name(n.network);
                return n.ip && net && net->dhcp_first;
            });
            vm.ready_console = spec.ready_console;
            if (spec.cloud_init) {
                vm.cloud_init = true;
                vm.login = spec.login;
                vm.user_data = spec.user_data;
                vm.user_data_file = spec.user_data_file;
                vm.seed_volume = vm.domain + "-seed.iso";
                vm.seed_target = std::string("vd") + target++;
                // Ready once cloud-init finished: vmlab's final_message on the serial console.
                if (vm.ready_console.empty()) vm.ready_console = ready_marker(vm.domain);
            }
            vm.baseline = spec.baseline == Baseline::running && (has_lease || !spec.ready_console.empty())
                              ? Baseline::running
                              : Baseline::powered_off;
            if (vm.baseline == Baseline::running) plan.totals.baseline_bytes += vm.memory_bytes;
            vm.config_hash = stable_hash(vm_fingerprint(vm));
            plan.totals.vcpus += vm.vcpus;
            plan.totals.memory_bytes += vm.memory_bytes;
            for (const auto& d : vm.disks) plan.totals.disk_bytes += d.capacity_bytes;
            ++plan.totals.vms;
            seat.vms.push_back(std::move(vm));
        }
        plan.totals.networks += static_cast<unsigned>(seat.networks.size());
        plan.seats.push_back(std::move(seat));
    }
    plan.totals.networks += static_cast<unsigned>(plan.shared_networks.size());

    std::string fingerprint = lab.name + '|' + lab.host_uri + '|' + lab.storage;
    for (const auto& n : plan.shared_networks) fingerprint += '|' + n.libvirt_name + to_string(n.subnet);
    for (const auto& s : plan.seats) {
        for (const auto& n : s.networks) fingerprint += '|' + n.libvirt_name + to_string(n.subnet);
        for (const auto& vm : s.vms) fingerprint += '|' + vm.config_hash;
    }
    plan.spec_hash = stable_hash(fingerprint);
    return plan;
}

}  // namespace vmlab
