// End-to-end tests: the real `vmlab` binary against qemu:///system, with the tiny guest.
//
// Each case writes its own lab (a unique name per process and case, an isolated network in
// 10.240.0.0/16, storage and a state database in its own temp dir) and checks the results with
// virsh, qemu-img and the guests' serial console logs — not with vmlab itself. TearDown always
// runs `vmlab down`, then removes through virsh whatever is still named after the lab, so a
// failing case leaks nothing. No test sends traffic to a guest: DHCP leases and the serial log
// prove that the guests booted, leased their planned address and wrote their disks.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vmlab/process.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string uri = "qemu:///system";
const fs::path vmlab_binary = VMLAB_BINARY;
const fs::path source_dir = VMLAB_SOURCE_DIR;
const fs::path tiny_guest_dir = VMLAB_TINY_GUEST_DIR;

// Generous: guests run under software emulation on a small, possibly busy machine.
constexpr auto command_timeout = 120s;
constexpr auto up_timeout = 420s;
constexpr int wait_ip_seconds = 180;
constexpr auto console_timeout = 60s;

// A finished command and everything needed to explain a failure.
struct Ran {
    std::string command;
    vmlab::ProcessResult result;

    int code() const { return result.exit_code; }
    const std::string& out() const { return result.out; }
    std::string report() const {
        return "`" + command + "` exited " + std::to_string(result.exit_code) + (result.timed_out ? " (TIMED OUT)" : "") +
               "\n--- stdout:\n" + result.out + "\n--- stderr:\n" + result.err;
    }
};

Ran run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = command_timeout) {
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    return {command, vmlab::run_process(argv, timeout)};
}

Ran virsh(std::vector<std::string> args) {
    args.insert(args.begin(), {"virsh", "-q", "-c", uri});
    return run(args);
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        const auto first = line.find_first_not_of(' ');
        if (first != std::string::npos) out.push_back(line.substr(first));
    }
    return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `text` has `token` not followed by a digit: "VMLAB-READY 10.0.0.1" does not match "...10.0.0.10".
bool has_token(const std::string& text, const std::string& token) {
    for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at + 1)) {
        const auto next = at + token.size();
        if (next == text.size() || !std::isdigit(static_cast<unsigned char>(text[next]))) return true;
    }
    return false;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

// `name` is `prefix` or starts with `prefix-`.
bool named_after(const std::string& name, const std::string& prefix) {
    return name == prefix || name.rfind(prefix + "-", 0) == 0;
}

enum class Kind { domain, network, pool };

std::vector<std::string> libvirt_names(Kind kind) {
    const Ran r = kind == Kind::domain    ? virsh({"list", "--all", "--name"})
                  : kind == Kind::network ? virsh({"net-list", "--all", "--name"})
                                          : virsh({"pool-list", "--all", "--name"});
    EXPECT_EQ(r.code(), 0) << r.report();
    return lines(r.out());
}

// Network interfaces of the host (`ip -o link show`), without the "@peer" suffix.
std::vector<std::string> host_links() {
    const Ran r = run({"ip", "-o", "link", "show"});
    EXPECT_EQ(r.code(), 0) << r.report();
    std::vector<std::string> names;
    for (const auto& line : lines(r.out())) {
        const auto start = line.find(": ");
        if (start == std::string::npos) continue;
        const auto end = line.find(':', start + 2);
        std::string name = line.substr(start + 2, end - start - 2);
        name = name.substr(0, name.find('@'));
        names.push_back(name);
    }
    return names;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string sha256_of(const fs::path& path) {
    const Ran r = run({"sha256sum", path.string()});
    EXPECT_EQ(r.code(), 0) << r.report();
    return r.out().substr(0, r.out().find(' '));
}

// The host's CPU clock in kHz for the guest's tsc_early_khz (without it the tiny guest's
// clock runs fast under software emulation), or 0 when /proc/cpuinfo does not say.
long host_khz() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("cpu MHz", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) return 0;
        try {
            return std::lround(std::stod(line.substr(colon + 1)) * 1000);
        } catch (const std::exception&) {
            return 0;
        }
    }
    return 0;
}

// An IPv4 network as a masked address and a prefix length.
struct Net4 {
    std::uint32_t base = 0;
    unsigned prefix = 0;

    static std::uint32_t mask(unsigned prefix) { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
    bool overlaps(const Net4& other) const {
        const std::uint32_t m = mask(std::min(prefix, other.prefix));
        return (base & m) == (other.base & m);
    }
};

// "a.b.c.d/len"
std::optional<Net4> parse_net4(const std::string& text) {
    unsigned a, b, c, d, len;
    char tail;
    if (std::sscanf(text.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail) != 5) return std::nullopt;
    if (a > 255 || b > 255 || c > 255 || d > 255 || len > 32) return std::nullopt;
    return Net4{((a << 24) | (b << 16) | (c << 8) | d) & Net4::mask(len), len};
}

// A /22 in 10.240.0.0/16 (room for four /24 seat networks) that no route of this host uses
// yet, starting the search at `seed`: other labs (or another e2e run) may be up right now.
std::string free_lab_cidr(unsigned seed) {
    std::vector<Net4> used;
    const Ran routes = run({"ip", "-o", "-4", "route", "show"});
    for (const auto& line : lines(routes.out()))
        if (auto net = parse_net4(line.substr(0, line.find(' ')))) used.push_back(*net);
    for (unsigned i = 0; i < 64; ++i) {
        const std::string cidr = "10.240." + std::to_string(((seed + i) % 64) * 4) + ".0/22";
        const Net4 candidate = *parse_net4(cidr);
        if (std::none_of(used.begin(), used.end(), [&](const Net4& u) { return u.prefix > 0 && u.overlaps(candidate); }))
            return cidr;
    }
    return "10.240." + std::to_string((seed % 64) * 4) + ".0/22";
}

// What the plan says about one VM (one NIC each in these labs).
struct PlannedVm {
    std::string name, domain, mac, ip, network, bridge, root_volume, backing_volume;
};

class E2e : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* file : {"vmlinuz", "initrd.img", "base.qcow2"})
            ASSERT_TRUE(fs::is_regular_file(tiny_guest_dir / file))
                << (tiny_guest_dir / file) << " is missing: the CTest fixture e2e_tiny_guest builds it (run "
                << (source_dir / "scripts/build-tiny-guest") << " " << tiny_guest_dir << ")";
        ASSERT_TRUE(fs::is_regular_file(vmlab_binary)) << vmlab_binary;
        const Ran alive = virsh({"uri"});
        ASSERT_EQ(alive.code(), 0) << "libvirtd does not answer on " << uri << "; run scripts/setup first\n"
                                   << alive.report();

        static std::atomic<int> counter{0};
        const int n = ++counter;
        const long pid = static_cast<long>(::getpid());
        m_lab = "e2e-" + std::to_string(pid) + "-" + std::to_string(n);
        m_cidr = free_lab_cidr(static_cast<unsigned>(pid * 7 + n));
        m_foreign_bridge = "vmf" + std::to_string(pid % 100000) + "-" + std::to_string(n % 100);

        std::string tmpl = (fs::temp_directory_path() / "vmlab-e2e-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << "mkdtemp " << tmpl;
        m_dir = tmpl;
        m_storage = m_dir / "pool";
        m_state = m_dir / "state.db";
        m_lab_file = m_dir / (m_lab + ".toml");
    }

    void TearDown() override {
        if (m_dir.empty()) return;
        if (!m_lab.empty()) {
            const Ran down = vmlab({"down", m_lab}, up_timeout);
            if (down.code() != 0) std::cerr << "TearDown: " << down.report() << '\n';
            for (const auto& leak : remove_with_virsh())
                ADD_FAILURE() << "TearDown could not remove " << leak << " with virsh";
        }
        std::error_code ec;
        fs::remove_all(m_dir, ec);
        if (ec) ADD_FAILURE() << "cannot remove " << m_dir << ": " << ec.message();
    }

    // Writes the lab: `seats` seats, each with one isolated network "lan" and the given VMs
    // (addresses .10, .11, ...), all on the tiny guest with 128 MiB.
    void write_lab(unsigned seats, const std::vector<std::string>& vms) {
        std::string cmdline = "console=ttyS0 quiet panic=-1 tsc=reliable clocksource=tsc";
        if (const long khz = host_khz()) cmdline += " tsc_early_khz=" + std::to_string(khz);
        std::ostringstream lab;
        lab << "# Written by " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << "\n"
            << "[lab]\n"
            << "name = \"" << m_lab << "\"\n"
            << "seats = " << seats << "\n"
            << "cidr = \"" << m_cidr << "\"\n"
            << "storage = \"" << m_storage.string() << "\"\n"
            << "baseline = \"" << m_baseline << "\"\n\n"
            << "[templates.tiny]\n"
            << "kernel = \"" << (tiny_guest_dir / "vmlinuz").string() << "\"\n"
            << "initrd = \"" << (tiny_guest_dir / "initrd.img").string() << "\"\n"
            << "cmdline = \"" << cmdline << "\"\n"
            << "image = \"" << (tiny_guest_dir / "base.qcow2").string() << "\"\n"
            << "format = \"qcow2\"\n"
            << "firmware = \"" << m_firmware << "\"\n"
            << "vcpus = 1\n"
            << "memory = \"" << (m_firmware == "uefi" ? "256MiB" : "128MiB") << "\"\n\n"
            << "[networks.lan]\n"
            << "mode = \"isolated\"\n"
            << "prefix = 24\n";
        int address = 10;
        for (const auto& vm : vms)
            lab << "\n[vms." << vm << "]\n"
                << "template = \"tiny\"\n"
                << "nics = [{ network = \"lan\", address = " << address++ << " }]\n";
        std::ofstream(m_lab_file) << lab.str();
        load_plan();
    }

    Ran vmlab(std::vector<std::string> args, std::chrono::milliseconds timeout = command_timeout) const {
        args.insert(args.begin(), {vmlab_binary.string(), "--state", m_state.string(), "-c", uri});
        return run(args, timeout);
    }

    Ran up(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{"up", m_lab_file.string(), "--wait-ip=" + std::to_string(wait_ip_seconds)};
        args.insert(args.end(), extra.begin(), extra.end());
        return vmlab(args, up_timeout);
    }

    // Reads `vmlab plan --json --offline`: names, MACs, addresses, bridges, volumes.
    void load_plan() {
        const Ran r = vmlab({"plan", m_lab_file.string(), "--json", "--offline"});
        ASSERT_EQ(r.code(), 0) << r.report();
        m_plan = json::parse(r.out());
        ASSERT_EQ(m_plan.at("lab"), m_lab);
        m_vms.clear();
        m_bridges.clear();
        for (const auto& seat : m_plan.at("seats")) {
            std::map<std::string, std::string> bridge_of;
            for (const auto& net : seat.at("networks")) {
                bridge_of[net.at("libvirt_name")] = net.at("bridge");
                m_bridges.push_back(net.at("bridge"));
            }
            for (const auto& vm : seat.at("vms")) {
                PlannedVm p;
                p.name = vm.at("name");
                p.domain = vm.at("domain");
                const auto& nic = vm.at("nics").at(0);
                p.mac = nic.at("mac");
                p.ip = nic.at("ip");
                p.network = nic.at("network");
                p.bridge = bridge_of.at(p.network);
                p.root_volume = vm.at("disks").at(0).at("volume");
                p.backing_volume = vm.at("disks").at(0).at("backing_volume");
                m_vms.push_back(p);
            }
        }
        for (const auto& net : m_plan.at("shared_networks")) m_bridges.push_back(net.at("bridge"));
        ASSERT_EQ(m_plan.at("pool").at("path"), m_storage.string());
    }

    const PlannedVm& planned(const std::string& vm) const {
        for (const auto& p : m_vms)
            if (p.name == vm) return p;
        throw std::runtime_error("no planned VM " + vm);
    }

    // Types a line on the VM's serial console (its pty, as `virsh console` would).
    void type_on_console(const PlannedVm& vm, const std::string& line) const {
        const Ran tty = virsh({"ttyconsole", vm.domain});
        ASSERT_EQ(tty.code(), 0) << tty.report();
        const std::string path = lines(tty.out()).at(0);
        std::ofstream console(path);
        ASSERT_TRUE(console) << "cannot open " << path;
        // QEMU notices a client on its pty within about a second, and drops input before that.
        std::this_thread::sleep_for(1500ms);
        console << "\r" << line << "\r" << std::flush;
        std::this_thread::sleep_for(1000ms);
    }

    std::string m_firmware = "bios";
    std::string m_baseline = "running";

    fs::path console_log(const PlannedVm& vm) const { return m_storage / (vm.domain + ".console.log"); }

    // Polls a VM's serial console log until it holds every one of `needles`; returns the log.
    std::string wait_for_console(const PlannedVm& vm, const std::vector<std::string>& needles) const {
        const auto deadline = std::chrono::steady_clock::now() + console_timeout;
        std::string log;
        for (;;) {
            log = read_file(console_log(vm));
            if (std::all_of(needles.begin(), needles.end(), [&](const std::string& n) { return has_token(log, n); }))
                return log;
            if (std::chrono::steady_clock::now() > deadline) break;
            std::this_thread::sleep_for(500ms);
        }
        for (const auto& n : needles)
            if (!has_token(log, n))
                ADD_FAILURE() << console_log(vm) << " lacks '" << n << "' after " << console_timeout.count()
                              << " s; the log:\n"
                              << log;
        return log;
    }

    std::vector<std::string> lab_domains() const {
        std::vector<std::string> found;
        for (const auto& name : libvirt_names(Kind::domain))
            if (named_after(name, m_lab)) found.push_back(name);
        return found;
    }
    std::vector<std::string> lab_networks() const {
        std::vector<std::string> found;
        for (const auto& name : libvirt_names(Kind::network))
            if (named_after(name, "vmlab-" + m_lab)) found.push_back(name);
        return found;
    }
    std::vector<std::string> lab_pools() const {
        std::vector<std::string> found;
        for (const auto& name : libvirt_names(Kind::pool))
            if (named_after(name, "vmlab-" + m_lab)) found.push_back(name);
        return found;
    }
    std::vector<std::string> lab_bridges() const {
        std::vector<std::string> found;
        for (const auto& link : host_links())
            for (const auto& bridge : m_bridges)
                if (link == bridge || link == bridge + "-nic") found.push_back(link);
        return found;
    }

    // Checked through virsh, ip and the file system, not through vmlab: nothing of the lab
    // remains. `except_networks` are foreign networks that must survive.
    void expect_nothing_left(const std::vector<std::string>& except_networks = {}) const {
        EXPECT_EQ(lab_domains(), std::vector<std::string>{});
        EXPECT_EQ(lab_networks(), except_networks);
        EXPECT_EQ(lab_pools(), std::vector<std::string>{});
        std::error_code ec;
        EXPECT_TRUE(!fs::exists(m_storage, ec) || fs::is_empty(m_storage, ec)) << m_storage << " still has files";
        EXPECT_EQ(lab_bridges(), std::vector<std::string>{});
    }

    // Every VM of the plan runs and holds its planned address, as vmlab status reports.
    void expect_status_running() const {
        const Ran status = vmlab({"status", m_lab, "--json"});
        ASSERT_EQ(status.code(), 0) << status.report();
        const json rows = json::parse(status.out());
        for (const auto& vm : m_vms) {
            const auto row = std::find_if(rows.begin(), rows.end(), [&](const json& r) { return r.at("domain") == vm.domain; });
            ASSERT_NE(row, rows.end()) << vm.domain << " is missing from\n" << status.out();
            EXPECT_EQ(row->at("state"), "running") << *row;
            const auto leased = row->at("leased_ips").get<std::vector<std::string>>();
            EXPECT_TRUE(contains(leased, vm.ip)) << vm.domain << " should hold " << vm.ip << ": " << *row;
        }
    }

    // virsh net-dhcp-leases lists each VM's planned MAC with its planned address.
    void expect_leases() const {
        for (const auto& vm : m_vms) {
            const Ran leases = virsh({"net-dhcp-leases", vm.network});
            ASSERT_EQ(leases.code(), 0) << leases.report();
            const auto rows = lines(leases.out());
            EXPECT_TRUE(std::any_of(rows.begin(), rows.end(),
                                    [&](const std::string& row) { return contains(row, vm.mac) && contains(row, vm.ip + "/"); }))
                << "no lease of " << vm.ip << " to " << vm.mac << " on " << vm.network << ":\n"
                << leases.out();
        }
    }

    // Removes, independently of vmlab, every domain, network and pool named after the lab;
    // returns what is still there afterwards.
    std::vector<std::string> remove_with_virsh() const {
        for (const auto& domain : lab_domains()) {
            virsh({"destroy", domain});
            virsh({"undefine", domain, "--managed-save", "--snapshots-metadata", "--nvram"});
        }
        for (const auto& network : lab_networks()) {
            virsh({"net-destroy", network});
            virsh({"net-undefine", network});
        }
        for (const auto& pool : lab_pools()) {
            virsh({"pool-destroy", pool});
            virsh({"pool-undefine", pool});
        }
        std::vector<std::string> left;
        for (const auto& d : lab_domains()) left.push_back("domain " + d);
        for (const auto& n : lab_networks()) left.push_back("network " + n);
        for (const auto& p : lab_pools()) left.push_back("pool " + p);
        return left;
    }

    std::string m_lab, m_cidr, m_foreign_bridge;
    fs::path m_dir, m_storage, m_state, m_lab_file;
    json m_plan;
    std::vector<PlannedVm> m_vms;
    std::vector<std::string> m_bridges;
};

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
        const std::vector<std::string> expected_files =
            m_baseline == "running"
                ? std::vector<std::string>{root.string(), root.string() + ".baseline", (m_storage / vm.backing_volume).string()}
                : std::vector<std::string>{root.string(), (m_storage / vm.backing_volume).string()};
        ASSERT_EQ(chain.size(), expected_files.size()) << chain;
        for (std::size_t i = 0; i < chain.size(); ++i)
            EXPECT_EQ(fs::weakly_canonical(chain[i].at("filename").get<std::string>()), fs::weakly_canonical(expected_files[i]))
                << chain;
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
