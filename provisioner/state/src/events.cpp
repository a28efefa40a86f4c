// The events table: the audit log of every action, kept when a lab is removed.

#include <algorithm>
#include <limits>

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"
#include "vmlab/util/os_user.hpp"

namespace vmlab {

std::int64_t StateStore::add_event(const EventRecord& event) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO events (time, lab, seat, vm, action, result, detail, user, duration_ms)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql")
        .bind(event.time ? event.time : sqlite::now(), event.lab, event.seat, event.vm,
              event.action, event.result, event.detail,
              event.user.empty() ? os_user_name() : event.user, event.duration_ms)
        .step();
    return m_db->last_insert_rowid();
}

std::vector<EventRecord> StateStore::events(const std::string& lab, std::optional<unsigned> seat,
                                            std::size_t limit) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, R"sql(
        SELECT id, time, lab, seat, vm, action, result, detail, user, duration_ms FROM events
        WHERE lab = ?1 AND (?2 IS NULL OR seat = ?2)
        ORDER BY time DESC, id DESC LIMIT ?3)sql");
    query.bind(lab, seat,
               static_cast<std::int64_t>(
                   std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
    std::vector<EventRecord> result;
    while (query.step())
        result.push_back({query.integer(0), query.integer(1), query.text(2), query.number(3),
                          query.text(4), query.text(5), query.text(6), query.text(7), query.text(8),
                          query.integer(9)});
    std::reverse(result.begin(), result.end());
    return result;
}

}  // namespace vmlab
