#pragma once
// Shared by the end-to-end tests (e2e_test.cpp, crash_test.cpp): running programs, virsh and ip
// queries, and the fixture E2e that writes a lab of tiny guests in its own temp dir and, in
// TearDown, removes whatever of it is left (through `vmlab down`, then virsh).
//
// Each binary includes this once; the functions are inline so the header stays includable.

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

#include "vmlab/util/process.hpp"

namespace vmlab_e2e {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline const std::string uri = "qemu:///system";
inline const fs::path vmlab_binary = VMLAB_BINARY;
inline const fs::path source_dir = VMLAB_SOURCE_DIR;
inline const fs::path tiny_guest_dir = VMLAB_TINY_GUEST_DIR;

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

inline Ran run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = command_timeout) {
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    return {command, vmlab::run_process(argv, timeout)};
}

inline Ran virsh(std::vector<std::string> args) {
    args.insert(args.begin(), {"virsh", "-q", "-c", uri});
    return run(args);
}

inline std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        const auto first = line.find_first_not_of(' ');
        if (first != std::string::npos) out.push_back(line.substr(first));
    }
    return out;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `text` has `token` not followed by a digit: "VMLAB-READY 10.0.0.1" does not match "...10.0.0.10".
inline bool has_token(const std::string& text, const std::string& token) {
    for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at + 1)) {
        const auto next = at + token.size();
        if (next == text.size() || !std::isdigit(static_cast<unsigned char>(text[next]))) return true;
    }
    return false;
}

inline bool contains(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

// `name` is `prefix` or starts with `prefix-`.
inline bool named_after(const std::string& name, const std::string& prefix) {
    return name == prefix || name.rfind(prefix + "-", 0) == 0;
}

enum class Kind { domain, network, pool };

inline std::vector<std::string> libvirt_names(Kind kind) {
    const Ran r = kind == Kind::domain    ? virsh({"list", "--all", "--name"})
                  : kind == Kind::network ? virsh({"net-list", "--all", "--name"})
                                          : virsh({"pool-list", "--all", "--name"});
    EXPECT_EQ(r.code(), 0) << r.report();
    return lines(r.out());
}

// Network interfaces of the host (`ip -o link show`), without the "@peer" suffix.
inline std::vector<std::string> host_links() {
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

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::string sha256_of(const fs::path& path) {
    const Ran r = run({"sha256sum", path.string()});
    EXPECT_EQ(r.code(), 0) << r.report();
    return r.out().substr(0, r.out().find(' '));
}

// The host's CPU clock in kHz for the guest's tsc_early_khz (without it the tiny guest's
// clock runs fast under software emulation), or 0 when /proc/cpuinfo does not say.
inline long host_khz() {
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
inline std::optional<Net4> parse_net4(const std::string& text) {
    unsigned a, b, c, d, len;
    char tail;
    if (std::sscanf(text.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail) != 5) return std::nullopt;
    if (a > 255 || b > 255 || c > 255 || d > 255 || len > 32) return std::nullopt;
    return Net4{((a << 24) | (b << 16) | (c << 8) | d) & Net4::mask(len), len};
}

// A /22 in 10.240.0.0/16 (room for four /24 seat networks) that no route of this host uses
// yet, starting the search at `seed`: other labs (or another e2e run) may be up right now.
inline std::string free_lab_cidr(unsigned seed) {
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
        m_lab = m_name_prefix + "-" + std::to_string(pid) + "-" + std::to_string(n);
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
        std::string cmdline = "console=ttyS0 quiet panic=-1 tsc=reliable clocksource=tsc no_timer_check";
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
    std::string m_name_prefix = "e2e";  // labs are named <prefix>-<pid>-<n>

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

}  // namespace vmlab_e2e
