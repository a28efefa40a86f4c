#include "app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "vmlab/error.hpp"

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
    app.add_option("-c,--connect", global.connect, "libvirt URI to use instead of the lab's host (as virsh -c)");
    app.add_option("--state", global.state, "state database (default: /var/lib/vmlab/state.db as root)");
    app.add_flag("-v,--verbose", global.verbose, "debug logs on stderr");
    app.footer("Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid lab, 3 some seats failed, "
               "4 objects left after down.");

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
