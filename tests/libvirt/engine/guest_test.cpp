// Cloud-init guests on libvirt's test driver: each VM's NoCloud seed volume exists, is attached
// read-only, is kept by a second up and by reset, is rebuilt when the seat's attendee changes,
// and is removed by down with everything else. Status says "configuring" until the guest's ready
// line is on its console; seat cards show each VM's hostname and login.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <pugixml.hpp>

#include "vmlab/engine/engine.hpp"
#include "vmlab/lab/loader.hpp"
#include "vmlab/guest/cloud_config.hpp"
#include "vmlab/seats/access.hpp"
#include "vmlab/seats/handout.hpp"
#include "vmlab/virt/xml.hpp"

namespace {

using namespace vmlab;
namespace fs = std::filesystem;

class GuestSeedTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("vmlab-guest-seed-" + std::to_string(::getpid()) + "-" + std::to_string(counter));
        fs::create_directories(dir);
        std::ofstream(dir / "base.qcow2") << "not really qcow2, the test driver stores no data";
        std::ofstream(dir / "web.yaml") << "#cloud-config\nruncmd:\n  - echo {{seat}} {{attendee.name}} {{vms.db.ip.lan}}\n";
        lab_name = "g" + std::to_string(::getpid() % 100000) + "-" + std::to_string(counter++);
    }
    void TearDown() override {
        Engine(conn, store).down(lab_name, KeepImages::no);
        fs::remove_all(dir);
    }

    LabSpec load(unsigned seats, const std::string& networks = "[networks.lan]\n") {
        const std::string text = "[lab]\nname = \"" + lab_name + "\"\nseats = " + std::to_string(seats) +
                                 "\ncidr = \"10.231.0.0/16\"\nstorage = \"" + (dir / "pool").string() +
                                 "\"\n[login]\npassword = \"random\"\n"
                                 "[templates.cloud]\nimage = \"base.qcow2\"\nformat = \"raw\"\ncloud_init = true\n"
                                 "memory = \"128MiB\"\n" + networks +
                                 "[vms.web]\ntemplate = \"cloud\"\nhostname = \"web-{{seat}}\"\nuser_data = \"web.yaml\"\n"
                                 "[vms.db]\ntemplate = \"cloud\"\nlogin = false\n";
        LoadResult result = load_lab_text(text, dir / "lab.toml");
        for (const auto& d : result.diagnostics) ADD_FAILURE() << format(d);
        return *result.lab;
    }

    UpReport up(const LabSpec& lab) {
        UpOptions options;
        options.domain_type = "test";
        return Engine(conn, store).up(lab, make_plan(lab), options);
    }

    std::string seed_of(unsigned seat, const std::string& vm) { return domain_name(lab_name, seat, vm) + "-seed.iso"; }

    std::string seed_id(unsigned seat, const std::string& vm) {
        const virt::Domain domain = conn.find_domain(domain_name(lab_name, seat, vm));
        return domain ? parse_vm_metadata(*virt::domain_metadata(domain))->seed_id : "";
    }

    // The seed's <disk> in the domain's XML, or an empty node.
    pugi::xml_node seed_disk(pugi::xml_document& doc, unsigned seat, const std::string& vm) {
        doc.load_string(virt::xml_desc(conn.find_domain(domain_name(lab_name, seat, vm))).c_str());
        for (auto disk : doc.child("domain").child("devices").children("disk"))
            if (fs::path(disk.child("source").attribute("file").value()).filename() == seed_of(seat, vm)) return disk;
        return {};
    }

    static inline int counter = 0;
    fs::path dir;
    std::string lab_name;
    virt::Connection conn = virt::Connection::open("test:///default");
    StateStore store = StateStore::open(fs::temp_directory_path() / ("vmlab-guest-seed-" + std::to_string(::getpid()) + ".db"));
};

TEST_F(GuestSeedTest, EveryVmGetsASeedVolumeAttachedReadOnly) {
    ASSERT_EQ(up(load(2)).failed(), 0u);
    const virt::StoragePool pool = conn.find_pool(pool_name(lab_name));
    for (unsigned seat = 1; seat <= 2; ++seat)
        for (const char* vm : {"web", "db"}) {
            EXPECT_TRUE(conn.find_volume(pool, seed_of(seat, vm))) << seed_of(seat, vm);
            pugi::xml_document doc;
            const pugi::xml_node disk = seed_disk(doc, seat, vm);
            ASSERT_TRUE(disk) << "no seed disk on " << domain_name(lab_name, seat, vm);
            EXPECT_TRUE(disk.child("readonly"));
            EXPECT_STREQ(disk.child("target").attribute("bus").value(), "virtio");
            EXPECT_STREQ(disk.child("target").attribute("dev").value(), "vdb");
            EXPECT_STREQ(disk.child("driver").attribute("type").value(), "raw");
            EXPECT_TRUE(seed_id(seat, vm).starts_with(domain_name(lab_name, seat, vm) + "-")) << seed_id(seat, vm);
        }
}

TEST_F(GuestSeedTest, SeatAccessGivesEachSeatItsHostnamesAndPassword) {
    ASSERT_EQ(up(load(2)).failed(), 0u);
    const auto one = seat_access(store, lab_name, 1);
    const auto two = seat_access(store, lab_name, 2);
    ASSERT_EQ(one.size(), 2u);
    EXPECT_EQ(one[0].vm, "db");
    EXPECT_EQ(one[0].hostname, "db");
    EXPECT_FALSE(one[0].login);
    EXPECT_EQ(one[1].hostname, "web-1");
    ASSERT_TRUE(one[1].login);
    EXPECT_EQ(one[1].login->user, "student");
    EXPECT_GE(one[1].login->password.size(), 12u);
    EXPECT_EQ(one[1].ssh_command(), "ssh student@" + to_string(one[1].ips.at(0)));
    ASSERT_TRUE(two[1].login);
    EXPECT_NE(one[1].login->password, two[1].login->password);
    EXPECT_EQ(two[1].hostname, "web-2");
    // The same password on every read, until down forgets the lab's secret.
    EXPECT_EQ(seat_access(store, lab_name, 1)[1].login->password, one[1].login->password);
}

TEST_F(GuestSeedTest, ASecondUpKeepsTheSeedAndANewAttendeeRebuildsIt) {
    const LabSpec lab = load(2);
    ASSERT_EQ(up(lab).failed(), 0u);
    const std::string first = seed_id(1, "web"), other_seat = seed_id(2, "web"), db = seed_id(1, "db");
    const UpReport again = up(lab);
    ASSERT_EQ(again.failed(), 0u);
    EXPECT_EQ(seed_id(1, "web"), first);
    EXPECT_TRUE(std::find(again.seats[0].kept.begin(), again.seats[0].kept.end(),
                          "domain " + domain_name(lab_name, 1, "web")) != again.seats[0].kept.end());

    store.set_attendee(lab_name, 1, "Ada Lovelace", "ada@example.org");
    const UpReport applied = up(lab);
    ASSERT_EQ(applied.failed(), 0u) << applied.seats[0].error;
    EXPECT_NE(seed_id(1, "web"), first) << "web's user_data names the attendee: its seed changes";
    EXPECT_EQ(seed_id(1, "db"), db) << "db's seed does not depend on the attendee";
    EXPECT_EQ(seed_id(2, "web"), other_seat);
    EXPECT_TRUE(std::find(applied.seats[0].created.begin(), applied.seats[0].created.end(),
                          "volume " + seed_of(1, "web")) != applied.seats[0].created.end());
}

TEST_F(GuestSeedTest, ResetKeepsTheSeedAndDownRemovesIt) {
    ASSERT_EQ(up(load(1)).failed(), 0u);
    const std::string before = seed_id(1, "web");
    // The test driver keeps volumes in memory only, but a reset renames each fresh overlay's file
    // over the old one: give it the files of the root disks, and none for the seeds (a reset
    // that took a seed for a disk overlay fails here).
    fs::create_directories(dir / "pool");
    for (const char* vm : {"web", "db"})
        std::ofstream(dir / "pool" / (domain_name(lab_name, 1, vm) + "-root.qcow2.fresh")) << "";
    Engine engine(conn, store);
    ResetOptions options;
    options.actor = "test";
    const auto results = engine.reset(lab_name, {{1}, std::nullopt}, options);
    ASSERT_EQ(results.size(), 1u);
    ASSERT_TRUE(results[0].ok) << results[0].error;
    const virt::StoragePool pool = conn.find_pool(pool_name(lab_name));
    EXPECT_TRUE(conn.find_volume(pool, seed_of(1, "web")));
    EXPECT_FALSE(conn.find_volume(pool, seed_of(1, "web") + ".fresh")) << "the seed is no disk overlay";
    pugi::xml_document doc;
    EXPECT_TRUE(seed_disk(doc, 1, "web").child("readonly"));
    EXPECT_EQ(seed_id(1, "web"), before);

    const DownReport down = engine.down(lab_name, KeepImages::no);
    EXPECT_TRUE(down.leftovers.empty());
    EXPECT_TRUE(std::find(down.removed.begin(), down.removed.end(), "volume " + seed_of(1, "web")) != down.removed.end())
        << "down names the seed it removed";
    EXPECT_TRUE(engine.find_lab_objects(lab_name).empty());
    EXPECT_FALSE(fs::exists(dir / "pool" / seed_of(1, "web")));
}

TEST_F(GuestSeedTest, StatusSaysConfiguringUntilTheReadyLineIsOnTheConsole) {
    ASSERT_EQ(up(load(1)).failed(), 0u);
    Engine engine(conn, store);
    const auto state_of = [&](const std::string& vm) {
        for (const VmStatus& row : engine.status(lab_name))
            if (row.vm == vm) return row.state;
        return std::string("(no row)");
    };
    EXPECT_EQ(state_of("web"), "configuring") << "the test driver's domains run, but no guest wrote its ready line";
    EXPECT_EQ(state_of("db"), "configuring");

    fs::create_directories(dir / "pool");
    const std::string web = domain_name(lab_name, 1, "web");
    std::ofstream(dir / "pool" / (web + ".console.log")) << "[  OK  ] Reached target\n" << ready_marker(web) << " after 41.2 s\n";
    EXPECT_EQ(state_of("web"), "running");
    EXPECT_EQ(state_of("db"), "configuring") << "each VM has its own console log";
}

TEST_F(GuestSeedTest, SeatCardsShowHostnamesAndLogins) {
    ASSERT_EQ(up(load(2)).failed(), 0u);
    const LabRecord lab = *store.find_lab(lab_name);
    const std::vector<Handout> handouts = make_handouts(store, lab_name, store.seats(lab_name), {});
    ASSERT_EQ(handouts.size(), 2u);
    ASSERT_EQ(handouts[1].vms.size(), 2u);
    EXPECT_EQ(handouts[1].vms[1].hostname, "web-2");
    ASSERT_TRUE(handouts[1].vms[1].login);
    EXPECT_EQ(handouts[1].vms[1].login->password, seat_access(store, lab_name, 2)[1].login->password);
    EXPECT_FALSE(handouts[1].vms[0].login) << "db has login = false";

    const std::string password = handouts[1].vms[1].login->password;
    const std::string csv = render_handouts(HandoutFormat::csv, lab, handouts);
    const std::string header = csv.substr(0, csv.find('\n'));
    EXPECT_NE(header.find("web hostname"), std::string::npos) << header;
    EXPECT_NE(header.find("web user"), std::string::npos) << header;
    EXPECT_NE(header.find("web password"), std::string::npos) << header;
    EXPECT_NE(csv.find("web-2"), std::string::npos);
    EXPECT_NE(csv.find(password), std::string::npos);
    for (HandoutFormat format : {HandoutFormat::md, HandoutFormat::html}) {
        const std::string card = render_handouts(format, lab, handouts);
        EXPECT_NE(card.find("Hostname"), std::string::npos) << card;
        EXPECT_NE(card.find("Password"), std::string::npos) << card;
        EXPECT_NE(card.find("web-2"), std::string::npos) << card;
        EXPECT_NE(card.find("student"), std::string::npos) << card;
        EXPECT_NE(card.find(password), std::string::npos) << card;
    }

    // Without any login, the cards have no user or password columns.
    std::vector<Handout> without = handouts;
    for (Handout& handout : without)
        for (HandoutVm& vm : handout.vms) vm.login.reset();
    const std::string plain_csv = render_handouts(HandoutFormat::csv, lab, without);
    EXPECT_EQ(plain_csv.find("password"), std::string::npos) << plain_csv;
    EXPECT_NE(plain_csv.find("web hostname"), std::string::npos) << plain_csv;
    EXPECT_EQ(render_handouts(HandoutFormat::md, lab, without).find("Password"), std::string::npos);
    EXPECT_EQ(render_handouts(HandoutFormat::html, lab, without).find("Password"), std::string::npos);
}

TEST_F(GuestSeedTest, AResetWaitsUntilTheBootedGuestPrintsItsReadyLine) {
    // No DHCP: no lease to wait for, only the ready line (the test driver has no leases), and no
    // planned address for web's user_data to name.
    std::ofstream(dir / "web.yaml") << "#cloud-config\nruncmd:\n  - echo {{seat}}\n";
    const UpReport report = up(load(1, "[networks.lan]\ndhcp = false\n"));
    for (const auto& seat : report.seats) EXPECT_TRUE(seat.ok) << seat.error;
    ASSERT_EQ(report.failed(), 0u);
    const std::string web = domain_name(lab_name, 1, "web");
    const fs::path log = dir / "pool" / (web + ".console.log");
    fs::create_directories(dir / "pool");
    Engine engine(conn, store);
    ResetOptions options;
    options.actor = "test";
    options.wait_ip = std::chrono::seconds(2);
    const auto reset_web = [&] {
        std::ofstream(dir / "pool" / (web + "-root.qcow2.fresh")) << "";
        const auto results = engine.reset(lab_name, {{1}, "web"}, options);
        EXPECT_EQ(results.size(), 1u);
        return results.at(0);
    };

    std::ofstream(log) << ready_marker(web) << " after 3 s\n";  // the previous boot's line does not count
    const SeatActionResult silent = reset_web();
    EXPECT_FALSE(silent.ok);
    EXPECT_EQ(silent.failure, FailureKind::not_ready);
    EXPECT_NE(silent.error.find("did not print '" + ready_marker(web) + "'"), std::string::npos) << silent.error;

    // A guest that finishes its setup: the reset returns once the line is there.
    std::atomic<bool> done = false;
    std::thread guest([&] {
        while (!done) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            std::ofstream(log, std::ios::app) << ready_marker(web) << " after 1 s\n";
        }
    });
    const SeatActionResult ready = reset_web();
    done = true;
    guest.join();
    EXPECT_TRUE(ready.ok) << ready.error;
}

}  // namespace
