#include "app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "vmlab/util/error.hpp"

namespace vmlab::cli {

std::filesystem::path GlobalOptions::state_path() const {
    return state.empty() ? std::filesystem::path{} : std::filesystem::path(state);
}

namespace {

void setup_logging(bool verbose) {
    auto logger = spdlog::stderr_color_mt("vmlab");
    logger->set_pattern("%^%l%$: %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    spdlog::set_default_logger(logger);
}

constexpr const char* exit_codes_text =
    "Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid lab, 3 some seats failed, 4 objects left after down.";

// The global options work after any subcommand too (fallthrough) but CLI11 lists them only in
// `vmlab --help`: every subcommand's help names them, after its own footer, in its footer.
void add_common_footer(CLI::App& app) {
    const std::string common = std::string("Global options (also after the command): -c,--connect URI  libvirt URI; "
                                           "--state PATH  state database; -v,--verbose  debug logs on stderr.\n") +
                               exit_codes_text;
    std::function<void(CLI::App&)> add_to = [&](CLI::App& parent) {
        for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
            const std::string own = sub->get_footer();  // its own, or its parent's (as CLI11 copies it), not yet extended
            add_to(*sub);
            sub->footer(own.empty() ? common : own + "\n\n" + common);
        }
    };
    add_to(app);
    app.footer(exit_codes_text);
}

}  // namespace

int run(int argc, char** argv) {
    // libvirt writes to its daemon's socket: when libvirtd stops or restarts, the write must fail
    // with an error vmlab can report, not kill vmlab with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"vmlab: workshop labs of virtual machines on libvirt, one sandbox per attendee"};
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", "vmlab 0.1.0");
    GlobalOptions global;
    app.add_option("-c,--connect", global.connect, "libvirt URI to use instead of the lab's host (as virsh -c)")
        ->type_name("URI");
    app.add_option("--state", global.state, "state database (default: /var/lib/vmlab/state.db as root)")->type_name("PATH");
    app.add_flag("-v,--verbose", global.verbose, "debug logs on stderr");

    Action action;
    add_validate(app, global, action);
    add_plan(app, global, action);
    add_up(app, global, action);
    add_status(app, global, action);
    add_down(app, global, action);
    add_reset(app, global, action);
    add_start(app, global, action);
    add_stop(app, global, action);
    add_console(app, global, action);
    add_gc(app, global, action);
    add_seats(app, global, action);
    add_log(app, global, action);
    add_serve(app, global, action);
    add_common_footer(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : static_cast<int>(ExitCode::invalid);
    }
    setup_logging(global.verbose);
    try {
        return action();
    } catch (const Error& e) {
        spdlog::error("{}", e.what());
        if (!e.hint().empty()) spdlog::info("{}", e.hint());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return static_cast<int>(ExitCode::failure);
    }
}

}  // namespace vmlab::cli
