#include "vmlab/state/state.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "vmlab/util/error.hpp"

namespace fs = std::filesystem;
using vmlab::StateStore;

static_assert(!std::is_copy_constructible_v<StateStore>);
static_assert(std::is_nothrow_move_constructible_v<StateStore>);
static_assert(std::is_nothrow_destructible_v<StateStore>);

namespace {

unsigned mode_of(const fs::path& path) {
    struct stat status {};
    EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
    return status.st_mode & 07777;
}

int user_version(const fs::path& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    sqlite3_step(stmt);
    const int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
    return version;
}

void set_user_version(const fs::path& path, int version) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    const auto sql = "PRAGMA user_version = " + std::to_string(version);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close_v2(db);
}

vmlab::LabRecord lab(const std::string& name) {
    return {name, "Intro to " + name, "qemu:///system", "vmlab-" + name, "/srv/" + name,
            "[lab]\nname = \"" + name + "\"\n", "sha256:abc", "labs/" + name + ".toml",
            1700000000, 1700000100, 3};
}

vmlab::Ipv4 ip(std::string_view text) {
    const auto ip = vmlab::parse_ipv4(text);
    EXPECT_TRUE(ip) << text;
    return ip.value_or(vmlab::Ipv4{});
}

vmlab::VmRecord vm_record(const std::string& lab, unsigned seat, const std::string& name) {
    vmlab::VmRecord record;
    record.lab = lab;
    record.seat = seat;
    record.vm = name;
    record.domain = lab + "-s0" + std::to_string(seat) + "-" + name;
    return record;
}

vmlab::EventRecord event_record(const std::string& lab, unsigned seat, const std::string& action,
                                std::int64_t time = 0) {
    vmlab::EventRecord record;
    record.lab = lab;
    record.seat = seat;
    record.action = action;
    record.time = time;
    return record;
}

class StateTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto pattern = (fs::temp_directory_path() / "vmlab-state-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir = pattern;
        db_path = dir / "state.db";
    }
    void TearDown() override { fs::remove_all(dir); }

    fs::path dir, db_path;
};

TEST_F(StateTest, RoundTripsEveryRecordType) {
    auto store = StateStore::open(db_path);
    const auto web = lab("web");
    store.upsert_lab(web);
    EXPECT_EQ(store.find_lab("web"), web);
    EXPECT_EQ(store.find_lab("nope"), std::nullopt);
    EXPECT_EQ(store.labs(), std::vector{web});

    const vmlab::SeatRecord seat{"web", 2, vmlab::SeatState::failed, "disk full", "Ada", "ada@example.org",
                                 1700000200, 0, vmlab::FailureKind::libvirt};
    store.upsert_seat(seat);
    EXPECT_EQ(store.seats("web"), std::vector{seat});

    const vmlab::VmRecord vm{"web", 2, "server", "web-s02-server", "5f1c0c2e", "cfg1",
                             "fresh-overlay", vmlab::VmState::running, {ip("10.0.2.10"), ip("10.1.2.10")},
                             "vnc://127.0.0.1:5902", 1700000300};
    store.upsert_vm(vm);
    EXPECT_EQ(store.vms("web"), std::vector{vm});

    const vmlab::NetworkRecord network{"web", 0, "vmlab-web-lan", "vl-web-lan", "10.0.0.0/24"};
    store.upsert_network(network);
    EXPECT_EQ(store.networks("web"), std::vector{network});

    const vmlab::VolumeRecord volume{"web", 2, "vmlab-web", "web-s02-server-vda.qcow2",
                                     "/srv/web/web-s02-server-vda.qcow2", "disk"};
    store.upsert_volume(volume);
    EXPECT_EQ(store.volumes("web"), std::vector{volume});

    const vmlab::GuestRecord guest{"web", 2, "web-s02-server", "server-2", "student", "", "vmlab-ready web-s02-server"};
    store.upsert_guest(guest);
    EXPECT_EQ(store.guests("web"), std::vector{guest});

    vmlab::EventRecord event{0, 1700000400, "web", 2, "server", "reset",
                             "ok", "reverted", "alice", 1234};
    event.id = store.add_event(event);
    EXPECT_GT(event.id, 0);
    EXPECT_EQ(store.events("web"), std::vector{event});
}

TEST_F(StateTest, FillsDefaultsForTimesAndUser) {
    auto store = StateStore::open(db_path);
    auto web = lab("web");
    web.created_at = web.updated_at = 0;
    store.upsert_lab(web);
    const auto stored = store.find_lab("web");
    ASSERT_TRUE(stored);
    EXPECT_GT(stored->created_at, 0);
    EXPECT_EQ(stored->created_at, stored->updated_at);

    store.add_event(event_record("web", 0, "up"));
    const auto events = store.events("web");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_GT(events[0].time, 0);
    EXPECT_FALSE(events[0].user.empty());
}

TEST_F(StateTest, UpsertUpdatesAndKeepsCreatedAtAndChildren) {
    auto store = StateStore::open(db_path);
    store.upsert_lab(lab("web"));
    store.upsert_seat({"web", 1, vmlab::SeatState::pending, "", "", "", 0});

    auto changed = lab("web");
    changed.title = "Advanced web";
    changed.seats = 5;
    changed.created_at = 1;
    changed.updated_at = 1800000000;
    store.upsert_lab(changed);
    changed.created_at = lab("web").created_at;
    EXPECT_EQ(store.find_lab("web"), changed);
    EXPECT_EQ(store.seats("web").size(), 1u);

    store.set_attendee("web", 1, "Bob", "bob@example.org");
    store.upsert_seat({"web", 1, vmlab::SeatState::ready, "", "", "", 0});
    ASSERT_EQ(store.seats("web").size(), 1u);
    EXPECT_EQ(store.seats("web")[0].state, vmlab::SeatState::ready);
    EXPECT_EQ(store.seats("web")[0].attendee_name, "Bob") << "upsert_seat keeps the attendee";

    vmlab::VmRecord vm{
        "web", 1, "server", "web-s01-server", "u", "cfg1", "fresh-overlay", vmlab::VmState::running, {}, "", 5};
    store.upsert_vm(vm);
    vm.config_hash = "cfg2";
    vm.state = vmlab::VmState::defined;
    store.upsert_vm(vm);
    EXPECT_EQ(store.vms("web"), std::vector{vm});

    vmlab::NetworkRecord network{"web", 1, "vmlab-web-s01-lan", "vl-web-s01", "10.0.1.0/24"};
    store.upsert_network(network);
    network.subnet = "10.0.9.0/24";
    store.upsert_network(network);
    EXPECT_EQ(store.networks("web"), std::vector{network});

    vmlab::VolumeRecord volume{"web", 0, "vmlab-web", "base.qcow2", "/a/base.qcow2", "base"};
    store.upsert_volume(volume);
    volume.path = "/b/base.qcow2";
    store.upsert_volume(volume);
    EXPECT_EQ(store.volumes("web"), std::vector{volume});
}

TEST_F(StateTest, ListsVmsBySeatThenName) {
    auto store = StateStore::open(db_path);
    store.upsert_lab(lab("web"));
    for (const auto& [seat, name] : {std::pair{2u, "b"}, {1u, "b"}, {2u, "a"}, {1u, "a"}})
        store.upsert_vm(vm_record("web", seat, name));
    std::vector<std::string> domains;
    for (const auto& vm : store.vms("web"))
        domains.push_back(vm.domain);
    EXPECT_EQ(domains,
              (std::vector<std::string>{"web-s01-a", "web-s01-b", "web-s02-a", "web-s02-b"}));
}

TEST_F(StateTest, DeletesSingleObjects) {
    auto store = StateStore::open(db_path);
    store.upsert_lab(lab("web"));
    store.upsert_vm(vm_record("web", 1, "a"));
    store.upsert_vm(vm_record("web", 1, "b"));
    store.upsert_network({"web", 1, "n1", "br1", "10.0.1.0/24"});
    store.upsert_network({"web", 1, "n2", "br2", "10.0.2.0/24"});
    store.upsert_volume({"web", 1, "p1", "v", "/p1/v", "disk"});
    store.upsert_volume({"web", 1, "p2", "v", "/p2/v", "disk"});

    store.delete_vm("web", "web-s01-a");
    store.delete_network("web", "n1");
    store.delete_volume("web", "p1", "v");

    ASSERT_EQ(store.vms("web").size(), 1u);
    EXPECT_EQ(store.vms("web")[0].domain, "web-s01-b");
    ASSERT_EQ(store.networks("web").size(), 1u);
    EXPECT_EQ(store.networks("web")[0].name, "n2");
    ASSERT_EQ(store.volumes("web").size(), 1u);
    EXPECT_EQ(store.volumes("web")[0].pool, "p2");
}

TEST_F(StateTest, DeleteLabCascadesButKeepsEvents) {
    auto store = StateStore::open(db_path);
    store.upsert_lab(lab("web"));
    store.upsert_lab(lab("db"));
    for (const auto* name : {"web", "db"}) {
        store.upsert_seat({name, 1, vmlab::SeatState::ready, "", "", "", 0});
        store.upsert_vm(vm_record(name, 1, "a"));
        store.upsert_network({name, 0, "lan", "br", "10.0.0.0/24"});
        store.upsert_volume({name, 1, "pool", "a.qcow2", "/a.qcow2", "disk"});
        store.add_event(event_record(name, 0, "up"));
    }

    store.delete_lab("web");

    EXPECT_EQ(store.find_lab("web"), std::nullopt);
    EXPECT_TRUE(store.seats("web").empty());
    EXPECT_TRUE(store.vms("web").empty());
    EXPECT_TRUE(store.networks("web").empty());
    EXPECT_TRUE(store.volumes("web").empty());
    EXPECT_EQ(store.events("web").size(), 1u);

    EXPECT_TRUE(store.find_lab("db"));
    EXPECT_EQ(store.seats("db").size(), 1u);
    EXPECT_EQ(store.vms("db").size(), 1u);
    EXPECT_EQ(store.networks("db").size(), 1u);
    EXPECT_EQ(store.volumes("db").size(), 1u);
}

TEST_F(StateTest, RefusesChildrenOfUnknownLab) {
    auto store = StateStore::open(db_path);
    EXPECT_THROW(store.upsert_seat({"ghost", 1, vmlab::SeatState::pending, "", "", "", 0}), vmlab::Error);
}

TEST_F(StateTest, CreatesPrivateFilesAndDirectories) {
    const auto nested = dir / "a" / "b" / "state.db";
    auto store = StateStore::open(nested);
    store.add_event(event_record("web", 0, "up"));
    EXPECT_EQ(mode_of(nested), 0600u);
    EXPECT_EQ(mode_of(nested.string() + "-wal"), 0600u);
    EXPECT_EQ(mode_of(dir / "a"), 0700u);
    EXPECT_EQ(mode_of(dir / "a" / "b"), 0700u);
}

TEST_F(StateTest, TightensBroadFileMode) {
    std::ofstream(db_path).close();
    fs::permissions(db_path, fs::perms::owner_read | fs::perms::owner_write |
                                 fs::perms::group_read | fs::perms::others_read);
    StateStore::open(db_path);
    EXPECT_EQ(mode_of(db_path), 0600u);
}

TEST_F(StateTest, ReopeningKeepsDataAndSchemaVersion) {
    StateStore::open(db_path).upsert_lab(lab("web"));
    EXPECT_EQ(user_version(db_path), StateStore::schema_version);

    auto store = StateStore::open(db_path);
    EXPECT_EQ(store.find_lab("web"), lab("web"));
    EXPECT_EQ(user_version(db_path), StateStore::schema_version);
}

TEST_F(StateTest, RefusesNewerSchema) {
    StateStore::open(db_path);
    set_user_version(db_path, StateStore::schema_version + 1);
    try {
        StateStore::open(db_path);
        FAIL() << "opened a database from a newer vmlab";
    } catch (const vmlab::Error& error) {
        EXPECT_NE(std::string(error.what()).find(db_path.string()), std::string::npos)
            << error.what();
        EXPECT_NE(error.hint().find("upgrade"), std::string::npos) << error.hint();
    }
}

TEST_F(StateTest, RefusesFileThatIsNotADatabase) {
    std::ofstream(db_path) << std::string(4096, 'x');
    try {
        StateStore::open(db_path);
        FAIL() << "opened garbage";
    } catch (const vmlab::Error& error) {
        EXPECT_NE(std::string(error.what()).find(db_path.string()), std::string::npos)
            << error.what();
        EXPECT_FALSE(error.hint().empty());
    }
}

TEST_F(StateTest, ConcurrentEventsAllLand) {
    auto store = StateStore::open(db_path);
    constexpr unsigned threads = 8, per_thread = 200;
    std::vector<std::jthread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back([&store, t] {
            for (unsigned i = 0; i < per_thread; ++i)
                store.add_event(event_record("web", t + 1, "provision " + std::to_string(i)));
        });
    workers.clear();

    const auto events = store.events("web", {}, threads * per_thread * 2);
    ASSERT_EQ(events.size(), threads * per_thread);
    std::set<std::int64_t> ids;
    for (const auto& event : events)
        ids.insert(event.id);
    EXPECT_EQ(ids.size(), threads * per_thread);
    EXPECT_EQ(store.events("web", 3u, 10000).size(), per_thread);
}

TEST_F(StateTest, TransactionCommitsOrRollsBack) {
    auto store = StateStore::open(db_path);
    store.transaction([&] {
        store.upsert_lab(lab("web"));
        store.upsert_seat({"web", 1, vmlab::SeatState::pending, "", "", "", 0});
    });
    EXPECT_TRUE(store.find_lab("web"));

    EXPECT_THROW(store.transaction([&] {
        store.upsert_lab(lab("db"));
        store.delete_lab("web");
        throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    EXPECT_EQ(store.find_lab("db"), std::nullopt);
    EXPECT_TRUE(store.find_lab("web"));
    EXPECT_EQ(store.seats("web").size(), 1u);

    store.upsert_lab(lab("db"));
    EXPECT_TRUE(store.find_lab("db")) << "the store is usable after a rollback";
}

TEST_F(StateTest, NestedTransactionRollsBackOnlyItsPart) {
    auto store = StateStore::open(db_path);
    store.transaction([&] {
        store.upsert_lab(lab("web"));
        try {
            store.transaction([&] {
                store.upsert_lab(lab("db"));
                throw std::runtime_error("inner");
            });
        } catch (const std::runtime_error&) {
        }
    });
    EXPECT_TRUE(store.find_lab("web"));
    EXPECT_EQ(store.find_lab("db"), std::nullopt);
}

TEST_F(StateTest, FiltersEventsBySeatAndKeepsNewestWithinLimit) {
    auto store = StateStore::open(db_path);
    for (std::int64_t i = 1; i <= 10; ++i)
        store.add_event(event_record("web", static_cast<unsigned>(i % 2 + 1),
                                     "step" + std::to_string(i), 1000 + i));
    store.add_event(event_record("other", 1, "elsewhere", 5000));

    const auto all = store.events("web");
    ASSERT_EQ(all.size(), 10u);
    EXPECT_EQ(all.front().action, "step1");
    EXPECT_EQ(all.back().action, "step10");

    const auto seat2 = store.events("web", 2u);
    ASSERT_EQ(seat2.size(), 5u);
    EXPECT_TRUE(std::all_of(seat2.begin(), seat2.end(), [](const auto& e) { return e.seat == 2; }));

    const auto newest = store.events("web", 1u, 2);
    ASSERT_EQ(newest.size(), 2u);
    EXPECT_EQ(newest[0].action, "step8");
    EXPECT_EQ(newest[1].action, "step10");
}

TEST_F(StateTest, JournalKeepsStepsUntilTheyEnd) {
    auto store = StateStore::open(db_path);
    const auto a = store.begin_step({0, "web", 1, "up", "create volume web-s01-a-root.qcow2", 0, 0});
    const auto b = store.begin_step({0, "web", 0, "up", "import base image base-tiny.qcow2", 4242, 1000});
    store.begin_step({0, "other", 1, "down", "remove every object of the lab", 0, 0});

    auto steps = store.journal("web");
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[0].id, a);
    EXPECT_EQ(steps[0].seat, 1u);
    EXPECT_EQ(steps[0].command, "up");
    EXPECT_EQ(steps[0].step, "create volume web-s01-a-root.qcow2");
    EXPECT_EQ(steps[0].pid, static_cast<std::int64_t>(::getpid()));
    EXPECT_GT(steps[0].started_at, 0);
    EXPECT_EQ((vmlab::JournalEntry{b, "web", 0, "up", "import base image base-tiny.qcow2", 4242, 1000}), steps[1]);

    store.end_step(a);
    steps = store.journal("web");
    ASSERT_EQ(steps.size(), 1u);
    EXPECT_EQ(steps[0].id, b);
    EXPECT_EQ(store.journal("other").size(), 1u);
}

TEST_F(StateTest, DefaultPathFollowsUserAndXdg) {
    if (geteuid() == 0) {
        EXPECT_EQ(StateStore::default_path(), "/var/lib/vmlab/state.db");
        return;
    }
    ::setenv("XDG_DATA_HOME", dir.c_str(), 1);
    EXPECT_EQ(StateStore::default_path(), dir / "vmlab" / "state.db");
    ::unsetenv("XDG_DATA_HOME");
}

// --- Schema version 2: attendees and access tokens ----------------------------------------------

// The schema as vmlab 0.1 (version 1) created it, to test the upgrade in place.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE labs (name TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, host_uri TEXT NOT NULL,
    pool TEXT NOT NULL, pool_path TEXT NOT NULL, spec_text TEXT NOT NULL, spec_hash TEXT NOT NULL,
    source_file TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    seats INTEGER NOT NULL);
CREATE TABLE seats (lab TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat INTEGER NOT NULL, state TEXT NOT NULL, error TEXT NOT NULL, attendee_name TEXT NOT NULL,
    attendee_email TEXT NOT NULL, last_reset_at INTEGER NOT NULL, PRIMARY KEY (lab, seat));
CREATE TABLE vms (lab TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat INTEGER NOT NULL, vm TEXT NOT NULL, domain TEXT NOT NULL, uuid TEXT NOT NULL,
    config_hash TEXT NOT NULL, baseline TEXT NOT NULL, state TEXT NOT NULL, ips TEXT NOT NULL,
    console TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (lab, domain));
CREATE TABLE networks (lab TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat INTEGER NOT NULL, name TEXT NOT NULL, bridge TEXT NOT NULL, subnet TEXT NOT NULL,
    PRIMARY KEY (lab, name));
CREATE TABLE volumes (lab TEXT NOT NULL REFERENCES labs (name) ON DELETE CASCADE,
    seat INTEGER NOT NULL, pool TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    role TEXT NOT NULL, PRIMARY KEY (lab, pool, name));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,
    lab TEXT NOT NULL, seat INTEGER NOT NULL, vm TEXT NOT NULL, action TEXT NOT NULL,
    result TEXT NOT NULL, detail TEXT NOT NULL, user TEXT NOT NULL, duration_ms INTEGER NOT NULL);
CREATE INDEX events_by_lab_time ON events (lab, time);
INSERT INTO labs VALUES ('web', 'Intro', 'qemu:///system', 'vmlab-web', '/srv/web', '', 'h',
    'web.toml', 1700000000, 1700000000, 2);
INSERT INTO seats VALUES ('web', 1, 'ready', '', 'Ada', 'ada@example.org', 1700000500);
INSERT INTO seats VALUES ('web', 2, 'failed', 'disk full', '', '', 0);
INSERT INTO events VALUES (NULL, 1700000000, 'web', 1, '', 'up', 'ok', '', 'root', 10);
PRAGMA user_version = 1;
)sql";

void create_v1_database(const fs::path& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
              SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, schema_v1, nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_free(error);
    sqlite3_close_v2(db);
}

class SeatStateTest : public StateTest {
protected:
    void SetUp() override {
        StateTest::SetUp();
        store = std::make_unique<StateStore>(StateStore::open(db_path));
        store->upsert_lab(lab("web"));
        store->upsert_lab(lab("db"));
        for (unsigned seat = 1; seat <= 3; ++seat) {
            store->upsert_seat({"web", seat, vmlab::SeatState::ready, "", "", "", 0});
            store->upsert_seat({"db", seat, vmlab::SeatState::ready, "", "", "", 0});
        }
    }
    vmlab::SeatRecord seat(unsigned number, const std::string& lab_name = "web") {
        auto record = store->find_seat(lab_name, number);
        EXPECT_TRUE(record) << "seat " << number;
        return record.value_or(vmlab::SeatRecord{});
    }
    std::unique_ptr<StateStore> store;
};

TEST_F(StateTest, MigratesVersion1DatabaseInPlace) {
    create_v1_database(db_path);
    ASSERT_EQ(user_version(db_path), 1);

    auto store = StateStore::open(db_path);
    EXPECT_EQ(user_version(db_path), StateStore::schema_version);
    EXPECT_EQ(store.seats("web"),
              (std::vector<vmlab::SeatRecord>{
                  {"web", 1, vmlab::SeatState::ready, "", "Ada", "ada@example.org", 1700000500, 0},
                  {"web", 2, vmlab::SeatState::failed, "disk full", "", "", 0, 0, vmlab::FailureKind::other}}));
    EXPECT_EQ(store.events("web").size(), 1u);
    EXPECT_EQ(store.find_lab("web")->seats, 2u);

    // The new columns work on the upgraded file, and survive reopening.
    store.set_token_hash("web", 1, "aa11", 1700000600);
    EXPECT_EQ(store.seat_for_token_hash("web", "aa11"), 1u);
    EXPECT_EQ(StateStore::open(db_path).find_seat("web", 1)->token_created_at, 1700000600);
    EXPECT_EQ(user_version(db_path), StateStore::schema_version);
}

TEST_F(SeatStateTest, UpsertSeatKeepsAttendeeTokenAndLastReset) {
    store->set_attendee("web", 2, "Ada", "ada@example.org");
    store->set_token_hash("web", 2, "hash-2", 1700000600);
    store->set_last_reset("web", 2, 1700000700);

    // What `vmlab up` does on every run.
    store->upsert_seat({"web", 2, vmlab::SeatState::pending, "", "", "", 0});
    store->upsert_seat({"web", 2, vmlab::SeatState::failed, "boom", "", "", 0});

    EXPECT_EQ(seat(2), (vmlab::SeatRecord{"web", 2, vmlab::SeatState::failed, "boom", "Ada", "ada@example.org",
                                          1700000700, 1700000600}));
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-2"), 2u);
}

TEST_F(SeatStateTest, FindsSeats) {
    EXPECT_EQ(seat(3), (vmlab::SeatRecord{"web", 3, vmlab::SeatState::ready, "", "", "", 0, 0}));
    EXPECT_EQ(store->find_seat("web", 9), std::nullopt);
    EXPECT_EQ(store->find_seat("nope", 1), std::nullopt);
}

TEST_F(SeatStateTest, SetsAndClearsAttendees) {
    store->set_attendee("web", 1, "Ada", "ada@example.org");
    EXPECT_EQ(seat(1).attendee_name, "Ada");
    EXPECT_EQ(seat(1).attendee_email, "ada@example.org");
    EXPECT_EQ(seat(1, "db").attendee_name, "") << "labs are separate";

    store->set_attendee("web", 1, "Ada Lovelace", "Ada@Example.org");  // same seat: fine
    EXPECT_EQ(seat(1).attendee_name, "Ada Lovelace");

    store->set_token_hash("web", 1, "hash-1");
    EXPECT_GT(seat(1).token_created_at, 0);
    store->clear_attendee("web", 1);
    EXPECT_EQ(seat(1), (vmlab::SeatRecord{"web", 1, vmlab::SeatState::ready, "", "", "", 0, 0}));
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1"), std::nullopt) << "clearing revokes the token";

    EXPECT_THROW(store->set_attendee("web", 9, "Bob", "bob@example.org"), vmlab::Error);
    EXPECT_THROW(store->clear_attendee("web", 9), vmlab::Error);
    EXPECT_THROW(store->set_last_reset("web", 9, 1), vmlab::Error);
    EXPECT_THROW(store->set_token_hash("web", 9, "h"), vmlab::Error);
}

TEST_F(SeatStateTest, EmailIsUniquePerLabInAnyCase) {
    store->set_attendee("web", 1, "Ada", "ada@example.org");
    try {
        store->set_attendee("web", 2, "Ada again", "ADA@example.org");
        FAIL() << "the same email on two seats";
    } catch (const vmlab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("seat 1"), std::string::npos) << error.what();
    }
    EXPECT_EQ(seat(2).attendee_name, "");
    store->set_attendee("db", 2, "Ada", "ada@example.org");  // another lab: fine
    EXPECT_EQ(seat(2, "db").attendee_name, "Ada");
}

TEST_F(SeatStateTest, FindsSeatsByTokenHash) {
    store->set_token_hash("web", 1, "hash-1");
    store->set_token_hash("web", 2, "hash-2");
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1"), 1u);
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-2"), 2u);
    EXPECT_EQ(store->seat_for_token_hash("db", "hash-1"), std::nullopt) << "a token opens its own lab only";
    EXPECT_EQ(store->seat_for_token_hash("web", ""), std::nullopt) << "no token is not a token";
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-3"), std::nullopt);

    store->set_token_hash("web", 1, "hash-1b", 1700000900);  // rotation
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1"), std::nullopt);
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1b"), 1u);
    EXPECT_EQ(seat(1).token_created_at, 1700000900);

    EXPECT_THROW(store->set_token_hash("web", 3, "hash-2"), vmlab::Error) << "a hash names one seat";
    store->set_token_hash("web", 2, "");
    EXPECT_EQ(seat(2).token_created_at, 0);
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-2"), std::nullopt);
}

TEST_F(SeatStateTest, MovesAttendeeWithToken) {
    store->set_attendee("web", 1, "Ada", "ada@example.org");
    store->set_token_hash("web", 1, "hash-1", 1700000600);
    store->set_last_reset("web", 1, 1700000700);
    store->move_attendee("web", 1, 3);

    EXPECT_EQ(seat(1), (vmlab::SeatRecord{"web", 1, vmlab::SeatState::ready, "", "", "", 1700000700, 0}));
    EXPECT_EQ(seat(3), (vmlab::SeatRecord{"web", 3, vmlab::SeatState::ready, "", "Ada", "ada@example.org", 0, 1700000600}));
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1"), 3u);
}

TEST_F(SeatStateTest, RefusesBadMovesAndChangesNothing) {
    store->set_attendee("web", 1, "Ada", "ada@example.org");
    store->set_token_hash("web", 1, "hash-1");
    store->set_attendee("web", 2, "Bob", "bob@example.org");
    const auto before = store->seats("web");

    EXPECT_THROW(store->move_attendee("web", 1, 2), vmlab::Error) << "seat 2 is taken";
    EXPECT_THROW(store->move_attendee("web", 3, 1), vmlab::Error) << "seat 3 has nobody";
    EXPECT_THROW(store->move_attendee("web", 1, 1), vmlab::Error);
    EXPECT_THROW(store->move_attendee("web", 1, 9), vmlab::Error);
    EXPECT_EQ(store->seats("web"), before);
}

TEST_F(SeatStateTest, DeletingTheLabRemovesItsTokens) {
    store->set_attendee("web", 1, "Ada", "ada@example.org");
    store->set_token_hash("web", 1, "hash-1");
    store->delete_lab("web");
    EXPECT_EQ(store->seat_for_token_hash("web", "hash-1"), std::nullopt);
    store->upsert_lab(lab("web"));
    store->upsert_seat({"web", 1, vmlab::SeatState::ready, "", "", "", 0});
    EXPECT_EQ(seat(1).attendee_name, "");
}

TEST_F(StateTest, OrganizerTokensAreFoundByHashUntilRevoked) {
    auto store = StateStore::open(db_path);
    const auto ada = store.add_organizer("ada", "hash-a");
    const auto bob = store.add_organizer("bob", "hash-b");
    EXPECT_NE(ada, bob);
    EXPECT_THROW(store.add_organizer("eve", "hash-a"), vmlab::Error) << "a hash names one organizer";
    ASSERT_TRUE(store.organizer_for_token_hash("hash-b"));
    EXPECT_EQ(store.organizer_for_token_hash("hash-b")->name, "bob");
    EXPECT_EQ(store.organizer_for_token_hash(""), std::nullopt);
    EXPECT_TRUE(store.revoke_organizer(bob));
    EXPECT_FALSE(store.revoke_organizer(bob));
    EXPECT_EQ(store.organizer_for_token_hash("hash-b"), std::nullopt);
    const auto all = store.organizers();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].revoked_at, 0);
    EXPECT_NE(all[1].revoked_at, 0);
}

}  // namespace
