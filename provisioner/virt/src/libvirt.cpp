#include "vmlab/virt/libvirt.hpp"

#include <pugixml.hpp>

#include <cctype>
#include <mutex>

namespace vmlab::virt {
namespace {

struct LastError {
    int code = VIR_ERR_OK;
    int domain = VIR_FROM_NONE;
    std::string message;
};

// Copies this thread's last libvirt error. Read it before any other libvirt call: almost every
// libvirt function (even virDomainGetName) resets it.
LastError last_error() {
    const virError* e = virGetLastError();
    if (!e) return {VIR_ERR_OK, VIR_FROM_NONE, "unknown libvirt error"};
    return {e->code, e->domain, e->message ? e->message : "unknown libvirt error"};
}

bool last_error_is(int code) {
    const virError* e = virGetLastError();
    return e && e->code == code;
}

// The daemon went away under an open connection: stopped, restarted, or crashed.
bool connection_lost(const LastError& e) {
    return e.domain == VIR_FROM_RPC || e.code == VIR_ERR_NO_CONNECT || e.code == VIR_ERR_RPC ||
           (e.domain == VIR_FROM_REMOTE && e.code == VIR_ERR_SYSTEM_ERROR);
}

[[noreturn]] void raise(const LastError& e, const std::string& what, std::string hint = {}) {
    if (connection_lost(e)) {
        hint = "make sure libvirtd runs (scripts/setup starts it), then run the same command again; it finishes "
               "what this one started";
        throw LibvirtError(what + ": " + std::string(lost_connection_text) + " (" + e.message + ")", std::move(hint), e.code,
                           e.domain);
    }
    throw LibvirtError(what + ": " + e.message, std::move(hint), e.code, e.domain);
}

// "what NAME: message" for a failed call on an object (reads the error before the name).
template <class Handle>
[[noreturn]] void throw_for(const Handle& object, const std::string& what) {
    const LastError e = last_error();
    raise(e, what + " " + name(object));
}

// "domain web" from "<domain><name>web</name>...", or just "domain" when the XML has no name.
std::string describe(const char* kind, const std::string& xml) {
    pugi::xml_document doc;
    doc.load_string(xml.c_str());
    const std::string object_name = doc.document_element().child_value("name");
    return object_name.empty() ? kind : kind + (" " + object_name);
}

template <class Handle, class Raw>
std::vector<Handle> adopt_all(Raw** items, int count) {
    std::vector<Handle> handles;
    handles.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) handles.emplace_back(items[i]);
    std::free(items);
    return handles;
}

std::string str(const char* s) { return s ? s : ""; }

}  // namespace

bool LibvirtError::connection_lost() const noexcept { return virt::connection_lost({m_code, m_domain, {}}); }

void throw_last_error(const std::string& what, const std::string& hint) {
    raise(last_error(), what, hint);
}

void silence_libvirt_errors() {
    static std::once_flag once;
    std::call_once(once, [] { virSetErrorFunc(nullptr, [](void*, virErrorPtr) {}); });
}

// --- Connection -------------------------------------------------------------------------------

Connection Connection::open(const std::string& uri) {
    silence_libvirt_errors();
    Connect conn{virConnectOpen(uri.c_str())};
    if (!conn) {
        const LastError e = last_error();
        const bool no_daemon = e.message.find("Failed to connect socket") != std::string::npos;
        throw LibvirtError("cannot connect to " + uri + ": " + e.message,
                           no_daemon ? "is libvirtd running? run scripts/setup"
                                     : "check the URI (-c/--connect, or lab.host in the lab file), e.g. qemu:///system",
                           e.code, e.domain);
    }
    return Connection(std::move(conn), uri);
}

HostInfo Connection::host_info() const {
    virNodeInfo node{};
    if (virNodeGetInfo(get(), &node) < 0) throw_last_error("cannot read host information of " + m_uri);
    const unsigned long long free_bytes = virNodeGetFreeMemory(get());
    if (free_bytes == 0 && virGetLastError()) throw_last_error("cannot read free memory of " + m_uri);
    return {node.cpus, std::uint64_t{node.memory} * 1024, free_bytes};
}

std::string Connection::hypervisor_type() const {
    const char* type = virConnectGetType(get());
    if (!type) throw_last_error("cannot read hypervisor type of " + m_uri);
    std::string lower = type;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
}

Domain Connection::find_domain(const std::string& name) const {
    Domain domain{virDomainLookupByName(get(), name.c_str())};
    if (!domain && !last_error_is(VIR_ERR_NO_DOMAIN)) throw_last_error("cannot look up domain " + name);
    return domain;
}

Network Connection::find_network(const std::string& name) const {
    Network network{virNetworkLookupByName(get(), name.c_str())};
    if (!network && !last_error_is(VIR_ERR_NO_NETWORK)) throw_last_error("cannot look up network " + name);
    return network;
}

StoragePool Connection::find_pool(const std::string& name) const {
    StoragePool pool{virStoragePoolLookupByName(get(), name.c_str())};
    if (!pool && !last_error_is(VIR_ERR_NO_STORAGE_POOL)) throw_last_error("cannot look up pool " + name);
    return pool;
}

StorageVol Connection::find_volume(const StoragePool& pool, const std::string& name) const {
    StorageVol volume{virStorageVolLookupByName(pool.get(), name.c_str())};
    if (!volume && !last_error_is(VIR_ERR_NO_STORAGE_VOL)) {
        throw_for(pool, "cannot look up volume " + name + " in pool");
    }
    return volume;
}

std::vector<Domain> Connection::all_domains() const {
    virDomainPtr* items = nullptr;
    const int count = virConnectListAllDomains(get(), &items, 0);
    if (count < 0) throw_last_error("cannot list domains of " + m_uri);
    return adopt_all<Domain>(items, count);
}

std::vector<Network> Connection::all_networks() const {
    virNetworkPtr* items = nullptr;
    const int count = virConnectListAllNetworks(get(), &items, 0);
    if (count < 0) throw_last_error("cannot list networks of " + m_uri);
    return adopt_all<Network>(items, count);
}

std::vector<StoragePool> Connection::all_pools() const {
    virStoragePoolPtr* items = nullptr;
    const int count = virConnectListAllStoragePools(get(), &items, 0);
    if (count < 0) throw_last_error("cannot list storage pools of " + m_uri);
    return adopt_all<StoragePool>(items, count);
}

std::vector<StorageVol> Connection::all_volumes(const StoragePool& pool) const {
    virStorageVolPtr* items = nullptr;
    const int count = virStoragePoolListAllVolumes(pool.get(), &items, 0);
    if (count < 0) throw_for(pool, "cannot list volumes of pool");
    return adopt_all<StorageVol>(items, count);
}

Domain Connection::define_domain(const std::string& xml) {
    Domain domain{virDomainDefineXML(get(), xml.c_str())};
    if (!domain) throw_last_error("cannot define " + describe("domain", xml));
    return domain;
}

Network Connection::define_network(const std::string& xml) {
    Network network{virNetworkDefineXML(get(), xml.c_str())};
    if (!network) throw_last_error("cannot define " + describe("network", xml));
    return network;
}

StoragePool Connection::define_pool(const std::string& xml) {
    StoragePool pool{virStoragePoolDefineXML(get(), xml.c_str(), 0)};
    if (!pool) throw_last_error("cannot define " + describe("pool", xml));
    return pool;
}

StorageVol Connection::create_volume(const StoragePool& pool, const std::string& xml) {
    const std::string what = "cannot create " + describe("volume", xml) + " in pool " + name(pool);
    StorageVol volume{virStorageVolCreateXML(pool.get(), xml.c_str(), 0)};
    if (!volume) throw_last_error(what);
    return volume;
}

// --- Domains ----------------------------------------------------------------------------------

std::string to_string(DomainState state) {
    switch (state) {
    case DomainState::running: return "running";
    case DomainState::paused: return "paused";
    case DomainState::shut_off: return "shut off";
    case DomainState::crashed: return "crashed";
    case DomainState::other: break;
    }
    return "other";
}

std::string name(const Domain& domain) { return str(virDomainGetName(domain.get())); }

std::string xml_desc(const Domain& domain, unsigned flags) {
    XmlString xml{virDomainGetXMLDesc(domain.get(), flags)};
    if (!xml) throw_for(domain, "cannot read XML of domain");
    return xml.get();
}

bool is_active(const Domain& domain) {
    const int active = virDomainIsActive(domain.get());
    if (active < 0) throw_for(domain, "cannot read state of domain");
    return active == 1;
}

DomainState state(const Domain& domain) {
    int raw = VIR_DOMAIN_NOSTATE;
    if (virDomainGetState(domain.get(), &raw, nullptr, 0) < 0) throw_for(domain, "cannot read state of domain");
    switch (raw) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED: return DomainState::running;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED: return DomainState::paused;
    case VIR_DOMAIN_SHUTOFF: return DomainState::shut_off;
    case VIR_DOMAIN_CRASHED: return DomainState::crashed;
    default: return DomainState::other;
    }
}

void start(const Domain& domain) {
    if (virDomainCreate(domain.get()) < 0) throw_for(domain, "cannot start domain");
}

void shutdown(const Domain& domain) {
    if (virDomainShutdown(domain.get()) < 0) throw_for(domain, "cannot shut down domain");
}

void destroy(const Domain& domain) {
    if (virDomainDestroy(domain.get()) < 0 && !last_error_is(VIR_ERR_OPERATION_INVALID)) {
        throw_for(domain, "cannot destroy domain");
    }
}

void undefine(const Domain& domain) {
    constexpr unsigned basic = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    constexpr unsigned all = basic | VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
    if (virDomainUndefineFlags(domain.get(), all) == 0) return;
    // Drivers without NVRAM or checkpoints (the test driver) refuse those flags.
    const bool refused = last_error_is(VIR_ERR_NO_SUPPORT) || last_error_is(VIR_ERR_INVALID_ARG);
    if (!refused || virDomainUndefineFlags(domain.get(), basic) < 0) throw_for(domain, "cannot undefine domain");
}

std::optional<std::string> domain_metadata(const Domain& domain) {
    XmlString xml{virDomainGetMetadata(domain.get(), VIR_DOMAIN_METADATA_ELEMENT, vmlab_metadata_uri,
                                       VIR_DOMAIN_AFFECT_CURRENT)};
    if (xml) return std::string(xml.get());
    // A domain that vanished meanwhile (another command removed it) carries nothing of ours.
    if (last_error_is(VIR_ERR_NO_DOMAIN_METADATA) || last_error_is(VIR_ERR_NO_DOMAIN)) return std::nullopt;
    throw_for(domain, "cannot read vmlab metadata of domain");
}

// --- Networks ---------------------------------------------------------------------------------

std::string name(const Network& network) { return str(virNetworkGetName(network.get())); }

std::optional<std::string> xml_desc_if_exists(const Network& network) {
    XmlString xml{virNetworkGetXMLDesc(network.get(), 0)};
    if (xml) return std::string(xml.get());
    if (last_error_is(VIR_ERR_NO_NETWORK)) return std::nullopt;
    throw_for(network, "cannot read XML of network");
}

std::string xml_desc(const Network& network, unsigned flags) {
    XmlString xml{virNetworkGetXMLDesc(network.get(), flags)};
    if (!xml) throw_for(network, "cannot read XML of network");
    return xml.get();
}

bool is_active(const Network& network) {
    const int active = virNetworkIsActive(network.get());
    if (active < 0) throw_for(network, "cannot read state of network");
    return active == 1;
}

void start(const Network& network) {
    if (virNetworkCreate(network.get()) < 0) throw_for(network, "cannot start network");
}

void destroy(const Network& network) {
    if (virNetworkDestroy(network.get()) < 0 && !last_error_is(VIR_ERR_OPERATION_INVALID)) {
        throw_for(network, "cannot stop network");
    }
}

void undefine(const Network& network) {
    if (virNetworkUndefine(network.get()) < 0) throw_for(network, "cannot undefine network");
}

void set_autostart(const Network& network, Autostart autostart) {
    if (virNetworkSetAutostart(network.get(), autostart == Autostart::yes ? 1 : 0) < 0) {
        throw_for(network, "cannot set autostart of network");
    }
}

std::vector<Lease> dhcp_leases(const Network& network) {
    struct LeaseFree {
        void operator()(virNetworkDHCPLeasePtr p) const noexcept { virNetworkDHCPLeaseFree(p); }
    };
    virNetworkDHCPLeasePtr* items = nullptr;
    const int count = virNetworkGetDHCPLeases(network.get(), nullptr, &items, 0);
    if (count < 0) throw_for(network, "cannot read DHCP leases of network");
    const auto raw = adopt_all<std::unique_ptr<virNetworkDHCPLease, LeaseFree>>(items, count);
    std::vector<Lease> leases;
    for (const auto& l : raw) leases.push_back({str(l->mac), str(l->ipaddr), str(l->hostname), l->expirytime});
    return leases;
}

// --- Storage ----------------------------------------------------------------------------------

std::string name(const StoragePool& pool) { return str(virStoragePoolGetName(pool.get())); }

bool is_active(const StoragePool& pool) {
    const int active = virStoragePoolIsActive(pool.get());
    if (active < 0) throw_for(pool, "cannot read state of pool");
    return active == 1;
}

PoolInfo info(const StoragePool& pool) {
    virStoragePoolInfo raw{};
    if (virStoragePoolGetInfo(pool.get(), &raw) < 0) throw_for(pool, "cannot read size of pool");
    return {raw.capacity, raw.allocation, raw.available};
}

void build(const StoragePool& pool) {
    if (virStoragePoolBuild(pool.get(), 0) < 0) throw_for(pool, "cannot build pool");
}

void start(const StoragePool& pool) {
    if (virStoragePoolCreate(pool.get(), 0) < 0) throw_for(pool, "cannot start pool");
}

void refresh(const StoragePool& pool) {
    if (virStoragePoolRefresh(pool.get(), 0) < 0) throw_for(pool, "cannot refresh pool");
}

void destroy(const StoragePool& pool) {
    if (virStoragePoolDestroy(pool.get()) < 0 && !last_error_is(VIR_ERR_OPERATION_INVALID)) {
        throw_for(pool, "cannot stop pool");
    }
}

void undefine(const StoragePool& pool) {
    if (virStoragePoolUndefine(pool.get()) < 0) throw_for(pool, "cannot undefine pool");
}

void delete_pool(const StoragePool& pool) {
    if (virStoragePoolDelete(pool.get(), 0) < 0) throw_for(pool, "cannot delete the directory of pool");
}

void set_autostart(const StoragePool& pool, Autostart autostart) {
    if (virStoragePoolSetAutostart(pool.get(), autostart == Autostart::yes ? 1 : 0) < 0) {
        throw_for(pool, "cannot set autostart of pool");
    }
}

std::string name(const StorageVol& volume) { return str(virStorageVolGetName(volume.get())); }

std::string xml_desc(const StorageVol& volume) {
    XmlString xml{virStorageVolGetXMLDesc(volume.get(), 0)};
    if (!xml) throw_for(volume, "cannot read XML of volume");
    return xml.get();
}

std::string volume_path(const StorageVol& volume) {
    XmlString path{virStorageVolGetPath(volume.get())};
    if (!path) throw_for(volume, "cannot read path of volume");
    return path.get();
}

std::uint64_t capacity(const StorageVol& volume) {
    virStorageVolInfo raw{};
    if (virStorageVolGetInfo(volume.get(), &raw) < 0) throw_for(volume, "cannot read size of volume");
    return raw.capacity;
}

void delete_volume(const StorageVol& volume) {
    if (virStorageVolDelete(volume.get(), 0) < 0) throw_for(volume, "cannot delete volume");
}

}  // namespace vmlab::virt
