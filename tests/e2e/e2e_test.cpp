// End-to-end tests: the real `vmlab` binary against qemu:///system, with the tiny guest.
//
// Each case writes its own lab (a unique name per process and case, an isolated network in
// 10.240.0.0/16, storage and a state database in its own temp dir) and checks the results with
// virsh, qemu-img and the guests' serial console logs — not with vmlab itself. TearDown always
// runs `vmlab down`, then removes through virsh whatever is still named after the lab, so a
// failing case leaks nothing. No test sends traffic to a guest: DHCP leases and the serial log
// prove that the guests booted, leased their planned address and wrote their disks.

#include "e2e_support.hpp"

namespace {

using namespace vmlab_e2e;
using namespace std::chrono_literals;

// up --wait-ip brings every VM to its planned lease; the guests boot from linked clones that
// never write the base image; down removes everything, as virsh, ip and the file system show.
TEST_F(E2e, UpWaitIpThenDown) {
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha", "beta"}));
    ASSERT_EQ(m_vms.size(), 2u);
    const fs::path source_image = tiny_guest_dir / "base.qcow2";
    const std::string source_sha = sha256_of(source_image);

    const Ran up_run = up();
    ASSERT_EQ(up_run.code(), 0) << up_run.report();

    // Positive controls for the checks after down: virsh and ip see the lab's objects now.
    std::vector<std::string> domains;
    for (const auto& vm : m_vms) domains.push_back(vm.domain);
    std::sort(domains.begin(), domains.end());
    auto found = lab_domains();
    std::sort(found.begin(), found.end());
    EXPECT_EQ(found, domains);
    EXPECT_EQ(lab_networks(), std::vector<std::string>{m_vms.front().network});
    EXPECT_EQ(lab_pools(), std::vector<std::string>{m_plan.at("pool").at("name").get<std::string>()});
    EXPECT_TRUE(contains(lab_bridges(), m_vms.front().bridge)) << "bridge " << m_vms.front().bridge << " is not up";

    expect_status_running();
    expect_leases();

    for (const auto& vm : m_vms) {
        // The guest leased its planned address and stamped its own disk.
        wait_for_console(vm, {"VMLAB-READY " + vm.ip, "VMLAB-STAMP: VMLAB-BOOT"});

        // Its root disk is a qcow2 overlay whose chain ends at the pool's base image: root ->
        // (the frozen disk of its running baseline ->) base. Nothing is a full copy.
        const fs::path root = m_storage / vm.root_volume;
        const Ran info = run({"qemu-img", "info", "--output=json", "-U", "--backing-chain", root.string()});
        ASSERT_EQ(info.code(), 0) << info.report();
        const json chain = json::parse(info.out());
        ASSERT_TRUE(chain.is_array() && chain.size() >= 2) << root << " is not a linked clone\n" << chain;
        const std::string base = (m_storage / vm.backing_volume).string();
        ASSERT_EQ(chain.size(), m_baseline == "running" ? 3u : 2u) << chain;
        EXPECT_EQ(fs::weakly_canonical(chain.front().at("filename").get<std::string>()), fs::weakly_canonical(root)) << chain;
        EXPECT_EQ(fs::weakly_canonical(chain.back().at("filename").get<std::string>()), fs::weakly_canonical(base)) << chain;
        if (m_baseline == "running") {  // the disk as it was when the guest was ready, frozen
            EXPECT_TRUE(chain[1].at("filename").get<std::string>().starts_with(root.string() + ".baseline-")) << chain;
        }
        const json& facts = chain[0];
        EXPECT_EQ(facts.at("format"), "qcow2") << facts;
        if (facts.contains("backing-filename-format")) {
            EXPECT_EQ(facts.at("backing-filename-format"), "qcow2") << facts;
        }
    }

    // Linked clones never write the base: the pool's copy still equals the source, unchanged.
    const fs::path pool_base = m_storage / m_vms.front().backing_volume;
    EXPECT_EQ(sha256_of(source_image), source_sha);
    EXPECT_EQ(sha256_of(pool_base), source_sha) << pool_base << " changed while the guests ran";

    const Ran down = vmlab({"down", m_lab}, up_timeout);
    EXPECT_EQ(down.code(), 0) << down.report();
    expect_nothing_left();
}

// A run interrupted after some domains existed: a second up creates what is missing, keeps
// the rest, and waits for all leases again.
TEST_F(E2e, UpIsIdempotentAndFinishesWork) {
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha", "beta"}));
    const Ran first = up();
    ASSERT_EQ(first.code(), 0) << first.report();

    const PlannedVm& lost = planned("beta");
    const PlannedVm& kept = planned("alpha");
    const Ran destroy = virsh({"destroy", lost.domain});
    ASSERT_EQ(destroy.code(), 0) << destroy.report();
    const Ran undefine = virsh({"undefine", lost.domain});
    ASSERT_EQ(undefine.code(), 0) << undefine.report();
    ASSERT_FALSE(contains(lab_domains(), lost.domain));

    const Ran second = up({"--json"});
    ASSERT_EQ(second.code(), 0) << second.report();
    const json report = json::parse(second.out());
    EXPECT_EQ(report.at("failed"), 0) << report;
    ASSERT_EQ(report.at("seats").size(), 1u) << report;
    const json& seat = report.at("seats").at(0);
    EXPECT_EQ(seat.at("ok"), true) << report;
    const auto created = seat.at("created").get<std::vector<std::string>>();
    const auto kept_items = seat.at("kept").get<std::vector<std::string>>();
    EXPECT_TRUE(contains(created, "domain " + lost.domain)) << report;
    EXPECT_TRUE(contains(kept_items, "domain " + kept.domain)) << report;
    EXPECT_FALSE(contains(created, "domain " + kept.domain)) << report;
    EXPECT_FALSE(contains(kept_items, "domain " + lost.domain)) << report;

    expect_status_running();
    expect_leases();

    const Ran down = vmlab({"down", m_lab}, up_timeout);
    EXPECT_EQ(down.code(), 0) << down.report();
    expect_nothing_left();
}

// The state database is lost: down still finds the lab's objects through libvirt's metadata.
TEST_F(E2e, DownWithoutDatabase) {
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha"}));
    const Ran up_run = up();
    ASSERT_EQ(up_run.code(), 0) << up_run.report();
    ASSERT_EQ(lab_domains().size(), 1u);

    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::error_code ec;
        fs::remove(m_state.string() + suffix, ec);
    }
    ASSERT_FALSE(fs::exists(m_state));

    const Ran down = vmlab({"down", m_lab}, up_timeout);
    EXPECT_EQ(down.code(), 0) << down.report();
    expect_nothing_left();
}

// A network that merely has the lab's name, without vmlab's metadata, is not the lab's: up
// refuses to use it (the seat fails, exit 3, naming the network), and down leaves it alone.
TEST_F(E2e, DownNeverTouchesForeignObjects) {
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha"}));
    const std::string foreign = "vmlab-" + m_lab + "-s01-lan";
    ASSERT_EQ(planned("alpha").network, foreign);
    const fs::path xml = m_dir / "foreign-network.xml";
    std::ofstream(xml) << "<network>\n  <name>" << foreign << "</name>\n  <bridge name='" << m_foreign_bridge
                       << "' stp='on' delay='0'/>\n</network>\n";
    const Ran define = virsh({"net-define", xml.string()});
    ASSERT_EQ(define.code(), 0) << define.report();
    const Ran start = virsh({"net-start", foreign});
    ASSERT_EQ(start.code(), 0) << start.report();

    const Ran up_run = up();
    EXPECT_EQ(up_run.code(), 3) << up_run.report();
    EXPECT_TRUE(contains(up_run.out() + up_run.result.err, foreign)) << "the error should name " << foreign << "\n"
                                                                      << up_run.report();
    EXPECT_EQ(lab_domains(), std::vector<std::string>{}) << "no VM of the failed seat should have been created";

    const Ran down = vmlab({"down", m_lab}, up_timeout);
    EXPECT_EQ(down.code(), 0) << down.report();
    expect_nothing_left({foreign});

    // Still there, still running, still the same network.
    const Ran info = virsh({"net-info", foreign});
    ASSERT_EQ(info.code(), 0) << info.report();
    const auto info_lines = lines(info.out());
    EXPECT_TRUE(std::any_of(info_lines.begin(), info_lines.end(), [](const std::string& line) {
        return line.rfind("Active:", 0) == 0 && contains(line, "yes");
    })) << info.out();
    EXPECT_TRUE(contains(info.out(), m_foreign_bridge)) << info.out();
    const Ran dump = virsh({"net-dumpxml", foreign});
    ASSERT_EQ(dump.code(), 0) << dump.report();
    EXPECT_FALSE(contains(dump.out(), "<metadata")) << "vmlab must not have tagged it:\n" << dump.out();
}

// A file someone put into the lab's storage directory survives `down`, which says so.
TEST_F(E2e, DownLeavesFilesItDidNotCreate) {
    m_baseline = "powered-off";
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha"}));
    const Ran first = vmlab({"up", m_lab_file.string()}, up_timeout);
    ASSERT_EQ(first.code(), 0) << first.report();
    const fs::path notes = m_storage / "notes.txt";
    std::ofstream(notes) << "the presenter's notes";

    const Ran down = vmlab({"down", m_lab}, up_timeout);
    EXPECT_EQ(down.code(), 0) << down.report();
    EXPECT_TRUE(contains(down.result.err, notes.string())) << "down should name the file it left\n" << down.report();
    std::ifstream in(notes);
    std::string text;
    std::getline(in, text);
    EXPECT_EQ(text, "the presenter's notes");
    EXPECT_EQ(lab_domains(), std::vector<std::string>{});
    EXPECT_EQ(lab_networks(), std::vector<std::string>{});
    EXPECT_EQ(lab_pools(), std::vector<std::string>{});
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(m_storage)) left.push_back(entry.path().filename().string());
    EXPECT_EQ(left, std::vector<std::string>{"notes.txt"});
}

// Reset undoes the guest's disk write on one seat only: the guest stamps its disk at every
// boot and prints the first line it found there, so a boot on a reset disk finds it blank.
TEST_F(E2e, ResetRestoresOneSeatAndLeavesTheOthers) {
    m_baseline = "powered-off";
    ASSERT_NO_FATAL_FAILURE(write_lab(2, {"alpha"}));
    const Ran first = up();
    ASSERT_EQ(first.code(), 0) << first.report();
    const PlannedVm* seat1 = nullptr;
    const PlannedVm* seat2 = nullptr;
    for (const auto& vm : m_vms) (vm.domain.find("-s01-") != std::string::npos ? seat1 : seat2) = &vm;
    ASSERT_TRUE(seat1 && seat2);
    for (const PlannedVm* vm : {seat1, seat2}) wait_for_console(*vm, {"VMLAB-READY " + vm->ip, "VMLAB-STAMP: VMLAB-BOOT"});

    const Ran id_before = virsh({"domid", seat2->domain});
    const auto inode = [&](const PlannedVm& vm) { return run({"stat", "-c", "%i", (m_storage / vm.root_volume).string()}).out(); };
    const std::string seat2_disk_before = inode(*seat2);
    const std::size_t seat1_log_before = read_file(console_log(*seat1)).size();

    const Ran reset = vmlab({"reset", m_lab, "--seat", "1", "--wait-ip", std::to_string(wait_ip_seconds)}, up_timeout);
    ASSERT_EQ(reset.code(), 0) << reset.report();
    EXPECT_TRUE(contains(reset.out(), "seat 1: reset 1 VM")) << reset.report();

    // Seat 1 booted again on a blank overlay (the first boot's stamp is gone) with its address.
    const auto deadline = std::chrono::steady_clock::now() + console_timeout;
    std::string after;
    while (std::chrono::steady_clock::now() < deadline) {
        after = read_file(console_log(*seat1)).substr(seat1_log_before);
        if (has_token(after, "VMLAB-READY " + seat1->ip)) break;
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_TRUE(has_token(after, "VMLAB-READY " + seat1->ip)) << "console after the reset:\n" << after;
    EXPECT_TRUE(contains(after, "VMLAB-DISK: (blank)")) << "the disk was not reset; console after the reset:\n" << after;
    EXPECT_FALSE(contains(after, "VMLAB-DISK: VMLAB-BOOT")) << after;

    // Seat 2 was not touched: same running domain, same disk file (its stamp still there).
    EXPECT_EQ(virsh({"domid", seat2->domain}).out(), id_before.out());
    EXPECT_EQ(inode(*seat2), seat2_disk_before);
    expect_status_running();

    const Ran log = vmlab({"log", m_lab, "--json"});
    ASSERT_EQ(log.code(), 0) << log.report();
    EXPECT_TRUE(contains(log.out(), "\"reset\"")) << log.out();
}

// Two resets of one seat never run at once (the second fails at once with --no-wait); a
// reset of another seat goes ahead meanwhile.
TEST_F(E2e, ResetsOfOneSeatSerializeOfDifferentSeatsOverlap) {
    m_baseline = "powered-off";  // a cold reset holds the seat for a whole boot
    ASSERT_NO_FATAL_FAILURE(write_lab(2, {"alpha"}));
    const Ran first = up();
    ASSERT_EQ(first.code(), 0) << first.report();

    // The first reset holds seat 1 until its guest has leased its address again (seconds).
    std::optional<Ran> long_reset;
    std::thread holder([&] {
        long_reset = vmlab({"reset", m_lab, "--seat", "1", "--wait-ip", std::to_string(wait_ip_seconds)}, up_timeout);
    });
    const fs::path seat_lock = m_dir / "locks" / (m_lab + ".seat-1.lock");
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!contains(read_file(seat_lock), "held by pid") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);

    const Ran same_seat = vmlab({"reset", m_lab, "--seat", "1", "--no-wait"});
    const Ran other_seat = vmlab({"reset", m_lab, "--seat", "2", "--no-wait", "--no-wait-ip"});
    holder.join();

    ASSERT_TRUE(long_reset);
    EXPECT_EQ(long_reset->code(), 0) << long_reset->report();
    EXPECT_NE(same_seat.code(), 0) << same_seat.report();
    EXPECT_TRUE(contains(same_seat.out() + same_seat.result.err, "busy")) << same_seat.report();
    EXPECT_EQ(other_seat.code(), 0) << other_seat.report();
}

// A running baseline: reset hands back the guest as it ran when captured — memory included —
// without booting it again, and with its address.
class E2eWarm : public E2e {
protected:
    void run_warm_reset(const std::string& firmware) {
        m_firmware = firmware;
        ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha"}));
        const Ran first = up();
        ASSERT_EQ(first.code(), 0) << first.report();
        const PlannedVm& vm = planned("alpha");
        EXPECT_TRUE(fs::exists(m_storage / (vm.domain + ".baseline.mem"))) << "no memory image: the baseline was not captured";
        wait_for_console(vm, {"VMLAB-READY " + vm.ip});

        // Change the guest's memory-backed state (a file in its initramfs root).
        ASSERT_NO_FATAL_FAILURE(type_on_console(vm, "touch /vmlab-marker; echo MARK-$((40+2))"));
        wait_for_console(vm, {"MARK-42"});
        const auto boots = [&] {
            const std::string log = read_file(console_log(vm));
            std::size_t n = 0;
            for (auto at = log.find("VMLAB-INIT"); at != std::string::npos; at = log.find("VMLAB-INIT", at + 1)) ++n;
            return n;
        };
        const std::size_t boots_before = boots();

        const Ran reset = vmlab({"reset", m_lab, "--seat", "1"}, up_timeout);
        ASSERT_EQ(reset.code(), 0) << reset.report();

        ASSERT_NO_FATAL_FAILURE(type_on_console(
            vm, "test -e /vmlab-marker && echo MARKER-KEPT-$((1+1)) || echo MARKER-GONE-$((1+1))"));
        const std::string log = wait_for_console(vm, {"MARKER-GONE-2"});
        EXPECT_FALSE(contains(log, "MARKER-KEPT-2")) << "the guest's state was not restored:\n" << log;
        EXPECT_EQ(boots(), boots_before) << "the guest booted again instead of resuming its baseline:\n" << log;
        expect_status_running();
        expect_leases();
    }
};

TEST_F(E2eWarm, ResetResumesTheRunningBaselineBios) { run_warm_reset("bios"); }
TEST_F(E2eWarm, ResetResumesTheRunningBaselineUefi) { run_warm_reset("uefi"); }

}  // namespace
