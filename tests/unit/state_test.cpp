#include "vmlab/state.hpp"

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

#include "vmlab/error.hpp"

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

    const vmlab::SeatRecord seat{"web", 2, "failed", "disk full", "Ada", "ada@example.org",
                                 1700000200};
    store.upsert_seat(seat);
    EXPECT_EQ(store.seats("web"), std::vector{seat});

    const vmlab::VmRecord vm{"web", 2, "server", "web-s02-server", "5f1c0c2e", "cfg1",
                             "fresh-overlay", "running", "10.0.2.10,10.1.2.10",
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
    store.upsert_seat({"web", 1, "pending", "", "", "", 0});

    auto changed = lab("web");
    changed.title = "Advanced web";
    changed.seats = 5;
    changed.created_at = 1;
    changed.updated_at = 1800000000;
    store.upsert_lab(changed);
    changed.created_at = lab("web").created_at;
    EXPECT_EQ(store.find_lab("web"), changed);
    EXPECT_EQ(store.seats("web").size(), 1u);

    store.upsert_seat({"web", 1, "ready", "", "Bob", "bob@example.org", 0});
    ASSERT_EQ(store.seats("web").size(), 1u);
    EXPECT_EQ(store.seats("web")[0].state, "ready");
    EXPECT_EQ(store.seats("web")[0].attendee_name, "Bob");

    vmlab::VmRecord vm{
        "web", 1, "server", "web-s01-server", "u", "cfg1", "fresh-overlay", "running", "", "", 5};
    store.upsert_vm(vm);
    vm.config_hash = "cfg2";
    vm.state = "shutoff";
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
        store.upsert_seat({name, 1, "ready", "", "", "", 0});
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
    EXPECT_THROW(store.upsert_seat({"ghost", 1, "pending", "", "", "", 0}), vmlab::Error);
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
        store.upsert_seat({"web", 1, "pending", "", "", "", 0});
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

TEST_F(StateTest, DefaultPathFollowsUserAndXdg) {
    if (geteuid() == 0) {
        EXPECT_EQ(StateStore::default_path(), "/var/lib/vmlab/state.db");
        return;
    }
    ::setenv("XDG_DATA_HOME", dir.c_str(), 1);
    EXPECT_EQ(StateStore::default_path(), dir / "vmlab" / "state.db");
    ::unsetenv("XDG_DATA_HOME");
}

}  // namespace
