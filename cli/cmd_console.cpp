#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct ConsoleOptions {
    std::string lab;
    unsigned seat = 0;
    std::string vm;
    bool vnc = false;
};

int console_command(const ConsoleOptions& options, const GlobalOptions& global) {
    const std::string lab = lab_name_from_argument(options.lab);
    StateStore store = open_state(global);
    const std::string uri = host_uri_for(global, store, lab, default_host_uri);
    virt::Connection conn = virt::Connection::open(uri);
    Engine engine(conn, store);
    for (const auto& row : engine.status(lab)) {
        if (row.seat != options.seat || row.vm != options.vm) continue;
        if (options.vnc) {
            if (row.console.empty())
                throw Error(row.domain + " has no graphical console (is it running? console = \"none\"?)");
            std::cout << row.console << '\n';
            if (const std::string password = engine.console_password(row.domain); !password.empty())
                std::cout << "password: " << password << '\n';
            return 0;
        }
        std::cerr << "Connected to the serial console of " << row.domain << "; detach with Ctrl+]\n";
        const std::vector<std::string> argv{"virsh", "-c", uri, "console", "--force", row.domain};
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        throw Error(std::string("cannot run virsh: ") + std::strerror(errno), "install libvirt-clients (scripts/setup)");
    }
    throw Error("lab " + lab + " has no VM " + options.vm + " in seat " + std::to_string(options.seat),
                "vmlab status " + lab + " lists them", ExitCode::invalid);
}

}  // namespace

void add_console(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<ConsoleOptions>();
    CLI::App* cmd = app.add_subcommand("console", "Attach to a VM's serial console (detach: Ctrl+]), or print its VNC/SPICE address");
    cmd->add_option("lab", options->lab, "lab name (or its lab file)")->required();
    cmd->add_option("-s,--seat", options->seat, "seat number")->required()->check(CLI::PositiveNumber);
    cmd->add_option("--vm", options->vm, "VM name")->required();
    cmd->add_flag("--vnc", options->vnc, "print the graphical console address instead (vnc://HOST:PORT or spice://…)");
    cmd->callback([&action, &global, options] { action = [options, &global] { return console_command(*options, global); }; });
}

}  // namespace vmlab::cli
