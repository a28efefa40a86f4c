#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/images.hpp"
#include "vmlab/util/token.hpp"
#include "vmlab/virt/xml.hpp"
#include "baseline.hpp"
#include "console_log.hpp"
#include "guests.hpp"
#include "journal.hpp"
#include "leases.hpp"
#include "seat_failure.hpp"
#include "vmlab/util/parallel.hpp"

namespace vmlab {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<Ipv4> planned_ips(const PlannedVm& vm) {
    std::vector<Ipv4> ips;
    for (const auto& nic : vm.nics)
        if (nic.ip) ips.push_back(*nic.ip);
    return ips;
}

std::string uuid_of(const virt::Domain& domain) {
    char buf[VIR_UUID_STRING_BUFLEN] = {};
    return virDomainGetUUIDString(domain.get(), buf) == 0 ? buf : "";
}

void wait_for_no_job(const virt::Domain& domain) {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    virDomainJobInfo info{};
    while (virDomainGetJobInfo(domain.get(), &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

// Everything `up` does to one seat's networks, disks and domains, in that order.
class SeatBuilder {
public:
    SeatBuilder(virt::Connection& conn, StateStore& store, const Plan& plan, const virt::StoragePool& pool,
                const UpOptions& options, std::string secret)
        : m_conn(conn), m_store(store), m_plan(plan), m_pool(pool), m_options(options), m_secret(std::move(secret)) {}

    void ensure_network(const PlannedNetwork& net, unsigned seat, SeatResult& result) {
        virt::Network network = m_conn.find_network(net.libvirt_name);
        if (network) {
            const auto owner = parse_network_metadata(virt::xml_desc(network));
            if (!owner || owner->lab != m_plan.lab)
                throw Error("network " + net.libvirt_name + " exists but is not part of lab " + m_plan.lab,
                            "vmlab never touches objects it did not create: remove or rename that network, or rename the lab");
            result.kept.push_back("network " + net.libvirt_name);
        } else {
            const detail::JournalStep step(m_store, m_plan.lab, seat, "up", "define network " + net.libvirt_name);
            network = m_conn.define_network(network_xml(net, m_plan.lab, seat));
            result.created.push_back("network " + net.libvirt_name);
        }
        virt::set_autostart(network, virt::Autostart::yes);
        m_store.upsert_network({m_plan.lab, seat, net.libvirt_name, net.bridge, to_string(net.subnet)});
        if (!virt::is_active(network)) {
            const detail::JournalStep step(m_store, m_plan.lab, seat, "up", "start network " + net.libvirt_name);
            virt::start(network);
        }
    }

    void ensure_vm(const PlannedSeat& seat, const PlannedVm& vm, SeatResult& result) {
        std::optional<NoCloudSeed> seed;
        bool stuck = false;  // its cloud-init never finished in an earlier up: boot it afresh
        if (vm.cloud_init) {
            const SeatRecord attendee = m_store.find_seat(m_plan.lab, vm.seat).value_or(SeatRecord{});
            seed = detail::vm_seed(m_plan, seat, vm, attendee, m_secret);
            stuck = attendee.state == SeatState::failed && attendee.failure == FailureKind::not_ready &&
                    !detail::has_running_baseline(m_conn, m_pool, vm.domain);
        }
        virt::Domain domain = m_conn.find_domain(vm.domain);
        if (domain) {
            const auto metadata = virt::domain_metadata(domain);
            const auto owner = metadata ? parse_vm_metadata(*metadata) : std::nullopt;
            if (!owner || owner->lab != m_plan.lab)
                throw Error("domain " + vm.domain + " exists but is not part of lab " + m_plan.lab,
                            "vmlab never touches objects it did not create: remove or rename that domain, or rename the lab");
            // A command killed mid-way may have left libvirt finishing its job (a save, a
            // restore) or the guest paused after it: let the job end, then run the guest.
            wait_for_no_job(domain);
            if (virt::is_active(domain) && virt::state(domain) == virt::DomainState::paused &&
                virDomainResume(domain.get()) < 0)
                virt::throw_last_error("cannot resume paused domain " + vm.domain);
            const bool reseed =
                seed && owner->config_hash == vm.config_hash && (owner->seed_id != seed->instance_id || stuck);
            if (owner->config_hash == vm.config_hash && !reseed) {
                result.kept.push_back("domain " + vm.domain);
            } else if (reseed || m_options.recreate == Recreate::yes) {
                // A new seed (another attendee, login or user_data) means a fresh first boot: the
                // guest's own disks and baseline would keep the old identity.
                spdlog::info("{}: {}; recreating it", vm.domain,
                             !reseed  ? "configuration changed"
                             : stuck ? "its cloud-init did not finish last time"
                                     : "its cloud-init seed changed (attendee, login or user_data)");
                const detail::JournalStep step(m_store, m_plan.lab, vm.seat, "up", "remove drifted domain " + vm.domain);
                remove_domain(vm, domain);
                domain.reset();
            } else {
                result.drifted.push_back("domain " + vm.domain);
            }
        }
        for (const auto& disk : vm.disks) ensure_disk(vm, disk, result);
        if (seed && (!domain || !m_conn.find_volume(m_pool, vm.seed_volume))) {
            const detail::JournalStep step(m_store, m_plan.lab, vm.seat, "up", "write seed " + vm.seed_volume);
            write_volume(m_conn, m_pool, vm.seed_volume, seed_iso_image(*seed));
            const virt::StorageVol vol = m_conn.find_volume(m_pool, vm.seed_volume);
            m_store.upsert_volume({m_plan.lab, vm.seat, m_plan.pool, vm.seed_volume, virt::volume_path(vol), "seed"});
            result.created.push_back("volume " + vm.seed_volume);
        }
        if (!domain) {
            // A graphical console reachable beyond this host gets a password (VNC allows 8 characters).
            const bool loopback = vm.console.listen.starts_with("127.");
            const std::string password = loopback ? "" : new_token().substr(token_prefix.size(), 8);
            const detail::JournalStep step(m_store, m_plan.lab, vm.seat, "up", "define domain " + vm.domain);
            domain = m_conn.define_domain(domain_xml(vm, m_plan.lab, m_plan.spec_hash, m_options.domain_type,
                                                     m_plan.pool_path, "", password, seed ? seed->instance_id : ""));
            result.created.push_back("domain " + vm.domain);
        }
        m_store.upsert_guest({.lab = m_plan.lab,
                              .seat = vm.seat,
                              .domain = vm.domain,
                              .hostname = vm.hostname,
                              .login_user = vm.cloud_init && vm.login ? m_plan.login.user : "",
                              .fixed_password = m_plan.login.password.value_or(""),
                              .ready_console = vm.ready_console});
        const bool captured = detail::has_running_baseline(m_conn, m_pool, vm.domain);
        VmRecord record{m_plan.lab, vm.seat, vm.spec_name, vm.domain, uuid_of(domain), vm.config_hash,
                        to_string(captured ? Baseline::running : Baseline::powered_off), VmState::defined, planned_ips(vm),
                        to_string(vm.console.kind), 0};
        m_store.upsert_vm(record);
        if (!virt::is_active(domain)) {
            const detail::JournalStep step(m_store, m_plan.lab, vm.seat, "up", "start domain " + vm.domain);
            // Readiness reads this boot's console: an earlier boot's ready line must not count.
            if (!vm.ready_console.empty() && !captured) detail::forget_previous_boot(domain);
            virt::start(domain);
            result.started.push_back(vm.domain);
        }
        record.state = VmState::running;
        m_store.upsert_vm(record);
    }

private:
    // The domain with its disks, seed and running baseline (memory image and frozen layers).
    void remove_domain(const PlannedVm& vm, const virt::Domain& domain) {
        virt::destroy(domain);
        virt::undefine(domain);
        for (const auto& vol : m_conn.all_volumes(m_pool)) {
            const std::string name = virt::name(vol);
            const bool owned = name == detail::baseline_memory_volume(vm.domain) ||
                               (!vm.seed_volume.empty() && name == vm.seed_volume) ||
                               std::any_of(vm.disks.begin(), vm.disks.end(), [&](const PlannedDisk& d) {
                                   return name == d.volume || name.starts_with(d.volume + ".");
                               });
            if (owned) virt::delete_volume(vol);
        }
    }

    void ensure_disk(const PlannedVm& vm, const PlannedDisk& disk, SeatResult& result) {
        if (m_conn.find_volume(m_pool, disk.volume)) return;
        std::string backing_path;
        DiskFormat backing_format = DiskFormat::qcow2;
        PlannedDisk sized = disk;
        if (!disk.backing_volume.empty()) {
            virt::StorageVol base = m_conn.find_volume(m_pool, disk.backing_volume);
            if (!base) throw Error("base image volume " + disk.backing_volume + " is missing from pool " + m_plan.pool);
            backing_path = virt::volume_path(base);
            sized.capacity_bytes = std::max(disk.capacity_bytes, virt::capacity(base));
            for (const auto& img : m_plan.images)
                if (img.volume == disk.backing_volume) backing_format = img.format;
        }
        const detail::JournalStep step(m_store, m_plan.lab, vm.seat, "up", "create volume " + disk.volume);
        virt::StorageVol vol = m_conn.create_volume(m_pool, volume_xml(sized, backing_path, backing_format));
        m_store.upsert_volume({m_plan.lab, vm.seat, m_plan.pool, disk.volume, virt::volume_path(vol), "disk"});
        result.created.push_back("volume " + disk.volume);
    }

    virt::Connection& m_conn;
    StateStore& m_store;
    const Plan& m_plan;
    const virt::StoragePool& m_pool;
    const UpOptions& m_options;
    std::string m_secret;  // the lab's, for the attendees' passwords
};

virt::StoragePool ensure_pool(virt::Connection& conn, const Plan& plan) {
    // `down` empties and removes the directory: it must hold nothing but this lab's files.
    if (const auto foreign = foreign_files(plan.pool_path, plan.lab); !foreign.empty())
        throw Error("the storage directory " + plan.pool_path + " holds files vmlab did not create (" + foreign.front() +
                        (foreign.size() > 1 ? ", …" : "") + ")",
                    "set lab.storage to a new or empty directory", ExitCode::invalid);
    virt::StoragePool pool = conn.find_pool(plan.pool);
    if (!pool) {
        spdlog::info("creating storage pool {} at {}", plan.pool, plan.pool_path);
        pool = conn.define_pool(pool_xml(plan.pool, plan.pool_path));
    }
    if (!virt::is_active(pool)) {
        virt::build(pool);  // again, in case an earlier run was stopped between define and build
        virt::start(pool);
    }
    virt::set_autostart(pool, virt::Autostart::yes);
    return pool;
}

// Waits until every planned address is leased to its MAC; fails the seats that miss. A guest
// started by this run must hold a lease granted after `since` (with fixed MACs, the lease of
// the previous boot stays listed for an hour).
void wait_for_planned_leases(virt::Connection& conn, const Plan& plan, std::chrono::seconds timeout, std::int64_t since,
                             UpReport& report) {
    std::set<std::string> dhcp_networks;
    for (const auto& n : plan.shared_networks)
        if (n.dhcp_first) dhcp_networks.insert(n.libvirt_name);
    for (const auto& seat : plan.seats)
        for (const auto& n : seat.networks)
            if (n.dhcp_first) dhcp_networks.insert(n.libvirt_name);
    std::vector<detail::WantedLease> wanted;
    for (const auto& seat : plan.seats) {
        const SeatResult& result = report.seats[seat.number - 1];
        if (!result.ok) continue;
        for (const auto& vm : seat.vms) {
            const bool fresh = std::find(result.started.begin(), result.started.end(), vm.domain) != result.started.end();
            for (const auto& nic : vm.nics)
                if (nic.ip && dhcp_networks.count(nic.network))
                    wanted.push_back({seat.number, vm.domain, nic.network, nic.mac, to_string(*nic.ip),
                                      fresh ? detail::min_expiry_of_lease_granted_after(since) : 0});
        }
    }
    spdlog::info("waiting for {} DHCP leases (up to {} s)", wanted.size(), timeout.count());
    const auto start = Clock::now();
    const std::size_t total = wanted.size();
    const auto missing = detail::wait_for_leases(conn, std::move(wanted), timeout);
    if (missing.empty()) {
        spdlog::info("all {} leases in {:.1f} s", total, seconds_since(start));
        return;
    }
    for (const auto& w : missing) {
        SeatResult& seat = report.seats[w.seat - 1];
        seat.ok = false;
        detail::note_failure(seat.failure, FailureKind::no_lease);
        const std::string log = console_log_file(plan.pool_path, w.domain);
        std::error_code ec;
        const bool silent = !std::filesystem::exists(log, ec) || std::filesystem::file_size(log, ec) == 0;
        seat.error += (seat.error.empty() ? "" : "; ") + w.domain + " got no DHCP lease for " + w.ip + " within " +
                      std::to_string(timeout.count()) + " s (serial console log: " + log +
                      (silent ? ", empty: the guest never got as far as its kernel" : "") + ")";
    }
}

}  // namespace

// VMs with a running baseline are captured once ready: their planned leases held and, when
// the lab names one, their ready_console line printed.
void Engine::capture_baselines(const Plan& plan, const virt::StoragePool& pool, const UpOptions& options,
                               std::int64_t started_wall, UpReport& report) {
    std::vector<const PlannedVm*> pending;
    for (const auto& seat : plan.seats)
        if (report.seats[seat.number - 1].ok)
            for (const auto& vm : seat.vms)
                if (vm.baseline == Baseline::running && !detail::has_running_baseline(m_conn, pool, vm.domain))
                    pending.push_back(&vm);
    if (pending.empty()) return;
    const auto timeout = std::chrono::seconds(plan.ready_timeout_seconds);
    try {
        if (!options.wait_ip) wait_for_planned_leases(m_conn, plan, timeout, started_wall, report);
    } catch (const virt::LibvirtError& e) {
        if (e.code() != VIR_ERR_NO_SUPPORT) throw;
        spdlog::warn("{} shows no DHCP leases, so readiness cannot be seen: resets will boot the VMs (powered-off baselines)",
                     m_conn.uri());
        return;
    }
    const auto deadline = Clock::now() + timeout;
    spdlog::info("capturing the running baselines of {} VMs", pending.size());
    std::mutex mutex;
    detail::parallel_for(pending.size(), options.jobs, [&](std::size_t i) {
        const PlannedVm& vm = *pending[i];
        SeatResult& seat = report.seats[vm.seat - 1];
        try {
            {
                std::lock_guard lock(mutex);
                if (!seat.ok) return;
            }
            const std::string log = console_log_file(plan.pool_path, vm.domain);
            while (!vm.ready_console.empty() && !detail::console_says(log, vm.ready_console)) {
                if (Clock::now() > deadline)
                    throw detail::SeatFailed(
                        FailureKind::not_ready,
                        vm.domain + (vm.cloud_init ? " did not finish cloud-init (no '" : " did not print '") +
                            vm.ready_console + (vm.cloud_init ? "')" : "'") + " on its console within " +
                            std::to_string(timeout.count()) + " s; `vmlab up` again retries it. The end of " + log +
                            ":\n" + detail::console_tail(log));
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
            }
            const virt::Domain domain = m_conn.find_domain(vm.domain);
            const detail::JournalStep step(m_store, plan.lab, vm.seat, "up", "capture the running baseline of " + vm.domain);
            detail::capture_running_baseline(m_conn, pool, domain);
            for (auto record : m_store.vms(plan.lab))
                if (record.domain == vm.domain) {
                    record.baseline = to_string(Baseline::running);
                    m_store.upsert_vm(record);
                }
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            seat.ok = false;
            detail::note_failure(seat.failure, detail::failure_kind(e));
            seat.error += (seat.error.empty() ? "" : "; ") + std::string("baseline of ") + vm.domain + ": " + e.what();
        }
    });
}

std::size_t UpReport::failed() const {
    return static_cast<std::size_t>(std::count_if(seats.begin(), seats.end(), [](const SeatResult& s) { return !s.ok; }));
}

UpReport Engine::up(const LabSpec& lab, const Plan& plan, const UpOptions& options, const SeatProgress& progress) {
    const FileLock lab_lock = lock_lab(plan.lab, LockMode::exclusive, options.wait_lock, "up");
    const auto started = Clock::now();
    const std::int64_t started_wall = std::time(nullptr);
    m_store.upsert_lab({plan.lab, plan.title, m_conn.uri(), plan.pool, plan.pool_path, lab.source_text, plan.spec_hash,
                        lab.source_file, 0, 0, static_cast<unsigned>(plan.seats.size())});
    detail::take_over_interrupted_steps(m_store, plan.lab, "up");

    virt::StoragePool pool = ensure_pool(m_conn, plan);
    virt::refresh(pool);  // files renamed by a run that was killed before its own refresh
    for (const auto& image : plan.images) {
        const detail::JournalStep step(m_store, plan.lab, 0, "up", "import base image " + image.volume);
        if (import_image(m_conn, pool, image) == Imported::now) spdlog::info("imported base image {}", image.volume);
        const virt::StorageVol vol = m_conn.find_volume(pool, image.volume);
        m_store.upsert_volume({plan.lab, 0, plan.pool, image.volume, virt::volume_path(vol), "base"});
    }
    const bool any_cloud_init = std::any_of(plan.seats.begin(), plan.seats.end(), [](const PlannedSeat& s) {
        return std::any_of(s.vms.begin(), s.vms.end(), [](const PlannedVm& vm) { return vm.cloud_init; });
    });
    SeatBuilder builder(m_conn, m_store, plan, pool, options, any_cloud_init ? m_store.lab_secret(plan.lab) : "");
    SeatResult shared;
    for (const auto& net : plan.shared_networks) builder.ensure_network(net, 0, shared);

    UpReport report;
    report.seats.resize(plan.seats.size());
    std::size_t done = 0;
    std::mutex progress_mutex;
    detail::parallel_for(plan.seats.size(), options.jobs, [&](std::size_t i) {
        const PlannedSeat& seat = plan.seats[i];
        SeatResult& result = report.seats[i];
        result.seat = seat.number;
        const auto seat_start = Clock::now();
        try {
            m_store.upsert_seat({plan.lab, seat.number, SeatState::pending, "", "", "", 0});
            for (const auto& net : seat.networks) builder.ensure_network(net, seat.number, result);
            for (const auto& vm : seat.vms) builder.ensure_vm(seat, vm, result);
            result.ok = true;
        } catch (const std::exception& e) {
            result.error = e.what();
            result.failure = detail::failure_kind(e);
        }
        result.seconds = seconds_since(seat_start);
        std::lock_guard lock(progress_mutex);
        ++done;
        if (progress) progress(result, done, plan.seats.size());
    });

    if (options.wait_ip) wait_for_planned_leases(m_conn, plan, *options.wait_ip, started_wall, report);
    capture_baselines(plan, pool, options, started_wall, report);

    for (const auto& result : report.seats) {
        m_store.upsert_seat({.lab = plan.lab,
                             .seat = result.seat,
                             .state = result.ok ? SeatState::ready : SeatState::failed,
                             .error = result.error,
                             .attendee_name = {},
                             .attendee_email = {},
                             .last_reset_at = 0,
                             .token_created_at = 0,
                             .failure = result.failure});
        m_store.add_event({0, 0, plan.lab, result.seat, "", "up", result.ok ? "ok" : "failed",
                           result.ok ? std::to_string(result.created.size()) + " created, " +
                                           std::to_string(result.kept.size()) + " kept"
                                     : result.error,
                           "", static_cast<std::int64_t>(result.seconds * 1000)});
    }
    spdlog::debug("up of {} took {:.2f} s", plan.lab, seconds_since(started));
    return report;
}

}  // namespace vmlab
