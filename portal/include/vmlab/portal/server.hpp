#pragma once
// The self-service web portal (`vmlab serve`): an HTTP(S) server with the attendee page, the
// proctor page, the JSON API behind both, and a WebSocket-to-VNC proxy for noVNC. It works on
// the engine (status, reset) and the state database; it holds no lab state of its own besides
// sign-in sessions, reset jobs and rate limits, all in memory.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/virt/libvirt.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab::portal {

// Where the proxy connects for a VM's graphical console, and the VNC password (may be empty).
struct ConsoleTarget {
    std::string host;  // always a loopback or host-local address chosen by the server
    std::uint16_t port = 0;
    std::string password;
};

// Finds the console of VM `vm` of seat `seat` of `lab`; nullopt when it has none (not running,
// no VNC). The default asks the engine; tests inject their own.
using ConsoleLookup =
    std::function<std::optional<ConsoleTarget>(const std::string& lab, unsigned seat, const std::string& vm)>;

enum class HandleSignals { no, yes };

struct ServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;                    // 0 = any free port (see Server::port)
    std::vector<std::string> labs;                // labs served; empty = every lab in the database
    std::filesystem::path tls_cert, tls_key;      // both set = HTTPS (PEM files)
    std::filesystem::path novnc_dir = "/usr/share/novnc";
    std::optional<std::chrono::seconds> reset_wait_ip = std::chrono::seconds(300);  // "back" = leased
    std::chrono::seconds reset_cooldown{60};      // per seat, between resets an attendee asks for
    std::chrono::seconds session_lifetime{12 * 3600};
    unsigned io_threads = 2;
    unsigned reset_workers = 4;                   // resets run at once
    HandleSignals handle_signals = HandleSignals::no;  // SIGINT/SIGTERM stop the server
    ConsoleLookup console_lookup;                 // empty = the engine's status of the VM
};

class Server {
public:
    // Binds the listening socket (throws vmlab::Error, e.g. when the port is taken or the
    // certificate cannot be read). `conn` and `store` must outlive the server.
    Server(virt::Connection& conn, StateStore& store, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const;  // the bound port
    bool tls() const;

    // Serves until stop() (or a signal, with HandleSignals::yes); then waits for running
    // resets to finish and drops queued ones.
    void run();
    // Safe from any thread, and more than once.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace vmlab::portal
