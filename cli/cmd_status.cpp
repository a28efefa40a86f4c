#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "time_format.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct StatusOptions {
    std::string lab;
    bool json = false;
};

int all_labs(StateStore& store, const GlobalOptions& global, bool json) {
    std::map<std::string, virt::Connection> connections;
    auto out = nlohmann::ordered_json::array();
    std::vector<LabSummary> rows;
    for (const auto& lab : store.labs()) {
        const std::string uri = global.connect.empty() ? lab.host_uri : global.connect;
        auto it = connections.find(uri);
        if (it == connections.end()) it = connections.emplace(uri, connect_to_host(uri)).first;
        Engine engine(it->second, store);
        for (auto& s : engine.summaries())
            if (s.lab == lab.name) rows.push_back(s);
    }
    if (json) {
        for (const auto& s : rows)
            out.push_back({{"lab", s.lab}, {"title", s.title}, {"host", s.host_uri}, {"seats", s.seats}, {"vms", s.vms},
                           {"running", s.running}, {"failed_seats", s.failed_seats}});
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    if (rows.empty()) {
        std::cout << "no labs (vmlab up LAB.toml creates one)\n";
        return 0;
    }
    std::cout << std::left << std::setw(22) << "LAB" << std::setw(7) << "SEATS" << std::setw(6) << "VMS" << std::setw(9)
              << "RUNNING" << std::setw(8) << "FAILED" << "HOST\n";
    for (const auto& s : rows)
        std::cout << std::setw(22) << s.lab << std::setw(7) << s.seats << std::setw(6) << s.vms << std::setw(9) << s.running
                  << std::setw(8) << s.failed_seats << s.host_uri << '\n';
    return 0;
}

int one_lab(StateStore& store, const GlobalOptions& global, const std::string& lab, bool json) {
    store.require_lab(lab);
    virt::Connection conn = connect_to_host(host_uri_for(global, store, lab, default_host_uri));
    Engine engine(conn, store);
    const auto rows = engine.status(lab);
    for (const auto& step : engine.interrupted(lab))
        spdlog::warn("{}`vmlab {}` was interrupted (pid {} is gone) during: {}; run `vmlab {}` on the lab again to finish "
                     "the job",
                     step.seat ? "seat " + std::to_string(step.seat) + ": " : "", step.command, step.pid, step.step,
                     step.command);
    if (json) {
        auto out = nlohmann::ordered_json::array();
        for (const auto& r : rows)
            out.push_back({{"seat", r.seat}, {"vm", r.vm}, {"domain", r.domain}, {"state", r.state},
                           {"planned_ips", join(r.ips, ",")}, {"leased_ips", to_strings(r.leased_ips)}, {"console", r.console},
                           {"attendee", r.attendee}, {"last_reset_at", r.last_reset_at}});
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    std::cout << std::left << std::setw(6) << "SEAT" << std::setw(12) << "VM" << std::setw(24) << "DOMAIN" << std::setw(10)
              << "STATE" << std::setw(16) << "IP" << std::setw(8) << "LEASE" << std::setw(24) << "CONSOLE" << std::setw(12)
              << "LAST RESET" << "ATTENDEE\n";
    for (const auto& r : rows) {
        std::cout << std::setw(6) << r.seat << std::setw(12) << r.vm << std::setw(24) << r.domain << std::setw(10) << r.state
                  << std::setw(16) << (r.ips.empty() ? "-" : join(r.ips, ",")) << std::setw(8)
                  << (r.ips.empty() ? "-" : r.holds_planned_leases() ? "yes" : "no") << std::setw(24) << (r.console.empty() ? "-" : r.console)
                  << std::setw(12) << (r.last_reset_at ? iso_local_time(r.last_reset_at).substr(11, 8) : "-") << (r.attendee.empty() ? "-" : r.attendee) << '\n';
    }
    return 0;
}

}  // namespace

void add_status(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<StatusOptions>();
    CLI::App* cmd = app.add_subcommand("status", "Show every lab, or one lab's VMs: state, IP, lease, console");
    cmd->add_option("lab", options->lab, "lab name or lab file");
    cmd->add_flag("--json", options->json, "machine-readable output");
    cmd->callback([&action, &global, options] {
        action = [options, &global] {
            StateStore store = open_state(global);
            return options->lab.empty() ? all_labs(store, global, options->json)
                                        : one_lab(store, global, lab_name_from_argument(options->lab), options->json);
        };
    });
}

}  // namespace vmlab::cli
