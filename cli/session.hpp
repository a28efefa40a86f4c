#pragma once
// What the commands that touch a host share: the state database and a libvirt connection.

#include <string>

#include "app.hpp"
#include "vmlab/engine.hpp"
#include "vmlab/libvirt.hpp"
#include "vmlab/state.hpp"

namespace vmlab::cli {

StateStore open_state(const GlobalOptions& global);

// The URI for a lab: --connect, else the one recorded for the lab, else `fallback`.
std::string host_uri_for(const GlobalOptions& global, StateStore& store, const std::string& lab,
                         const std::string& fallback);

// "lab-name" or a path to a lab file: the lab's name.
std::string lab_name_from_argument(const std::string& argument);

}  // namespace vmlab::cli
