#include <iostream>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct PowerOptions {
    std::string lab;
    SeatArguments seats;
    unsigned timeout = 60;
    bool no_wait = false;
    bool json = false;
};

int power_command(const PowerOptions& options, const GlobalOptions& global, Power power) {
    const std::string lab = lab_name_from_argument(options.lab);
    StateStore store = open_state(global);
    SeatArguments args = options.seats;
    if (args.seats.empty() && args.attendee.empty()) args.all = true;  // no selection: the whole lab
    const SeatSelection selection = select_seats(store, lab, args);
    virt::Connection conn = connect_to_host(host_uri_for(global, store, lab, default_host_uri));
    Engine engine(conn, store);
    const auto results = engine.power(lab, selection, power, std::chrono::seconds(options.timeout),
                                      options.no_wait ? Wait::no : Wait::yes);
    return report_seat_results(power == Power::on ? "started" : "stopped", lab, results, options.json);
}

void add_power(CLI::App& app, const GlobalOptions& global, Action& action, Power power) {
    auto options = std::make_shared<PowerOptions>();
    CLI::App* cmd = app.add_subcommand(power == Power::on ? "start" : "stop",
                                       power == Power::on ? "Start the VMs of a lab, seats or one VM"
                                                          : "Shut down the VMs of a lab, seats or one VM (forced after --timeout)");
    cmd->add_option("lab", options->lab, "lab name (or its lab file)")->required();
    options->seats.add_to(*cmd);
    if (power == Power::off)
        cmd->add_option("--timeout", options->timeout, "seconds of graceful shutdown before power-off")->capture_default_str();
    cmd->add_flag("--no-wait", options->no_wait, "fail at once if another command holds a seat");
    cmd->add_flag("--json", options->json, "machine-readable results");
    cmd->callback([&action, &global, options, power] {
        action = [options, &global, power] { return power_command(*options, global, power); };
    });
}

}  // namespace

void add_start(CLI::App& app, const GlobalOptions& global, Action& action) { add_power(app, global, action, Power::on); }
void add_stop(CLI::App& app, const GlobalOptions& global, Action& action) { add_power(app, global, action, Power::off); }

}  // namespace vmlab::cli
