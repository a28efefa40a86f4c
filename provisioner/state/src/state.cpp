#include "vmlab/state/state.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <system_error>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace fs = std::filesystem;

namespace {

// Migration i takes the schema from version i to i + 1. Never edit a released step; append one.
constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE labs (
    name        TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    host_uri    TEXT NOT NULL,
    pool        TEXT NOT NULL,
    pool_path   TEXT NOT NULL,
    spec_text   TEXT NOT NULL,
    spec_hash   TEXT NOT NULL,
    source_file TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    seats       INTEGER NOT NULL
);
CREATE TABLE seats (
    lab            TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat           INTEGER NOT NULL,
    state          TEXT NOT NULL,
    error          TEXT NOT NULL,
    attendee_name  TEXT NOT NULL,
    attendee_email TEXT NOT NULL,
    last_reset_at  INTEGER NOT NULL,
    PRIMARY KEY (lab, seat)
);
CREATE TABLE vms (
    lab         TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat        INTEGER NOT NULL,
    vm          TEXT NOT NULL,
    domain      TEXT NOT NULL,
    uuid        TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    baseline    TEXT NOT NULL,
    state       TEXT NOT NULL,
    ips         TEXT NOT NULL,
    console     TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (lab, domain)
);
CREATE TABLE networks (
    lab    TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat   INTEGER NOT NULL,
    name   TEXT NOT NULL,
    bridge TEXT NOT NULL,
    subnet TEXT NOT NULL,
    PRIMARY KEY (lab, name)
);
CREATE TABLE volumes (
    lab  TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat INTEGER NOT NULL,
    pool TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (lab, pool, name)
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    lab         TEXT NOT NULL,
    seat        INTEGER NOT NULL,
    vm          TEXT NOT NULL,
    action      TEXT NOT NULL,
    result      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    user        TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX events_by_lab_time ON events (lab, time);
)sql",
    // Seat access tokens, stored only as the hex SHA-256 of a 256-bit random token: unique, so
    // a token names one seat. Emails are unique per lab.
    R"sql(
ALTER TABLE seats ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE seats ADD COLUMN token_created_at INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX seats_by_token_hash ON seats (token_hash) WHERE token_hash <> '';
CREATE UNIQUE INDEX seats_by_email ON seats (lab, lower(attendee_email)) WHERE attendee_email <> '';
)sql",
    // Organizer tokens of the web portal (any lab), stored like seat tokens: only the hash.
    // Revoked rows stay, so the audit log's "organizer NAME/ID" keeps meaning something.
    R"sql(
CREATE TABLE organizer_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
)sql",
    // The journal: each step on libvirt is written here before it starts and removed once it
    // ended, so the rows left by a killed command say what it may have half-done.
    R"sql(
CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    lab TEXT NOT NULL,
    seat INTEGER NOT NULL,
    command TEXT NOT NULL,
    step TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE INDEX journal_by_lab ON journal (lab, seat);
)sql",
};
static_assert(std::size(migrations) == StateStore::schema_version);

const char* const access_hint =
    "check that you may read and write the file and its directory (the state of root's labs is "
    "in /var/lib/vmlab)";

[[noreturn]] void fail(const fs::path& path, int rc, const char* message) {
    const auto what = "state database " + path.string() + ": " + message;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        throw Error(what, "another vmlab command is using it; wait for it to finish and retry");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        throw Error(what,
                    "the file is damaged or not a vmlab database: restore it from a backup, "
                    "or move it aside to start with an empty state (vmlab then forgets the "
                    "labs it recorded there)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        throw Error(what, access_hint);
    case SQLITE_FULL:
    case SQLITE_IOERR:
        throw Error(what, "check the file system holding it for free space and I/O errors");
    default:
        throw Error(what, "this is a bug in vmlab; please report it with the command you ran");
    }
}

[[noreturn]] void fail_errno(const std::string& what, const fs::path& path) {
    const std::error_code error(errno, std::system_category());
    throw Error(what + " " + path.string() + ": " + error.message(), access_hint);
}

void exec(sqlite3* db, const fs::path& path, const std::string& sql) {
    if (const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK)
        fail(path, rc, sqlite3_errmsg(db));
}

}  // namespace

// Prepared statements by SQL text, kept for the store's lifetime: preparing one costs more
// than running it (a tenth of `up`'s time on a large lab, measured with perf).
struct detail::StatementCache {
    sqlite3* db;
    std::unordered_map<std::string, sqlite3_stmt*> statements;
    ~StatementCache() {
        for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
    }
};

void StateStore::DeleteStatements::operator()(detail::StatementCache* cache) const noexcept { delete cache; }

namespace {

// One use of a statement: the cached one, reset when done; or, while that one is still
// stepping (a nested use of the same SQL), a statement of its own.
class Statement {
public:
    Statement(detail::StatementCache& cache, const fs::path& path, const char* sql) : m_db(cache.db), m_path(path) {
        auto [it, inserted] = cache.statements.try_emplace(sql, nullptr);
        if (!inserted && !sqlite3_stmt_busy(it->second)) {
            m_stmt = it->second;
            return;
        }
        const int rc = sqlite3_prepare_v2(m_db, sql, -1, &m_stmt, nullptr);
        if (rc != SQLITE_OK) {
            if (inserted) cache.statements.erase(it);
            sqlite3_finalize(m_stmt);
            fail(m_path, rc, sqlite3_errmsg(m_db));
        }
        if (inserted)
            it->second = m_stmt;
        else
            m_owned = true;
    }
    ~Statement() {
        if (m_owned) {
            sqlite3_finalize(m_stmt);
        } else {
            sqlite3_reset(m_stmt);
            sqlite3_clear_bindings(m_stmt);
        }
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    template <class... Values>
    Statement& bind(const Values&... values) {
        int index = 0;
        (check(bind_at(++index, values)), ...);
        return *this;
    }

    // True while there is a row to read.
    bool step() {
        const int rc = sqlite3_step(m_stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            fail(m_path, rc, sqlite3_errmsg(m_db));
        return rc == SQLITE_ROW;
    }

    std::string text(int column) const {
        const auto* chars =
            reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column));
        return chars ? std::string(chars, size) : std::string();
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(m_stmt, column); }
    unsigned number(int column) const { return static_cast<unsigned>(integer(column)); }

private:
    int bind_at(int index, const std::string& value) {
        return sqlite3_bind_text64(m_stmt, index, value.data(), value.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    int bind_at(int index, std::int64_t value) {
        return sqlite3_bind_int64(m_stmt, index, value);
    }
    int bind_at(int index, unsigned value) { return bind_at(index, std::int64_t{value}); }
    int bind_at(int index, std::optional<unsigned> value) {
        return value ? bind_at(index, *value) : sqlite3_bind_null(m_stmt, index);
    }

    void check(int rc) const {
        if (rc != SQLITE_OK)
            fail(m_path, rc, sqlite3_errmsg(m_db));
    }

    sqlite3* m_db;
    const fs::path& m_path;
    sqlite3_stmt* m_stmt = nullptr;
    bool m_owned = false;  // not the cached statement
};

std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Account {
    std::string name, home;
};

std::optional<Account> current_account() {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
        return std::nullopt;
    return Account{entry.pw_name, entry.pw_dir};
}

const std::string& os_user() {
    static const std::string user = [] {
        const auto account = current_account();
        return account ? account->name : std::to_string(geteuid());
    }();
    return user;
}

void create_private_directories(const fs::path& dir) {
    std::error_code ignored;
    if (dir.empty() || fs::exists(dir, ignored))
        return;
    create_private_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail_errno("cannot create the directory of the state database", dir);
}

void create_private_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        fail_errno("cannot open state database", path);
    struct stat status {};
    const bool ok = ::fstat(fd, &status) == 0 &&
                    ((status.st_mode & 07777 & ~0600u) == 0 || ::fchmod(fd, 0600) == 0);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (!ok)
        fail_errno("cannot set mode 0600 on state database", path);
}

LabRecord read_lab(const Statement& row) {
    return {row.text(0), row.text(1), row.text(2),    row.text(3),    row.text(4),   row.text(5),
            row.text(6), row.text(7), row.integer(8), row.integer(9), row.number(10)};
}

constexpr const char* seat_columns =
    "lab, seat, state, error, attendee_name, attendee_email, last_reset_at, token_created_at";

SeatRecord read_seat(const Statement& row) {
    return {row.text(0),  row.number(1),  row.text(2),    row.text(3),
            row.text(4),  row.text(5),    row.integer(6), row.integer(7)};
}

std::string seat_name(const std::string& lab, unsigned seat) {
    return "seat " + std::to_string(seat) + " of lab " + lab;
}

// Throws unless the last statement changed a row.
void require_changed(sqlite3* db, const std::string& lab, unsigned seat) {
    if (sqlite3_changes(db) == 0)
        throw Error(seat_name(lab, seat) + " is not in the state database",
                    "`vmlab up` records a lab's seats; `vmlab seats " + lab + "` lists them",
                    ExitCode::invalid);
}

}  // namespace

void StateStore::Close::operator()(sqlite3* db) const noexcept {
    sqlite3_close_v2(db);
}

StateStore::StateStore(fs::path path, Connection db)
    : m_path(std::move(path)), m_db(std::move(db)), m_statements(new detail::StatementCache{m_db.get(), {}}) {}

StateStore StateStore::open(const fs::path& path) {
    create_private_directories(path.parent_path());
    create_private_file(path);
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    StateStore store(path, Connection(db));
    if (rc != SQLITE_OK)
        fail(path, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exec(db, path,
         "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
         "PRAGMA foreign_keys = ON;");
    store.migrate();
    return store;
}

fs::path StateStore::default_path() {
    if (geteuid() == 0)
        return "/var/lib/vmlab/state.db";
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data == '/')
        return fs::path(data) / "vmlab" / "state.db";
    std::string home;
    if (const char* env = std::getenv("HOME"); env && *env)
        home = env;
    else if (const auto account = current_account())
        home = account->home;
    if (home.empty())
        throw Error("cannot find the home directory for the state database",
                    "set HOME or XDG_DATA_HOME");
    return fs::path(home) / ".local" / "share" / "vmlab" / "state.db";
}

void StateStore::migrate() {
    for (bool current = false; !current;) {
        transaction([&] {
            Statement query(*m_statements, m_path, "PRAGMA user_version");
            query.step();
            const auto version = query.integer(0);
            if (version < 0 || version > schema_version)
                throw Error("state database " + m_path.string() + " has schema version " +
                                std::to_string(version) + ", but this vmlab knows versions up to " +
                                std::to_string(schema_version),
                            "it was written by a newer vmlab: upgrade vmlab on this host");
            current = version == schema_version;
            if (!current) {
                exec(m_db.get(), m_path, migrations[version]);
                exec(m_db.get(), m_path, "PRAGMA user_version = " + std::to_string(version + 1));
            }
        });
    }
}

void StateStore::begin() {
    exec(m_db.get(), m_path, m_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested");
    ++m_depth;
}

void StateStore::commit() {
    exec(m_db.get(), m_path, m_depth == 1 ? "COMMIT" : "RELEASE nested");
    --m_depth;
}

void StateStore::rollback() noexcept {
    --m_depth;
    sqlite3_exec(m_db.get(), m_depth == 0 ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested",
                 nullptr, nullptr, nullptr);
}

void StateStore::upsert_lab(const LabRecord& lab) {
    std::lock_guard lock(*m_mutex);
    const auto time = now();
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO labs (name, title, host_uri, pool, pool_path, spec_text, spec_hash,
                          source_file, created_at, updated_at, seats)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (name) DO UPDATE SET
            title = excluded.title, host_uri = excluded.host_uri, pool = excluded.pool,
            pool_path = excluded.pool_path, spec_text = excluded.spec_text,
            spec_hash = excluded.spec_hash, source_file = excluded.source_file,
            updated_at = excluded.updated_at, seats = excluded.seats)sql")
        .bind(lab.name, lab.title, lab.host_uri, lab.pool, lab.pool_path, lab.spec_text,
              lab.spec_hash, lab.source_file, lab.created_at ? lab.created_at : time,
              lab.updated_at ? lab.updated_at : time, lab.seats)
        .step();
}

std::optional<LabRecord> StateStore::find_lab(const std::string& name) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
        SELECT name, title, host_uri, pool, pool_path, spec_text, spec_hash, source_file,
               created_at, updated_at, seats
        FROM labs WHERE name = ?1)sql");
    if (!query.bind(name).step())
        return std::nullopt;
    return read_lab(query);
}

std::vector<LabRecord> StateStore::labs() {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
        SELECT name, title, host_uri, pool, pool_path, spec_text, spec_hash, source_file,
               created_at, updated_at, seats
        FROM labs ORDER BY name)sql");
    std::vector<LabRecord> result;
    while (query.step())
        result.push_back(read_lab(query));
    return result;
}

void StateStore::delete_lab(const std::string& name) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, "DELETE FROM labs WHERE name = ?1").bind(name).step();
}

void StateStore::upsert_seat(const SeatRecord& seat) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO seats (lab, seat, state, error, attendee_name, attendee_email, last_reset_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        ON CONFLICT (lab, seat) DO UPDATE SET state = excluded.state, error = excluded.error)sql")
        .bind(seat.lab, seat.seat, seat.state, seat.error, seat.attendee_name, seat.attendee_email,
              seat.last_reset_at)
        .step();
}

std::vector<SeatRecord> StateStore::seats(const std::string& lab) {
    std::lock_guard lock(*m_mutex);
    const auto sql = std::string("SELECT ") + seat_columns + " FROM seats WHERE lab = ?1 ORDER BY seat";
    Statement query(*m_statements, m_path, sql.c_str());
    query.bind(lab);
    std::vector<SeatRecord> result;
    while (query.step())
        result.push_back(read_seat(query));
    return result;
}

std::optional<SeatRecord> StateStore::find_seat(const std::string& lab, unsigned seat) {
    std::lock_guard lock(*m_mutex);
    const auto sql =
        std::string("SELECT ") + seat_columns + " FROM seats WHERE lab = ?1 AND seat = ?2";
    Statement query(*m_statements, m_path, sql.c_str());
    if (!query.bind(lab, seat).step())
        return std::nullopt;
    return read_seat(query);
}

void StateStore::set_attendee(const std::string& lab, unsigned seat, const std::string& name,
                              const std::string& email) {
    std::lock_guard lock(*m_mutex);
    if (!email.empty()) {
        Statement other(*m_statements, m_path, R"sql(
            SELECT seat FROM seats
            WHERE lab = ?1 AND seat <> ?2 AND attendee_email <> '' AND lower(attendee_email) = lower(?3))sql");
        if (other.bind(lab, seat, email).step())
            throw Error("email " + email + " is already on " + seat_name(lab, other.number(0)),
                        "`vmlab seats move` moves an attendee, `vmlab seats unassign` frees a seat",
                        ExitCode::invalid);
    }
    Statement(*m_statements, m_path, R"sql(
        UPDATE seats SET attendee_name = ?3, attendee_email = ?4 WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat, name, email)
        .step();
    require_changed(m_db.get(), lab, seat);
}

void StateStore::clear_attendee(const std::string& lab, unsigned seat) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        UPDATE seats SET attendee_name = '', attendee_email = '', token_hash = '',
                         token_created_at = 0
        WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat)
        .step();
    require_changed(m_db.get(), lab, seat);
}

void StateStore::move_attendee(const std::string& lab, unsigned from, unsigned to) {
    transaction([&] {
        const auto source = find_seat(lab, from);
        const auto target = find_seat(lab, to);
        if (!source || !target) {
            const unsigned missing = source ? to : from;
            throw Error(seat_name(lab, missing) + " is not in the state database",
                        "`vmlab up` records a lab's seats; `vmlab seats " + lab + "` lists them",
                        ExitCode::invalid);
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
        Statement read(*m_statements, m_path, R"sql(
            SELECT token_hash, token_created_at FROM seats WHERE lab = ?1 AND seat = ?2)sql");
        read.bind(lab, from).step();
        const std::string hash = read.text(0);
        const std::int64_t created_at = read.integer(1);
        clear_attendee(lab, from);
        Statement(*m_statements, m_path, R"sql(
            UPDATE seats SET attendee_name = ?3, attendee_email = ?4, token_hash = ?5,
                             token_created_at = ?6
            WHERE lab = ?1 AND seat = ?2)sql")
            .bind(lab, to, source->attendee_name, source->attendee_email, hash, created_at)
            .step();
    });
}

void StateStore::set_token_hash(const std::string& lab, unsigned seat, const std::string& hash,
                                std::int64_t created_at) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        UPDATE seats SET token_hash = ?3, token_created_at = ?4 WHERE lab = ?1 AND seat = ?2)sql")
        .bind(lab, seat, hash, hash.empty() ? std::int64_t{0} : created_at ? created_at : now())
        .step();
    require_changed(m_db.get(), lab, seat);
}

std::optional<unsigned> StateStore::seat_for_token_hash(const std::string& lab,
                                                        const std::string& hash) {
    std::lock_guard lock(*m_mutex);
    if (hash.empty())
        return std::nullopt;
    Statement query(*m_statements, m_path,
                    "SELECT seat FROM seats WHERE lab = ?1 AND token_hash = ?2");
    if (!query.bind(lab, hash).step())
        return std::nullopt;
    return query.number(0);
}

void StateStore::set_last_reset(const std::string& lab, unsigned seat, std::int64_t time) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path,
              "UPDATE seats SET last_reset_at = ?3 WHERE lab = ?1 AND seat = ?2")
        .bind(lab, seat, time ? time : now())
        .step();
    require_changed(m_db.get(), lab, seat);
}

void StateStore::upsert_vm(const VmRecord& vm) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO vms (lab, seat, vm, domain, uuid, config_hash, baseline, state, ips, console,
                         updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (lab, domain) DO UPDATE SET
            seat = excluded.seat, vm = excluded.vm, uuid = excluded.uuid,
            config_hash = excluded.config_hash, baseline = excluded.baseline,
            state = excluded.state, ips = excluded.ips, console = excluded.console,
            updated_at = excluded.updated_at)sql")
        .bind(vm.lab, vm.seat, vm.vm, vm.domain, vm.uuid, vm.config_hash, vm.baseline, vm.state,
              vm.ips, vm.console, vm.updated_at ? vm.updated_at : now())
        .step();
}

std::vector<VmRecord> StateStore::vms(const std::string& lab) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
        SELECT lab, seat, vm, domain, uuid, config_hash, baseline, state, ips, console, updated_at
        FROM vms WHERE lab = ?1 ORDER BY seat, vm)sql");
    query.bind(lab);
    std::vector<VmRecord> result;
    while (query.step())
        result.push_back({query.text(0), query.number(1), query.text(2), query.text(3),
                          query.text(4), query.text(5), query.text(6), query.text(7), query.text(8),
                          query.text(9), query.integer(10)});
    return result;
}

void StateStore::delete_vm(const std::string& lab, const std::string& domain) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, "DELETE FROM vms WHERE lab = ?1 AND domain = ?2")
        .bind(lab, domain)
        .step();
}

void StateStore::upsert_network(const NetworkRecord& network) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO networks (lab, seat, name, bridge, subnet) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (lab, name) DO UPDATE SET
            seat = excluded.seat, bridge = excluded.bridge, subnet = excluded.subnet)sql")
        .bind(network.lab, network.seat, network.name, network.bridge, network.subnet)
        .step();
}

std::vector<NetworkRecord> StateStore::networks(const std::string& lab) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
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
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, "DELETE FROM networks WHERE lab = ?1 AND name = ?2")
        .bind(lab, name)
        .step();
}

void StateStore::upsert_volume(const VolumeRecord& volume) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO volumes (lab, seat, pool, name, path, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        ON CONFLICT (lab, pool, name) DO UPDATE SET
            seat = excluded.seat, path = excluded.path, role = excluded.role)sql")
        .bind(volume.lab, volume.seat, volume.pool, volume.name, volume.path, volume.role)
        .step();
}

std::vector<VolumeRecord> StateStore::volumes(const std::string& lab) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
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
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, "DELETE FROM volumes WHERE lab = ?1 AND pool = ?2 AND name = ?3")
        .bind(lab, pool, name)
        .step();
}

std::int64_t StateStore::add_organizer(const std::string& name, const std::string& hash) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path,
              "INSERT INTO organizer_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)")
        .bind(name, hash, now())
        .step();
    return sqlite3_last_insert_rowid(m_db.get());
}

namespace {

constexpr const char* organizer_columns = "id, name, created_at, revoked_at";

OrganizerRecord read_organizer(const Statement& row) {
    return {row.integer(0), row.text(1), row.integer(2), row.integer(3)};
}

}  // namespace

std::vector<OrganizerRecord> StateStore::organizers() {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path,
                    (std::string("SELECT ") + organizer_columns + " FROM organizer_tokens ORDER BY id").c_str());
    std::vector<OrganizerRecord> result;
    while (query.step())
        result.push_back(read_organizer(query));
    return result;
}

std::optional<OrganizerRecord> StateStore::organizer_for_token_hash(const std::string& hash) {
    std::lock_guard lock(*m_mutex);
    if (hash.empty())
        return std::nullopt;
    Statement query(*m_statements, m_path,
                    (std::string("SELECT ") + organizer_columns +
                     " FROM organizer_tokens WHERE token_hash = ?1 AND revoked_at = 0")
                        .c_str());
    if (!query.bind(hash).step())
        return std::nullopt;
    return read_organizer(query);
}

bool StateStore::revoke_organizer(std::int64_t id) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path,
              "UPDATE organizer_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0")
        .bind(id, now())
        .step();
    return sqlite3_changes(m_db.get()) > 0;
}

std::int64_t StateStore::begin_step(const JournalEntry& entry) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path,
              "INSERT INTO journal (lab, seat, command, step, pid, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(entry.lab, entry.seat, entry.command, entry.step, entry.pid ? entry.pid : static_cast<std::int64_t>(::getpid()),
              entry.started_at ? entry.started_at : now())
        .step();
    return sqlite3_last_insert_rowid(m_db.get());
}

void StateStore::end_step(std::int64_t id) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, "DELETE FROM journal WHERE id = ?1").bind(id).step();
}

std::vector<JournalEntry> StateStore::journal(const std::string& lab) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path,
                    "SELECT id, lab, seat, command, step, pid, started_at FROM journal WHERE lab = ?1 ORDER BY id");
    query.bind(lab);
    std::vector<JournalEntry> result;
    while (query.step())
        result.push_back({query.integer(0), query.text(1), query.number(2), query.text(3), query.text(4), query.integer(5),
                          query.integer(6)});
    return result;
}

std::int64_t StateStore::add_event(const EventRecord& event) {
    std::lock_guard lock(*m_mutex);
    Statement(*m_statements, m_path, R"sql(
        INSERT INTO events (time, lab, seat, vm, action, result, detail, user, duration_ms)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql")
        .bind(event.time ? event.time : now(), event.lab, event.seat, event.vm, event.action,
              event.result, event.detail, event.user.empty() ? os_user() : event.user,
              event.duration_ms)
        .step();
    return sqlite3_last_insert_rowid(m_db.get());
}

std::vector<EventRecord> StateStore::events(const std::string& lab, std::optional<unsigned> seat,
                                            std::size_t limit) {
    std::lock_guard lock(*m_mutex);
    Statement query(*m_statements, m_path, R"sql(
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
