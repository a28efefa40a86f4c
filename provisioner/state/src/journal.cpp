// The journal table: each step a command takes on libvirt, written before it starts and
// removed when it ends.

#include <unistd.h>

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"

namespace vmlab {

std::int64_t StateStore::begin_step(const JournalEntry& entry) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO journal (lab, seat, command, step, pid, started_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql")
        .bind(entry.lab, entry.seat, entry.command, entry.step,
              entry.pid ? entry.pid : static_cast<std::int64_t>(::getpid()),
              entry.started_at ? entry.started_at : sqlite::now())
        .step();
    return m_db->last_insert_rowid();
}

void StateStore::end_step(std::int64_t id) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, "DELETE FROM journal WHERE id = ?1").bind(id).step();
}

std::vector<JournalEntry> StateStore::journal(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT id, lab, seat, command, step, pid, started_at FROM journal WHERE lab = ?1
        ORDER BY id)sql");
    query.bind(lab);
    std::vector<JournalEntry> result;
    while (query.step())
        result.push_back({query.integer(0), query.text(1), query.number(2), query.text(3),
                          query.text(4), query.integer(5), query.integer(6)});
    return result;
}

}  // namespace vmlab
