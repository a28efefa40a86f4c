#pragma once
// How an attendee reaches the VMs of a seat: each VM's hostname, addresses and login. Read by
// `seats --json`, the cards and the portal; the engine writes the same password into the guests.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/state/state.hpp"
#include "vmlab/util/ipv4.hpp"

namespace vmlab {

struct Login {
    std::string user, password;
};

struct VmAccess {
    std::string vm, domain, hostname;
    std::vector<Ipv4> ips;        // planned
    std::optional<Login> login;   // none: no attendee account (no cloud-init, or login = false)

    // "ssh student@10.0.0.10"; empty without a login or an address.
    std::string ssh_command() const;
};

// The attendee password of a seat: derived from the lab's secret (util/password.hpp), so the same
// lab and seat give the same password until `down` forgets the secret.
std::string attendee_password(const std::string& lab, unsigned seat, const std::string& secret);

// Every VM of the seat, in VM order. Throws vmlab::Error if the lab is not recorded.
std::vector<VmAccess> seat_access(StateStore& store, const std::string& lab, unsigned seat);

// The same for every seat of the lab at once (one read of the database), by seat number.
std::map<unsigned, std::vector<VmAccess>> lab_access(StateStore& store, const std::string& lab);

}  // namespace vmlab
