// Crash safety ("nothing lost, nothing leaked"): the real `vmlab` is killed with SIGKILL at
// random moments of `up`, `reset` and `down` on qemu:///system, with labs of 1 seat × 2 tiny
// guests. After every kill, running the same command again must converge (exit 0, and the
// lab as that command promises it), `down` must then leave nothing (virsh, ip and the file
// system, as in e2e_test.cpp), and the state database must pass PRAGMA integrity_check — right
// after the kill (on a copy, so the next vmlab still does the WAL recovery itself) and at the
// end of every sequence.
//
// Kill points: one clean run of each command measures how long it typically takes (T). Point
// i of N is then killed after a delay in [i·T/N, (i+1)·T/N) drawn from a seeded PRNG, so even
// a few points spread over the whole run; a run that finishes before its kill point shrinks T
// for the later points (the host's load varies). Environment:
//   VMLAB_CRASH_POINTS     kill points per command (default 3, the CI size; scripts/crash-test
//                          runs 30)
//   VMLAB_CRASH_SEED       the seed (printed by every case); the same seed draws the same
//                          fractions of T again, per case, whatever else runs
//   VMLAB_CRASH_WINDOW_MS  "FROM-TO" (or "TO"): kill points in [FROM, TO) ms instead; with the
//                          seed, the same kill delays again (a failure report prints both)
//   VMLAB_CRASH_ANCHOR     count the delays from when the command's stderr first shows this
//                          text, e.g. "capturing the running baselines" to aim at that phase
//                          of up (with --gtest_filter=Crash.Up*)
// Every case prints one line per kill point and a tally; the whole binary run prints a table
// at the end (scripts/crash-test shows it).

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <iomanip>
#include <random>

#include "e2e_support.hpp"

namespace {

using namespace vmlab_e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string joined(const std::vector<std::string>& items, const std::string& separator = ", ") {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
    return out;
}

// ---- the spawn-and-kill helper -------------------------------------------------------------

// One run of a program that was sent SIGKILL after `delay`, unless it finished first.
struct Interrupted {
    std::string command;
    std::chrono::milliseconds delay{0};
    bool killed = false;              // still running at the kill point: SIGKILL sent
    int exit_code = -1;               // when it finished before the kill point
    double seconds = 0;               // from start until it was gone
    std::optional<double> anchor_at;  // when its stderr first showed the anchor (seconds after the start)
    std::string out, err;

    // The last thing it logged before it died: where in its work the kill landed.
    std::string last_log_line() const {
        const auto all = lines(err);
        return all.empty() ? "(nothing logged)" : all.back();
    }
    std::string report() const {
        std::ostringstream text;
        text << "`" << command << "` "
             << (killed ? "killed with SIGKILL" : "finished on its own, exit " + std::to_string(exit_code)) << " (kill point "
             << delay.count() << " ms" << (anchor_at ? " after the anchor, seen at " + std::to_string(*anchor_at) + " s" : "")
             << "; ran " << std::fixed << std::setprecision(3) << seconds << " s)"
             << "\n--- its stdout:\n"
             << out << "\n--- its stderr:\n"
             << err;
        return text.str();
    }
};

// Starts argv[0] (a path) in a process group of its own, its stdout and stderr going to files
// in `scratch`, and sends SIGKILL to the group `delay` after the start — or, with an `anchor`,
// `delay` after the anchor text first appears on its stderr (and at `guard` after the start if
// it never does) — unless it has exited. Always reaps it: nothing of it runs when this returns.
Interrupted run_and_kill(const std::vector<std::string>& argv, std::chrono::milliseconds delay, const fs::path& scratch,
                         const std::string& anchor = {}, std::chrono::milliseconds guard = up_timeout) {
    Interrupted r;
    r.command = joined(argv, " ");
    r.delay = delay;
    const fs::path out_file = scratch / "killed.stdout", err_file = scratch / "killed.stderr";
    // Everything the child needs is prepared before fork(): between fork and exec a child of a
    // threaded process may only make async-signal-safe calls.
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const auto close_all = [&] {
        for (const int fd : {null_fd, out_fd, err_fd})
            if (fd >= 0) ::close(fd);
    };
    if (null_fd < 0 || out_fd < 0 || err_fd < 0) {
        close_all();
        throw std::runtime_error("cannot open the output files in " + scratch.string());
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const auto start = Clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) {
        close_all();
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before any kill (no race with the child)
    close_all();

    bool anchored = anchor.empty();
    auto deadline = anchored ? start + delay : start + guard;
    auto next_look = start;
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        auto now = Clock::now();
        if (!anchored && now >= next_look) {
            if (contains(read_file(err_file), anchor)) {
                anchored = true;
                now = Clock::now();
                r.anchor_at = seconds_since(start);
                deadline = now + delay;
            }
            next_look = now + 5ms;
        }
        if (now >= deadline) {
            ::kill(-pid, SIGKILL);
            r.killed = true;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, 1ms));
    }
    r.seconds = seconds_since(start);
    if (!r.killed) r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_file);
    r.err = read_file(err_file);
    return r;
}

// ---- the state database ---------------------------------------------------------------------

// PRAGMA integrity_check through the SQLite C API: "ok", or what it found.
std::string integrity_check(const fs::path& db) {
    if (!fs::exists(db)) return "ok (no database)";
    sqlite3* handle = nullptr;
    if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        const std::string error = handle ? sqlite3_errmsg(handle) : "out of memory";
        sqlite3_close(handle);
        return "cannot open " + db.string() + ": " + error;
    }
    std::vector<std::string> rows;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        handle, "PRAGMA integrity_check",
        [](void* out, int n, char** values, char**) {
            for (int i = 0; i < n; ++i) static_cast<std::vector<std::string>*>(out)->push_back(values[i] ? values[i] : "NULL");
            return 0;
        },
        &rows, &error);
    std::string result = rc == SQLITE_OK ? joined(rows, "; ") : "integrity_check failed: " + std::string(error ? error : "?");
    sqlite3_free(error);
    sqlite3_close(handle);
    return result;
}

// The steps the journal holds ("command: step"), read from the live database.
std::vector<std::string> journal_steps(const fs::path& db) {
    std::vector<std::string> rows;
    sqlite3* handle = nullptr;
    if (!fs::exists(db) || sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(handle);
        return rows;
    }
    sqlite3_busy_timeout(handle, 10000);
    sqlite3_exec(
        handle, "SELECT command || ': ' || step FROM journal ORDER BY id",
        [](void* out, int n, char** values, char**) {
            if (n > 0 && values[0]) static_cast<std::vector<std::string>*>(out)->push_back(values[0]);
            return 0;
        },
        &rows, nullptr);
    sqlite3_close(handle);
    return rows;
}

// integrity_check on a copy of the database and its WAL as a killed vmlab left them.
std::string integrity_check_of_copy(const fs::path& db, const fs::path& scratch) {
    if (!fs::exists(db)) return "ok (no database)";
    const fs::path dir = scratch / "db-copy";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path copy = dir / db.filename();
    fs::copy_file(db, copy);
    if (fs::exists(db.string() + "-wal")) fs::copy_file(db.string() + "-wal", copy.string() + "-wal");
    const std::string result = integrity_check(copy);
    fs::remove_all(dir);
    return result;
}

// ---- the seed and the tally -----------------------------------------------------------------

// A string hash that is the same everywhere (std::hash is not).
std::uint32_t fnv1a(const std::string& text) {
    std::uint32_t h = 2166136261u;
    for (const unsigned char c : text) h = (h ^ c) * 16777619u;
    return h;
}

std::uint64_t crash_seed() {
    static const std::uint64_t seed = []() -> std::uint64_t {
        if (const char* text = std::getenv("VMLAB_CRASH_SEED"); text && *text) return std::stoull(text, nullptr, 0);
        std::random_device device;
        return (std::uint64_t{device()} << 32) | device();
    }();
    return seed;
}

unsigned crash_points() {
    if (const char* text = std::getenv("VMLAB_CRASH_POINTS"); text && *text) return static_cast<unsigned>(std::stoul(text));
    return 3;
}

struct Tally {
    unsigned tried = 0;       // kill points
    unsigned killed = 0;      // of those, the command was still running at the kill point
    unsigned converged = 0;   // the re-run converged
    unsigned leaked = 0;      // objects left after the final down (removed with virsh)
    unsigned second_try = 0;  // of those that did not converge, a second re-run did
    unsigned stray = 0;       // unexpected files in the pool after a re-run that converged
    unsigned db_checks = 0, db_ok = 0;
    double seconds = 0;
    std::vector<std::string> failures;  // one paragraph each, with everything to reproduce it
};

std::map<std::string, Tally>& tallies() {
    static std::map<std::string, Tally> all;
    return all;
}

std::string tally_line(const std::string& name, const Tally& t) {
    std::ostringstream line;
    line << std::left << std::setw(20) << name << std::right << std::setw(6) << t.tried << std::setw(8) << t.killed
         << std::setw(11) << t.converged << std::setw(9) << t.second_try << std::setw(8) << t.leaked << std::setw(7) << t.stray
         << std::setw(8) << (std::to_string(t.db_ok) + "/" + std::to_string(t.db_checks)) << std::setw(9) << std::fixed
         << std::setprecision(0) << t.seconds << " s";
    return line.str();
}
const char* tally_header = "command               tried  killed  converged  2nd try  leaked  stray   db ok    time";

// Printed after the whole binary ran (with ctest, every case is a process of its own and
// prints just its own line).
class Summary : public ::testing::Environment {
public:
    void TearDown() override {
        if (tallies().empty()) return;
        Tally total;
        std::cout << "\n[crash] summary (VMLAB_CRASH_SEED=" << crash_seed() << ", VMLAB_CRASH_POINTS=" << crash_points()
                  << ")\n[crash] " << tally_header << '\n';
        for (const auto& [name, t] : tallies()) {
            std::cout << "[crash] " << tally_line(name, t) << '\n';
            total.tried += t.tried;
            total.killed += t.killed;
            total.converged += t.converged;
            total.leaked += t.leaked;
            total.second_try += t.second_try;
            total.stray += t.stray;
            total.db_checks += t.db_checks;
            total.db_ok += t.db_ok;
            total.seconds += t.seconds;
            total.failures.insert(total.failures.end(), t.failures.begin(), t.failures.end());
        }
        std::cout << "[crash] " << tally_line("total", total) << '\n';
        if (!total.failures.empty()) {
            std::cout << "[crash] " << total.failures.size() << " failure(s):\n";
            for (const auto& f : total.failures) std::cout << f << "\n\n";
        }
        std::cout << std::flush;
    }
};
[[maybe_unused]] ::testing::Environment* const summary = ::testing::AddGlobalTestEnvironment(new Summary);

// ---- the fixture ----------------------------------------------------------------------------

enum class Command { up, reset, down };

class Crash : public E2e {
protected:
    Crash() { m_name_prefix = "crash"; }

    void SetUp() override {
        E2e::SetUp();
        if (HasFatalFailure()) return;
        m_started = Clock::now();
    }

    void TearDown() override {
        if (!m_tally_name.empty()) {
            Tally& t = tallies()[m_tally_name];
            t.seconds = seconds_since(m_started);
            std::cout << "[crash] " << tally_header << "\n[crash] " << tally_line(m_tally_name, t) << std::endl;
        }
        E2e::TearDown();
    }

    std::vector<std::string> vmlab_argv(std::vector<std::string> args) const {
        args.insert(args.begin(), {vmlab_binary.string(), "--state", m_state.string(), "-c", uri});
        return args;
    }
    std::vector<std::string> command_args(Command command) const {
        switch (command) {
            case Command::up:
                return {"up", m_lab_file.string(), "--wait-ip=" + std::to_string(wait_ip_seconds)};
            case Command::reset:
                return {"reset", m_lab, "--seat", "1"};
            case Command::down:
                return {"down", m_lab};
        }
        return {};
    }
    Ran run_command(Command command) const { return vmlab(command_args(command), up_timeout); }

    // Runs the command once, cleanly; it must succeed. Its duration (from the anchor, with
    // VMLAB_CRASH_ANCHOR) is the range of the kill points, unless VMLAB_CRASH_WINDOW_MS says.
    void measure(Command command) {
        const Interrupted r = run_and_kill(vmlab_argv(command_args(command)), up_timeout, m_dir, m_anchor);
        EXPECT_TRUE(!r.killed && r.exit_code == 0) << "the clean run that measures the command failed:\n" << r.report();
        EXPECT_TRUE(m_anchor.empty() || r.anchor_at) << "VMLAB_CRASH_ANCHOR '" << m_anchor << "' never appeared:\n" << r.report();
        m_measured = m_typical = since_anchor(r);
        std::cout << "[crash] " << m_tally_name << ": a clean `" << joined(command_args(command), " ") << "` took "
                  << std::llround(r.seconds * 1000) << " ms"
                  << (m_anchor.empty() ? "" : ", " + std::to_string(m_measured.count()) + " ms of them after '" + m_anchor + "'")
                  << "\n[crash] VMLAB_CRASH_SEED=" << crash_seed() << " VMLAB_CRASH_POINTS=" << crash_points() << std::endl;
        if (const char* window = std::getenv("VMLAB_CRASH_WINDOW_MS"); window && *window) {
            const std::string text = window;
            const auto dash = text.find('-');
            m_window_from = std::chrono::milliseconds(dash == std::string::npos ? 0 : std::stoll(text.substr(0, dash)));
            m_typical = std::chrono::milliseconds(std::stoll(dash == std::string::npos ? text : text.substr(dash + 1)));
            m_window_pinned = true;
            std::cout << "[crash] VMLAB_CRASH_WINDOW_MS=" << window_text() << ": kill points spread over that window instead"
                      << std::endl;
        }
    }

    // How long a run took, from its start or from the anchor.
    std::chrono::milliseconds since_anchor(const Interrupted& r) const {
        const double from = m_anchor.empty() || !r.anchor_at ? 0.0 : *r.anchor_at;
        return std::chrono::milliseconds(std::llround((r.seconds - from) * 1000));
    }

    // A run that finished before its kill point was quicker than the measured one (the host's
    // load varies): later points spread over its duration instead, so they still hit the work.
    void shrink_window(const Interrupted& r) {
        if (r.killed || m_window_pinned || (!m_anchor.empty() && !r.anchor_at)) return;
        const auto took = since_anchor(r);
        if (took >= m_typical) return;
        m_typical = took;
        std::cout << "[crash]   it finished in " << took.count() << " ms: later kill points spread over 0-" << took.count()
                  << " ms" << std::endl;
    }

    // The delay of kill point i of n: a PRNG draw in the i-th n-th of the typical duration.
    std::chrono::milliseconds kill_delay(unsigned i, unsigned n) {
        if (!m_rng) {
            // One stream per case, from the seed and the case's name: reproducible case by case.
            std::seed_seq seq{static_cast<std::uint32_t>(crash_seed()), static_cast<std::uint32_t>(crash_seed() >> 32),
                              fnv1a(m_tally_name)};
            m_rng.emplace(seq);
        }
        const double u = static_cast<double>((*m_rng)() >> 11) * 0x1.0p-53;  // [0, 1), the same on every platform
        const double fraction = (i + u) / n;
        const auto width = static_cast<double>((m_typical - m_window_from).count());
        return m_window_from + std::chrono::milliseconds(static_cast<long long>(fraction * width));
    }

    // Boots of each VM so far, as its serial console log shows (the tiny guest prints
    // VMLAB-INIT once per boot).
    std::map<std::string, std::size_t> boots() const {
        std::map<std::string, std::size_t> count;
        for (const auto& vm : m_vms) {
            const std::string log = read_file(console_log(vm));
            std::size_t n = 0;
            for (auto at = log.find("VMLAB-INIT"); at != std::string::npos; at = log.find("VMLAB-INIT", at + 1)) ++n;
            count[vm.domain] = n;
        }
        return count;
    }

    // Every VM runs and holds its planned lease (vmlab status and virsh agree).
    std::vector<std::string> running_problems() const {
        std::vector<std::string> problems;
        const Ran status = vmlab({"status", m_lab, "--json"});
        if (status.code() != 0) return {"status failed: " + status.report()};
        json rows;
        try {
            rows = json::parse(status.out());
        } catch (const std::exception& e) {
            return {"status printed no JSON: " + status.out()};
        }
        for (const auto& vm : m_vms) {
            const auto row = std::find_if(rows.begin(), rows.end(), [&](const json& r) { return r.at("domain") == vm.domain; });
            if (row == rows.end()) {
                problems.push_back(vm.domain + " is missing from status");
                continue;
            }
            if (row->at("state") != "running") problems.push_back(vm.domain + " is " + row->at("state").dump() + ", not running");
            if (!contains(row->at("leased_ips").get<std::vector<std::string>>(), vm.ip))
                problems.push_back(vm.domain + " does not hold " + vm.ip + " (status: " + row->dump() + ")");
            const Ran leases = virsh({"net-dhcp-leases", vm.network});
            const auto rows_of = lines(leases.out());
            if (std::none_of(rows_of.begin(), rows_of.end(),
                             [&](const std::string& r) { return contains(r, vm.mac) && contains(r, vm.ip + "/"); }))
                problems.push_back("virsh net-dhcp-leases " + vm.network + " lacks " + vm.mac + " " + vm.ip);
        }
        return problems;
    }

    // With a running baseline: each VM has its memory image, and its root disk is a chain
    // root -> root.baseline-<stamp> (-> older frozen layers of interrupted captures) -> base image.
    std::vector<std::string> baseline_problems() const {
        std::vector<std::string> problems;
        if (m_baseline != "running") return problems;
        for (const auto& vm : m_vms) {
            const fs::path memory = m_storage / (vm.domain + ".baseline.mem");
            if (!fs::exists(memory)) problems.push_back("no running baseline: " + memory.string() + " is missing");
            const fs::path root = m_storage / vm.root_volume;
            const Ran info = run({"qemu-img", "info", "--output=json", "-U", "--backing-chain", root.string()});
            if (info.code() != 0) {
                problems.push_back("qemu-img info of " + root.string() + " failed: " + info.result.err);
                continue;
            }
            std::vector<std::string> chain;
            try {
                for (const auto& layer : json::parse(info.out()))
                    chain.push_back(fs::weakly_canonical(layer.at("filename").get<std::string>()).string());
            } catch (const std::exception& e) {
                problems.push_back("qemu-img info of " + root.string() + " printed no JSON");
                continue;
            }
            const std::string root_path = fs::weakly_canonical(root).string();
            bool ok = chain.size() >= 3 && chain.front() == root_path &&
                      chain.back() == fs::weakly_canonical(m_storage / vm.backing_volume).string();
            for (std::size_t i = 1; ok && i + 1 < chain.size(); ++i) ok = chain[i].starts_with(root_path + ".baseline");
            if (!ok)
                problems.push_back("the disk chain of " + vm.domain + " is [" + joined(chain, " -> ") + "], expected " +
                                   vm.root_volume + " -> " + vm.root_volume + ".baseline-* -> " + vm.backing_volume);
        }
        return problems;
    }

    // What is left of the lab: libvirt objects, bridges, files in the pool directory, and the
    // lab in the state database.
    std::vector<std::string> leftovers() const {
        std::vector<std::string> left;
        for (const auto& d : lab_domains()) left.push_back("domain " + d);
        for (const auto& n : lab_networks()) left.push_back("network " + n);
        for (const auto& p : lab_pools()) left.push_back("pool " + p);
        for (const auto& b : lab_bridges()) left.push_back("bridge " + b);
        std::error_code ec;
        if (fs::is_directory(m_storage, ec))
            for (const auto& entry : fs::directory_iterator(m_storage, ec)) left.push_back("file " + entry.path().string());
        const Ran labs = vmlab({"status", "--json"});
        if (labs.code() == 0 && contains(labs.out(), "\"" + m_lab + "\""))
            left.push_back("state: lab " + m_lab + " still listed");
        return left;
    }

    // Everything about the lab as the host shows it, for a failure report.
    std::string host_snapshot() const {
        std::ostringstream text;
        text << "--- libvirt and the pool directory now:\n";
        for (const auto& d : lab_domains()) text << "domain " << d << ": " << joined(lines(virsh({"domstate", d}).out())) << '\n';
        for (const auto& n : lab_networks()) text << "network " << n << '\n';
        for (const auto& p : lab_pools()) {
            text << "pool " << p << ":\n";
            virsh({"pool-refresh", p});
            text << virsh({"vol-list", "--pool", p, "--details"}).out();
        }
        text << "bridges: " << joined(lab_bridges()) << '\n';
        std::error_code ec;
        if (fs::is_directory(m_storage, ec)) {
            text << m_storage.string() << ":\n";
            for (const auto& entry : fs::directory_iterator(m_storage, ec))
                text << "  " << entry.path().filename().string() << "  " << (entry.is_regular_file(ec) ? entry.file_size(ec) : 0)
                     << " bytes\n";
            for (const auto& vm : m_vms) {
                const fs::path root = m_storage / vm.root_volume;
                if (!fs::exists(root)) continue;
                const Ran info = run({"qemu-img", "info", "-U", "--backing-chain", root.string()});
                std::string chain;
                for (const auto& line : lines(info.out()))
                    if (line.rfind("image:", 0) == 0) chain += (chain.empty() ? "" : " -> ") + line.substr(7);
                text << "  chain of " << vm.root_volume << ": " << (info.code() == 0 ? chain : info.result.err) << '\n';
            }
        } else {
            text << m_storage.string() << " does not exist\n";
        }
        text << "vmlab status: " << vmlab({"status", m_lab, "--json"}).out() << '\n';
        return text.str();
    }

    // A kill point that did not converge (or leaked): everything needed to reproduce it.
    void record_failure(const std::string& what, const Interrupted& killed, const std::string& detail) {
        std::ostringstream text;
        text << "[crash] FAILURE " << m_tally_name << " point " << m_point << ": " << what << "\n"
             << "reproduce: VMLAB_CRASH_SEED=" << crash_seed() << " VMLAB_CRASH_POINTS=" << crash_points()
             << " VMLAB_CRASH_WINDOW_MS=" << window_text() << (m_anchor.empty() ? "" : " VMLAB_CRASH_ANCHOR='" + m_anchor + "'")
             << " --gtest_filter=" << ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() << "."
             << ::testing::UnitTest::GetInstance()->current_test_info()->name() << " (kill after " << killed.delay.count()
             << " ms, in the window " << window_text() << " ms; a clean run took " << m_measured.count()
             << " ms; last log line before the kill: " << killed.last_log_line() << ")\n--- the killed run: " << killed.report()
             << '\n'
             << detail;
        tallies()[m_tally_name].failures.push_back(text.str());
        ADD_FAILURE() << text.str();
    }

    // The end of every sequence: down, nothing left (else counted, reported and removed with
    // virsh), and an intact database.
    void finish_sequence(const Interrupted* killed) {
        Tally& t = tallies()[m_tally_name];
        const Ran down = vmlab({"down", m_lab}, up_timeout);
        std::vector<std::string> left = leftovers();
        if (down.code() != 0 || !left.empty()) {
            t.leaked += static_cast<unsigned>(left.size());
            const std::string detail = "--- the final " + down.report() + "\nleft: " + joined(left) + "\n" + host_snapshot();
            if (killed)
                record_failure("the final down " + std::string(left.empty() ? "failed" : "left objects behind"), *killed, detail);
            else
                ADD_FAILURE() << "[crash] " << m_tally_name << ": the final down after a clean run: " << detail;
            for (const auto& leak : remove_with_virsh()) ADD_FAILURE() << "virsh could not remove " << leak;
            for (const auto& bridge : lab_bridges()) run({"ip", "link", "delete", bridge});
            std::error_code ec;
            fs::remove_all(m_storage, ec);
        }
        const std::string integrity = integrity_check(m_state);
        ++t.db_checks;
        if (integrity == "ok") {
            ++t.db_ok;
        } else if (killed) {
            record_failure("integrity_check of the state database after the final down: " + integrity, *killed, "");
        } else {
            ADD_FAILURE() << "integrity_check: " << integrity;
        }
        std::cout << "[crash]   then down: " << (left.empty() ? "nothing left" : "LEFT " + joined(left)) << "; integrity_check "
                  << integrity << std::endl;
    }

    // The console log of each VM as it was before a kill point.
    struct Before {
        std::map<std::string, std::size_t> boots, log_sizes;
    };
    Before before() const {
        Before b{boots(), {}};
        for (const auto& vm : m_vms) b.log_sizes[vm.domain] = read_file(console_log(vm)).size();
        return b;
    }

    // A cold reset boots every VM again on a fresh overlay: its last boot since `from` found a
    // blank disk and leased its address (waits for that, up to console_timeout).
    std::vector<std::string> cold_boot_problems(const Before& b) const {
        std::vector<std::string> problems;
        for (const auto& vm : m_vms) {
            const auto deadline = Clock::now() + console_timeout;
            std::string last_boot;
            for (;;) {
                const std::string log = read_file(console_log(vm));
                const std::string since = log.size() > b.log_sizes.at(vm.domain) ? log.substr(b.log_sizes.at(vm.domain)) : "";
                const auto at = since.rfind("VMLAB-INIT");
                last_boot = at == std::string::npos ? "" : since.substr(at);
                if (has_token(last_boot, "VMLAB-READY " + vm.ip) || Clock::now() > deadline) break;
                std::this_thread::sleep_for(500ms);
            }
            if (last_boot.empty())
                problems.push_back(vm.domain + " did not boot again");
            else if (!has_token(last_boot, "VMLAB-READY " + vm.ip))
                problems.push_back(vm.domain + " booted but did not lease " + vm.ip + " within " +
                                   std::to_string(console_timeout.count()) + " s: " + last_boot);
            else if (!contains(last_boot, "VMLAB-DISK: (blank)"))
                problems.push_back(vm.domain + " booted on a disk that was not reset: " + last_boot);
        }
        return problems;
    }

    // Files in the pool directory that a converged lab has no use for (half-written memory
    // images, temporary volumes): vmlab does not lose them (down removes them) but they take space.
    std::vector<std::string> stray_files() const {
        std::vector<std::string> stray;
        std::error_code ec;
        if (!fs::is_directory(m_storage, ec)) return stray;
        for (const auto& entry : fs::directory_iterator(m_storage, ec)) {
            const std::string name = entry.path().filename().string();
            const bool expected = std::any_of(m_vms.begin(), m_vms.end(), [&](const PlannedVm& vm) {
                return name == vm.backing_volume || name == vm.root_volume || name.starts_with(vm.root_volume + ".baseline-") ||
                       name == vm.domain + ".console.log" || (m_baseline == "running" && name == vm.domain + ".baseline.mem");
            });
            if (!expected)
                stray.push_back(name + " (" + std::to_string(entry.is_regular_file(ec) ? entry.file_size(ec) : 0) + " bytes)");
        }
        return stray;
    }

    // What is wrong after the command ran again (empty: it converged).
    std::vector<std::string> convergence_problems(Command command, const Ran& again, const Before& b) const {
        std::vector<std::string> problems;
        if (again.code() != 0) problems.push_back("the re-run exited " + std::to_string(again.code()));
        const auto add = [&](const std::vector<std::string>& more) { problems.insert(problems.end(), more.begin(), more.end()); };
        switch (command) {
            case Command::up:
                add(running_problems());
                add(baseline_problems());
                break;
            case Command::reset:
                if (m_baseline == "running") {
                    for (const auto& [domain, n_boots] : boots())
                        if (n_boots != b.boots.at(domain))
                            problems.push_back(domain + " booted again (" + std::to_string(n_boots - b.boots.at(domain)) +
                                               " boots) instead of resuming its running baseline");
                } else {
                    add(cold_boot_problems(b));
                }
                add(running_problems());
                break;
            case Command::down:
                for (const auto& left : leftovers()) problems.push_back("left: " + left);
                break;
        }
        for (const auto& step : journal_steps(m_state)) problems.push_back("the journal still holds " + step);
        return problems;
    }

    // Kills the command at point i of n, runs it again and checks that it converged. When it
    // did not, runs it once more, to tell "needs another run" from "stuck".
    void kill_point(Command command, unsigned i, unsigned n) {
        Tally& t = tallies()[m_tally_name];
        m_point = std::to_string(i + 1) + "/" + std::to_string(n);
        const Before b = before();
        const Interrupted killed = run_and_kill(vmlab_argv(command_args(command)), kill_delay(i, n), m_dir, m_anchor);
        ++t.tried;
        if (killed.killed) ++t.killed;
        std::cout << "[crash] " << m_tally_name << " point " << m_point << ": "
                  << (killed.killed ? "SIGKILL" : "finished (exit " + std::to_string(killed.exit_code) + ") before the kill")
                  << " at " << killed.delay.count() << " ms" << (m_anchor.empty() ? "" : " after '" + m_anchor + "'")
                  << " (window " << window_text() << " ms); last log: " << killed.last_log_line() << std::endl;
        shrink_window(killed);

        // Right after the kill, before anything else opens it: a copy of the database with its WAL.
        const std::string integrity = integrity_check_of_copy(m_state, m_dir);
        ++t.db_checks;
        if (integrity == "ok" || integrity == "ok (no database)")
            ++t.db_ok;
        else
            record_failure("integrity_check right after the kill: " + integrity, killed, "");
        if (const auto open = journal_steps(m_state); !open.empty())
            std::cout << "[crash]   the journal holds: " << joined(open, "; ") << std::endl;

        const auto start = Clock::now();
        const Ran again = run_command(command);
        const double took = seconds_since(start);
        const std::vector<std::string> problems = convergence_problems(command, again, b);
        std::string outcome = "converged";
        if (problems.empty()) {
            ++t.converged;
            if (command != Command::down)
                if (const auto stray = stray_files(); !stray.empty()) {
                    t.stray += static_cast<unsigned>(stray.size());
                    outcome += "; stray files in the pool: " + joined(stray);
                }
        } else {
            const std::string snapshot = host_snapshot();
            const Ran second = run_command(command);
            const std::vector<std::string> second_problems = convergence_problems(command, second, b);
            std::string stray_note;
            if (second_problems.empty()) {
                ++t.second_try;
                if (const auto stray = stray_files(); command != Command::down && !stray.empty()) {
                    t.stray += static_cast<unsigned>(stray.size());
                    stray_note = "; stray files in the pool after it: " + joined(stray);
                }
            }
            outcome = "DID NOT CONVERGE: " + joined(problems, "; ") + " | a second re-run (exit " +
                      std::to_string(second.code()) + ") " +
                      (second_problems.empty() ? "converged" + stray_note : "did not either: " + joined(second_problems, "; "));
            record_failure("`" + joined(command_args(command), " ") + "` run again did not converge: " + joined(problems, "; "),
                           killed,
                           "--- the re-run: " + again.report() + "\n" + snapshot + "--- a second re-run " +
                               (second_problems.empty() ? "converged" + stray_note
                                                        : "did not converge either: " + joined(second_problems, "; ")) +
                               ": " + second.report() + "\n");
        }
        std::cout << "[crash]   re-run exit " << again.code() << " in " << std::fixed << std::setprecision(1) << took
                  << " s: " << outcome << std::endl;
        finish_sequence(&killed);
    }

    // A clean `up`, which must succeed: the start of the reset and down sequences.
    bool clean_up() {
        const Ran r = up();
        EXPECT_EQ(r.code(), 0) << "the clean up before a kill point failed:\n" << r.report();
        return r.code() == 0;
    }

    // The reset sequences: up; one clean reset measures T (and leaves the seat as after a clean up).
    void reset_sequences() {
        ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha", "beta"}));
        ASSERT_TRUE(clean_up());
        measure(Command::reset);
        ASSERT_EQ(running_problems(), std::vector<std::string>{}) << "the clean reset did not leave the VMs running";
        const unsigned n = crash_points();
        for (unsigned i = 0; i < n; ++i) {
            if (i > 0 && !clean_up()) {
                finish_sequence(nullptr);
                continue;
            }
            kill_point(Command::reset, i, n);
        }
    }

    std::string m_tally_name;
    std::string m_point;
    std::chrono::milliseconds m_typical{0};  // the kill points fall in [m_window_from, m_typical)
    std::chrono::milliseconds m_window_from{0};
    std::chrono::milliseconds m_measured{0};  // the clean run
    bool m_window_pinned = false;             // VMLAB_CRASH_WINDOW_MS
    const std::string m_anchor = [] {
        const char* anchor = std::getenv("VMLAB_CRASH_ANCHOR");
        return std::string(anchor ? anchor : "");
    }();
    std::string window_text() const { return std::to_string(m_window_from.count()) + "-" + std::to_string(m_typical.count()); }
    std::optional<std::mt19937_64> m_rng;
    Clock::time_point m_started;
};

// up killed anywhere (pool creation, base image import, networks, overlays, domains, waiting
// for leases, capturing the running baselines): up again brings every VM up with its lease and
// its baseline.
TEST_F(Crash, UpKilledThenUpAgainConverges) {
    m_tally_name = "up";
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha", "beta"}));
    measure(Command::up);
    finish_sequence(nullptr);
    const unsigned n = crash_points();
    for (unsigned i = 0; i < n; ++i) kill_point(Command::up, i, n);
}

// A warm reset (restore of the running baseline) killed anywhere: reset again resumes both VMs.
TEST_F(Crash, ResetKilledThenResetAgainConvergesRunningBaseline) {
    m_tally_name = "reset (running)";
    reset_sequences();
}

// A cold reset (overlays recreated on the base image, then a boot) killed anywhere.
TEST_F(Crash, ResetKilledThenResetAgainConvergesPoweredOffBaseline) {
    m_tally_name = "reset (powered-off)";
    m_baseline = "powered-off";
    reset_sequences();
}

// down killed anywhere: down again removes everything.
TEST_F(Crash, DownKilledThenDownAgainLeavesNothing) {
    m_tally_name = "down";
    ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha", "beta"}));
    ASSERT_TRUE(clean_up());
    measure(Command::down);
    finish_sequence(nullptr);
    const unsigned n = crash_points();
    for (unsigned i = 0; i < n; ++i) {
        if (!clean_up()) {
            finish_sequence(nullptr);
            continue;
        }
        kill_point(Command::down, i, n);
    }
}

}  // namespace
