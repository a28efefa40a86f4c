#pragma once
// The records of the state database: plain values, typed (how they are stored is the store's
// business). Times are Unix seconds.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/ipv4.hpp"

namespace vmlab {

enum class SeatState { pending, ready, failed, removing };

// Why a seat failed, beside the message that says it in words.
enum class FailureKind {
    none,             // the seat did not fail
    lost_connection,  // libvirtd went away under the connection (stopped, restarted, crashed)
    libvirt,          // libvirt refused a step (define, start, create a volume, ...)
    no_lease,         // a planned DHCP lease did not come within the wait
    not_ready,        // the guest did not print its ready_console line in time
    other,            // anything else (files, images, the database)
};

// A VM as `up` left it: defined, then started.
enum class VmState { defined, running };

// The names printed and stored: "pending", "lost-connection", "running", ...; none is "".
std::string_view to_string(SeatState state);
std::string_view to_string(FailureKind kind);
std::string_view to_string(VmState state);

struct LabRecord {
    std::string name, title, host_uri, pool, pool_path, spec_text, spec_hash, source_file;
    std::int64_t created_at = 0, updated_at = 0;  // 0 = now
    unsigned seats = 0;
    friend bool operator==(const LabRecord&, const LabRecord&) = default;
};

struct SeatRecord {
    std::string lab;
    unsigned seat = 0;
    SeatState state = SeatState::pending;
    std::string error;
    std::string attendee_name, attendee_email;
    std::int64_t last_reset_at = 0;
    // When the seat's access token was issued; 0 = no token. The token itself is never stored,
    // and its hash never leaves the store (see set_token_hash).
    std::int64_t token_created_at = 0;
    FailureKind failure = FailureKind::none;  // why it failed, with `error`
    friend bool operator==(const SeatRecord&, const SeatRecord&) = default;
};

struct VmRecord {
    std::string lab;
    unsigned seat = 0;
    std::string vm, domain, uuid, config_hash, baseline /* e.g. "fresh-overlay" */;
    VmState state = VmState::defined;
    std::vector<Ipv4> ips;  // planned, one per NIC with a fixed address
    std::string console;
    std::int64_t updated_at = 0;  // 0 = now
    friend bool operator==(const VmRecord&, const VmRecord&) = default;
};

// What the attendee is told about a VM: its hostname and the account on it; and how vmlab
// sees that its setup finished.
struct GuestRecord {
    std::string lab;
    unsigned seat = 0;
    std::string domain, hostname;
    std::string login_user;      // empty: no attendee account on this VM
    std::string fixed_password;  // the lab's fixed password; empty: derived per seat from the lab's secret
    std::string ready_console;   // the console line that says the guest's setup finished; empty: none
    friend bool operator==(const GuestRecord&, const GuestRecord&) = default;
};

struct NetworkRecord {
    std::string lab;
    unsigned seat = 0;  // 0 = lab-wide
    std::string name, bridge, subnet;
    friend bool operator==(const NetworkRecord&, const NetworkRecord&) = default;
};

struct VolumeRecord {
    std::string lab;
    unsigned seat = 0;
    std::string pool, name, path;
    std::string role;  // "base", "disk"
    friend bool operator==(const VolumeRecord&, const VolumeRecord&) = default;
};

struct EventRecord {
    std::int64_t id = 0, time = 0;  // time 0 = now
    std::string lab;
    unsigned seat = 0;
    std::string vm, action, result, detail;
    std::string user;  // empty = the effective OS user
    std::int64_t duration_ms = 0;
    friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// A web portal organizer: a name and a token, of which only the hash is stored.
struct OrganizerRecord {
    std::int64_t id = 0;
    std::string name;
    std::int64_t created_at = 0, revoked_at = 0;  // revoked_at 0 = valid
    friend bool operator==(const OrganizerRecord&, const OrganizerRecord&) = default;
};

// One step a command takes on libvirt, recorded before it starts and removed when it ends:
// what is left belongs to a command that was killed (its pid is gone) or still runs.
struct JournalEntry {
    std::int64_t id = 0;
    std::string lab;
    unsigned seat = 0;    // 0 = lab-wide
    std::string command;  // "up", "reset", "down"
    std::string step;     // e.g. "create volume demo-s01-a-root.qcow2"
    std::int64_t pid = 0, started_at = 0;  // 0 = this process, now
    friend bool operator==(const JournalEntry&, const JournalEntry&) = default;
};

}  // namespace vmlab
