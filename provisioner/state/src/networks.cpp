// The networks table: the libvirt networks `up` defined for a lab (seat 0 = lab-wide).

#include "sqlite.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

void StateStore::upsert_network(const NetworkRecord& network) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO networks (lab, seat, name, bridge, subnet) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (lab, name) DO UPDATE SET
            seat = excluded.seat, bridge = excluded.bridge, subnet = excluded.subnet)sql")
        .bind(network.lab, network.seat, network.name, network.bridge, network.subnet)
        .step();
}

std::vector<NetworkRecord> StateStore::networks(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT lab, seat, name, bridge, subnet FROM networks WHERE lab = ?1
        ORDER BY seat, name)sql");
    query.bind(lab);
    std::vector<NetworkRecord> result;
    while (query.step())
        result.push_back(
            {query.text(0), query.number(1), query.text(2), query.text(3), query.text(4)});
    return result;
}

void StateStore::delete_network(const std::string& lab, const std::string& name) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, "DELETE FROM networks WHERE lab = ?1 AND name = ?2").bind(lab, name).step();
}

}  // namespace vmlab
