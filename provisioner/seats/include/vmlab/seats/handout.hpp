#pragma once
// Attendee handouts ("seat cards"): one per seat with the attendee, each VM with its hostname,
// addresses, login and console, and optionally a freshly issued access token. Rendered as CSV, Markdown or
// printable HTML; used by `vmlab seats export` and the portal's proctor page.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vmlab/seats/access.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

struct HandoutVm {
    std::string name, hostname;
    std::vector<Ipv4> ips;  // planned
    std::optional<Login> login;
    std::string console;
};

struct Handout {
    unsigned seat = 0;
    std::string name, email, token;  // token empty = none printed
    std::vector<HandoutVm> vms;
};

enum class HandoutFormat { csv, md, html };

// One handout per seat, without tokens; `consoles` maps domain names to console addresses.
std::vector<Handout> make_handouts(StateStore& store, const std::string& lab, const std::vector<SeatRecord>& seats,
                                   const std::map<std::string, std::string>& consoles);

// Puts a fresh token on every handout of a seat that has an attendee; returns how many.
// Nothing is stored until commit_handout_tokens.
std::size_t issue_handout_tokens(std::vector<Handout>& handouts);

// In one transaction: stores the hashes of the handouts' tokens (revoking the seats' previous
// tokens) and records a "seats.export" event per seat (`user` as the actor, empty = OS user).
// Throws, changing nothing, if a seat's attendee changed since the handouts were made.
void commit_handout_tokens(StateStore& store, const std::string& lab, const std::vector<Handout>& handouts,
                           const std::string& detail, const std::string& user = {});

// `portal_url` (e.g. "https://lab.example.org:8443"), when given, adds a sign-in link per
// card that carries the token in the URL fragment, which browsers never send to the server.
std::string render_handouts(HandoutFormat format, const LabRecord& lab, const std::vector<Handout>& handouts,
                            const std::string& portal_url = {});

std::string html_escape(const std::string& text);

}  // namespace vmlab
