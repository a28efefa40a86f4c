// End-to-end on the real Debian guest (scripts/build-real-guest: systemd, cloud-init, OpenSSH):
// per-seat identity, logins and setup through vmlab's NoCloud seed, name resolution between the
// VMs of a seat, and a warm reset that brings back the configured guest. Kept small, because a
// real guest needs about a minute to boot under software emulation: 2 seats, each one real guest
// ("web") and one tiny guest ("db", so "web" has a neighbour to resolve by name).
//
// Every SSH connection is bound to the host's address on the seat's bridge, after `ip route get`
// shows that the guest's address is reached through that bridge (the network rule: nothing may
// leave the machine through the default route).

#include "e2e_support.hpp"

namespace vmlab_e2e {
namespace {

inline const fs::path real_guest_dir = VMLAB_REAL_GUEST_DIR;
constexpr auto ssh_timeout = 240s;

struct SeatLogin {
    std::string user, password, hostname, ip, ssh;
};

class RealGuest : public E2e {
protected:
    void SetUp() override {
        m_name_prefix = "e2r";
        E2e::SetUp();
        if (HasFatalFailure()) return;
        for (const char* file : {"vmlinuz", "initrd.img", "root.qcow2", "MANIFEST"})
            ASSERT_TRUE(fs::is_regular_file(real_guest_dir / file))
                << (real_guest_dir / file) << " is missing: the CTest fixture e2e_real_guest builds it (run "
                << (source_dir / "scripts/build-real-guest") << " " << real_guest_dir << ")";
        ASSERT_EQ(run({"sh", "-c", "command -v sshpass ssh"}).code(), 0) << "sshpass and ssh are needed (scripts/setup)";
    }

    void write_real_lab() {
        std::string tiny_cmdline = "console=ttyS0 quiet panic=-1 tsc=reliable clocksource=tsc no_timer_check";
        if (const long khz = host_khz()) tiny_cmdline += " tsc_early_khz=" + std::to_string(khz);
        std::ofstream(m_dir / "web.yaml") << "#cloud-config\n"
                                             "write_files:\n"
                                             "  - path: /etc/vmlab-marker\n"
                                             "    content: \"seat={{seat}} attendee={{attendee.name}} vm={{vm}}\\n\"\n"
                                             "runcmd:\n"
                                             "  - [sh, -c, \"echo setup-done seat={{seat}} attendee='{{attendee.name}}' "
                                             "> /var/tmp/vmlab-setup\"]\n";
        std::ostringstream lab;
        lab << "# Written by " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << "\n"
            << "[lab]\n"
            << "name = \"" << m_lab << "\"\n"
            << "seats = 2\n"
            << "cidr = \"" << m_cidr << "\"\n"
            << "storage = \"" << m_storage.string() << "\"\n"
            << "baseline = \"running\"\n\n"
            << "[login]\n"
            << "user = \"student\"\n"
            << "password = \"random\"\n\n"
            << "[templates.real]\n"
            << "kernel = \"" << (real_guest_dir / "vmlinuz").string() << "\"\n"
            << "initrd = \"" << (real_guest_dir / "initrd.img").string() << "\"\n"
            << "cmdline = \"root=/dev/vda rw console=ttyS0 quiet\"\n"
            << "image = \"" << (real_guest_dir / "root.qcow2").string() << "\"\n"
            << "format = \"qcow2\"\n"
            << "cloud_init = true\n"
            << "vcpus = 1\n"
            << "memory = \"512MiB\"\n\n"
            << "[templates.tiny]\n"
            << "kernel = \"" << (tiny_guest_dir / "vmlinuz").string() << "\"\n"
            << "initrd = \"" << (tiny_guest_dir / "initrd.img").string() << "\"\n"
            << "cmdline = \"" << tiny_cmdline << "\"\n"
            << "image = \"" << (tiny_guest_dir / "base.qcow2").string() << "\"\n"
            << "format = \"qcow2\"\n"
            << "vcpus = 1\n"
            << "memory = \"128MiB\"\n\n"
            << "[networks.lan]\n"
            << "mode = \"isolated\"\n"
            << "prefix = 24\n\n"
            << "[vms.web]\n"
            << "template = \"real\"\n"
            << "hostname = \"web-{{seat}}\"\n"
            << "user_data = \"web.yaml\"\n"
            << "nics = [{ network = \"lan\", address = 10 }]\n\n"
            << "[vms.db]\n"
            << "template = \"tiny\"\n"
            << "nics = [{ network = \"lan\", address = 20 }]\n";
        std::ofstream(m_lab_file) << lab.str();
        load_plan();
    }

    // `vmlab seats LAB --seat N --json`: the VM's hostname, address and login.
    SeatLogin login_of(unsigned seat, const std::string& vm) const {
        const Ran r = vmlab({"seats", m_lab, "--seat", std::to_string(seat), "--json"});
        EXPECT_EQ(r.code(), 0) << r.report();
        const json j = json::parse(r.out());
        EXPECT_EQ(j.at("seat"), seat) << j;
        for (const auto& v : j.at("vms")) {
            if (v.at("name") != vm) continue;
            SeatLogin out;
            out.hostname = v.at("hostname");
            out.ip = v.at("ips").at(0);
            if (!v.at("login").is_null()) {
                out.user = v.at("login").at("user");
                out.password = v.at("login").at("password");
            }
            if (!v.at("ssh").is_null()) out.ssh = v.at("ssh");  // null without a login
            return out;
        }
        ADD_FAILURE() << "no VM " << vm << " in\n" << j.dump(2);
        return {};
    }

    // The host's address on `bridge`, after checking that `ip` is routed through it.
    std::string host_address_towards(const std::string& ip, const std::string& bridge) const {
        const Ran route = run({"ip", "-o", "route", "get", ip});
        EXPECT_EQ(route.code(), 0) << route.report();
        EXPECT_TRUE(has_token(route.out(), "dev") && has_token(route.out(), bridge))
            << ip << " is not routed through the lab's bridge " << bridge << " (refusing to send traffic elsewhere):\n"
            << route.out();
        std::istringstream in(route.out());
        std::string word, src;
        while (in >> word)
            if (word == "src") in >> src;
        EXPECT_FALSE(src.empty()) << route.out();
        return src;
    }

    // Runs `command` on the guest over SSH with a password; bound to the bridge.
    Ran ssh(const PlannedVm& vm, const std::string& user, const std::string& password, const std::string& command,
            std::chrono::milliseconds timeout = 30s) const {
        const std::string source = host_address_towards(vm.ip, vm.bridge);
        if (source.empty()) return {"ssh", {}};
        return run({"sshpass", "-p", password, "ssh", "-b", source, "-o", "StrictHostKeyChecking=no", "-o",
                    "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o",
                    "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", user + "@" + vm.ip, command},
                   timeout);
    }

    // Polls until SSH answers with `password` (cloud-init creates the account late in boot).
    Ran wait_for_ssh(const PlannedVm& vm, const SeatLogin& login) const {
        const auto deadline = std::chrono::steady_clock::now() + ssh_timeout;
        Ran last = ssh(vm, login.user, login.password, "true");
        while (last.code() != 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(2s);
            last = ssh(vm, login.user, login.password, "true");
        }
        return last;
    }

    const PlannedVm& planned_in_seat(unsigned seat, const std::string& vm) const {
        for (const auto& seat_json : m_plan.at("seats"))
            if (seat_json.at("seat") == seat)
                for (const auto& v : seat_json.at("vms"))
                    if (v.at("name") == vm) return planned_domain(v.at("domain"));
        throw std::runtime_error("no planned VM " + vm + " in seat " + std::to_string(seat));
    }
    const PlannedVm& planned_domain(const std::string& domain) const {
        for (const auto& p : m_vms)
            if (p.domain == domain) return p;
        throw std::runtime_error("no planned domain " + domain);
    }
};

TEST_F(RealGuest, SeatsGetTheirOwnIdentityLoginAndSetupAndResetBringsItBack) {
    write_real_lab();
    ASSERT_FALSE(HasFatalFailure());

    // The night before: up; the morning: the roster; up again applies it to seat 1.
    const Ran first = up();
    ASSERT_EQ(first.code(), 0) << first.report();
    const Ran assign =
        vmlab({"seats", "assign", m_lab, "--seat", "1", "--name", "Ada Lovelace", "--email", "ada@example.org"});
    ASSERT_EQ(assign.code(), 0) << assign.report();
    const Ran again = up();
    ASSERT_EQ(again.code(), 0) << again.report();

    const SeatLogin one = login_of(1, "web");
    const SeatLogin two = login_of(2, "web");
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(one.user, "student");
    EXPECT_GE(one.password.size(), 12u);
    EXPECT_NE(one.password, two.password) << "every seat gets its own password";
    EXPECT_EQ(one.hostname, "web-1");
    EXPECT_TRUE(contains(one.ssh, "student@" + one.ip)) << one.ssh;
    EXPECT_TRUE(login_of(1, "db").user.empty()) << "the tiny guest runs no cloud-init: no login";

    const PlannedVm& web1 = planned_in_seat(1, "web");
    EXPECT_EQ(one.ip, web1.ip);
    const Ran reached = wait_for_ssh(web1, one);
    ASSERT_EQ(reached.code(), 0) << "seat 1's password does not open web of seat 1\n" << reached.report();

    // Identity and setup, from vmlab's part of the seed and the presenter's user_data.
    const Ran facts = ssh(web1, one.user, one.password,
                          "hostname; cat /etc/vmlab-marker /var/tmp/vmlab-setup; getent hosts db | cut -d' ' -f1; "
                          "sudo -n true && echo sudo-ok");
    ASSERT_EQ(facts.code(), 0) << facts.report();
    const auto out = lines(facts.out());
    ASSERT_GE(out.size(), 5u) << facts.report();
    EXPECT_EQ(out[0], "web-1");
    EXPECT_EQ(out[1], "seat=1 attendee=Ada Lovelace vm=web");
    EXPECT_EQ(out[2], "setup-done seat=1 attendee=Ada Lovelace");
    EXPECT_EQ(out[3], planned_in_seat(1, "db").ip) << "web resolves its seat's db by name";
    EXPECT_EQ(out[4], "sudo-ok");

    // Seat 2's password does not open seat 1; seat 2 has its own hostname.
    const Ran wrong = ssh(web1, two.user, two.password, "true");
    EXPECT_NE(wrong.code(), 0) << "seat 2's password opened seat 1\n" << wrong.report();
    const PlannedVm& web2 = planned_in_seat(2, "web");
    ASSERT_EQ(wait_for_ssh(web2, two).code(), 0);
    const Ran host2 = ssh(web2, two.user, two.password, "hostname; cat /etc/vmlab-marker");
    EXPECT_EQ(host2.code(), 0) << host2.report();
    EXPECT_TRUE(contains(host2.out(), "web-2") && contains(host2.out(), "seat=2 attendee= vm=web")) << host2.out();

    // The attendee breaks things; a reset brings back the configured guest.
    const Ran scribble = ssh(web1, one.user, one.password, "echo broken > ~/scribble && sync");
    ASSERT_EQ(scribble.code(), 0) << scribble.report();
    const auto reset_start = std::chrono::steady_clock::now();
    const Ran reset = vmlab({"reset", m_lab, "--seat", "1"}, up_timeout);
    ASSERT_EQ(reset.code(), 0) << reset.report();
    const Ran back = wait_for_ssh(web1, one);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - reset_start).count();
    ASSERT_EQ(back.code(), 0) << "SSH does not answer after the reset\n" << back.report();
    std::cout << "reset of seat 1 back to SSH: " << seconds << " s\n";
    const Ran after = ssh(web1, one.user, one.password, "test ! -e ~/scribble && cat /var/tmp/vmlab-setup");
    EXPECT_EQ(after.code(), 0) << "the attendee's file survived the reset, or the setup marker is gone\n"
                               << after.report();
    EXPECT_TRUE(contains(after.out(), "setup-done seat=1")) << after.out();

    // down leaves nothing: domains, networks, pool, seeds and every volume.
    const Ran down = vmlab({"down", m_lab}, up_timeout);
    ASSERT_EQ(down.code(), 0) << down.report();
    expect_nothing_left();
    m_lab.clear();  // TearDown has nothing left to remove
}

}  // namespace
}  // namespace vmlab_e2e
