// vmlab_floor: the floor that `vmlab up` / `vmlab down` / `vmlab reset` are measured against.
//
// A minimal program that makes the same libvirt calls, in the same order, as the engine does on
// a fresh host (provisioner/engine/src/up.cpp, down.cpp, reset.cpp, virt/src/images.cpp),
// with the same seat parallelism (--jobs, one shared connection, seats handed out in order) and
// the same lease polling (every 250 ms, a lease granted after the start counts) — and nothing
// else: no state database, no lock files, no ownership/drift checks (ownership on `down` is a
// substring test instead of an XML parse), no logging, no capacity check beyond its libvirt
// calls, no result bookkeeping. It reuses vmlab's loader, planner and XML generators, so the
// objects it creates are identical to vmlab's.
//
// That includes the running baselines (provisioner/engine/src/baseline.cpp): once every planned lease
// is held, `up` saves each VM's memory, freezes its disk overlay and restores it; a reset then
// restores that memory image instead of booting.
//
// Calls that vmlab makes only for its database or messages (virStorageVolGetPath of each new
// volume, virStoragePoolGetName before each volume, virDomainGetUUIDString, virDomainGetName)
// are kept, so the difference between vmlab and this program is vmlab's own work, not libvirt's.
//
// Usage: vmlab_floor [-c URI] [--jobs N] [--wait-ip SECS] [--poll-ms MS] up LAB.toml
//        vmlab_floor [-c URI] [--jobs N] down LAB.toml
//        vmlab_floor [-c URI] [--wait-ip SECS] [--poll-ms MS] reset LAB.toml SEAT
// Prints one JSON line of timings on stdout; exit 0 ok, 1 failure, 2 usage.

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vmlab/virt/host.hpp"
#include "vmlab/lab/loader.hpp"
#include "vmlab/plan/plan.hpp"
#include "vmlab/virt/xml.hpp"
// The engine's own internal helpers, so the floor cannot drift from them.
#include "leases.hpp"
#include "vmlab/util/parallel.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* metadata_uri = "https://vmlab.dev/xmlns/vmlab/1";

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void fail(const std::string& what) {
    const virError* e = virGetLastError();
    throw std::runtime_error(what + ": " + (e && e->message ? e->message : "unknown libvirt error"));
}

bool last_error_is(int code) {
    const virError* e = virGetLastError();
    return e && e->code == code;
}

struct Options {
    std::string uri, command, file;
    unsigned jobs = 4;
    std::optional<int> wait_ip;
    int poll_ms = 250;
    unsigned seat = 0;
};

struct Timings {
    double load = 0, calls = 0, wait = 0, total = 0;
    double start_to_lease = -1;  // first domain start to the last planned lease
    double capture = 0;          // saving the running baselines
};

// --- up ----------------------------------------------------------------------------------------

struct Wanted {
    std::string network, mac, ip;
    std::int64_t min_expiry = 0;
};

// The driver keeps no DHCP leases (the test driver).
struct NoLeases : std::runtime_error {
    NoLeases() : std::runtime_error("the driver shows no DHCP leases") {}
};

// Running baselines, as provisioner/engine/src/baseline.cpp.
std::mutex pool_files_mutex;
std::string baseline_memory(const std::string& domain) { return domain + ".baseline.mem"; }

bool has_running_baseline(virStoragePoolPtr pool, const std::string& domain) {
    virStorageVolPtr vol = virStorageVolLookupByName(pool, baseline_memory(domain).c_str());
    if (vol) virStorageVolFree(vol);
    return vol != nullptr;
}

// The <path> of a volume XML's <backingStore>, as baseline.cpp's overlay_of reads it.
std::string backing_path_of(const char* volume_xml) {
    const std::string xml = volume_xml ? volume_xml : "";
    const auto store = xml.find("<backingStore>");
    if (store == std::string::npos) return {};
    const auto open = xml.find("<path>", store), close = xml.find("</path>", store);
    return open == std::string::npos || close == std::string::npos ? "" : xml.substr(open + 6, close - open - 6);
}

// One overlay of a VM recreated on its backing file (the frozen disk of a running baseline, or
// the base image): a fresh volume beside it, renamed over it (recreate_overlays in baseline.cpp).
void recreate_overlay(virStoragePoolPtr pool, virStorageVolPtr vol, const vmlab::PlannedDisk& disk,
                      vmlab::DiskFormat format) {
    char* xml = virStorageVolGetXMLDesc(vol, 0);
    const std::string backing = backing_path_of(xml);
    std::free(xml);
    (void)virStorageVolGetName(vol);
    virStorageVolInfo info{};
    if (virStorageVolGetInfo(vol, &info) < 0) fail("size of " + disk.volume);
    vmlab::PlannedDisk fresh = disk;
    fresh.capacity_bytes = info.capacity;
    fresh.volume += ".fresh";
    std::lock_guard lock(pool_files_mutex);
    if (virStorageVolPtr stale = virStorageVolLookupByName(pool, fresh.volume.c_str())) {
        virStorageVolDelete(stale, 0);
        virStorageVolFree(stale);
    }
    (void)virStoragePoolGetName(pool);
    virStorageVolPtr created = virStorageVolCreateXML(pool, vmlab::volume_xml(fresh, backing, format).c_str(), 0);
    if (!created) fail("create " + fresh.volume);
    char* from = virStorageVolGetPath(created);
    char* to = virStorageVolGetPath(vol);
    if (!from || !to) fail("path of " + disk.volume);
    std::filesystem::rename(from, to);
    std::free(from);
    std::free(to);
    virStorageVolFree(created);
    if (virStoragePoolRefresh(pool, 0) < 0) fail("refresh pool");
}

std::vector<virStorageVolPtr> disk_volumes(virStoragePoolPtr pool, virDomainPtr domain, const vmlab::PlannedVm& vm) {
    std::free(virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE));  // vmlab: finds the disks in it
    std::vector<virStorageVolPtr> vols;
    for (const auto& disk : vm.disks) {
        virStorageVolPtr vol = virStorageVolLookupByName(pool, disk.volume.c_str());
        if (!vol) fail("look up " + disk.volume);
        vols.push_back(vol);
    }
    return vols;
}

void capture_running_baseline(virConnectPtr conn, virStoragePoolPtr pool, const vmlab::Plan& plan,
                              const vmlab::PlannedVm& vm) {
    virDomainPtr domain = virDomainLookupByName(conn, vm.domain.c_str());
    if (!domain) fail("look up " + vm.domain);
    (void)virDomainGetName(domain);
    std::free(virStoragePoolGetXMLDesc(pool, 0));  // vmlab: the pool's directory
    const std::string memory = plan.pool_path + "/" + baseline_memory(vm.domain);
    const std::string partial = memory + ".partial";
    if (virDomainSaveFlags(domain, partial.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) fail("save " + vm.domain);
    {
        std::lock_guard lock(pool_files_mutex);
        const auto vols = disk_volumes(pool, domain, vm);
        for (std::size_t i = 0; i < vols.size(); ++i) {
            std::free(virStorageVolGetXMLDesc(vols[i], 0));
            (void)virStorageVolGetName(vols[i]);
            virStorageVolInfo info{};
            if (virStorageVolGetInfo(vols[i], &info) < 0) fail("size of " + vm.disks[i].volume);
            char* path = virStorageVolGetPath(vols[i]);
            if (!path) fail("path of " + vm.disks[i].volume);
            const std::string frozen = std::string(path) + ".baseline-" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
            std::filesystem::rename(path, frozen);
            std::free(path);
            if (virStoragePoolRefresh(pool, 0) < 0) fail("refresh pool");
            vmlab::PlannedDisk overlay = vm.disks[i];
            overlay.capacity_bytes = info.capacity;
            (void)virStoragePoolGetName(pool);
            virStorageVolPtr fresh =
                virStorageVolCreateXML(pool, vmlab::volume_xml(overlay, frozen, vmlab::DiskFormat::qcow2).c_str(), 0);
            if (!fresh) fail("create " + overlay.volume);
            virStorageVolFree(fresh);
            virStorageVolFree(vols[i]);
        }
        std::free(virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE));  // vmlab: the NVRAM path
        std::filesystem::rename(partial, memory);
        if (virStoragePoolRefresh(pool, 0) < 0) fail("refresh pool");
    }
    if (virDomainRestoreFlags(conn, memory.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) fail("restore " + vm.domain);
    virDomainFree(domain);
}

int read_chunk(virStreamPtr, char* data, size_t bytes, void* opaque) {
    return static_cast<int>(::read(*static_cast<int*>(opaque), data, bytes));
}

// Polls like detail::wait_for_leases; returns how many are still missing at the deadline.
std::size_t wait_for_leases(virConnectPtr conn, std::vector<Wanted> pending, int timeout_s, int poll_ms) {
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (!pending.empty()) {
        std::set<std::string> networks;
        for (const auto& w : pending) networks.insert(w.network);
        std::map<std::pair<std::string, std::string>, std::int64_t> leased;
        for (const auto& name : networks) {
            virNetworkPtr net = virNetworkLookupByName(conn, name.c_str());
            if (!net) continue;
            virNetworkDHCPLeasePtr* leases = nullptr;
            const int n = virNetworkGetDHCPLeases(net, nullptr, &leases, 0);
            if (n < 0) {
                const bool unsupported = last_error_is(VIR_ERR_NO_SUPPORT);
                (void)virNetworkGetName(net);  // vmlab: the error message
                virNetworkFree(net);
                if (unsupported) throw NoLeases{};
                fail("read DHCP leases of " + name);
            }
            for (int i = 0; i < n; ++i) {
                leased[{leases[i]->mac ? leases[i]->mac : "", leases[i]->ipaddr ? leases[i]->ipaddr : ""}] =
                    leases[i]->expirytime;
                virNetworkDHCPLeaseFree(leases[i]);
            }
            std::free(leases);
            virNetworkFree(net);
        }
        std::erase_if(pending, [&](const Wanted& w) {
            const auto it = leased.find({w.mac, w.ip});
            return it != leased.end() && it->second >= w.min_expiry;
        });
        if (pending.empty() || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
    return pending.size();
}

void ensure_network(virConnectPtr conn, const vmlab::PlannedNetwork& net, const std::string& lab, unsigned seat) {
    virNetworkPtr network = virNetworkLookupByName(conn, net.libvirt_name.c_str());
    if (!network) {
        network = virNetworkDefineXML(conn, vmlab::network_xml(net, lab, seat).c_str());
        if (!network) fail("define network " + net.libvirt_name);
        if (virNetworkSetAutostart(network, 1) < 0) fail("autostart network " + net.libvirt_name);
    }
    const int active = virNetworkIsActive(network);
    if (active == 0 && virNetworkCreate(network) < 0) fail("start network " + net.libvirt_name);
    virNetworkFree(network);
}

void ensure_disk(virStoragePoolPtr pool, const vmlab::Plan& plan, const vmlab::PlannedDisk& disk) {
    if (virStorageVolPtr existing = virStorageVolLookupByName(pool, disk.volume.c_str())) {
        virStorageVolFree(existing);
        return;
    }
    std::string backing_path;
    vmlab::DiskFormat backing_format = vmlab::DiskFormat::qcow2;
    vmlab::PlannedDisk sized = disk;
    if (!disk.backing_volume.empty()) {
        virStorageVolPtr base = virStorageVolLookupByName(pool, disk.backing_volume.c_str());
        if (!base) fail("look up base volume " + disk.backing_volume);
        char* path = virStorageVolGetPath(base);
        if (!path) fail("path of " + disk.backing_volume);
        backing_path = path;
        std::free(path);
        virStorageVolInfo info{};
        if (virStorageVolGetInfo(base, &info) < 0) fail("size of " + disk.backing_volume);
        sized.capacity_bytes = std::max<std::uint64_t>(disk.capacity_bytes, info.capacity);
        virStorageVolFree(base);
        for (const auto& img : plan.images)
            if (img.volume == disk.backing_volume) backing_format = img.format;
    }
    (void)virStoragePoolGetName(pool);  // vmlab: the error message of create_volume
    virStorageVolPtr vol = virStorageVolCreateXML(pool, vmlab::volume_xml(sized, backing_path, backing_format).c_str(), 0);
    if (!vol) fail("create volume " + disk.volume);
    char* path = virStorageVolGetPath(vol);  // vmlab: for its database
    std::free(path);
    virStorageVolFree(vol);
}

// Returns true when this run started the domain.
bool ensure_vm(virConnectPtr conn, virStoragePoolPtr pool, const vmlab::Plan& plan, const vmlab::PlannedVm& vm,
               const std::string& domain_type, std::atomic<std::int64_t>& first_start_ns) {
    virDomainPtr domain = virDomainLookupByName(conn, vm.domain.c_str());
    for (const auto& disk : vm.disks) ensure_disk(pool, plan, disk);
    if (!domain) {
        // vmlab gives a console listening beyond the loopback a random 8-character password.
        const std::string password = vm.console.listen.starts_with("127.") ? "" : "floorpw1";
        domain = virDomainDefineXML(
            conn, vmlab::domain_xml(vm, plan.lab, plan.spec_hash, domain_type, plan.pool_path, "", password).c_str());
        if (!domain) fail("define domain " + vm.domain);
    }
    (void)has_running_baseline(pool, vm.domain);  // vmlab: for its database
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virDomainGetUUIDString(domain, uuid);  // vmlab: for its database
    bool started = false;
    if (virDomainIsActive(domain) == 0) {
        std::int64_t now = Clock::now().time_since_epoch().count(), none = 0;
        first_start_ns.compare_exchange_strong(none, now);
        if (virDomainCreate(domain) < 0) fail("start domain " + vm.domain);
        started = true;
    }
    virDomainFree(domain);
    return started;
}

// Uploaded as NAME.partial, renamed when complete (images.cpp).
void import_image(virConnectPtr conn, virStoragePoolPtr pool, const vmlab::PlannedBaseImage& image) {
    if (virStorageVolPtr existing = virStorageVolLookupByName(pool, image.volume.c_str())) {
        virStorageVolFree(existing);
        return;
    }
    const auto bytes = std::filesystem::file_size(image.source_path);
    const int fd = ::open(image.source_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + image.source_path);
    auto raw_xml = [&](const std::string& name) {
        return "<volume><name>" + name + "</name><capacity unit=\"bytes\">" + std::to_string(bytes) +
               "</capacity><target><format type=\"raw\"/></target></volume>";
    };
    const std::string partial = image.volume + ".partial";
    if (virStorageVolPtr stale = virStorageVolLookupByName(pool, partial.c_str())) {
        virStorageVolDelete(stale, 0);
        virStorageVolFree(stale);
    }
    (void)virStoragePoolGetName(pool);
    virStorageVolPtr vol = virStorageVolCreateXML(pool, raw_xml(partial).c_str(), 0);
    if (!vol) fail("create volume " + partial);
    virStreamPtr stream = virStreamNew(conn, 0);
    if (virStorageVolUpload(vol, stream, 0, bytes, 0) < 0) {
        if (!last_error_is(VIR_ERR_NO_SUPPORT)) fail("upload " + image.volume);
        // The driver stores no data: an empty volume under the final name stands in.
        if (virStorageVolDelete(vol, 0) < 0) fail("delete " + partial);
        (void)virStoragePoolGetName(pool);
        virStorageVolPtr empty = virStorageVolCreateXML(pool, raw_xml(image.volume).c_str(), 0);
        if (!empty) fail("create volume " + image.volume);
        virStorageVolFree(empty);
    } else {
        int source = fd;
        if (virStreamSendAll(stream, read_chunk, &source) < 0) fail("upload " + image.volume);
        if (virStreamFinish(stream) < 0) fail("upload " + image.volume);
        char* path = virStorageVolGetPath(vol);
        if (!path) fail("path of " + partial);
        const std::filesystem::path uploaded = path;
        std::free(path);
        std::filesystem::rename(uploaded, uploaded.parent_path() / image.volume);
        if (virStoragePoolRefresh(pool, 0) < 0) fail("refresh pool");
    }
    virStreamFree(stream);
    virStorageVolFree(vol);
    ::close(fd);
}

Timings up(virConnectPtr conn, const vmlab::LabSpec& lab, const vmlab::Plan& plan, const Options& options) {
    Timings t;
    const auto start = Clock::now();
    const std::int64_t started_wall = std::time(nullptr);

    // The CLI: domain type, then the capacity check's libvirt calls.
    const char* type = virConnectGetType(conn);
    std::string hypervisor = type ? type : "";
    std::transform(hypervisor.begin(), hypervisor.end(), hypervisor.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string domain_type = vmlab::choose_domain_type(lab.virtualization, vmlab::probe_host(), hypervisor);
    virNodeInfo node{};
    virNodeGetInfo(conn, &node);
    virNodeGetFreeMemory(conn);
    if (virStoragePoolPtr p = virStoragePoolLookupByName(conn, plan.pool.c_str())) virStoragePoolFree(p);

    // Engine::up: the pool, the base images, lab-wide networks, then the seats.
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, plan.pool.c_str());
    if (!pool) {
        pool = virStoragePoolDefineXML(conn, vmlab::pool_xml(plan.pool, plan.pool_path).c_str(), 0);
        if (!pool) fail("define pool " + plan.pool);
    }
    if (virStoragePoolIsActive(pool) == 0) {
        if (virStoragePoolBuild(pool, 0) < 0) fail("build pool " + plan.pool);
        if (virStoragePoolCreate(pool, 0) < 0) fail("start pool " + plan.pool);
    }
    if (virStoragePoolSetAutostart(pool, 1) < 0) fail("autostart pool " + plan.pool);
    if (virStoragePoolRefresh(pool, 0) < 0) fail("refresh pool " + plan.pool);  // vmlab: files of a killed run
    for (const auto& image : plan.images) {
        import_image(conn, pool, image);
        virStorageVolPtr vol = virStorageVolLookupByName(pool, image.volume.c_str());
        if (!vol) fail("look up " + image.volume);
        std::free(virStorageVolGetPath(vol));  // vmlab: for its database
        virStorageVolFree(vol);
    }
    for (const auto& net : plan.shared_networks) ensure_network(conn, net, plan.lab, 0);

    std::vector<std::vector<std::string>> started(plan.seats.size());
    std::vector<std::string> errors(plan.seats.size());
    std::atomic<std::int64_t> first_start_ns{0};
    vmlab::detail::parallel_for(plan.seats.size(), options.jobs, [&](std::size_t i) {
        const auto& seat = plan.seats[i];
        try {
            for (const auto& net : seat.networks) ensure_network(conn, net, plan.lab, seat.number);
            for (const auto& vm : seat.vms)
                if (ensure_vm(conn, pool, plan, vm, domain_type, first_start_ns)) started[i].push_back(vm.domain);
        } catch (const std::exception& e) {
            errors[i] = e.what();
        }
    });
    t.calls = since(start);
    std::size_t failed = 0;
    for (const auto& e : errors)
        if (!e.empty()) {
            ++failed;
            std::cerr << "vmlab_floor: " << e << '\n';
        }

    // wait_for_planned_leases: every planned address of a DHCP network, fresh for started VMs.
    auto wait_for_planned_leases = [&](int timeout_s) {
        const auto wait_start = Clock::now();
        std::set<std::string> dhcp;
        for (const auto& n : plan.shared_networks)
            if (n.dhcp_first) dhcp.insert(n.libvirt_name);
        for (const auto& s : plan.seats)
            for (const auto& n : s.networks)
                if (n.dhcp_first) dhcp.insert(n.libvirt_name);
        std::vector<Wanted> wanted;
        for (std::size_t i = 0; i < plan.seats.size(); ++i) {
            if (!errors[i].empty()) continue;
            for (const auto& vm : plan.seats[i].vms) {
                const bool fresh = std::find(started[i].begin(), started[i].end(), vm.domain) != started[i].end();
                for (const auto& nic : vm.nics)
                    if (nic.ip && dhcp.count(nic.network))
                        wanted.push_back({nic.network, nic.mac, vmlab::to_string(*nic.ip),
                                          fresh ? vmlab::detail::min_expiry_of_lease_granted_after(started_wall) : 0});
            }
        }
        const std::size_t missing = wait_for_leases(conn, std::move(wanted), timeout_s, options.poll_ms);
        t.wait = since(wait_start);
        if (first_start_ns) {
            const Clock::time_point first{Clock::duration(first_start_ns.load())};
            t.start_to_lease = std::chrono::duration<double>(Clock::now() - first).count();
        }
        if (missing) {
            std::cerr << "vmlab_floor: " << missing << " leases missing after " << timeout_s << " s\n";
            ++failed;
        }
    };
    if (options.wait_ip) wait_for_planned_leases(*options.wait_ip);

    // capture_baselines: VMs whose baseline is a running one are saved once ready.
    std::vector<const vmlab::PlannedVm*> pending;
    for (std::size_t i = 0; i < plan.seats.size(); ++i)
        if (errors[i].empty())
            for (const auto& vm : plan.seats[i].vms)
                if (vm.baseline == vmlab::Baseline::running && !has_running_baseline(pool, vm.domain))
                    pending.push_back(&vm);
    if (!pending.empty() && !failed) {
        bool leases_visible = true;
        try {
            if (!options.wait_ip) wait_for_planned_leases(static_cast<int>(plan.ready_timeout_seconds));
        } catch (const NoLeases&) {
            leases_visible = false;  // vmlab: warns that resets will boot the VMs
        }
        if (leases_visible) {
            const auto capture_start = Clock::now();
            std::atomic<std::size_t> capture_errors{0};
            vmlab::detail::parallel_for(pending.size(), options.jobs, [&](std::size_t i) {
                try {
                    capture_running_baseline(conn, pool, plan, *pending[i]);
                } catch (const std::exception& e) {
                    std::cerr << "vmlab_floor: baseline of " << pending[i]->domain << ": " << e.what() << '\n';
                    ++capture_errors;
                }
            });
            t.capture = since(capture_start);
            if (capture_errors) ++failed;
        }
    }
    virStoragePoolFree(pool);
    if (failed) throw std::runtime_error(std::to_string(failed) + " seats failed");
    return t;
}

// --- down --------------------------------------------------------------------------------------

bool mentions_lab(const char* xml, const std::string& lab) {
    return xml && std::strstr(xml, metadata_uri) && std::strstr(xml, (" name=\"" + lab + "\"").c_str());
}

bool owned_domain(virDomainPtr d, const std::string& lab) {
    char* md = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, metadata_uri, VIR_DOMAIN_AFFECT_CURRENT);
    const bool owned = md && std::strstr(md, (" name=\"" + lab + "\"").c_str());
    std::free(md);
    return owned;
}

bool owned_network(virNetworkPtr n, const std::string& lab) {
    char* xml = virNetworkGetXMLDesc(n, 0);
    const bool owned = mentions_lab(xml, lab);
    std::free(xml);
    return owned;
}

void undefine_domain(virDomainPtr d) {
    constexpr unsigned basic = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    constexpr unsigned all = basic | VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
    if (virDomainUndefineFlags(d, all) == 0) return;
    const bool refused = last_error_is(VIR_ERR_NO_SUPPORT) || last_error_is(VIR_ERR_INVALID_ARG);
    if (!refused || virDomainUndefineFlags(d, basic) < 0) fail("undefine domain");
}

Timings down(virConnectPtr conn, const std::string& lab, unsigned jobs) {
    Timings t;
    const auto start = Clock::now();
    virDomainPtr* all = nullptr;
    const int count = virConnectListAllDomains(conn, &all, 0);
    if (count < 0) fail("list domains");
    std::vector<virDomainPtr> domains;
    for (int i = 0; i < count; ++i) {
        if (owned_domain(all[i], lab)) domains.push_back(all[i]);
        else virDomainFree(all[i]);
    }
    std::free(all);
    std::atomic<int> errors{0};
    vmlab::detail::parallel_for(domains.size(), jobs, [&](std::size_t i) {
        (void)virDomainGetName(domains[i]);
        if (virDomainDestroy(domains[i]) < 0 && !last_error_is(VIR_ERR_OPERATION_INVALID)) ++errors;
        try {
            undefine_domain(domains[i]);
        } catch (const std::exception&) {
            ++errors;
        }
        virDomainFree(domains[i]);
    });

    const std::string pool_name = vmlab::pool_name(lab);
    if (virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_name.c_str())) {
        if (virStoragePoolIsActive(pool) == 0) virStoragePoolCreate(pool, 0);
        virStoragePoolRefresh(pool, 0);
        virStorageVolPtr* vols = nullptr;
        const int n = virStoragePoolListAllVolumes(pool, &vols, 0);
        for (int i = 0; i < n; ++i) {
            (void)virStorageVolGetName(vols[i]);
            if (virStorageVolDelete(vols[i], 0) < 0) ++errors;
            virStorageVolFree(vols[i]);
        }
        std::free(vols);
        virStoragePoolDestroy(pool);
        if (virStoragePoolDelete(pool, 0) < 0) ++errors;
        if (virStoragePoolUndefine(pool) < 0) ++errors;
        virStoragePoolFree(pool);
    }

    virNetworkPtr* nets = nullptr;
    const int n = virConnectListAllNetworks(conn, &nets, 0);
    for (int i = 0; i < n; ++i) {
        if (owned_network(nets[i], lab)) {
            (void)virNetworkGetName(nets[i]);
            if (virNetworkDestroy(nets[i]) < 0 && !last_error_is(VIR_ERR_OPERATION_INVALID)) ++errors;
            if (virNetworkUndefine(nets[i]) < 0) ++errors;
        }
        virNetworkFree(nets[i]);
    }
    std::free(nets);

    // vmlab's closing scan (find_lab_objects): the same calls, counting what is left.
    int left = 0;
    all = nullptr;
    const int after = virConnectListAllDomains(conn, &all, 0);
    for (int i = 0; i < after; ++i) {
        if (owned_domain(all[i], lab)) {
            (void)virDomainGetName(all[i]);
            ++left;
        }
        virDomainFree(all[i]);
    }
    std::free(all);
    nets = nullptr;
    const int nets_after = virConnectListAllNetworks(conn, &nets, 0);
    for (int i = 0; i < nets_after; ++i) {
        if (owned_network(nets[i], lab)) ++left;
        virNetworkFree(nets[i]);
    }
    std::free(nets);
    if (virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_name.c_str())) {
        ++left;
        virStoragePoolFree(pool);
    }
    t.calls = since(start);
    if (errors || left)
        throw std::runtime_error(std::to_string(errors) + " errors, " + std::to_string(left) + " objects left");
    return t;
}

// --- reset of one seat -------------------------------------------------------------------------

// What Engine::reset does for one seat (the VMs found from the plan instead of the database):
// power off, fresh overlays, then the running baseline restored (or a fresh boot).
Timings reset(virConnectPtr conn, const vmlab::Plan& plan, unsigned seat_number, const Options& options) {
    Timings t;
    const auto start = Clock::now();
    const vmlab::PlannedSeat* seat = plan.find_seat(seat_number);
    if (!seat) throw std::runtime_error("no seat " + std::to_string(seat_number));
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, plan.pool.c_str());
    if (!pool) fail("look up pool " + plan.pool);
    std::vector<virDomainPtr> domains;
    for (const auto& vm : seat->vms) {
        virDomainPtr d = virDomainLookupByName(conn, vm.domain.c_str());
        if (!d) fail("look up " + vm.domain);
        std::free(virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, metadata_uri, VIR_DOMAIN_AFFECT_CURRENT));
        domains.push_back(d);
    }
    const unsigned n = static_cast<unsigned>(domains.size());
    std::vector<char> warm(n, 0);
    for (unsigned i = 0; i < n; ++i)
        warm[i] = seat->vms[i].baseline == vmlab::Baseline::running && has_running_baseline(pool, seat->vms[i].domain);

    std::mutex error_mutex;
    std::string errors;
    auto each_vm = [&](auto step) {  // as Engine::reset: one thread per VM, errors collected
        vmlab::detail::parallel_for(n, n, [&](std::size_t i) {
            try {
                step(i);
            } catch (const std::exception& e) {
                std::lock_guard lock(error_mutex);
                errors += (errors.empty() ? "" : "; ") + std::string(e.what());
            }
        });
        if (!errors.empty()) throw std::runtime_error(errors);
    };
    each_vm([&](std::size_t i) { virDomainDestroy(domains[i]); });
    each_vm([&](std::size_t i) {
        const vmlab::PlannedVm& vm = seat->vms[i];
        const auto vols = disk_volumes(pool, domains[i], vm);
        for (std::size_t k = 0; k < vols.size(); ++k) {
            vmlab::DiskFormat format = vmlab::DiskFormat::qcow2;  // of a frozen disk; a base image's own
            for (const auto& img : plan.images)
                if (!warm[i] && img.volume == vm.disks[k].backing_volume) format = img.format;
            recreate_overlay(pool, vols[k], vm.disks[k], format);
            virStorageVolFree(vols[k]);
        }
    });
    const std::int64_t booted_after = std::time(nullptr);
    each_vm([&](std::size_t i) {
        if (warm[i]) {  // restore_running_baseline
            (void)virDomainGetName(domains[i]);
            std::free(virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE));  // vmlab: the NVRAM path
            virStorageVolPtr memory = virStorageVolLookupByName(pool, baseline_memory(seat->vms[i].domain).c_str());
            if (!memory) fail("look up the baseline of " + seat->vms[i].domain);
            char* path = virStorageVolGetPath(memory);
            const int rc = virDomainRestoreFlags(conn, path, nullptr, VIR_DOMAIN_SAVE_RUNNING);
            std::free(path);
            virStorageVolFree(memory);
            if (rc < 0) fail("restore " + seat->vms[i].domain);
        } else {  // start_fresh
            std::free(virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE));  // vmlab: NVRAM?
            if (virDomainCreateWithFlags(domains[i], 0) < 0) fail("start " + seat->vms[i].domain);
        }
    });
    t.calls = since(start);
    if (options.wait_ip) {
        const auto wait_start = Clock::now();
        std::vector<Wanted> wanted;
        for (std::size_t i = 0; i < n; ++i) {
            // vmlab's planned_leases: the domain XML, its name, each network's XML.
            std::free(virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE));
            (void)virDomainGetName(domains[i]);
            std::set<std::string> seen;
            for (const auto& nic : seat->vms[i].nics) {
                if (!nic.ip) continue;
                if (seen.insert(nic.network).second) {
                    if (virNetworkPtr net = virNetworkLookupByName(conn, nic.network.c_str())) {
                        std::free(virNetworkGetXMLDesc(net, 0));
                        virNetworkFree(net);
                    }
                }
                // A restored guest keeps the lease it held when captured.
                wanted.push_back({nic.network, nic.mac, vmlab::to_string(*nic.ip),
                                  warm[i] ? 0 : vmlab::detail::min_expiry_of_lease_granted_after(booted_after)});
            }
        }
        const std::size_t missing = wait_for_leases(conn, std::move(wanted), *options.wait_ip, options.poll_ms);
        t.wait = since(wait_start);
        if (missing) throw std::runtime_error(std::to_string(missing) + " leases missing");
    }
    for (std::size_t i = 0; i < n; ++i)
        if (virDomainIsActive(domains[i]) != 1) throw std::runtime_error(seat->vms[i].domain + " is not running");
    for (auto d : domains) virDomainFree(d);
    virStoragePoolFree(pool);
    return t;
}

int usage() {
    std::cerr << "usage: vmlab_floor [-c URI] [--jobs N] [--wait-ip SECS] [--poll-ms MS] up LAB.toml\n"
                 "       vmlab_floor [-c URI] [--jobs N] down LAB.toml\n"
                 "       vmlab_floor [-c URI] [--wait-ip SECS] [--poll-ms MS] reset LAB.toml SEAT\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        try {
            if (arg == "-c" || arg == "--connect") options.uri = value();
            else if (arg == "--jobs" || arg == "-j") options.jobs = static_cast<unsigned>(std::stoul(value()));
            else if (arg == "--wait-ip") options.wait_ip = std::stoi(value());
            else if (arg == "--poll-ms") options.poll_ms = std::stoi(value());
            else if (arg.starts_with("-")) return usage();
            else positional.push_back(arg);
        } catch (const std::exception&) {
            return usage();
        }
    }
    if (positional.size() < 2) return usage();
    options.command = positional[0];
    options.file = positional[1];
    if (options.command == "reset") {
        if (positional.size() != 3) return usage();
        options.seat = static_cast<unsigned>(std::stoul(positional[2]));
    } else if ((options.command != "up" && options.command != "down") || positional.size() != 2) {
        return usage();
    }

    try {
        const auto start = Clock::now();
        vmlab::LoadResult loaded = vmlab::load_lab(options.file, vmlab::load_options_from_environment());
        if (!loaded.lab) throw std::runtime_error(options.file + " is not a valid lab (vmlab validate says why)");
        const vmlab::LabSpec& lab = *loaded.lab;
        const vmlab::Plan plan = vmlab::make_plan(lab);
        const double load = since(start);

        virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
        const std::string uri = options.uri.empty() ? lab.host_uri : options.uri;
        virConnectPtr conn = virConnectOpen(uri.c_str());
        if (!conn) fail("connect to " + uri);
        Timings t = options.command == "up"     ? up(conn, lab, plan, options)
                    : options.command == "down" ? down(conn, lab.name, options.jobs)
                                                : reset(conn, plan, options.seat, options);
        virConnectClose(conn);
        t.load = load;
        t.total = since(start);
        std::printf("{\"command\":\"%s\",\"lab\":\"%s\",\"seats\":%zu,\"vms\":%u,\"jobs\":%u,\"load_plan_s\":%.4f,"
                    "\"libvirt_s\":%.4f,\"wait_s\":%.4f,\"capture_s\":%.4f,\"start_to_lease_s\":%.4f,\"total_s\":%.4f}\n",
                    options.command.c_str(), lab.name.c_str(), plan.seats.size(), plan.totals.vms, options.jobs, t.load,
                    t.calls, t.wait, t.capture, t.start_to_lease, t.total);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "vmlab_floor: " << e.what() << '\n';
        return 1;
    }
}
