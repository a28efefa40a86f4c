#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct ResetCliOptions {
    std::string lab;
    SeatArguments seats;
    bool yes = false;
    bool keep_broken = false;
    bool no_wait_ip = false;
    unsigned wait_ip = 300;
    bool no_wait = false;
    unsigned jobs = 4;
    bool json = false;
};

void confirm_all(const std::string& lab, std::size_t count) {
    if (!::isatty(STDIN_FILENO))
        throw Error("reset --all of " + lab + " needs confirmation", "add --yes to reset every seat without asking",
                    ExitCode::invalid);
    std::cerr << "Reset all " << count << " seats of " << lab << "? Every attendee loses their work. Type the lab name: ";
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != lab) throw Error("not confirmed; nothing was reset", {}, ExitCode::invalid);
}

}  // namespace

namespace {

int reset_command(const ResetCliOptions& options, const GlobalOptions& global) {
    const std::string lab = lab_name_from_argument(options.lab);
    StateStore store = open_state(global);
    const SeatSelection selection = select_seats(store, lab, options.seats);
    if (options.seats.all && !options.yes) confirm_all(lab, selection.seats.size());
    virt::Connection conn = connect_to_host(host_uri_for(global, store, lab, default_host_uri));
    Engine engine(conn, store);
    ResetOptions reset;
    reset.keep_broken = options.keep_broken ? KeepBroken::yes : KeepBroken::no;
    if (!options.no_wait_ip) reset.wait_ip = std::chrono::seconds(options.wait_ip);
    reset.wait_lock = options.no_wait ? Wait::no : Wait::yes;
    reset.lab_lock = options.seats.all ? LockMode::exclusive : LockMode::shared;
    reset.jobs = options.jobs;
    return report_seat_results("reset", lab, engine.reset(lab, selection, reset), options.json);
}

}  // namespace

void add_reset(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<ResetCliOptions>();
    CLI::App* cmd = app.add_subcommand("reset", "Put seats back to their clean baseline: power off, fresh disks, start");
    cmd->add_option("lab", options->lab, "lab name (or its lab file)")->required();
    options->seats.add_to(*cmd);
    cmd->add_flag("-y,--yes", options->yes, "do not ask before --all");
    cmd->add_flag("--keep-broken", options->keep_broken, "save the broken disks first (as <volume>.broken-<time>; down removes them)");
    cmd->add_option("--wait-ip", options->wait_ip, "seconds to wait for the seat's DHCP leases")->capture_default_str();
    cmd->add_flag("--no-wait-ip", options->no_wait_ip, "return once the VMs are started");
    cmd->add_flag("--no-wait", options->no_wait, "fail at once if another command holds the seat");
    cmd->add_option("-j,--jobs", options->jobs, "seats reset at once")->capture_default_str()->check(CLI::Range(1, 64));
    cmd->add_flag("--json", options->json, "machine-readable results");
    cmd->callback([&action, &global, options] { action = [options, &global] { return reset_command(*options, global); }; });
}

}  // namespace vmlab::cli
