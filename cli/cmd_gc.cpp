#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct GcOptions {
    std::string lab;
    bool yes = false;
    bool json = false;
};

int gc_command(const GcOptions& options, const GlobalOptions& global) {
    StateStore store = open_state(global);
    const std::string uri = global.connect.empty() ? std::string(default_host_uri) : global.connect;
    virt::Connection conn = connect_to_host(uri);
    Engine engine(conn, store);
    const Orphans orphans = engine.find_orphans(options.lab.empty() ? std::nullopt : std::optional(options.lab));
    DownReport removed;
    if (options.yes) removed = engine.remove_orphans(orphans);
    if (options.json) {
        std::cout << nlohmann::ordered_json{{"orphans", orphans.objects}, {"orphan_labs", orphans.labs},
                                            {"removed", removed.removed}, {"leftovers", removed.leftovers}}
                         .dump(2)
                  << '\n';
    } else if (orphans.objects.empty()) {
        std::cout << "no orphans on " << uri << ": every object with vmlab's tag belongs to a lab in " << store.path().string()
                  << '\n';
    } else {
        std::cout << orphans.objects.size() << " orphan" << (orphans.objects.size() == 1 ? "" : "s") << " on " << uri << ":\n";
        for (const auto& o : orphans.objects) std::cout << "  " << o << '\n';
        if (options.yes)
            std::cout << "removed " << removed.removed.size() << " objects" << (removed.leftovers.empty() ? "" : "; some remain")
                      << '\n';
        else
            std::cout << "run `vmlab gc --yes` to remove them\n";
    }
    return static_cast<int>(removed.leftovers.empty() ? ExitCode::ok : ExitCode::leftovers);
}

}  // namespace

void add_gc(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<GcOptions>();
    CLI::App* cmd = app.add_subcommand(
        "gc", "List (and with --yes remove) objects tagged by vmlab that the database does not know");
    cmd->add_option("--lab", options->lab, "only this lab");
    cmd->add_flag("-y,--yes", options->yes, "remove them");
    cmd->add_flag("--json", options->json, "machine-readable output");
    cmd->callback([&action, &global, options] { action = [options, &global] { return gc_command(*options, global); }; });
}

}  // namespace vmlab::cli
