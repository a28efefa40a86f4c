#include <iostream>
#include <optional>

#include "app.hpp"
#include "lab_file.hpp"
#include "session.hpp"
#include <spdlog/spdlog.h>
#include "vmlab/lab/loader.hpp"
#include "vmlab/plan/plan.hpp"
#include "vmlab/plan/plan_json.hpp"

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
    out << "     baseline " << to_string(vm.baseline)
        << (vm.baseline == Baseline::running ? " (captured once ready; reset resumes it)" : " (reset boots fresh disks)") << '\n';
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
        << format_size(t.image_bytes) << " of base images, " << format_size(t.baseline_bytes)
        << " of baseline memory images\n";
}

struct HostView {
    Capacity capacity;
    HostComparison comparison;
};

// The host's side of the plan; empty when it cannot be reached (the plan itself still prints).
std::optional<HostView> look_at_host(const Plan& plan, const GlobalOptions& global) {
    try {
        virt::Connection conn = connect_to_host(plan.host_uri);
        StateStore store = open_state(global);
        Engine engine(conn, store);
        HostView host{engine.capacity(plan), engine.compare(plan)};
        const Capacity& c = host.capacity;
        spdlog::debug("host memory {} B ({} B free), needed {} B; {} CPUs for {} vCPUs", c.host_memory_bytes,
                      c.host_free_memory_bytes, c.needed_memory_bytes, c.host_cpus, c.vcpus);
        spdlog::debug("pool disk {} B free, needed {} B now, {} B worst case", c.disk_free_bytes, c.disk_needed_now_bytes,
                      c.disk_worst_case_bytes);
        const HostComparison& cmp = host.comparison;
        spdlog::debug("compared with the host: {} to create, {} to keep, {} to change, {} conflicts", cmp.create.size(),
                      cmp.keep.size(), cmp.change.size(), cmp.conflicts.size());
        return host;
    } catch (const Error& e) {
        spdlog::warn("host {} not reachable ({}); showing the plan without the host check", plan.host_uri, e.what());
        return std::nullopt;
    }
}

nlohmann::ordered_json host_json(const HostView& host) {
    const Capacity& c = host.capacity;
    return {{"memory", {{"host_bytes", c.host_memory_bytes}, {"host_free_bytes", c.host_free_memory_bytes},
                        {"needed_bytes", c.needed_memory_bytes}, {"fits", c.memory_fits()}}},
            {"cpus", {{"host", c.host_cpus}, {"vcpus", c.vcpus}}},
            {"disk", {{"free_bytes", c.disk_free_bytes}, {"needed_now_bytes", c.disk_needed_now_bytes},
                      {"worst_case_bytes", c.disk_worst_case_bytes}, {"fits", c.disk_fits()}}},
            {"create", host.comparison.create}, {"keep", host.comparison.keep},
            {"change", host.comparison.change}, {"conflicts", host.comparison.conflicts}};
}

void print_host(std::ostream& out, const HostView& host) {
    const Capacity& c = host.capacity;
    out << "Host memory: needs " << format_size(c.needed_memory_bytes) << " (guests + ~64MiB QEMU each) of "
        << format_size(c.host_memory_bytes) << " (" << format_size(c.host_free_memory_bytes) << " free): "
        << (c.memory_fits() ? "fits" : "DOES NOT FIT") << '\n';
    out << "Host CPUs: " << c.vcpus << " vCPUs on " << c.host_cpus << " CPUs";
    if (c.host_cpus && c.vcpus > c.host_cpus) out << " (" << (c.vcpus + c.host_cpus - 1) / c.host_cpus << "x overcommit)";
    out << '\n';
    out << "Disk: needs " << format_size(c.disk_needed_now_bytes) << " now, " << format_size(c.disk_worst_case_bytes)
        << " if every disk fills; " << format_size(c.disk_free_bytes) << " free: " << (c.disk_fits() ? "fits" : "DOES NOT FIT")
        << '\n';
    const auto& cmp = host.comparison;
    out << "up would create " << cmp.create.size() << ", keep " << cmp.keep.size() << ", change " << cmp.change.size()
        << " objects" << (cmp.conflicts.empty() ? "" : "; CONFLICTS:") << '\n';
    for (const auto& c2 : cmp.change) out << "  change " << c2 << '\n';
    for (const auto& c2 : cmp.conflicts) out << "  conflict " << c2 << '\n';
}

int plan_command(const PlanOptions& options, const GlobalOptions& global) {
    LabSpec lab = load_lab_or_throw(options.file);
    if (!global.connect.empty()) {
        spdlog::debug("host {} (--connect) instead of the lab's {}", global.connect, lab.host_uri);
        lab.host_uri = global.connect;
    }
    const Plan plan = make_plan(lab);
    spdlog::debug("planned {} seat(s): {} VMs, {} networks, {} base image(s)", plan.seats.size(), plan.totals.vms,
                  plan.totals.networks, plan.images.size());
    if (options.offline) spdlog::debug("--offline: not contacting {}", plan.host_uri);
    const std::optional<HostView> host = options.offline ? std::nullopt : look_at_host(plan, global);
    if (options.json) {
        auto json = plan_to_json(plan);
        json["host_check"] = host ? host_json(*host) : nlohmann::ordered_json(nullptr);
        std::cout << json.dump(2) << '\n';
    } else {
        print_plan(std::cout, plan);
        if (host) print_host(std::cout, *host);
    }
    const bool fits = !host || (host->capacity.memory_fits() && host->capacity.disk_fits() && host->comparison.conflicts.empty());
    return static_cast<int>(fits ? ExitCode::ok : ExitCode::invalid);
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
