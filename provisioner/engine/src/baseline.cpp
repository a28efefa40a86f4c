#include "baseline.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <pugixml.hpp>

#include "vmlab/virt/xml.hpp"

namespace vmlab::detail {

namespace fs = std::filesystem;

namespace {

// Renames and refreshes in one pool must not interleave with another thread's volume creation.
std::mutex pool_files_mutex;

pugi::xml_document inactive_xml(const virt::Domain& domain) {
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(domain, VIR_DOMAIN_XML_INACTIVE).c_str());
    return doc;
}

// The pool volumes behind a domain's file disks.
std::vector<virt::StorageVol> disk_volumes(const virt::Connection& conn, const virt::StoragePool& pool,
                                           const virt::Domain& domain) {
    std::vector<virt::StorageVol> vols;
    const auto doc = inactive_xml(domain);
    for (auto disk : doc.child("domain").child("devices").children("disk")) {
        if (std::string(disk.attribute("device").as_string("disk")) != "disk") continue;
        if (disk.child("readonly")) continue;  // a cloud-init seed: the same before and after a reset
        const fs::path file = disk.child("source").attribute("file").as_string();
        if (file.empty()) continue;
        if (virt::StorageVol vol = conn.find_volume(pool, file.filename().string())) vols.push_back(std::move(vol));
    }
    return vols;
}

std::string nvram_path(const virt::Domain& domain) {
    return inactive_xml(domain).child("domain").child("os").child_value("nvram");
}

fs::path pool_directory(const virt::StoragePool& pool) {
    virt::XmlString xml{virStoragePoolGetXMLDesc(pool.get(), 0)};
    if (!xml) virt::throw_last_error("cannot read the XML of pool " + virt::name(pool));
    pugi::xml_document doc;
    doc.load_string(xml.get());
    return doc.child("pool").child("target").child_value("path");
}

std::int64_t unique_stamp() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string baseline_nvram(const std::string& nvram) { return nvram + ".baseline"; }

struct Overlay {
    PlannedDisk disk;
    std::string backing_path;
    DiskFormat backing_format = DiskFormat::qcow2;
};

Overlay overlay_of(const virt::StorageVol& vol) {
    pugi::xml_document doc;
    doc.load_string(virt::xml_desc(vol).c_str());
    const auto backing = doc.child("volume").child("backingStore");
    Overlay o;
    o.disk.volume = virt::name(vol);
    o.disk.capacity_bytes = virt::capacity(vol);
    o.backing_path = backing.child_value("path");
    o.backing_format = std::string(backing.child("format").attribute("type").as_string("qcow2")) == "raw" ? DiskFormat::raw
                                                                                                        : DiskFormat::qcow2;
    return o;
}

}  // namespace

std::string baseline_memory_volume(const std::string& domain) { return domain + ".baseline.mem"; }

bool has_running_baseline(const virt::Connection& conn, const virt::StoragePool& pool, const std::string& domain) {
    return static_cast<bool>(conn.find_volume(pool, baseline_memory_volume(domain)));
}

void capture_running_baseline(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain) {
    const std::string name = virt::name(domain);
    const fs::path pool_dir = pool_directory(pool);
    const fs::path memory_tmp = pool_dir / (baseline_memory_volume(name) + ".partial");
    const fs::path memory = pool_dir / baseline_memory_volume(name);
    if (virDomainSaveFlags(domain.get(), memory_tmp.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0)
        virt::throw_last_error("cannot save the running state of " + name);
    try {
        std::lock_guard lock(pool_files_mutex);
        for (const auto& vol : disk_volumes(conn, pool, domain)) {
            Overlay overlay = overlay_of(vol);
            const fs::path path = virt::volume_path(vol);
            // A unique name: after an interrupted capture, X may already sit on an older frozen
            // layer, which then simply stays below the new one.
            const fs::path frozen = path.string() + ".baseline-" + std::to_string(unique_stamp());
            fs::rename(path, frozen);
            virt::refresh(pool);
            overlay.backing_path = frozen.string();
            overlay.backing_format = DiskFormat::qcow2;
            conn.create_volume(pool, volume_xml(overlay.disk, overlay.backing_path, overlay.backing_format));
        }
        if (const std::string nvram = nvram_path(domain); !nvram.empty() && fs::exists(nvram))
            fs::copy_file(nvram, baseline_nvram(nvram), fs::copy_options::overwrite_existing);
        fs::rename(memory_tmp, memory);
        virt::refresh(pool);
    } catch (...) {
        // Bring the guest back even when the capture failed; its disks are consistent.
        if (virDomainRestoreFlags(conn.get(), memory_tmp.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0)
            spdlog::warn("{} stays off after a failed capture; `vmlab start` boots it", name);
        throw;
    }
    if (virDomainRestoreFlags(conn.get(), memory.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0)
        virt::throw_last_error("cannot resume " + name + " after capturing its baseline");
}

void recreate_overlays(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain,
                       const std::string& keep_broken_suffix) {
    for (const auto& vol : disk_volumes(conn, pool, domain)) {
        const Overlay o = overlay_of(vol);
        if (!keep_broken_suffix.empty()) {
            PlannedDisk keep = o.disk;
            keep.volume += keep_broken_suffix;
            virt::StorageVol saved{virStorageVolCreateXMLFrom(
                pool.get(), volume_xml(keep, o.backing_path, o.backing_format).c_str(), vol.get(), 0)};
            if (!saved) virt::throw_last_error("cannot save the broken disk " + o.disk.volume);
        }
        // Create the fresh overlay beside the old one, then rename it over it: at every moment
        // the disk exists, so a reset killed half-way is simply run again.
        std::lock_guard lock(pool_files_mutex);
        PlannedDisk fresh = o.disk;
        fresh.volume += ".fresh";
        if (virt::StorageVol stale = conn.find_volume(pool, fresh.volume)) virt::delete_volume(stale);
        const virt::StorageVol created = conn.create_volume(pool, volume_xml(fresh, o.backing_path, o.backing_format));
        fs::rename(virt::volume_path(created), virt::volume_path(vol));
        virt::refresh(pool);
    }
}

void restore_running_baseline(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain) {
    const std::string name = virt::name(domain);
    if (const std::string nvram = nvram_path(domain); !nvram.empty() && fs::exists(baseline_nvram(nvram)))
        fs::copy_file(baseline_nvram(nvram), nvram, fs::copy_options::overwrite_existing);
    const virt::StorageVol memory = conn.find_volume(pool, baseline_memory_volume(name));
    if (!memory) throw Error("the running baseline of " + name + " is missing", "run `vmlab up` to capture it again");
    if (virDomainRestoreFlags(conn.get(), virt::volume_path(memory).c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0)
        virt::throw_last_error("cannot restore " + name + " to its running baseline");
}

}  // namespace vmlab::detail
