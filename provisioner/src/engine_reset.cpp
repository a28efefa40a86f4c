#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "leases.hpp"
#include "parallel.hpp"
#include "vmlab/engine.hpp"
#include "vmlab/xml.hpp"

namespace vmlab {

namespace {

using Clock = std::chrono::steady_clock;

struct SeatVm {
    virt::Domain domain;
    std::string name;
};

std::filesystem::path seat_lock_path(const StateStore& store, const std::string& lab, unsigned seat) {
    return store.path().parent_path() / "locks" / (lab + ".seat-" + std::to_string(seat) + ".lock");
}

// The seat's domains that carry this lab's and this seat's metadata; anything else is refused.
std::vector<SeatVm> seat_domains(virt::Connection& conn, StateStore& store, const std::string& lab, unsigned seat,
                                 const std::optional<std::string>& vm) {
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
        out.push_back({std::move(domain), record.domain});
    }
    if (out.empty())
        throw Error("seat " + std::to_string(seat) + " of lab " + lab + " has no " + (vm ? "VM named " + *vm : "VMs"),
                    "vmlab status " + lab + " lists the seats and VMs");
    return out;
}

struct DiskBaseline {
    std::string pool_xml_name;  // volume name
    PlannedDisk disk;
    std::string backing_path;
    DiskFormat backing_format = DiskFormat::qcow2;
};

// What a disk volume must be recreated as: its name, size and backing image, read from libvirt.
DiskBaseline baseline_of(const virt::StorageVol& vol) {
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(vol).c_str());
    const auto root = doc.child("volume");
    DiskBaseline b;
    b.disk.volume = virt::name(vol);
    b.disk.capacity_bytes = virt::capacity(vol);
    b.backing_path = root.child("backingStore").child_value("path");
    const std::string format = root.child("backingStore").child("format").attribute("type").as_string("qcow2");
    b.backing_format = format == "raw" ? DiskFormat::raw : DiskFormat::qcow2;
    return b;
}

// The pool volumes behind a domain's file disks.
std::vector<virt::StorageVol> disk_volumes(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain) {
    std::vector<virt::StorageVol> vols;
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str());
    for (auto disk : doc.child("domain").child("devices").children("disk")) {
        if (std::string(disk.attribute("device").as_string("disk")) != "disk") continue;
        const std::filesystem::path file = disk.child("source").attribute("file").as_string();
        if (file.empty()) continue;
        if (virt::StorageVol vol = conn.find_volume(pool, file.filename().string())) vols.push_back(std::move(vol));
    }
    return vols;
}

bool has_nvram(const virt::Domain& domain) {
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str());
    return !doc.child("domain").child("os").child("nvram").empty();
}

void start_fresh(const virt::Domain& domain, const std::string& name) {
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
    const auto record = m_store.find_lab(lab);
    if (!record) throw Error("no lab named " + lab + " in " + m_store.path().string(), "vmlab status lists the labs");
    virt::StoragePool pool = m_conn.find_pool(record->pool);
    if (!pool) throw Error("the storage pool " + record->pool + " of " + lab + " is missing", "run `vmlab up` on the lab file");

    std::vector<SeatActionResult> results(selection.seats.size());
    detail::parallel_for(selection.seats.size(), options.jobs, [&](std::size_t i) {
        SeatActionResult& r = results[i];
        r.seat = selection.seats[i];
        const auto start = Clock::now();
        try {
            const FileLock lock = FileLock::acquire(seat_lock_path(m_store, lab, r.seat), options.wait_lock,
                                                    "seat " + std::to_string(r.seat) + " of " + lab);
            std::vector<SeatVm> vms = seat_domains(m_conn, m_store, lab, r.seat, selection.vm);
            for (auto& vm : vms) r.vms.push_back(vm.name);
            std::mutex error_mutex;
            std::string errors;
            auto each_vm = [&](auto step) {
                detail::parallel_for(vms.size(), static_cast<unsigned>(vms.size()), [&](std::size_t v) {
                    try {
                        step(vms[v]);
                    } catch (const std::exception& e) {
                        std::lock_guard guard(error_mutex);
                        errors += (errors.empty() ? "" : "; ") + std::string(e.what());
                    }
                });
                if (!errors.empty()) throw Error(errors);
            };
            each_vm([&](SeatVm& vm) { virt::destroy(vm.domain); });
            const std::string suffix = broken_suffix();
            each_vm([&](SeatVm& vm) {
                for (const auto& vol : disk_volumes(m_conn, pool, vm.domain)) {
                    const DiskBaseline b = baseline_of(vol);
                    if (options.keep_broken == KeepBroken::yes) {
                        PlannedDisk keep = b.disk;
                        keep.volume += suffix;
                        virt::StorageVol saved{virStorageVolCreateXMLFrom(
                            pool.get(), volume_xml(keep, b.backing_path, b.backing_format).c_str(), vol.get(), 0)};
                        if (!saved) virt::throw_last_error("cannot save the broken disk " + b.disk.volume);
                    }
                    virt::delete_volume(vol);
                    m_conn.create_volume(pool, volume_xml(b.disk, b.backing_path, b.backing_format));
                }
            });
            const std::int64_t booted_after = std::time(nullptr);
            each_vm([&](SeatVm& vm) { start_fresh(vm.domain, vm.name); });
            if (options.wait_ip) {
                std::vector<detail::WantedLease> wanted;
                for (auto& vm : vms)
                    for (auto& lease : detail::planned_leases(m_conn, vm.domain, r.seat)) {
                        lease.min_expiry = booted_after + detail::lease_seconds - 5;
                        wanted.push_back(lease);
                    }
                const auto missing = detail::wait_for_leases(m_conn, std::move(wanted), *options.wait_ip);
                for (const auto& w : missing)
                    errors += (errors.empty() ? "" : "; ") + w.domain + " got no DHCP lease for " + w.ip + " within " +
                              std::to_string(options.wait_ip->count()) + " s";
                if (!errors.empty()) throw Error(errors);
            }
            m_store.set_last_reset(lab, r.seat, std::time(nullptr));
            r.ok = true;
        } catch (const std::exception& e) {
            r.error = e.what();
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        m_store.add_event({0, 0, lab, r.seat, selection.vm.value_or(""), "reset", r.ok ? "ok" : "failed",
                           r.ok ? (options.keep_broken == KeepBroken::yes ? "broken disks kept" : "") : r.error, "",
                           static_cast<std::int64_t>(r.seconds * 1000)});
    });
    return results;
}

std::vector<SeatActionResult> Engine::power(const std::string& lab, const SeatSelection& selection, Power power,
                                            std::chrono::seconds grace, Wait wait_lock) {
    if (!m_store.find_lab(lab)) throw Error("no lab named " + lab + " in " + m_store.path().string(), "vmlab status lists the labs");
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
                if (power == Power::on && !virt::is_active(vm.domain)) virt::start(vm.domain);
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
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        m_store.add_event({0, 0, lab, r.seat, selection.vm.value_or(""), power == Power::on ? "start" : "stop",
                           r.ok ? "ok" : "failed", r.error, "", static_cast<std::int64_t>(r.seconds * 1000)});
    });
    return results;
}

}  // namespace vmlab
