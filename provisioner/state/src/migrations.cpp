#include "migrations.hpp"

#include <iterator>
#include <string>

#include "vmlab/state/state.hpp"
#include "vmlab/util/error.hpp"

namespace vmlab::sqlite {

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
    // Why a seat failed, as a code beside the message (see FailureKind); '' = it did not.
    // Seats that failed before the code existed failed for a reason not recorded: "other".
    R"sql(
ALTER TABLE seats ADD COLUMN failure TEXT NOT NULL DEFAULT '';
UPDATE seats SET failure = 'other' WHERE state = 'failed';
)sql",
    // The lab's secret (64 hex digits), from which the attendees' passwords are derived; it
    // goes with the lab's row, so `down` forgets it and the next `up` gives new passwords.
    // guests: each VM's hostname and the attendee's account on it ('' = none); a fixed
    // password from the lab file is kept as the lab file itself is (spec_text); the console
    // line that says its setup finished ('' = none).
    R"sql(
ALTER TABLE labs ADD COLUMN secret TEXT NOT NULL DEFAULT '';
CREATE TABLE guests (
    lab        TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat       INTEGER NOT NULL,
    domain     TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    login_user TEXT NOT NULL,
    fixed_password TEXT NOT NULL,
    ready_console TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (lab, domain)
);
)sql",
};
static_assert(std::size(migrations) == StateStore::schema_version);

}  // namespace

void migrate(Database& db) {
    for (bool current = false; !current;) {
        Transaction transaction(db);
        Statement query(db, "PRAGMA user_version");
        query.step();
        const auto version = query.integer(0);
        if (version < 0 || version > StateStore::schema_version)
            throw Error("state database " + db.path().string() + " has schema version " +
                            std::to_string(version) + ", but this vmlab knows versions up to " +
                            std::to_string(StateStore::schema_version),
                        "it was written by a newer vmlab: upgrade vmlab on this host");
        current = version == StateStore::schema_version;
        if (!current) {
            db.exec(migrations[version]);
            db.exec("PRAGMA user_version = " + std::to_string(version + 1));
        }
        transaction.commit();
    }
}

}  // namespace vmlab::sqlite
