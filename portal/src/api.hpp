#pragma once
// The portal's HTTP logic, apart from the network: requests in, responses out. Sign-in and
// sessions, the attendee's seat, resets (through the job queue), consoles, the proctor's view,
// handout cards, the static pages and noVNC's files.

#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "jobs.hpp"
#include "vmlab/engine/engine.hpp"
#include "vmlab/portal/server.hpp"

namespace vmlab::portal {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Who is signed in: an attendee (one seat of one lab) or an organizer (every served lab).
struct Principal {
    enum class Role { seat, organizer };
    Role role = Role::seat;
    std::string lab;
    unsigned seat = 0;
    std::int64_t organizer_id = 0;
    std::string organizer_name;
    std::string token_hash;  // checked again on every request: a revoked token ends its sessions

    std::string actor() const;  // the audit log's user: "seat N", "organizer NAME/ID"
};

class Api {
public:
    Api(virt::Connection& conn, StateStore& store, const ServerOptions& options, bool tls);

    // Every request except the console WebSocket. `client` is the peer address (for logs).
    Response handle(const Request& request, const std::string& client);

    // For `GET /api/vms/NAME/vnc` upgrades: the signed-in seat's console of VM NAME, or the
    // error response to send instead.
    std::variant<ConsoleTarget, Response> console_for_upgrade(const Request& request, const std::string& client);

    void stop() { m_jobs.stop(); }

private:
    struct Session {
        Principal principal;
        std::chrono::steady_clock::time_point expires;
    };

    std::vector<std::string> served_labs();
    std::optional<Principal> principal_for_token(const std::string& token);
    std::optional<Principal> authenticate(const Request& request);
    bool still_valid(const Principal& principal);

    Response sign_in(const Request& request, const std::string& client);
    Response sign_out(const Request& request);
    Response seat_view(const Request& request, const Principal& who);
    Response request_reset(const Request& request, const Principal& who, const std::string& lab, unsigned seat,
                           const std::string& vm);
    Response console_info(const Request& request, const Principal& who, const std::string& vm);
    Response job_view(const Request& request, const Principal& who, const std::string& id);
    Response labs_view(const Request& request);
    Response cards(const Request& request, const Principal& who, const std::string& lab);
    Response static_file(const Request& request, const std::string& path);

    std::optional<ConsoleTarget> find_console(const std::string& lab, unsigned seat, const std::string& vm);
    void audit(const Principal& who, const std::string& lab, unsigned seat, const std::string& vm,
               const std::string& action, const std::string& result, const std::string& detail);

    virt::Connection& m_conn;
    StateStore& m_store;
    const ServerOptions& m_options;
    bool m_tls;

    std::mutex m_mutex;  // sessions and rate limits
    std::map<std::string, Session> m_sessions;
    std::map<std::pair<std::string, unsigned>, std::chrono::steady_clock::time_point> m_last_reset;

    JobQueue m_jobs;  // last: its workers use the members above, so it stops first
};

}  // namespace vmlab::portal
