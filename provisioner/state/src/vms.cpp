// The vms table: each domain `up` defined, with its planned addresses and how it was left.

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"
#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

// Planned addresses are stored as one column of comma-separated dotted quads.
std::string encode_ips(const std::vector<Ipv4>& ips) { return join(ips, ","); }

std::vector<Ipv4> decode_ips(std::string_view text, const std::string& domain) {
    std::vector<Ipv4> ips;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = text.substr(0, comma);
        const auto ip = parse_ipv4(item);
        if (!ip)
            throw Error("the state database holds '" + std::string(item) + "' as a planned address of " +
                            domain + ", which is not an IPv4 address",
                        "the file is damaged: restore it from a backup, or run `vmlab up` on the lab "
                        "again to record its VMs anew");
        ips.push_back(*ip);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
    return ips;
}

}  // namespace

void StateStore::upsert_vm(const VmRecord& vm) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO vms (lab, seat, vm, domain, uuid, config_hash, baseline, state, ips, console,
                         updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (lab, domain) DO UPDATE SET
            seat = excluded.seat, vm = excluded.vm, uuid = excluded.uuid,
            config_hash = excluded.config_hash, baseline = excluded.baseline,
            state = excluded.state, ips = excluded.ips, console = excluded.console,
            updated_at = excluded.updated_at)sql")
        .bind(vm.lab, vm.seat, vm.vm, vm.domain, vm.uuid, vm.config_hash, vm.baseline,
              to_string(vm.state), encode_ips(vm.ips), vm.console,
              vm.updated_at ? vm.updated_at : sqlite::now())
        .step();
}

std::vector<VmRecord> StateStore::vms(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT lab, seat, vm, domain, uuid, config_hash, baseline, state, ips, console, updated_at
        FROM vms WHERE lab = ?1 ORDER BY seat, vm)sql");
    query.bind(lab);
    std::vector<VmRecord> result;
    while (query.step()) {
        const std::string domain = query.text(3);
        result.push_back({query.text(0), query.number(1), query.text(2), domain, query.text(4),
                          query.text(5), query.text(6), sqlite::parse_vm_state(query.text(7)),
                          decode_ips(query.text(8), domain), query.text(9), query.integer(10)});
    }
    return result;
}

void StateStore::delete_vm(const std::string& lab, const std::string& domain) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, "DELETE FROM vms WHERE lab = ?1 AND domain = ?2").bind(lab, domain).step();
    sqlite::Statement(*m_db, "DELETE FROM guests WHERE lab = ?1 AND domain = ?2").bind(lab, domain).step();
}

void StateStore::upsert_guest(const GuestRecord& guest) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO guests (lab, seat, domain, hostname, login_user, fixed_password, ready_console)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        ON CONFLICT (lab, domain) DO UPDATE SET
            seat = excluded.seat, hostname = excluded.hostname, login_user = excluded.login_user,
            fixed_password = excluded.fixed_password, ready_console = excluded.ready_console)sql")
        .bind(guest.lab, guest.seat, guest.domain, guest.hostname, guest.login_user, guest.fixed_password,
              guest.ready_console)
        .step();
}

std::vector<GuestRecord> StateStore::guests(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT lab, seat, domain, hostname, login_user, fixed_password, ready_console
        FROM guests WHERE lab = ?1 ORDER BY seat, domain)sql");
    query.bind(lab);
    std::vector<GuestRecord> result;
    while (query.step())
        result.push_back(
            {query.text(0), query.number(1), query.text(2), query.text(3), query.text(4), query.text(5), query.text(6)});
    return result;
}

}  // namespace vmlab
