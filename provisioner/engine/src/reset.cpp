#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <ctime>
#include <mutex>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "baseline.hpp"
#include "console_log.hpp"
#include "journal.hpp"
#include "leases.hpp"
#include "seat_failure.hpp"
#include "vmlab/util/parallel.hpp"
#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/xml.hpp"

namespace vmlab {

namespace {

using Clock = std::chrono::steady_clock;

struct SeatVm {
    virt::Domain domain;
    std::string name;
    std::string ready_line;  // what its guest prints when its setup finished (cloud-init); empty: none
};

std::filesystem::path seat_lock_path(const StateStore& store, const std::string& lab, unsigned seat) {
    return store.path().parent_path() / "locks" / (lab + ".seat-" + std::to_string(seat) + ".lock");
}

// The seat's domains that carry this lab's and this seat's metadata; anything else is refused.
std::vector<SeatVm> seat_domains(virt::Connection& conn, StateStore& store, const std::string& lab, unsigned seat,
                                 const std::optional<std::string>& vm) {
    std::map<std::string, std::string> ready_lines;
    for (const auto& guest : store.guests(lab))
        if (guest.seat == seat && !guest.ready_console.empty()) ready_lines[guest.domain] = guest.ready_console;
    std::vector<SeatVm> out;
    for (const auto& record : store.vms(lab)) {
        if (record.seat != seat || (vm && record.vm != *vm)) continue;
        virt::Domain domain = conn.find_domain(record.domain);
        if (!domain) throw Error("domain " + record.domain + " of seat " + std::to_string(seat) + " is missing",
                                 "run `vmlab up` on the lab file to recreate it");
        const auto metadata = virt::domain_metadata(domain);
        const auto owner = metadata ? parse_vm_metadata(*metadata) : std::nullopt;
        if (!owner || owner->lab != lab || owner->seat != seat)
            throw Error("domain " + record.domain + " does not carry vmlab's tag for seat " + std::to_string(seat) + " of " + lab,
                        "vmlab never modifies objects it did not create");
        const auto ready = ready_lines.find(record.domain);
        out.push_back({std::move(domain), record.domain, ready == ready_lines.end() ? std::string() : ready->second});
    }
    if (out.empty())
        throw Error("seat " + std::to_string(seat) + " of lab " + lab + " has no " + (vm ? "VM named " + *vm : "VMs"),
                    "vmlab status " + lab + " lists the seats and VMs");
    return out;
}

bool has_nvram(const virt::Domain& domain) {
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str());
    return !doc.child("domain").child("os").child("nvram").empty();
}

// Waits until the VM's console log holds its ready line; false at the deadline.
bool wait_for_ready_line(const SeatVm& vm, Clock::time_point deadline) {
    const std::string log = detail::console_log_path(vm.domain);
    while (!detail::console_says(log, vm.ready_line)) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return true;
}

void start_fresh(const SeatVm& vm) {
    if (!vm.ready_line.empty()) detail::forget_previous_boot(vm.domain);
    const virt::Domain& domain = vm.domain;
    const std::string& name = vm.name;
    // UEFI guests: libvirt copies the NVRAM again from its template.
    const unsigned flags = has_nvram(domain) ? VIR_DOMAIN_START_RESET_NVRAM : 0;
    if (virDomainCreateWithFlags(domain.get(), flags) < 0) virt::throw_last_error("cannot start domain " + name);
}

std::string broken_suffix() {
    std::ostringstream out;
    out << ".broken-" << std::time(nullptr);
    return out.str();
}

}  // namespace

FileLock Engine::lock_lab(const std::string& lab, LockMode mode, Wait wait, const std::string& purpose) {
    return FileLock::acquire(m_store.path().parent_path() / "locks" / (lab + ".lock"), wait, purpose + " of lab " + lab, mode);
}

std::vector<SeatActionResult> Engine::reset(const std::string& lab, const SeatSelection& selection,
                                            const ResetOptions& options) {
    const FileLock lab_lock = lock_lab(lab, options.lab_lock, options.wait_lock, "reset");
    const auto record = m_store.require_lab(lab);
    virt::StoragePool pool = m_conn.find_pool(record.pool);
    if (!pool) throw Error("the storage pool " + record.pool + " of " + lab + " is missing", "run `vmlab up` on the lab file");

    std::vector<SeatActionResult> results(selection.seats.size());
    detail::parallel_for(selection.seats.size(), options.jobs, [&](std::size_t i) {
        SeatActionResult& r = results[i];
        r.seat = selection.seats[i];
        const auto start = Clock::now();
        try {
            const FileLock lock = FileLock::acquire(seat_lock_path(m_store, lab, r.seat), options.wait_lock,
                                                    "seat " + std::to_string(r.seat) + " of " + lab);
            detail::take_over_interrupted_steps(m_store, lab, "reset", {r.seat});
            std::vector<SeatVm> vms = seat_domains(m_conn, m_store, lab, r.seat, selection.vm);
            for (auto& vm : vms) r.vms.push_back(vm.name);
            std::string names;
            for (const auto& vm : vms) names += (names.empty() ? "" : ", ") + vm.name;
            const detail::JournalStep journal_step(m_store, lab, r.seat, "reset", "reset " + names);
            std::mutex error_mutex;
            std::string errors;
            FailureKind failure = FailureKind::none;
            auto each_vm = [&](auto step) {
                detail::parallel_for(vms.size(), static_cast<unsigned>(vms.size()), [&](std::size_t v) {
                    try {
                        step(vms[v]);
                    } catch (const std::exception& e) {
                        std::lock_guard guard(error_mutex);
                        errors += (errors.empty() ? "" : "; ") + std::string(e.what());
                        detail::note_failure(failure, detail::failure_kind(e));
                    }
                });
                if (!errors.empty()) throw detail::SeatFailed(failure, errors);
            };
            std::map<std::string, bool> warm;  // domain -> restore its running baseline
            for (const auto& vm_record : m_store.vms(lab))
                if (vm_record.seat == r.seat)
                    warm[vm_record.domain] = vm_record.baseline == to_string(Baseline::running) &&
                                             detail::has_running_baseline(m_conn, pool, vm_record.domain);
            each_vm([&](SeatVm& vm) { virt::destroy(vm.domain); });
            const std::string suffix = options.keep_broken == KeepBroken::yes ? broken_suffix() : "";
            each_vm([&](SeatVm& vm) { detail::recreate_overlays(m_conn, pool, vm.domain, suffix); });
            const std::int64_t booted_after = std::time(nullptr);
            each_vm([&](SeatVm& vm) {
                if (warm[vm.name])
                    detail::restore_running_baseline(m_conn, pool, vm.domain);
                else
                    start_fresh(vm);
            });
            if (options.wait_ip) {
                std::vector<detail::WantedLease> wanted;
                for (auto& vm : vms)
                    for (auto& lease : detail::planned_leases(m_conn, vm.domain, r.seat)) {
                        // A restored guest keeps the lease it held when captured; a booted one takes a new one.
                        lease.min_expiry = warm[vm.name] ? 0 : detail::min_expiry_of_lease_granted_after(booted_after);
                        wanted.push_back(lease);
                    }
                const auto deadline = Clock::now() + *options.wait_ip;
                const auto missing = detail::wait_for_leases(m_conn, std::move(wanted), *options.wait_ip);
                for (const auto& w : missing) {
                    errors += (errors.empty() ? "" : "; ") + w.domain + " holds no DHCP lease for " + w.ip + " after " +
                              std::to_string(options.wait_ip->count()) + " s";
                    detail::note_failure(failure, FailureKind::no_lease);
                }
                if (!errors.empty()) throw detail::SeatFailed(failure, errors);
                // A booted guest is usable once its setup says so, within the same time.
                for (auto& vm : vms)
                    if (!warm[vm.name] && !vm.ready_line.empty() && !wait_for_ready_line(vm, deadline))
                        errors += (errors.empty() ? "" : "; ") + vm.name + " did not print '" + vm.ready_line +
                                  "' on its console within " + std::to_string(options.wait_ip->count()) +
                                  " s of the reset; the end of " + detail::console_log_path(vm.domain) + ":\n" +
                                  detail::console_tail(detail::console_log_path(vm.domain));
                if (!errors.empty()) throw detail::SeatFailed(FailureKind::not_ready, errors);
            }
            for (auto& vm : vms)
                if (!virt::is_active(vm.domain)) throw Error(vm.name + " is not running after the reset");
            m_store.set_last_reset(lab, r.seat, std::time(nullptr));
            r.ok = true;
        } catch (const std::exception& e) {
            r.error = e.what();
            r.failure = detail::failure_kind(e);
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        m_store.add_event({0, 0, lab, r.seat, selection.vm.value_or(""), "reset", r.ok ? "ok" : "failed",
                           r.ok ? (options.keep_broken == KeepBroken::yes ? "broken disks kept" : "") : r.error, options.actor,
                           static_cast<std::int64_t>(r.seconds * 1000)});
    });
    return results;
}

std::vector<SeatActionResult> Engine::power(const std::string& lab, const SeatSelection& selection, Power power,
                                            std::chrono::seconds grace, Wait wait_lock) {
    m_store.require_lab(lab);
    const FileLock lab_lock = lock_lab(lab, LockMode::shared, wait_lock, power == Power::on ? "start" : "stop");
    std::vector<SeatActionResult> results(selection.seats.size());
    detail::parallel_for(selection.seats.size(), 4, [&](std::size_t i) {
        SeatActionResult& r = results[i];
        r.seat = selection.seats[i];
        const auto start = Clock::now();
        try {
            const FileLock lock = FileLock::acquire(seat_lock_path(m_store, lab, r.seat), wait_lock,
                                                    "seat " + std::to_string(r.seat) + " of " + lab);
            std::vector<SeatVm> vms = seat_domains(m_conn, m_store, lab, r.seat, selection.vm);
            for (auto& vm : vms) {
                r.vms.push_back(vm.name);
                if (power == Power::on && !virt::is_active(vm.domain)) {
                    if (!vm.ready_line.empty()) detail::forget_previous_boot(vm.domain);
                    virt::start(vm.domain);
                }
                if (power == Power::off && virt::is_active(vm.domain)) virt::shutdown(vm.domain);
            }
            if (power == Power::off) {
                const auto deadline = Clock::now() + grace;
                auto running = [&] {
                    return std::any_of(vms.begin(), vms.end(), [](const SeatVm& vm) { return virt::is_active(vm.domain); });
                };
                while (running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(200));
                for (auto& vm : vms)
                    if (virt::is_active(vm.domain)) {
                        spdlog::warn("{} did not shut down within {} s; powering it off", vm.name, grace.count());
                        virt::destroy(vm.domain);
                    }
            }
            r.ok = true;
        } catch (const std::exception& e) {
            r.error = e.what();
            r.failure = detail::failure_kind(e);
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        m_store.add_event({0, 0, lab, r.seat, selection.vm.value_or(""), power == Power::on ? "start" : "stop",
                           r.ok ? "ok" : "failed", r.error, "", static_cast<std::int64_t>(r.seconds * 1000)});
    });
    return results;
}

}  // namespace vmlab
