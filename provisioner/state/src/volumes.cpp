// The volumes table: base images and disks `up` created in a lab's pool.

#include "sqlite.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

void StateStore::upsert_volume(const VolumeRecord& volume) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO volumes (lab, seat, pool, name, path, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        ON CONFLICT (lab, pool, name) DO UPDATE SET
            seat = excluded.seat, path = excluded.path, role = excluded.role)sql")
        .bind(volume.lab, volume.seat, volume.pool, volume.name, volume.path, volume.role)
        .step();
}

std::vector<VolumeRecord> StateStore::volumes(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT lab, seat, pool, name, path, role FROM volumes WHERE lab = ?1
        ORDER BY seat, pool, name)sql");
    query.bind(lab);
    std::vector<VolumeRecord> result;
    while (query.step())
        result.push_back({query.text(0), query.number(1), query.text(2), query.text(3),
                          query.text(4), query.text(5)});
    return result;
}

void StateStore::delete_volume(const std::string& lab, const std::string& pool,
                               const std::string& name) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, "DELETE FROM volumes WHERE lab = ?1 AND pool = ?2 AND name = ?3")
        .bind(lab, pool, name)
        .step();
}

}  // namespace vmlab
