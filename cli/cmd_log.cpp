// vmlab log: the audit log of a lab (it outlives the lab: `down` keeps it).

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "app.hpp"
#include "time_format.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct LogOptions {
    std::string lab;
    std::optional<unsigned> seat;
    std::size_t limit = 100;
    bool json = false;
};

std::string format_duration(std::int64_t ms) {
    if (ms < 1000) return std::to_string(ms) + " ms";
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000 << " s";
    return out.str();
}

int log_command(const LogOptions& options, const GlobalOptions& global) {
    StateStore store = open_state(global);
    const std::string lab = lab_name_from_argument(options.lab);
    const auto events = store.events(lab, options.seat, options.limit);
    if (options.json) {
        auto out = nlohmann::ordered_json::array();
        for (const auto& e : events)
            out.push_back({{"id", e.id},
                           {"time", iso_local_time(e.time)},
                           {"unix_time", e.time},
                           {"user", e.user},
                           {"action", e.action},
                           {"seat", e.seat ? nlohmann::ordered_json(e.seat) : nlohmann::ordered_json()},
                           {"vm", e.vm},
                           {"result", e.result},
                           {"duration_ms", e.duration_ms},
                           {"detail", e.detail}});
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    if (events.empty()) {
        std::cout << "no events for lab " << lab << (options.seat ? " seat " + std::to_string(*options.seat) : "") << '\n';
        return 0;
    }
    std::size_t user_width = 4, action_width = 6, vm_width = 2, result_width = 6;
    for (const auto& e : events) {
        user_width = std::max(user_width, e.user.size());
        action_width = std::max(action_width, e.action.size());
        vm_width = std::max(vm_width, e.vm.size());
        result_width = std::max(result_width, e.result.size());
    }
    auto column = [](std::size_t width) { return std::setw(static_cast<int>(width + 2)); };
    std::cout << std::left << std::setw(27) << "TIME" << column(user_width) << "USER" << column(action_width) << "ACTION"
              << std::setw(6) << "SEAT" << column(vm_width) << "VM" << column(result_width) << "RESULT" << std::setw(10)
              << "DURATION" << "DETAIL\n";
    for (const auto& e : events)
        std::cout << std::setw(27) << iso_local_time(e.time) << column(user_width) << e.user << column(action_width) << e.action
                  << std::setw(6) << (e.seat ? std::to_string(e.seat) : "-") << column(vm_width) << (e.vm.empty() ? "-" : e.vm)
                  << column(result_width) << e.result << std::setw(10) << format_duration(e.duration_ms)
                  << (e.detail.empty() ? "-" : e.detail) << '\n';
    return 0;
}

}  // namespace

void add_log(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<LogOptions>();
    CLI::App* cmd = app.add_subcommand("log", "Show a lab's audit log: who did what to which seat, when, and how it went");
    cmd->add_option("lab", options->lab, "lab name (also of a lab already removed: the log outlives it)")->required();
    cmd->add_option("--seat", options->seat, "only events of this seat")->check(CLI::PositiveNumber);
    cmd->add_option("-n,--limit", options->limit, "show the newest N events")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--json", options->json, "machine-readable output");
    cmd->footer("Times are local (ISO 8601); events are oldest first.");
    cmd->callback([&action, &global, options] { action = [options, &global] { return log_command(*options, global); }; });
}

}  // namespace vmlab::cli
