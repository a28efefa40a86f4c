// The organizer_tokens table: the portal's organizers; only their tokens' hashes are stored,
// and revoked rows stay so the audit log's names keep meaning something.

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

namespace {

constexpr const char* organizer_columns = "id, name, created_at, revoked_at";

OrganizerRecord read_organizer(const sqlite::Statement& row) {
    return {row.integer(0), row.text(1), row.integer(2), row.integer(3)};
}

}  // namespace

std::int64_t StateStore::add_organizer(const std::string& name, const std::string& hash) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db,
                      "INSERT INTO organizer_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)")
        .bind(name, hash, sqlite::now())
        .step();
    return m_db->last_insert_rowid();
}

std::vector<OrganizerRecord> StateStore::organizers() {
    const auto lock = m_db->lock();
    sqlite::Statement query(
        *m_db, std::string("SELECT ") + organizer_columns + " FROM organizer_tokens ORDER BY id");
    std::vector<OrganizerRecord> result;
    while (query.step()) result.push_back(read_organizer(query));
    return result;
}

std::optional<OrganizerRecord> StateStore::organizer_for_token_hash(const std::string& hash) {
    const auto lock = m_db->lock();
    if (hash.empty()) return std::nullopt;
    sqlite::Statement query(*m_db, std::string("SELECT ") + organizer_columns +
                                       " FROM organizer_tokens WHERE token_hash = ?1 AND revoked_at = 0");
    if (!query.bind(hash).step()) return std::nullopt;
    return read_organizer(query);
}

bool StateStore::revoke_organizer(std::int64_t id) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db,
                      "UPDATE organizer_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0")
        .bind(id, sqlite::now())
        .step();
    return m_db->changes() > 0;
}

}  // namespace vmlab
