#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "session.hpp"

namespace vmlab::cli {

namespace {

struct ConsoleOptions {
    std::string lab;
    unsigned seat = 0;
    std::string vm;
    bool vnc = false;
    bool json = false;
};

// "vnc://HOST:PORT" (or spice://, [IPv6]) as status reports it: {type, host, port}.
nlohmann::ordered_json graphical_json(const std::string& console) {
    const auto scheme_end = console.find("://");
    const auto colon = console.rfind(':');
    if (scheme_end == std::string::npos || colon == std::string::npos || colon <= scheme_end)
        return {{"type", nullptr}, {"host", nullptr}, {"port", nullptr}};
    std::string host = console.substr(scheme_end + 3, colon - scheme_end - 3);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return {{"type", console.substr(0, scheme_end)}, {"host", host}, {"port", std::stoi(console.substr(colon + 1))}};
}

int console_command(const ConsoleOptions& options, const GlobalOptions& global) {
    const std::string lab = lab_name_from_argument(options.lab);
    StateStore store = open_state(global);
    const std::string uri = host_uri_for(global, store, lab, default_host_uri);
    virt::Connection conn = connect_to_host(uri);
    Engine engine(conn, store);
    for (const auto& row : engine.status(lab)) {
        if (row.seat != options.seat || row.vm != options.vm) continue;
        spdlog::debug("{}: {}, graphical console {}", row.domain, row.state, row.console.empty() ? "none" : row.console);
        const std::vector<std::string> argv{"virsh", "-c", uri, "console", "--force", row.domain};
        nlohmann::ordered_json json{{"lab", lab}, {"seat", row.seat}, {"vm", row.vm}, {"domain", row.domain},
                                    {"state", row.state}};
        if (options.vnc) {
            if (row.console.empty())
                throw Error(row.domain + " has no graphical console (is it running? console = \"none\"?)");
            const std::string password = engine.console_password(row.domain);
            if (options.json) {
                json.update(graphical_json(row.console));
                json["url"] = row.console;
                json["password"] = password.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(password);
                std::cout << json.dump(2) << '\n';
                return 0;
            }
            std::cout << row.console << '\n';
            if (!password.empty()) std::cout << "password: " << password << '\n';
            return 0;
        }
        if (options.json) {  // a script cannot drive an interactive console: say how to attach
            json.update({{"type", "serial"}, {"uri", uri}, {"command", argv}});
            std::cout << json.dump(2) << '\n';
            return 0;
        }
        std::cerr << "Connected to the serial console of " << row.domain << "; detach with Ctrl+]\n";
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
    cmd->add_flag("--json", options->json,
                  "print the console as JSON instead of attaching: {lab, seat, vm, domain, state, type: serial, uri, "
                  "command}, or with --vnc {…, type: vnc|spice, host, port, url, password}");
    cmd->callback([&action, &global, options] { action = [options, &global] { return console_command(*options, global); }; });
}

}  // namespace vmlab::cli
