#pragma once
// The engine: converges a host to a plan (up), reports what runs (status), and removes a lab
// with proof that nothing is left (down). Works on any libvirt connection it is given.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/libvirt.hpp"
#include "vmlab/plan.hpp"
#include "vmlab/state.hpp"

namespace vmlab {

enum class Recreate { no, yes };
enum class KeepImages { no, yes };

struct UpOptions {
    unsigned jobs = 4;                                 // seats provisioned at once
    std::optional<std::chrono::seconds> wait_ip;       // wait for every planned lease
    Recreate recreate = Recreate::no;                  // replace VMs whose config drifted
    std::string domain_type = "qemu";                  // see choose_domain_type
};

struct SeatResult {
    unsigned seat = 0;
    bool ok = false;
    std::string error;          // what failed, for which VM, and why
    std::vector<std::string> created, kept, drifted;
    std::vector<std::string> started;  // domains this run powered on
    double seconds = 0;
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
    std::string vm, domain, state, ips, console, attendee;
    std::vector<std::string> leased_ips;
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

struct DownReport {
    std::vector<std::string> removed;
    std::vector<std::string> leftovers;  // found by a fresh scan through libvirt after removal
};

class Engine {
public:
    Engine(virt::Connection& conn, StateStore& store) : m_conn(conn), m_store(store) {}

    UpReport up(const LabSpec& lab, const Plan& plan, const UpOptions& options, const SeatProgress& progress = {});
    DownReport down(const std::string& lab, KeepImages keep_images, unsigned jobs = 4);
    std::vector<VmStatus> status(const std::string& lab);
    std::vector<LabSummary> summaries();
    HostComparison compare(const Plan& plan);
    Capacity capacity(const Plan& plan);

    // Every object of the lab that libvirt knows: domains and networks by vmlab metadata,
    // the lab's pool and its volumes. Names, prefixed by kind ("domain ", "network ", ...).
    std::vector<std::string> find_lab_objects(const std::string& lab);

private:
    virt::Connection& m_conn;
    StateStore& m_store;
};

}  // namespace vmlab
