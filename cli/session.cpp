#include "session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "lab_file.hpp"
#include "vmlab/seats/roster.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

namespace vmlab::cli {

StateStore open_state(const GlobalOptions& global) {
    const std::filesystem::path path = global.state.empty() ? StateStore::default_path() : std::filesystem::path(global.state);
    spdlog::debug("opening state database {}{}", path.string(), global.state.empty() ? " (default; --state PATH overrides)" : "");
    return StateStore::open(path);
}

virt::Connection connect_to_host(const std::string& uri) {
    spdlog::debug("connecting to libvirt at {}", uri);
    virt::Connection conn = virt::Connection::open(uri);
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("connected to {} ({} driver)", conn.uri(), conn.hypervisor_type());
    return conn;
}

std::string host_uri_for(const GlobalOptions& global, StateStore& store, const std::string& lab,
                         const std::string& fallback) {
    if (!global.connect.empty()) {
        spdlog::debug("host of lab {}: {} (--connect)", lab, global.connect);
        return global.connect;
    }
    if (auto record = store.find_lab(lab)) {
        spdlog::debug("host of lab {}: {} (recorded in {})", lab, record->host_uri, store.path().string());
        return record->host_uri;
    }
    spdlog::debug("host of lab {}: {} (not in the state database; default)", lab, fallback);
    return fallback;
}

void SeatArguments::add_to(CLI::App& cmd) {
    cmd.add_option("-s,--seat", seats, "seat number (repeatable)")->check(CLI::PositiveNumber);
    cmd.add_option("--attendee", attendee, "the seat of this attendee (email)");
    cmd.add_flag("--all", all, "every seat of the lab");
    cmd.add_option("--vm", vm, "only this VM of each seat");
}

SeatSelection select_seats(StateStore& store, const std::string& lab, const SeatArguments& args) {
    const auto record = store.require_lab(lab);
    const int ways = !args.seats.empty() + !args.attendee.empty() + args.all;
    if (ways != 1) throw Error("choose the seats with exactly one of --seat N, --attendee EMAIL or --all", {}, ExitCode::invalid);
    SeatSelection selection;
    if (!args.vm.empty()) selection.vm = args.vm;
    if (args.all) {
        for (unsigned seat = 1; seat <= record.seats; ++seat) selection.seats.push_back(seat);
    } else if (!args.attendee.empty()) {
        for (const auto& seat : store.seats(lab))
            if (email_key(seat.attendee_email) == email_key(args.attendee)) selection.seats.push_back(seat.seat);
        if (selection.seats.empty())
            throw Error("no seat of " + lab + " is assigned to " + args.attendee, "vmlab seats " + lab + " lists them", ExitCode::invalid);
    } else {
        for (unsigned seat : args.seats)
            if (seat > record.seats)
                throw Error("lab " + lab + " has seats 1 to " + std::to_string(record.seats) + ", not " + std::to_string(seat), {},
                            ExitCode::invalid);
        selection.seats = args.seats;
    }
    return selection;
}

static nlohmann::ordered_json seat_results_json(const std::string& lab, const std::vector<SeatActionResult>& results) {
    auto seats = nlohmann::ordered_json::array();
    for (const auto& r : results)
        seats.push_back({{"seat", r.seat}, {"ok", r.ok}, {"vms", r.vms}, {"seconds", r.seconds}, {"error", r.error}});
    return {{"lab", lab}, {"seats", seats}};
}

int report_seat_results(const std::string& verb, const std::string& lab, const std::vector<SeatActionResult>& results,
                        bool json) {
    std::size_t failed = 0;
    for (const auto& r : results) failed += !r.ok;
    if (json) {
        std::cout << seat_results_json(lab, results).dump(2) << '\n';
    } else {
        for (const auto& r : results) {
            std::cout << "seat " << r.seat << ": ";
            if (r.ok)
                std::cout << verb << " " << r.vms.size() << " VM" << (r.vms.size() == 1 ? "" : "s") << " in "
                          << static_cast<int>(r.seconds * 1000) << " ms\n";
            else
                std::cout << "FAILED: " << r.error << '\n';
        }
    }
    if (failed == 0) return 0;
    const bool daemon_lost = std::any_of(results.begin(), results.end(), [](const SeatActionResult& r) {
        return r.failure == FailureKind::lost_connection;
    });
    if (daemon_lost) spdlog::info("make sure libvirtd runs (scripts/setup starts it), then run the same command again");
    return static_cast<int>(failed == results.size() ? ExitCode::failure : ExitCode::partial);
}

std::string lab_name_from_argument(const std::string& argument) {
    std::error_code ec;
    if (argument.ends_with(".toml") && std::filesystem::is_regular_file(argument, ec))
        return load_lab_or_throw(argument).name;
    return argument;
}

}  // namespace vmlab::cli
