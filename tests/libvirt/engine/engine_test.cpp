// The engine against libvirt's test driver: up, re-run, a seat that fails half-way, drift,
// down, and never touching what another lab or a person created.

#include "vmlab/engine/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "vmlab/lab/loader.hpp"
#include "vmlab/virt/xml.hpp"

namespace {

using namespace vmlab;
namespace fs = std::filesystem;

constexpr const char* uri = "test:///default";

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

class EngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = suite_dir() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::create_directories(dir);
        std::ofstream(dir / "vmlinuz") << "kernel";
        std::ofstream(dir / "initrd.img") << "initrd";
        std::ofstream(dir / "base.qcow2") << "not really qcow2, the test driver stores no data";
        lab_name = "e" + std::to_string(::getpid() % 100000) + "-" + std::to_string(counter++);
    }

    void TearDown() override {
        for (const std::string& lab : {lab_name, std::string("other-") + lab_name}) {
            Engine engine(conn, store);
            engine.down(lab, KeepImages::no);
        }
        for (const auto& domain : conn.all_domains())
            if (virt::name(domain).starts_with("foreign-") || virt::name(domain).starts_with(lab_name)) {
                virt::destroy(domain);
                virt::undefine(domain);
            }
        for (const auto& network : conn.all_networks())
            if (virt::name(network).starts_with("foreign-" + lab_name)) {
                virt::destroy(network);
                virt::undefine(network);
            }
        fs::remove_all(dir);
    }

    LabSpec load(const std::string& name, unsigned seats, const std::string& memory = "128MiB",
                 const std::string& vm_a_keys = "") {
        const std::string text = "[lab]\nname = \"" + name + "\"\nseats = " + std::to_string(seats) +
                                 "\ncidr = \"10.230.0.0/16\"\nstorage = \"" + (dir / ("pool-" + name)).string() +
                                 "\"\n[templates.tiny]\nkernel = \"vmlinuz\"\ninitrd = \"initrd.img\"\n"
                                 "image = \"base.qcow2\"\nformat = \"raw\"\nmemory = \"" + memory +
                                 "\"\n[networks.lan]\n[vms.a]\ntemplate = \"tiny\"\n" + vm_a_keys + "\n[vms.b]\ntemplate = \"tiny\"\ndisks = [\"1GiB\"]\n";
        LoadResult result = load_lab_text(text, dir / (name + ".toml"));
        for (const auto& d : result.diagnostics) ADD_FAILURE() << format(d);
        return *result.lab;
    }

    UpReport up(const LabSpec& lab, Recreate recreate = Recreate::no) {
        Engine engine(conn, store);
        UpOptions options;
        options.domain_type = "test";
        options.recreate = recreate;
        return engine.up(lab, make_plan(lab), options);
    }

    static fs::path suite_dir() { return fs::temp_directory_path() / ("vmlab-engine-" + std::to_string(::getpid())); }
    static void TearDownTestSuite() { fs::remove_all(suite_dir()); }

    static inline int counter = 0;
    fs::path dir;
    std::string lab_name;
    virt::Connection conn = virt::Connection::open(uri);
    StateStore store = StateStore::open(suite_dir() / "state.db");
};

TEST_F(EngineTest, UpCreatesEverySeatAndRunsEveryVm) {
    const LabSpec lab = load(lab_name, 3);
    const UpReport report = up(lab);
    ASSERT_EQ(report.failed(), 0u);
    ASSERT_EQ(report.seats.size(), 3u);
    for (const auto& seat : report.seats) {
        EXPECT_TRUE(seat.ok) << seat.error;
        EXPECT_TRUE(contains(seat.created, "network vmlab-" + lab_name + "-s0" + std::to_string(seat.seat) + "-lan"));
    }
    for (unsigned seat = 1; seat <= 3; ++seat)
        for (const char* vm : {"a", "b"}) {
            virt::Domain domain = conn.find_domain(domain_name(lab_name, seat, vm));
            ASSERT_TRUE(domain);
            EXPECT_EQ(virt::state(domain), virt::DomainState::running);
            const auto metadata = parse_vm_metadata(*virt::domain_metadata(domain));
            ASSERT_TRUE(metadata);
            EXPECT_EQ(metadata->lab, lab_name);
            EXPECT_EQ(metadata->seat, seat);
        }
    virt::StoragePool pool = conn.find_pool(pool_name(lab_name));
    ASSERT_TRUE(pool);
    EXPECT_TRUE(conn.find_volume(pool, "base-tiny.raw"));
    EXPECT_TRUE(conn.find_volume(pool, domain_name(lab_name, 2, "b") + "-data1.qcow2"));

    EXPECT_EQ(store.vms(lab_name).size(), 6u);
    EXPECT_EQ(store.networks(lab_name).size(), 3u);
    Engine engine(conn, store);
    const auto rows = engine.status(lab_name);
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0].state, "running");
    EXPECT_EQ(rows[0].ips, std::vector{*vmlab::parse_ipv4("10.230.0.10")});
    const HostComparison cmp = engine.compare(make_plan(lab));
    EXPECT_TRUE(cmp.create.empty());
    EXPECT_TRUE(cmp.change.empty());
    EXPECT_TRUE(cmp.conflicts.empty());
}

TEST_F(EngineTest, CompareFindsOurMacsOnAnotherDomainOrNetwork) {
    const LabSpec lab = load(lab_name, 2);
    const Plan plan = make_plan(lab);
    const PlannedVm& taken = plan.seats[1].vms[0];  // seat 2, VM a
    const PlannedVm& leased = plan.seats[0].vms[1];  // seat 1, VM b
    std::string upper = taken.nics[0].mac;  // libvirt takes either case
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    conn.define_domain("<domain type='test'><name>foreign-" + lab_name +
                       "</name><memory>65536</memory><os><type>hvm</type></os><devices><interface type='network'>"
                       "<mac address='" + upper + "'/><source network='default'/></interface></devices></domain>");
    conn.define_network("<network><name>foreign-" + lab_name + "</name><bridge name='vlforeign0'/>"
                        "<ip address='10.231.0.1' netmask='255.255.255.0'><dhcp><range start='10.231.0.128' "
                        "end='10.231.0.254'/><host mac='" + leased.nics[0].mac + "' ip='10.231.0.10'/></dhcp></ip></network>");

    Engine engine(conn, store);
    const HostComparison cmp = engine.compare(plan);
    EXPECT_TRUE(contains(cmp.conflicts, "MAC " + taken.nics[0].mac + " of " + taken.domain + " is used by domain foreign-" +
                                            lab_name + "; rename this lab (its name sets the MACs)"))
        << testing::PrintToString(cmp.conflicts);
    EXPECT_TRUE(contains(cmp.conflicts, "MAC " + leased.nics[0].mac + " of " + leased.domain +
                                            " is used by a DHCP host entry of network foreign-" + lab_name +
                                            "; rename this lab (its name sets the MACs)"))
        << testing::PrintToString(cmp.conflicts);
    EXPECT_EQ(cmp.conflicts.size(), 2u) << testing::PrintToString(cmp.conflicts);  // nothing else clashes

    // Once up, the lab's own domains and networks carry the same MACs: no conflict with itself.
    ASSERT_EQ(up(lab).failed(), 0u);
    EXPECT_EQ(engine.compare(plan).conflicts.size(), 2u);
}

TEST_F(EngineTest, SecondUpKeepsEverything) {
    const LabSpec lab = load(lab_name, 2);
    ASSERT_EQ(up(lab).failed(), 0u);
    const UpReport again = up(lab);
    ASSERT_EQ(again.failed(), 0u);
    for (const auto& seat : again.seats) {
        EXPECT_TRUE(seat.created.empty());
        EXPECT_EQ(seat.kept.size(), 3u);  // one network, two domains
    }
}

TEST_F(EngineTest, FailedSeatDoesNotStopOthersAndReRunFinishesIt) {
    const LabSpec lab = load(lab_name, 3);
    // A domain someone else made, with the name seat 2 wants: vmlab must not touch it.
    const std::string taken = domain_name(lab_name, 2, "b");
    conn.define_domain("<domain type='test'><name>" + taken + "</name><memory>65536</memory><os><type>hvm</type></os></domain>");

    const UpReport first = up(lab);
    EXPECT_EQ(first.failed(), 1u);
    EXPECT_TRUE(first.seats[0].ok);
    EXPECT_FALSE(first.seats[1].ok);
    EXPECT_TRUE(first.seats[2].ok);
    EXPECT_NE(first.seats[1].error.find("is not part of lab"), std::string::npos) << first.seats[1].error;
    // Half-way: seat 2's network and first VM exist.
    EXPECT_TRUE(conn.find_network("vmlab-" + lab_name + "-s02-lan"));
    EXPECT_TRUE(conn.find_domain(domain_name(lab_name, 2, "a")));
    // Foreign domain untouched: still there, not started.
    virt::Domain foreign = conn.find_domain(taken);
    ASSERT_TRUE(foreign);
    EXPECT_FALSE(virt::domain_metadata(foreign));
    EXPECT_EQ(store.seats(lab_name)[1].state, vmlab::SeatState::failed);
    EXPECT_EQ(first.seats[1].failure, FailureKind::other) << "a domain of another owner is not libvirt's failure";
    EXPECT_EQ(store.seats(lab_name)[1].failure, FailureKind::other);

    virt::undefine(foreign);
    const UpReport second = up(lab);
    EXPECT_EQ(second.failed(), 0u);
    EXPECT_TRUE(contains(second.seats[1].created, "domain " + taken));
    EXPECT_TRUE(contains(second.seats[1].kept, "domain " + domain_name(lab_name, 2, "a")));
    EXPECT_EQ(store.seats(lab_name)[1].state, vmlab::SeatState::ready);
    EXPECT_EQ(store.seats(lab_name)[1].failure, FailureKind::none);
}

TEST_F(EngineTest, DriftIsReportedAndReplacedOnlyOnRequest) {
    ASSERT_EQ(up(load(lab_name, 1)).failed(), 0u);
    const LabSpec bigger = load(lab_name, 1, "256MiB");
    const UpReport drift = up(bigger);
    EXPECT_EQ(drift.seats[0].drifted.size(), 2u);
    virt::Domain before = conn.find_domain(domain_name(lab_name, 1, "a"));
    EXPECT_EQ(parse_vm_metadata(*virt::domain_metadata(before))->config_hash,
              parse_vm_metadata(*virt::domain_metadata(before))->config_hash);

    const UpReport replaced = up(bigger, Recreate::yes);
    EXPECT_TRUE(replaced.seats[0].drifted.empty());
    EXPECT_TRUE(contains(replaced.seats[0].created, "domain " + domain_name(lab_name, 1, "a")));
    Engine engine(conn, store);
    EXPECT_TRUE(engine.compare(make_plan(bigger)).change.empty());
}

TEST_F(EngineTest, DownRemovesOnlyThisLabAndProvesIt) {
    const std::string other = "other-" + lab_name;
    ASSERT_EQ(up(load(lab_name, 2)).failed(), 0u);
    ASSERT_EQ(up(load(other, 1)).failed(), 0u);
    conn.define_domain("<domain type='test'><name>foreign-" + lab_name +
                       "</name><memory>65536</memory><os><type>hvm</type></os></domain>");

    Engine engine(conn, store);
    const DownReport report = engine.down(lab_name, KeepImages::no);
    EXPECT_TRUE(report.leftovers.empty());
    EXPECT_TRUE(contains(report.removed, "domain " + domain_name(lab_name, 1, "a")));
    EXPECT_TRUE(contains(report.removed, "pool " + pool_name(lab_name)));
    EXPECT_TRUE(engine.find_lab_objects(lab_name).empty());
    EXPECT_FALSE(store.find_lab(lab_name));
    EXPECT_FALSE(store.events(lab_name).empty());  // the audit history outlives the lab

    EXPECT_TRUE(conn.find_domain("foreign-" + lab_name));
    EXPECT_TRUE(conn.find_domain(domain_name(other, 1, "a")));
    EXPECT_TRUE(conn.find_network("vmlab-" + other + "-s01-lan"));
    EXPECT_EQ(engine.find_lab_objects(other).size(), 2u + 1u + 1u + 4u);  // domains, network, pool, volumes
}

TEST_F(EngineTest, DownWorksWithoutTheDatabase) {
    ASSERT_EQ(up(load(lab_name, 2)).failed(), 0u);
    StateStore empty = StateStore::open(dir / "fresh.db");
    Engine engine(conn, empty);
    const DownReport report = engine.down(lab_name, KeepImages::no);
    EXPECT_TRUE(report.leftovers.empty());
    EXPECT_EQ(std::count_if(report.removed.begin(), report.removed.end(),
                            [](const std::string& r) { return r.starts_with("domain "); }),
              4);
    EXPECT_TRUE(engine.find_lab_objects(lab_name).empty());
}

TEST_F(EngineTest, DownKeepImagesKeepsOnlyBaseImages) {
    ASSERT_EQ(up(load(lab_name, 1)).failed(), 0u);
    Engine engine(conn, store);
    const DownReport report = engine.down(lab_name, KeepImages::yes);
    EXPECT_TRUE(report.leftovers.empty());
    const auto left = engine.find_lab_objects(lab_name);
    EXPECT_EQ(left, (std::vector<std::string>{"pool " + pool_name(lab_name), "volume base-tiny.raw"}));
}

TEST_F(EngineTest, GcFindsLabsTheDatabaseLostAndStrayVolumes) {
    ASSERT_EQ(up(load(lab_name, 1)).failed(), 0u);
    Engine engine(conn, store);
    EXPECT_TRUE(engine.find_orphans(lab_name).objects.empty());  // known lab, nothing stray

    // An interrupted import leaves NAME.partial: a stray volume of a known lab.
    virt::StoragePool pool = conn.find_pool(pool_name(lab_name));
    conn.create_volume(pool, "<volume><name>base-x.raw.partial</name><capacity>1024</capacity></volume>");
    const Orphans stray = engine.find_orphans(lab_name);
    ASSERT_EQ(stray.stray_volumes.size(), 1u);
    EXPECT_TRUE(stray.labs.empty());
    engine.remove_orphans(stray);
    EXPECT_FALSE(conn.find_volume(pool, "base-x.raw.partial"));
    EXPECT_TRUE(conn.find_domain(domain_name(lab_name, 1, "a")));  // the lab itself untouched

    // With the database lost, the whole lab is an orphan, and gc removes it.
    StateStore lost = StateStore::open(dir / "lost.db");
    Engine forgetful(conn, lost);
    const Orphans orphans = forgetful.find_orphans(std::nullopt);
    EXPECT_TRUE(std::find(orphans.labs.begin(), orphans.labs.end(), lab_name) != orphans.labs.end());
    const DownReport removed = forgetful.remove_orphans(forgetful.find_orphans(lab_name));
    EXPECT_TRUE(removed.leftovers.empty());
    EXPECT_TRUE(forgetful.find_lab_objects(lab_name).empty());
}

TEST_F(EngineTest, JournalNamesWhatAKilledRunLeftAndTheNextRunClearsIt) {
    const LabSpec lab = load(lab_name, 1);
    up(lab);
    EXPECT_EQ(store.journal(lab_name), std::vector<JournalEntry>{}) << "a finished up leaves no step open";

    // What a killed `up` leaves: a step whose process is gone (pids stop below 2^22).
    constexpr std::int64_t gone = (1 << 22) + 7;
    store.begin_step({0, lab_name, 1, "up", "define domain " + lab_name + "-s01-a", gone, 0});
    Engine engine(conn, store);
    const auto interrupted = engine.interrupted(lab_name);
    ASSERT_EQ(interrupted.size(), 1u);
    EXPECT_EQ(interrupted[0].step, "define domain " + lab_name + "-s01-a");
    EXPECT_EQ(interrupted[0].pid, gone);

    // A step of a process that still runs (this one) is not interrupted.
    const auto running = store.begin_step({0, lab_name, 1, "reset", "reset a, b", 0, 0});
    EXPECT_EQ(engine.interrupted(lab_name).size(), 1u);
    store.end_step(running);

    up(lab);
    EXPECT_EQ(store.journal(lab_name), std::vector<JournalEntry>{});
    EXPECT_EQ(engine.interrupted(lab_name), std::vector<JournalEntry>{});
}

TEST_F(EngineTest, UpRefusesAStorageDirectoryWithFilesItDidNotCreate) {
    const LabSpec lab = load(lab_name, 1);
    fs::create_directories(lab.storage);
    std::ofstream(fs::path(lab.storage) / "thesis.odt") << "years of work";
    try {
        up(lab);
        ADD_FAILURE() << "up used a directory with someone else's files";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("thesis.odt"), std::string::npos) << e.what();
        EXPECT_EQ(e.code(), ExitCode::invalid);
    }
    for (const auto& domain : conn.all_domains()) EXPECT_FALSE(virt::name(domain).starts_with(lab_name + "-"));
    EXPECT_FALSE(conn.find_pool(pool_name(lab_name)));
    EXPECT_TRUE(fs::exists(fs::path(lab.storage) / "thesis.odt"));
}

TEST_F(EngineTest, ConsoleBeyondLoopbackGetsAPassword) {
    ASSERT_EQ(up(load(lab_name, 1, "128MiB", "console_listen = \"0.0.0.0\"")).failed(), 0u);
    Engine engine(conn, store);
    const std::string password = engine.console_password(domain_name(lab_name, 1, "a"));
    EXPECT_EQ(password.size(), 8u);  // VNC's limit
    EXPECT_EQ(password.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567"), std::string::npos);
    EXPECT_EQ(engine.console_password(domain_name(lab_name, 1, "b")), "");  // 127.0.0.1: none
    // The password is only in the secure XML, never in what `status` or a plain dump shows.
    const std::string plain = virt::xml_desc(conn.find_domain(domain_name(lab_name, 1, "a")));
    EXPECT_EQ(plain.find(password), std::string::npos);
}

}  // namespace
