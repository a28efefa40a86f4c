#pragma once
// What the commands that touch a host share: the state database and a libvirt connection.

#include <string>

#include "app.hpp"
#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/libvirt.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab::cli {

StateStore open_state(const GlobalOptions& global);

// virt::Connection::open, with debug logs (-v) of the URI and the driver.
virt::Connection connect_to_host(const std::string& uri);

// The URI for a lab: --connect, else the one recorded for the lab, else `fallback`.
std::string host_uri_for(const GlobalOptions& global, StateStore& store, const std::string& lab,
                         const std::string& fallback);

// The seats a command acts on: --seat N (repeatable), --attendee EMAIL, or --all.
struct SeatArguments {
    std::vector<unsigned> seats;
    std::string attendee;
    bool all = false;
    std::string vm;

    void add_to(CLI::App& cmd);
};
SeatSelection select_seats(StateStore& store, const std::string& lab, const SeatArguments& args);

// Prints per-seat results (a line each, or JSON); exit code 0, 3 if some failed, 1 if all did.
int report_seat_results(const std::string& verb, const std::string& lab, const std::vector<SeatActionResult>& results,
                        bool json);

// "lab-name" or a path to a lab file: the lab's name.
std::string lab_name_from_argument(const std::string& argument);

}  // namespace vmlab::cli
