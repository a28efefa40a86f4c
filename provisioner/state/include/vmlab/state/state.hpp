#pragma once
// The state database: what vmlab created for each lab on its host, and the audit log of every
// action. One SQLite file in WAL mode; every public member is safe to call from several threads.
// Times are Unix seconds.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;

namespace vmlab::detail {
struct StatementCache;
}

namespace vmlab {

struct LabRecord {
    std::string name, title, host_uri, pool, pool_path, spec_text, spec_hash, source_file;
    std::int64_t created_at = 0, updated_at = 0;  // 0 = now
    unsigned seats = 0;
    friend bool operator==(const LabRecord&, const LabRecord&) = default;
};

struct SeatRecord {
    std::string lab;
    unsigned seat = 0;
    std::string state;  // "pending", "ready", "failed", "removing"
    std::string error;
    std::string attendee_name, attendee_email;
    std::int64_t last_reset_at = 0;
    // When the seat's access token was issued; 0 = no token. The token itself is never stored,
    // and its hash never leaves the store (see set_token_hash).
    std::int64_t token_created_at = 0;
    friend bool operator==(const SeatRecord&, const SeatRecord&) = default;
};

struct VmRecord {
    std::string lab;
    unsigned seat = 0;
    std::string vm, domain, uuid, config_hash, baseline /* e.g. "fresh-overlay" */, state;
    std::string ips;  // comma-separated planned IPs
    std::string console;
    std::int64_t updated_at = 0;  // 0 = now
    friend bool operator==(const VmRecord&, const VmRecord&) = default;
};

struct NetworkRecord {
    std::string lab;
    unsigned seat = 0;  // 0 = lab-wide
    std::string name, bridge, subnet;
    friend bool operator==(const NetworkRecord&, const NetworkRecord&) = default;
};

struct VolumeRecord {
    std::string lab;
    unsigned seat = 0;
    std::string pool, name, path;
    std::string role;  // "base", "disk"
    friend bool operator==(const VolumeRecord&, const VolumeRecord&) = default;
};

struct EventRecord {
    std::int64_t id = 0, time = 0;  // time 0 = now
    std::string lab;
    unsigned seat = 0;
    std::string vm, action, result, detail;
    std::string user;  // empty = the effective OS user
    std::int64_t duration_ms = 0;
    friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// A web portal organizer: a name and a token, of which only the hash is stored.
struct OrganizerRecord {
    std::int64_t id = 0;
    std::string name;
    std::int64_t created_at = 0, revoked_at = 0;  // revoked_at 0 = valid
    friend bool operator==(const OrganizerRecord&, const OrganizerRecord&) = default;
};

// One step a command takes on libvirt, recorded before it starts and removed when it ends:
// what is left belongs to a command that was killed (its pid is gone) or still runs.
struct JournalEntry {
    std::int64_t id = 0;
    std::string lab;
    unsigned seat = 0;    // 0 = lab-wide
    std::string command;  // "up", "reset", "down"
    std::string step;     // e.g. "create volume demo-s01-a-root.qcow2"
    std::int64_t pid = 0, started_at = 0;  // 0 = this process, now
    friend bool operator==(const JournalEntry&, const JournalEntry&) = default;
};

class StateStore {
public:
    // PRAGMA user_version of a database this code has fully migrated.
    static constexpr int schema_version = 4;

    // Creates the file (0600) and its missing directories (0700), and migrates the schema.
    // Throws vmlab::Error if it cannot be opened, is locked, damaged, or newer than this code.
    static StateStore open(const std::filesystem::path& path);
    // /var/lib/vmlab/state.db for root, else $XDG_DATA_HOME/vmlab/state.db or
    // ~/.local/share/vmlab/state.db.
    static std::filesystem::path default_path();

    StateStore(StateStore&&) noexcept = default;
    StateStore& operator=(StateStore&&) noexcept = default;
    ~StateStore() = default;

    const std::filesystem::path& path() const noexcept { return m_path; }

    // Runs f in one transaction (a savepoint when nested), rolled back if f throws. Other
    // threads wait until it ends, so f must not wait for them.
    template <class F>
    void transaction(F&& f);

    void upsert_lab(const LabRecord& lab);  // an update keeps created_at
    std::optional<LabRecord> find_lab(const std::string& name);
    std::vector<LabRecord> labs();
    // Removes the lab with its seats, VMs, networks and volumes; its events stay.
    void delete_lab(const std::string& name);

    // Inserts the seat, or updates only its state and error: the attendee, the token and the
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
    struct Close {
        void operator()(sqlite3* db) const noexcept;
    };
    using Connection = std::unique_ptr<sqlite3, Close>;
    struct DeleteStatements {
        void operator()(detail::StatementCache* cache) const noexcept;
    };

    StateStore(std::filesystem::path path, Connection db);
    void migrate();
    void begin();
    void commit();
    void rollback() noexcept;

    std::filesystem::path m_path;
    Connection m_db;
    std::unique_ptr<detail::StatementCache, DeleteStatements> m_statements;  // destroyed before m_db
    std::unique_ptr<std::recursive_mutex> m_mutex = std::make_unique<std::recursive_mutex>();
    int m_depth = 0;  // open transactions and savepoints
};

template <class F>
void StateStore::transaction(F&& f) {
    std::lock_guard lock(*m_mutex);
    begin();
    try {
        std::forward<F>(f)();
        commit();
    } catch (...) {
        rollback();
        throw;
    }
}

}  // namespace vmlab
