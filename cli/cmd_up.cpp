#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "lab_file.hpp"
#include "session.hpp"
#include "vmlab/virt/host.hpp"
#include "vmlab/lab/loader.hpp"

namespace vmlab::cli {

namespace {

struct UpCliOptions {
    std::string file;
    unsigned jobs = 4;
    std::string wait_ip;
    bool wait = false;
    bool recreate = false;
    bool json = false;
    bool no_wait = false;
    std::string virt = "lab";
};

std::chrono::seconds parse_timeout(const std::string& text) {
    if (text.empty()) return std::chrono::seconds(300);
    std::size_t used = 0;
    long value = -1;
    try {
        value = std::stol(text, &used);
    } catch (const std::exception&) {
    }
    const std::string unit = text.substr(used);
    const long factor = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : 0;
    if (value <= 0 || factor == 0)
        throw Error("--wait-ip: '" + text + "' is not a timeout",
                    "write --wait-ip, --wait-ip=300 or --wait-ip=5m, after the lab file", ExitCode::invalid);
    return std::chrono::seconds(value * factor);
}

void require_files(const LabSpec& lab) {
    std::string missing;
    for (const auto& tpl : lab.templates)
        for (const std::string* path : {&tpl.image, &tpl.kernel, &tpl.initrd}) {
            std::error_code ec;
            if (!path->empty() && !std::filesystem::is_regular_file(*path, ec))
                missing += "\n  " + *path + " (template " + tpl.name + ")";
        }
    if (!missing.empty())
        throw Error("files the lab needs are missing:" + missing,
                    "build or copy them first (the tiny guest: scripts/build-tiny-guest /var/lib/vmlab/images/tiny)",
                    ExitCode::invalid);
}

// A one-line progress bar on a terminal; one log line per seat otherwise.
SeatProgress make_progress() {
    const bool tty = ::isatty(STDERR_FILENO);
    return [tty](const SeatResult& r, std::size_t done, std::size_t total) {
        if (!r.ok) {
            if (tty) std::fputs("\r\033[K", stderr);
            spdlog::error("seat {}: {}", r.seat, r.error);
        }
        if (tty) {
            const int width = 30;
            const int filled = static_cast<int>(width * done / total);
            std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu seats", std::string(filled, '#').c_str(),
                         std::string(width - filled, '.').c_str(), done, total);
            if (done == total) std::fputc('\n', stderr);
        } else if (r.ok) {
            spdlog::info("seat {} ready ({} created, {} kept) in {:.1f} s [{}/{}]", r.seat, r.created.size(), r.kept.size(),
                         r.seconds, done, total);
        }
    };
}

int up_command(const UpCliOptions& options, const GlobalOptions& global) {
    LabSpec lab = load_lab_or_throw(options.file);
    require_files(lab);
    if (!global.connect.empty()) lab.host_uri = global.connect;
    if (options.virt != "lab") lab.virtualization = options.virt == "kvm" ? Virtualization::kvm
                                                   : options.virt == "qemu" ? Virtualization::qemu
                                                                            : Virtualization::automatic;
    const Plan plan = make_plan(lab);
    StateStore store = open_state(global);
    virt::Connection conn = connect_to_host(lab.host_uri);

    UpOptions up;
    up.jobs = options.jobs;
    up.recreate = options.recreate ? Recreate::yes : Recreate::no;
    up.wait_lock = options.no_wait ? Wait::no : Wait::yes;
    if (options.wait) up.wait_ip = parse_timeout(options.wait_ip);
    const HostFacts host = probe_host();
    up.domain_type = choose_domain_type(lab.virtualization, host, conn.hypervisor_type());
    if (up.domain_type == "kvm" && !(host.kvm_device_usable && host.cpu_has_virt_flags))
        spdlog::warn("KVM is forced but this host {}: the guests may never start (an empty serial console log); "
                     "`--virt qemu` (software emulation) works anywhere",
                     host.kvm_device_usable ? "shows no vmx/svm CPU flag" : "has no usable /dev/kvm");
    Engine engine(conn, store);
    const Capacity capacity = engine.capacity(plan);
    if (!capacity.memory_fits())
        throw Error("the lab needs " + format_size(capacity.needed_memory_bytes) + " of memory (guests and QEMU) but the host has " +
                        format_size(capacity.host_memory_bytes),
                    "use fewer seats or smaller VMs (vmlab plan shows the totals)", ExitCode::invalid);
    if (!capacity.disk_fits())
        throw Error("the lab needs " + format_size(capacity.disk_needed_now_bytes) + " in " + plan.pool_path + " but only " +
                        format_size(capacity.disk_free_bytes) + " are free",
                    "free some space or set lab.storage to a larger file system", ExitCode::invalid);
    spdlog::info("bringing up {}: {} seats, {} VMs on {} (domain type {})", plan.lab, plan.seats.size(), plan.totals.vms,
                 conn.uri(), up.domain_type);

    const UpReport report = engine.up(lab, plan, up, make_progress());

    std::size_t drifted = 0;
    for (const auto& seat : report.seats) {
        drifted += seat.drifted.size();
        for (const auto& d : seat.drifted)
            spdlog::warn("seat {}: {} differs from the lab file; `vmlab up --recreate` replaces it", seat.seat, d);
    }
    if (options.json) {
        auto seats = nlohmann::ordered_json::array();
        for (const auto& s : report.seats)
            seats.push_back({{"seat", s.seat}, {"ok", s.ok}, {"error", s.error}, {"created", s.created},
                             {"kept", s.kept}, {"drifted", s.drifted}, {"seconds", s.seconds}});
        std::cout << nlohmann::ordered_json{{"lab", plan.lab}, {"failed", report.failed()}, {"seats", seats}}.dump(2) << '\n';
    } else {
        std::cout << "lab " << plan.lab << ": " << report.seats.size() - report.failed() << "/" << report.seats.size()
                  << " seats ready" << (drifted ? ", " + std::to_string(drifted) + " VMs drifted" : "") << '\n';
        for (const auto& s : report.seats)
            if (!s.ok) std::cout << "  seat " << s.seat << " failed: " << s.error << '\n';
    }
    if (report.failed()) {
        spdlog::info("run `vmlab up {}` again to finish the failed seats", options.file);
        return static_cast<int>(ExitCode::partial);
    }
    return 0;
}

}  // namespace

void add_up(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<UpCliOptions>();
    CLI::App* cmd = app.add_subcommand("up", "Create or finish every seat of a lab and start its VMs");
    cmd->add_option("lab", options->file, "lab file (TOML)")->required();
    cmd->add_option("-j,--jobs", options->jobs, "seats provisioned at once")->capture_default_str()->check(CLI::Range(1, 64));
    auto* wait = cmd->add_option("--wait-ip", options->wait_ip,
                                 "wait until every planned address is leased (timeout, default 300 s; e.g. =120, =5m)")
                     ->expected(0, 1);
    cmd->add_flag("--recreate", options->recreate, "replace VMs whose configuration differs from the lab file");
    cmd->add_option("--virt", options->virt, "kvm, qemu (software emulation) or auto; default: the lab's setting")
        ->check(CLI::IsMember({"lab", "auto", "kvm", "qemu"}));
    cmd->add_flag("--json", options->json, "machine-readable summary on stdout");
    cmd->add_flag("--no-wait", options->no_wait, "fail at once if another command holds the lab");
    cmd->callback([&action, &global, options, wait] {
        options->wait = wait->count() > 0;
        action = [options, &global] { return up_command(*options, global); };
    });
}

}  // namespace vmlab::cli
