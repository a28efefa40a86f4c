#pragma once
// The engine: converges a host to a plan (up), reports what runs (status), and removes a lab
// with proof that nothing is left (down). Works on any libvirt connection it is given.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/virt/libvirt.hpp"
#include "vmlab/util/lock.hpp"
#include "vmlab/plan/plan.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

enum class Recreate { no, yes };
enum class KeepImages { no, yes };

struct UpOptions {
    unsigned jobs = 4;                                 // seats provisioned at once
    std::optional<std::chrono::seconds> wait_ip;       // wait for every planned lease
    Recreate recreate = Recreate::no;                  // replace VMs whose config drifted
    std::string domain_type = "qemu";                  // see choose_domain_type
    Wait wait_lock = Wait::yes;                        // queue behind another command on the lab
};

struct SeatResult {
    unsigned seat = 0;
    bool ok = false;
    std::string error;          // what failed, for which VM, and why
    std::vector<std::string> created, kept, drifted;
    std::vector<std::string> started;  // domains this run powered on
    double seconds = 0;
    FailureKind failure = FailureKind::none;  // why it failed, with `error`
};

struct UpReport {
    std::vector<SeatResult> seats;  // by seat number
    std::size_t failed() const;
};

// Called from worker threads as each seat finishes (serialised by the engine).
using SeatProgress = std::function<void(const SeatResult& result, std::size_t done, std::size_t total)>;

// One VM as it is now: the database joined with live libvirt state.
struct VmStatus {
    unsigned seat = 0;
    std::string vm, domain, state;
    std::vector<Ipv4> ips;  // planned
    std::string console, attendee;
    std::vector<Ipv4> leased_ips;
    std::int64_t last_reset_at = 0;  // Unix seconds; 0 = never

    // True when the VM has planned addresses and holds a lease for every one of them.
    bool holds_planned_leases() const;
};

struct LabSummary {
    std::string lab, title, host_uri;
    unsigned seats = 0, vms = 0, running = 0, failed_seats = 0;
};

// What `plan` compares with the host: objects `up` would create, keep, or change.
struct HostComparison {
    std::vector<std::string> create, keep, change, conflicts;
};

// Whether a plan fits the host: memory (guest memory plus QEMU's own per-VM overhead), CPUs
// (overcommit is allowed but shown), and disk where the pool lives (base images plus the
// worst case of every overlay filling up).
struct Capacity {
    std::uint64_t host_memory_bytes = 0, host_free_memory_bytes = 0, needed_memory_bytes = 0;
    unsigned host_cpus = 0;
    std::uint64_t vcpus = 0;
    std::uint64_t disk_free_bytes = 0, disk_needed_now_bytes = 0, disk_worst_case_bytes = 0;
    bool memory_fits() const { return needed_memory_bytes <= host_memory_bytes; }
    bool disk_fits() const { return disk_needed_now_bytes <= disk_free_bytes; }
};

inline constexpr std::uint64_t qemu_overhead_bytes = 64ull << 20;  // measured: ~60 MiB per TCG guest

// Objects that carry vmlab's tag but that the database does not know: labs whose database
// was lost, and leftovers of interrupted commands inside known labs' pools.
struct Orphans {
    std::vector<std::string> labs;                       // labs found only in libvirt
    std::vector<std::string> objects;                    // their objects and stray volumes
    std::vector<std::pair<std::string, std::string>> stray_volumes;  // (pool, volume)
};

struct DownReport {
    std::vector<std::string> removed;
    std::vector<std::string> leftovers;  // found by a fresh scan through libvirt after removal
    std::vector<std::string> untouched;  // files in the lab's storage directory vmlab did not create, left in place
};

enum class KeepBroken { no, yes };
enum class Power { on, off };

// Which VMs a seat action touches: whole seats, or one VM of them.
struct SeatSelection {
    std::vector<unsigned> seats;
    std::optional<std::string> vm;
};

struct ResetOptions {
    LockMode lab_lock = LockMode::shared;              // exclusive when every seat is reset
    KeepBroken keep_broken = KeepBroken::no;           // save the broken disks first (down removes them)
    std::optional<std::chrono::seconds> wait_ip;       // wait until the seat's addresses are leased again and booted guests printed their ready line
    Wait wait_lock = Wait::yes;
    unsigned jobs = 4;                                 // seats reset at once
    std::string actor;                                 // the audit log's user; empty = the OS user
};

struct SeatActionResult {
    unsigned seat = 0;
    bool ok = false;
    std::string error;
    std::vector<std::string> vms;  // domains acted on
    double seconds = 0;
    FailureKind failure = FailureKind::none;  // why it failed, with `error`
};

class Engine {
public:
    Engine(virt::Connection& conn, StateStore& store) : m_conn(conn), m_store(store) {}

    // The lab-wide lock: exclusive for up, down and reset of every seat; shared for work on
    // single seats (which also take the seat's own lock). Locks live beside the database.
    FileLock lock_lab(const std::string& lab, LockMode mode, Wait wait, const std::string& purpose);

    UpReport up(const LabSpec& lab, const Plan& plan, const UpOptions& options, const SeatProgress& progress = {});
    DownReport down(const std::string& lab, KeepImages keep_images, unsigned jobs = 4, Wait wait_lock = Wait::yes);
    // With `seat`, only that seat's VMs (and only its networks' leases) are looked at.
    std::vector<VmStatus> status(const std::string& lab, std::optional<unsigned> seat = {});
    // The password of a domain's graphical console; empty when it has none (loopback only).
    std::string console_password(const std::string& domain);
    std::vector<LabSummary> summaries();
    HostComparison compare(const Plan& plan);
    // Power off, restore every disk (and NVRAM) to the clean baseline, start again. Only the
    // selected seats' objects are touched; seats run in parallel, one seat at a time per seat.
    std::vector<SeatActionResult> reset(const std::string& lab, const SeatSelection& selection,
                                        const ResetOptions& options);
    // Start, or shut down gracefully (forced after `grace`).
    std::vector<SeatActionResult> power(const std::string& lab, const SeatSelection& selection, Power power,
                                        std::chrono::seconds grace, Wait wait_lock);
    Capacity capacity(const Plan& plan);

    // With a lab name, only that lab is looked at.
    Orphans find_orphans(const std::optional<std::string>& lab);
    // Removes what find_orphans found (each orphan lab as `down` would).
    DownReport remove_orphans(const Orphans& orphans);

    // Every object of the lab that libvirt knows: domains and networks by vmlab metadata,
    // the lab's pool and its volumes. Names, prefixed by kind ("domain ", "network ", ...).
    std::vector<std::string> find_lab_objects(const std::string& lab);
    // Steps that commands on the lab began and never ended because they were killed (the
    // journal); the next run of the same command finishes them.
    std::vector<JournalEntry> interrupted(const std::string& lab);

private:
    void capture_baselines(const Plan& plan, const virt::StoragePool& pool, const UpOptions& options,
                           std::int64_t started_wall, UpReport& report);

    virt::Connection& m_conn;
    StateStore& m_store;
};

}  // namespace vmlab
