#pragma once
// The state database: what vmlab created for each lab on its host, and the audit log of every
// action. One SQLite file in WAL mode; every public member is safe to call from several threads.
// Times are Unix seconds. The records are in records.hpp; src/ has one file per table.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmlab/state/records.hpp"

namespace vmlab {

namespace sqlite {
class Database;
}

class StateStore {
public:
    // PRAGMA user_version of a database this code has fully migrated.
    static constexpr int schema_version = 6;

    // Creates the file (0600) and its missing directories (0700), and migrates the schema.
    // Throws vmlab::Error if it cannot be opened, is locked, damaged, or newer than this code.
    static StateStore open(const std::filesystem::path& path);
    // /var/lib/vmlab/state.db for root, else $XDG_DATA_HOME/vmlab/state.db or
    // ~/.local/share/vmlab/state.db.
    static std::filesystem::path default_path();

    StateStore(StateStore&&) noexcept;
    StateStore& operator=(StateStore&&) noexcept;
    ~StateStore();

    const std::filesystem::path& path() const noexcept;

    // Runs f in one transaction (a savepoint when nested), rolled back if f throws. Other
    // threads wait until it ends, so f must not wait for them.
    void transaction(const std::function<void()>& f);

    void upsert_lab(const LabRecord& lab);  // an update keeps created_at
    std::optional<LabRecord> find_lab(const std::string& name);
    // The lab, or the one "no lab named X" error (exit code 2) every command and the portal give.
    LabRecord require_lab(const std::string& name);
    std::vector<LabRecord> labs();
    // The lab's secret for derived passwords (util/password.hpp), made on first use and kept
    // with the lab (the database is 0600) until delete_lab. Throws if the lab is not recorded.
    std::string lab_secret(const std::string& lab);
    // Removes the lab with its seats, VMs, networks and volumes; its events stay.
    void delete_lab(const std::string& name);

    // Inserts the seat, or updates only its state, error and failure: the attendee, the token and the
    // last reset are kept (`up` records seat states; the methods below change the rest).
    // seat.token_created_at is ignored.
    void upsert_seat(const SeatRecord& seat);
    std::vector<SeatRecord> seats(const std::string& lab);
    std::optional<SeatRecord> find_seat(const std::string& lab, unsigned seat);

    // The methods below throw vmlab::Error if the seat is not recorded (`up` records it).
    // Emails are unique per lab (ASCII case-insensitively); a duplicate throws.
    // Sets the attendee and keeps the token; callers that change who sits there also replace
    // or clear the token.
    void set_attendee(const std::string& lab, unsigned seat, const std::string& name,
                      const std::string& email);
    // Clears the attendee and the token (the token stops working).
    void clear_attendee(const std::string& lab, unsigned seat);
    // Moves the attendee and the token to seat `to`, which must have no attendee.
    void move_attendee(const std::string& lab, unsigned from, unsigned to);
    // Stores the hex SHA-256 of the seat's new token (replacing the old one) and its time
    // (0 = now). An empty hash clears the token.
    void set_token_hash(const std::string& lab, unsigned seat, const std::string& hash,
                        std::int64_t created_at = 0);
    // The seat whose token has this hash, if any.
    std::optional<unsigned> seat_for_token_hash(const std::string& lab, const std::string& hash);
    void set_last_reset(const std::string& lab, unsigned seat, std::int64_t time);

    void upsert_vm(const VmRecord& vm);
    std::vector<VmRecord> vms(const std::string& lab);  // by seat, then vm
    void delete_vm(const std::string& lab, const std::string& domain);

    void upsert_guest(const GuestRecord& guest);
    std::vector<GuestRecord> guests(const std::string& lab);  // by seat, then domain

    void upsert_network(const NetworkRecord& network);
    std::vector<NetworkRecord> networks(const std::string& lab);
    void delete_network(const std::string& lab, const std::string& name);

    void upsert_volume(const VolumeRecord& volume);
    std::vector<VolumeRecord> volumes(const std::string& lab);
    void delete_volume(const std::string& lab, const std::string& pool, const std::string& name);

    // Organizer tokens (the portal's proctor page): stores the hex SHA-256 of a new token under
    // `name` and returns the organizer's id. The hash never leaves the store.
    std::int64_t add_organizer(const std::string& name, const std::string& hash);
    std::vector<OrganizerRecord> organizers();  // revoked ones too, by id
    // The organizer whose token has this hash, unless revoked.
    std::optional<OrganizerRecord> organizer_for_token_hash(const std::string& hash);
    // False if there is no such organizer or it was already revoked.
    bool revoke_organizer(std::int64_t id);

    // The journal: begin_step returns the entry's id (entry.id is ignored), end_step removes it.
    std::int64_t begin_step(const JournalEntry& entry);
    void end_step(std::int64_t id);
    std::vector<JournalEntry> journal(const std::string& lab);  // oldest first

    // Returns the new event's id; event.id is ignored.
    std::int64_t add_event(const EventRecord& event);
    // The newest `limit` events of the lab (of one seat if given), oldest first.
    std::vector<EventRecord> events(const std::string& lab, std::optional<unsigned> seat = {},
                                    std::size_t limit = 1000);

private:
    explicit StateStore(std::unique_ptr<sqlite::Database> db);

    std::unique_ptr<sqlite::Database> m_db;
};

}  // namespace vmlab
