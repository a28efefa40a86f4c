#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct DownOptions {
    std::string lab;
    bool keep_images = false;
    bool json = false;
    unsigned jobs = 4;
    bool no_wait = false;
};

int down_command(const DownOptions& options, const GlobalOptions& global) {
    const std::string lab = lab_name_from_argument(options.lab);
    StateStore store = open_state(global);
    const std::string uri = host_uri_for(global, store, lab, default_host_uri);
    if (!store.find_lab(lab)) spdlog::info("{} is not in the state database; removing what libvirt tags as its", lab);
    virt::Connection conn = connect_to_host(uri);
    Engine engine(conn, store);
    const DownReport report = engine.down(lab, options.keep_images ? KeepImages::yes : KeepImages::no, options.jobs,
                                          options.no_wait ? Wait::no : Wait::yes);
    if (options.json) {
        std::cout << nlohmann::ordered_json{{"lab", lab}, {"removed", report.removed}, {"leftovers", report.leftovers},
                                             {"untouched", report.untouched}}
                         .dump(2)
                  << '\n';
    } else {
        std::cout << "lab " << lab << ": removed " << report.removed.size() << " objects; ";
        if (report.leftovers.empty()) {
            std::cout << "checked through libvirt: nothing of the lab remains"
                      << (options.keep_images ? " (base images kept)" : "") << '\n';
        } else {
            std::cout << report.leftovers.size() << " left:\n";
            for (const auto& l : report.leftovers) std::cout << "  " << l << '\n';
        }
    }
    for (const auto& file : report.untouched)
        spdlog::warn("left {} in place: vmlab did not create it, so it never removes it", file);
    if (!report.leftovers.empty()) {
        spdlog::error("down of {} left objects behind; run `vmlab down {}` again, or remove them with virsh", lab, lab);
        return static_cast<int>(ExitCode::leftovers);
    }
    return 0;
}

}  // namespace

void add_down(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<DownOptions>();
    CLI::App* cmd = app.add_subcommand("down", "Remove every domain, disk, network and pool of a lab, and prove it");
    cmd->add_option("lab", options->lab, "lab name (or its lab file)")->required();
    cmd->add_flag("--keep-images", options->keep_images, "keep the imported base images (and the pool) for the next up");
    cmd->add_option("-j,--jobs", options->jobs, "domains removed at once")->capture_default_str()->check(CLI::Range(1, 64));
    cmd->add_flag("--json", options->json, "machine-readable report");
    cmd->add_flag("--no-wait", options->no_wait, "fail at once if another command holds the lab");
    cmd->callback([&action, &global, options] { action = [options, &global] { return down_command(*options, global); }; });
}

}  // namespace vmlab::cli
