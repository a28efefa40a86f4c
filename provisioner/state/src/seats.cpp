// The seats table: each seat's state as `up` left it, its attendee and its access token (only
// the token's hash is stored).

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"
#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

constexpr const char* seat_columns =
    "lab, seat, state, error, attendee_name, attendee_email, last_reset_at, token_created_at, "
    "failure";

SeatRecord read_seat(const sqlite::Statement& row) {
    return {row.text(0),
            row.number(1),
            sqlite::parse_seat_state(row.text(2)),
            row.text(3),
            row.text(4),
            row.text(5),
            row.integer(6),
            row.integer(7),
            sqlite::parse_failure_kind(row.text(8))};
}

std::string seat_name(const std::string& lab, unsigned seat) {
    return "seat " + std::to_string(seat) + " of lab " + lab;
}

[[noreturn]] void throw_not_recorded(const std::string& lab, unsigned seat) {
    throw Error(seat_name(lab, seat) + " is not in the state database",
                "`vmlab up` records a lab's seats; `vmlab seats " + lab + "` lists them",
                ExitCode::invalid);
}

// Throws unless the last statement changed a row.
void require_changed(const sqlite::Database& db, const std::string& lab, unsigned seat) {
    if (db.changes() == 0) throw_not_recorded(lab, seat);
}

}  // namespace

void StateStore::upsert_seat(const SeatRecord& seat) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO seats (lab, seat, state, error, attendee_name, attendee_email, last_reset_at,
                           failure)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
        ON CONFLICT (lab, seat) DO UPDATE SET
            state = excluded.state, error = excluded.error, failure = excluded.failure)sql")
        .bind(seat.lab, seat.seat, to_string(seat.state), seat.error, seat.attendee_name,
              seat.attendee_email, seat.last_reset_at, to_string(seat.failure))
        .step();
}

std::vector<SeatRecord> StateStore::seats(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Statement query(
        *m_db, std::string("SELECT ") + seat_columns + " FROM seats WHERE lab = ?1 ORDER BY seat");
    query.bind(lab);
    std::vector<SeatRecord> result;
    while (query.step()) result.push_back(read_seat(query));
    return result;
}

std::optional<SeatRecord> StateStore::find_seat(const std::string& lab, unsigned seat) {
    const auto lock = m_db->lock();
    sqlite::Statement query(
        *m_db, std::string("SELECT ") + seat_columns + " FROM seats WHERE lab = ?1 AND seat = ?2");
    if (!query.bind(lab, seat).step()) return std::nullopt;
    return read_seat(query);
}

void StateStore::set_attendee(const std::string& lab, unsigned seat, const std::string& name,
                              const std::string& email) {
    const auto lock = m_db->lock();
    if (!email.empty()) {
        sqlite::Statement other(*m_db, R"sql(
            SELECT seat FROM seats
            WHERE lab = ?1 AND seat <> ?2 AND attendee_email <> '' AND lower(attendee_email) = lower(?3))sql");
        if (other.bind(lab, seat, email).step())
            throw Error("email " + email + " is already on " + seat_name(lab, other.number(0)),
                        "`vmlab seats move` moves an attendee, `vmlab seats unassign` frees a seat",
                        ExitCode::invalid);
    }
    sqlite::Statement(*m_db, R"sql(
        UPDATE seats SET attendee_name = ?3, attendee_email = ?4 WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat, name, email)
        .step();
    require_changed(*m_db, lab, seat);
}

void StateStore::clear_attendee(const std::string& lab, unsigned seat) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        UPDATE seats SET attendee_name = '', attendee_email = '', token_hash = '',
                         token_created_at = 0
        WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat)
        .step();
    require_changed(*m_db, lab, seat);
}

void StateStore::move_attendee(const std::string& lab, unsigned from, unsigned to) {
    transaction([&] {
        const auto source = find_seat(lab, from);
        const auto target = find_seat(lab, to);
        if (!source || !target) {
            throw_not_recorded(lab, source ? to : from);
        }
        if (from == to)
            throw Error("cannot move " + seat_name(lab, from) + " onto itself", "",
                        ExitCode::invalid);
        if (source->attendee_email.empty() && source->attendee_name.empty())
            throw Error(seat_name(lab, from) + " has no attendee to move", "", ExitCode::invalid);
        if (!target->attendee_email.empty() || !target->attendee_name.empty())
            throw Error(seat_name(lab, to) + " is assigned to " + target->attendee_name,
                        "`vmlab seats unassign " + lab + " --seat " + std::to_string(to) +
                            "` frees it first",
                        ExitCode::invalid);
        // Clear the source first: the unique indexes refuse the same email or token twice.
        sqlite::Statement read(*m_db, R"sql(
            SELECT token_hash, token_created_at FROM seats WHERE lab = ?1 AND seat = ?2)sql");
        read.bind(lab, from).step();
        const std::string hash = read.text(0);
        const std::int64_t created_at = read.integer(1);
        clear_attendee(lab, from);
        sqlite::Statement(*m_db, R"sql(
            UPDATE seats SET attendee_name = ?3, attendee_email = ?4, token_hash = ?5,
                             token_created_at = ?6
            WHERE lab = ?1 AND seat = ?2)sql")
            .bind(lab, to, source->attendee_name, source->attendee_email, hash, created_at)
            .step();
    });
}

void StateStore::set_token_hash(const std::string& lab, unsigned seat, const std::string& hash,
                                std::int64_t created_at) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, R"sql(
        UPDATE seats SET token_hash = ?3, token_created_at = ?4 WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat, hash, hash.empty() ? std::int64_t{0} : created_at ? created_at : sqlite::now())
        .step();
    require_changed(*m_db, lab, seat);
}

std::optional<unsigned> StateStore::seat_for_token_hash(const std::string& lab,
                                                        const std::string& hash) {
    const auto lock = m_db->lock();
    if (hash.empty())
        return std::nullopt;
    sqlite::Statement query(*m_db, "SELECT seat FROM seats WHERE lab = ?1 AND token_hash = ?2");
    if (!query.bind(lab, hash).step())
        return std::nullopt;
    return query.number(0);
}

void StateStore::set_last_reset(const std::string& lab, unsigned seat, std::int64_t time) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db,
              "UPDATE seats SET last_reset_at = ?3 WHERE lab = ?1 AND seat = ?2")
        .bind(lab, seat, time ? time : sqlite::now())
        .step();
    require_changed(*m_db, lab, seat);
}

}  // namespace vmlab
