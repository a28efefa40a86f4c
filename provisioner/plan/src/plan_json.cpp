#include "vmlab/plan/plan_json.hpp"

namespace vmlab {

namespace {

using json = nlohmann::ordered_json;

json optional_ip(const std::optional<Ipv4>& ip) { return ip ? json(to_string(*ip)) : json(nullptr); }

json network_json(const PlannedNetwork& n) {
    json hosts = json::array();
    for (const auto& h : n.hosts) hosts.push_back({{"mac", h.mac}, {"ip", to_string(h.ip)}, {"hostname", h.hostname}});
    json dns = json::array();
    for (const auto& d : n.dns) dns.push_back({{"ip", to_string(d.ip)}, {"hostname", d.hostname}});
    json dhcp = n.dhcp_first ? json{{"first", to_string(*n.dhcp_first)}, {"last", to_string(*n.dhcp_last)}, {"hosts", hosts}}
                             : json(nullptr);
    return {{"name", n.spec_name},     {"libvirt_name", n.libvirt_name}, {"bridge", n.bridge},
            {"mode", to_string(n.mode)}, {"scope", to_string(n.scope)},    {"subnet", to_string(n.subnet)},
            {"gateway", optional_ip(n.gateway)}, {"dhcp", dhcp}, {"dns", dns}};
}

json vm_json(const PlannedVm& vm) {
    json disks = json::array();
    for (const auto& d : vm.disks)
        disks.push_back({{"target", d.target},
                         {"volume", d.volume},
                         {"capacity_bytes", d.capacity_bytes},
                         {"backing_volume", d.backing_volume.empty() ? json(nullptr) : json(d.backing_volume)}});
    json nics = json::array();
    for (const auto& n : vm.nics)
        nics.push_back({{"network", n.network}, {"mac", n.mac}, {"ip", optional_ip(n.ip)}, {"model", to_string(n.model)}});
    json boot = json::array();
    for (auto b : vm.boot) boot.push_back(to_string(b));
    json kernel = vm.kernel.empty() ? json(nullptr)
                                    : json{{"kernel", vm.kernel}, {"initrd", vm.initrd}, {"cmdline", vm.cmdline}};
    return {{"name", vm.spec_name},
            {"domain", vm.domain},
            {"vcpus", vm.vcpus},
            {"memory_bytes", vm.memory_bytes},
            {"firmware", to_string(vm.firmware)},
            {"cpu", to_string(vm.cpu_mode)},
            {"direct_boot", kernel},
            {"boot", boot},
            {"disks", disks},
            {"nics", nics},
            {"console", {{"type", to_string(vm.console.kind)}, {"listen", vm.console.listen}}},
            {"baseline", to_string(vm.baseline)},
            {"hostname", vm.hostname},
            {"cloud_init", vm.cloud_init ? json{{"seed_volume", vm.seed_volume}, {"seed_target", vm.seed_target},
                                                {"login", vm.login},
                                                {"user_data", vm.user_data_file.empty() ? json(nullptr) : json(vm.user_data_file)}}
                                         : json(nullptr)},
            {"config_hash", vm.config_hash}};
}

}  // namespace

nlohmann::ordered_json plan_to_json(const Plan& plan) {
    json images = json::array();
    for (const auto& i : plan.images)
        images.push_back({{"template", i.template_name}, {"source", i.source_path}, {"volume", i.volume},
                          {"format", to_string(i.format)}});
    json shared = json::array();
    for (const auto& n : plan.shared_networks) shared.push_back(network_json(n));
    json seats = json::array();
    for (const auto& s : plan.seats) {
        json nets = json::array();
        for (const auto& n : s.networks) nets.push_back(network_json(n));
        json vms = json::array();
        for (const auto& vm : s.vms) vms.push_back(vm_json(vm));
        seats.push_back({{"seat", s.number}, {"networks", nets}, {"vms", vms}});
    }
    return {{"lab", plan.lab},
            {"title", plan.title},
            {"host", plan.host_uri},
            {"spec_hash", plan.spec_hash},
            {"pool", {{"name", plan.pool}, {"path", plan.pool_path}}},
            {"images", images},
            {"shared_networks", shared},
            {"seats", seats},
            {"totals",
             {{"vms", plan.totals.vms},
              {"networks", plan.totals.networks},
              {"vcpus", plan.totals.vcpus},
              {"memory_bytes", plan.totals.memory_bytes},
              {"disk_bytes", plan.totals.disk_bytes},
              {"image_bytes", plan.totals.image_bytes},
              {"baseline_bytes", plan.totals.baseline_bytes}}}};
}

}  // namespace vmlab
