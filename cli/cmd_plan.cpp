#include <iostream>

#include "app.hpp"
#include "lab_file.hpp"
#include "vmlab/loader.hpp"
#include "vmlab/plan.hpp"
#include "vmlab/plan_json.hpp"

namespace vmlab::cli {

namespace {

struct PlanOptions {
    std::string file;
    bool json = false;
    bool offline = false;
};

std::string ip_or_dash(const std::optional<Ipv4>& ip) { return ip ? to_string(*ip) : "-"; }

void print_network(std::ostream& out, const PlannedNetwork& n) {
    out << "  network " << n.libvirt_name << "  bridge " << n.bridge << "  " << to_string(n.subnet) << "  "
        << to_string(n.mode);
    if (n.gateway) out << "  gateway " << to_string(*n.gateway);
    if (n.dhcp_first) out << "  dhcp " << to_string(*n.dhcp_first) << "-" << to_string(*n.dhcp_last);
    out << '\n';
}

void print_vm(std::ostream& out, const PlannedVm& vm) {
    out << "  vm " << vm.domain << "  " << vm.vcpus << " vCPU  " << format_size(vm.memory_bytes) << "  "
        << to_string(vm.firmware) << '\n';
    for (const auto& nic : vm.nics)
        out << "     nic " << nic.mac << "  " << ip_or_dash(nic.ip) << "  on " << nic.network << " (" << to_string(nic.model)
            << ")\n";
    for (const auto& d : vm.disks)
        out << "     disk " << d.target << "  " << d.volume << "  " << (d.capacity_bytes ? format_size(d.capacity_bytes) : "size of image")
            << (d.backing_volume.empty() ? "  blank" : "  linked clone of " + d.backing_volume) << '\n';
    if (!vm.kernel.empty()) out << "     boot kernel " << vm.kernel << '\n';
    out << "     console " << to_string(vm.console.kind);
    if (vm.console.kind != ConsoleKind::none) out << " on " << vm.console.listen << " (port chosen at start)";
    out << "  + serial\n";
}

void print_plan(std::ostream& out, const Plan& plan) {
    out << "Lab " << plan.lab << " (" << plan.title << "): " << plan.seats.size() << " seats on " << plan.host_uri << '\n';
    out << "Pool " << plan.pool << " at " << plan.pool_path << '\n';
    for (const auto& img : plan.images)
        out << "Base image " << img.volume << " imported from " << img.source_path << '\n';
    for (const auto& n : plan.shared_networks) print_network(out << "Lab-wide\n", n);
    for (const auto& seat : plan.seats) {
        out << "Seat " << seat.number << '\n';
        for (const auto& n : seat.networks) print_network(out, n);
        for (const auto& vm : seat.vms) print_vm(out, vm);
    }
    const auto& t = plan.totals;
    out << "Totals: " << t.vms << " VMs, " << t.networks << " networks, " << t.vcpus << " vCPUs, "
        << format_size(t.memory_bytes) << " memory, " << format_size(t.disk_bytes) << " virtual disk, "
        << format_size(t.image_bytes) << " of base images\n";
}

int plan_command(const PlanOptions& options, const GlobalOptions& global) {
    LabSpec lab = load_lab_or_throw(options.file);
    if (!global.connect.empty()) lab.host_uri = global.connect;
    const Plan plan = make_plan(lab);
    if (options.json)
        std::cout << plan_to_json(plan).dump(2) << '\n';
    else
        print_plan(std::cout, plan);
    return 0;
}

}  // namespace

void add_plan(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<PlanOptions>();
    CLI::App* cmd = app.add_subcommand("plan", "Show exactly what `up` would create, and whether it fits the host");
    cmd->add_option("lab", options->file, "lab file (TOML)")->required();
    cmd->add_flag("--json", options->json, "the plan as JSON (fields: docs/plan-json.md)");
    cmd->add_flag("--offline", options->offline, "do not contact the host (no capacity check, no comparison)");
    cmd->callback([&action, &global, options] { action = [options, &global] { return plan_command(*options, global); }; });
}

}  // namespace vmlab::cli
