#pragma once
// A thin layer over the libvirt C API: one owning type per handle, errors that keep libvirt's
// error code, and the calls vmlab needs. The connection URI is always injected
// (qemu:///system from the CLI, test:///default in tests).

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmlab/util/error.hpp"

namespace vmlab::virt {

// The XML namespace of vmlab's <metadata> element in domain and network XML.
inline constexpr const char* vmlab_metadata_uri = "https://vmlab.dev/xmlns/vmlab/1";
inline constexpr const char* vmlab_metadata_prefix = "vmlab";

// --- Owning handles ---------------------------------------------------------------------------

struct ConnectClose {
    void operator()(virConnectPtr p) const noexcept { virConnectClose(p); }
};
struct DomainFree {
    void operator()(virDomainPtr p) const noexcept { virDomainFree(p); }
};
struct NetworkFree {
    void operator()(virNetworkPtr p) const noexcept { virNetworkFree(p); }
};
struct StoragePoolFree {
    void operator()(virStoragePoolPtr p) const noexcept { virStoragePoolFree(p); }
};
struct StorageVolFree {
    void operator()(virStorageVolPtr p) const noexcept { virStorageVolFree(p); }
};
struct StreamFree {
    void operator()(virStreamPtr p) const noexcept { virStreamFree(p); }
};
struct DomainSnapshotFree {
    void operator()(virDomainSnapshotPtr p) const noexcept { virDomainSnapshotFree(p); }
};
struct XmlStringFree {
    void operator()(char* p) const noexcept { std::free(p); }
};

using Connect = std::unique_ptr<virConnect, ConnectClose>;
using Domain = std::unique_ptr<virDomain, DomainFree>;
using Network = std::unique_ptr<virNetwork, NetworkFree>;
using StoragePool = std::unique_ptr<virStoragePool, StoragePoolFree>;
using StorageVol = std::unique_ptr<virStorageVol, StorageVolFree>;
using Stream = std::unique_ptr<virStream, StreamFree>;
using DomainSnapshot = std::unique_ptr<virDomainSnapshot, DomainSnapshotFree>;
using XmlString = std::unique_ptr<char, XmlStringFree>;  // a char* libvirt gives us to free

// --- Errors -----------------------------------------------------------------------------------

// In the message of every error caused by libvirtd going away under an open connection (the
// code says it too: LibvirtError::connection_lost).
inline constexpr std::string_view lost_connection_text = "lost the connection to libvirtd";

class LibvirtError : public vmlab::Error {
public:
    LibvirtError(const std::string& what, std::string hint, int code, int domain)
        : Error(what, std::move(hint)), m_code(code), m_domain(domain) {}

    int code() const noexcept { return m_code; }      // virErrorNumber, e.g. VIR_ERR_NO_DOMAIN
    int domain() const noexcept { return m_domain; }  // virErrorDomain, e.g. VIR_FROM_QEMU
    // True when libvirtd went away under the open connection (stopped, restarted, crashed).
    bool connection_lost() const noexcept;

private:
    int m_code;
    int m_domain;
};

// Throws LibvirtError "what: <libvirt's message>" from this thread's last libvirt error.
// Build `what` before the failing call or from plain strings: nearly every libvirt function,
// even virDomainGetName, clears the last error.
[[noreturn]] void throw_last_error(const std::string& what, const std::string& hint = {});

// Stops libvirt from printing every error to stderr (idempotent; Connection::open calls it).
void silence_libvirt_errors();

// --- Connection -------------------------------------------------------------------------------

enum class Autostart { no, yes };

struct HostInfo {
    unsigned cpus = 0;
    std::uint64_t memory_bytes = 0;
    std::uint64_t free_memory_bytes = 0;
};

class Connection {
public:
    static Connection open(const std::string& uri);

    virConnectPtr get() const { return m_conn.get(); }
    std::string uri() const { return m_uri; }
    HostInfo host_info() const;
    std::string hypervisor_type() const;  // lowercase: "qemu", "test"

    // Empty handle when no such object exists; throws on any other failure.
    Domain find_domain(const std::string& name) const;
    Network find_network(const std::string& name) const;
    StoragePool find_pool(const std::string& name) const;
    StorageVol find_volume(const StoragePool& pool, const std::string& name) const;

    std::vector<Domain> all_domains() const;
    std::vector<Network> all_networks() const;
    std::vector<StoragePool> all_pools() const;
    std::vector<StorageVol> all_volumes(const StoragePool& pool) const;

    // Persistent definitions (not started).
    Domain define_domain(const std::string& xml);
    Network define_network(const std::string& xml);
    StoragePool define_pool(const std::string& xml);
    StorageVol create_volume(const StoragePool& pool, const std::string& xml);

private:
    Connection(Connect conn, std::string uri) : m_conn(std::move(conn)), m_uri(std::move(uri)) {}

    Connect m_conn;
    std::string m_uri;
};

// --- Domains ----------------------------------------------------------------------------------

enum class DomainState { running, paused, shut_off, crashed, other };
std::string to_string(DomainState state);

std::string name(const Domain& domain);
std::string xml_desc(const Domain& domain, unsigned flags = 0);
bool is_active(const Domain& domain);
DomainState state(const Domain& domain);
void start(const Domain& domain);
void shutdown(const Domain& domain);  // ACPI request; returns at once
void destroy(const Domain& domain);   // hard power off; no-op when not running
// Removes the definition with its managed save, snapshot/checkpoint metadata and NVRAM.
void undefine(const Domain& domain);
// vmlab's <metadata> element (namespace vmlab_metadata_uri); empty when the domain has none.
std::optional<std::string> domain_metadata(const Domain& domain);

// --- Networks ---------------------------------------------------------------------------------

struct Lease {
    std::string mac;
    std::string ip;
    std::string hostname;
    std::int64_t expiry_time = 0;  // seconds since the epoch
};

std::string name(const Network& network);
std::string xml_desc(const Network& network, unsigned flags = 0);
// Empty when the network vanished meanwhile (another command removed it).
std::optional<std::string> xml_desc_if_exists(const Network& network);
bool is_active(const Network& network);
void start(const Network& network);
void destroy(const Network& network);  // no-op when not running
void undefine(const Network& network);
void set_autostart(const Network& network, Autostart autostart);
std::vector<Lease> dhcp_leases(const Network& network);

// --- Storage ----------------------------------------------------------------------------------

struct PoolInfo {
    std::uint64_t capacity_bytes = 0;
    std::uint64_t allocation_bytes = 0;
    std::uint64_t available_bytes = 0;
};

std::string name(const StoragePool& pool);
bool is_active(const StoragePool& pool);
PoolInfo info(const StoragePool& pool);
void build(const StoragePool& pool);  // creates the pool's directory
void start(const StoragePool& pool);
void refresh(const StoragePool& pool);
void destroy(const StoragePool& pool);      // stops the pool; no-op when not running
void undefine(const StoragePool& pool);
void delete_pool(const StoragePool& pool);  // removes the (empty) directory
void set_autostart(const StoragePool& pool, Autostart autostart);

std::string name(const StorageVol& volume);
std::string volume_path(const StorageVol& volume);
std::string xml_desc(const StorageVol& volume);
std::uint64_t capacity(const StorageVol& volume);  // virtual size in bytes
void delete_volume(const StorageVol& volume);

}  // namespace vmlab::virt
