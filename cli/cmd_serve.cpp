// vmlab serve: the self-service web portal (see portal/); vmlab organizer-token: the tokens of
// its proctor page.

#include <spdlog/spdlog.h>

#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "session.hpp"
#include "time_format.hpp"
#include "vmlab/portal/server.hpp"
#include "vmlab/util/token.hpp"

namespace vmlab::cli {

namespace {

struct ServeOptions {
    std::string listen = "127.0.0.1:8080";
    std::vector<std::string> labs;
    std::string cert, key, novnc = "/usr/share/novnc";
    unsigned wait_ip = 300;
    bool no_wait_ip = false;
    unsigned cooldown = 60;
    bool json = false;
};

// "ADDRESS:PORT" or "[IPv6]:PORT".
std::pair<std::string, std::uint16_t> parse_listen(const std::string& listen) {
    const auto bad = [&] {
        return Error("--listen " + listen + " is not ADDRESS:PORT", "e.g. --listen 127.0.0.1:8080 or --listen 0.0.0.0:443",
                     ExitCode::invalid);
    };
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) throw bad();
    std::string address = listen.substr(0, colon);
    if (address.size() > 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
    const std::string port_text = listen.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) throw bad();
    return {address, static_cast<std::uint16_t>(port)};
}

int serve_command(const ServeOptions& options, const GlobalOptions& global) {
    portal::ServerOptions server;
    std::tie(server.address, server.port) = parse_listen(options.listen);
    if (options.cert.empty() != options.key.empty())
        throw Error("TLS needs both --cert FILE and --key FILE", {}, ExitCode::invalid);
    server.tls_cert = options.cert;
    server.tls_key = options.key;
    server.novnc_dir = options.novnc;
    server.reset_wait_ip = options.no_wait_ip ? std::nullopt : std::optional(std::chrono::seconds(options.wait_ip));
    server.reset_cooldown = std::chrono::seconds(options.cooldown);
    server.handle_signals = portal::HandleSignals::yes;

    StateStore store = open_state(global);
    std::vector<LabRecord> labs;
    for (const auto& argument : options.labs) {
        const std::string lab = lab_name_from_argument(argument);
        labs.push_back(store.require_lab(lab));
        server.labs.push_back(lab);
    }
    if (options.labs.empty()) labs = store.labs();  // and labs recorded later, while serving
    std::string uri = global.connect;
    for (const auto& lab : labs) {
        if (!global.connect.empty()) break;
        if (!uri.empty() && uri != lab.host_uri)
            throw Error("the labs are on different hosts (" + uri + ", " + lab.host_uri + ")",
                        "run one `vmlab serve` per host, each with its own --lab and --listen (or give --connect)",
                        ExitCode::invalid);
        uri = lab.host_uri;
    }
    if (uri.empty()) uri = default_host_uri;
    if (std::error_code ec; !std::filesystem::is_regular_file(server.novnc_dir / "core" / "rfb.js", ec))
        spdlog::warn("no noVNC in {}: the graphical consoles will not open (apt-get install novnc, or --novnc DIR)",
                     server.novnc_dir.string());

    virt::Connection conn = connect_to_host(uri);
    portal::Server portal(conn, store, server);
    const std::string scheme = portal.tls() ? "https" : "http";
    const std::string base = scheme + "://" + options.listen.substr(0, options.listen.rfind(':')) + ":" +
                             std::to_string(portal.port());
    spdlog::info("serving {} on {}/ (attendees), {}/proctor (organizers); Ctrl+C stops",
                 server.labs.empty() ? std::string("every lab") : "lab(s) " + fmt::format("{}", fmt::join(server.labs, ", ")),
                 base, base);
    if (options.json)  // one line, flushed: a script reads it, e.g. for the port chosen with --listen ADDRESS:0
        std::cout << nlohmann::ordered_json{{"listen", server.address}, {"port", portal.port()}, {"tls", portal.tls()},
                                            {"url", base + "/"}, {"proctor_url", base + "/proctor"}, {"host", uri},
                                            {"labs", server.labs.empty() ? nlohmann::ordered_json(nullptr)
                                                                         : nlohmann::ordered_json(server.labs)}}
                         .dump()
                  << std::endl;
    if (store.organizers().empty())
        spdlog::info("no organizer token yet: `vmlab organizer-token NAME` creates one for the proctor page");
    portal.run();
    spdlog::info("stopped");
    return 0;
}

struct OrganizerOptions {
    std::string name;
    bool list = false;
    std::int64_t revoke = 0;
    bool json = false;
};

int organizer_command(const OrganizerOptions& options, const GlobalOptions& global) {
    const int ways = !options.name.empty() + options.list + (options.revoke != 0);
    if (ways != 1) throw Error("give a NAME for a new token, or --list, or --revoke ID", {}, ExitCode::invalid);
    StateStore store = open_state(global);
    if (options.list) {
        auto out = nlohmann::ordered_json::array();
        for (const auto& o : store.organizers()) {
            if (options.json)
                out.push_back({{"id", o.id}, {"name", o.name}, {"created", iso_local_time(o.created_at)},
                               {"revoked", o.revoked_at ? nlohmann::ordered_json(iso_local_time(o.revoked_at)) : nullptr}});
            else
                std::cout << o.id << "  " << o.name << "  created " << iso_local_time(o.created_at)
                          << (o.revoked_at ? "  revoked " + iso_local_time(o.revoked_at) : std::string()) << '\n';
        }
        if (options.json) std::cout << out.dump(2) << '\n';
        return 0;
    }
    if (options.revoke) {
        if (!store.revoke_organizer(options.revoke))
            throw Error("no valid organizer token with id " + std::to_string(options.revoke),
                        "`vmlab organizer-token --list` shows them", ExitCode::invalid);
        spdlog::info("organizer token {} revoked; its sessions end with their next request", options.revoke);
        if (options.json) std::cout << nlohmann::ordered_json{{"id", options.revoke}, {"revoked", true}}.dump(2) << '\n';
        return 0;
    }
    const std::string token = new_token();
    const auto id = store.add_organizer(options.name, token_hash(token));
    if (options.json)
        std::cout << nlohmann::ordered_json{{"id", id}, {"name", options.name}, {"token", token}}.dump(2) << '\n';
    else
        std::cout << token << '\n';
    spdlog::warn("organizer token {} for {} is shown above, only this once: sign in with it on the portal's /proctor page",
                 id, options.name);
    return 0;
}

}  // namespace

void add_serve(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto options = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "Run the self-service web portal: attendees reset their seat and open "
                                                "consoles; organizers watch and reset every seat");
    cmd->add_option("--listen", options->listen, "ADDRESS:PORT to listen on")->capture_default_str();
    cmd->add_option("--lab", options->labs, "serve only this lab (repeatable; default: every lab in the database)");
    cmd->add_option("--cert", options->cert, "TLS certificate (PEM; with --key): serve HTTPS");
    cmd->add_option("--key", options->key, "the certificate's private key (PEM)");
    cmd->add_option("--novnc", options->novnc, "noVNC's files (Debian's novnc package)")->capture_default_str();
    cmd->add_option("--wait-ip", options->wait_ip, "seconds a reset waits for the seat's DHCP leases")->capture_default_str();
    cmd->add_flag("--no-wait-ip", options->no_wait_ip, "a reset is done once the VMs are started");
    cmd->add_flag("--json", options->json,
                  "once listening, print one JSON line {listen, port, tls, url, proctor_url, host, labs (null: every lab)}");
    cmd->add_option("--reset-cooldown", options->cooldown, "seconds between two resets an attendee may ask for")
        ->capture_default_str();
    cmd->footer("Tokens never travel in URLs: the page posts them once and gets a session cookie. Every action is in "
                "`vmlab log`. Organizer tokens: `vmlab organizer-token NAME`.");
    cmd->callback([&action, &global, options] { action = [options, &global] { return serve_command(*options, global); }; });

    auto organizer = std::make_shared<OrganizerOptions>();
    CLI::App* token_cmd = app.add_subcommand("organizer-token", "Create (and print once), list or revoke the tokens of "
                                                                "the portal's proctor page");
    token_cmd->add_option("name", organizer->name, "who gets the new token (shown in the audit log)");
    token_cmd->add_flag("--list", organizer->list, "list organizer tokens (never the tokens themselves)");
    token_cmd->add_option("--revoke", organizer->revoke, "revoke the token with this id")->check(CLI::PositiveNumber);
    token_cmd->add_flag("--json", organizer->json, "machine-readable output");
    token_cmd->callback(
        [&action, &global, organizer] { action = [organizer, &global] { return organizer_command(*organizer, global); }; });
}

}  // namespace vmlab::cli
