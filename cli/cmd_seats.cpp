// vmlab seats: who sits at which seat of a lab, and their access tokens.
//
// Tokens are shown once, when they are issued (import, assign, export); the database keeps only
// their SHA-256. No token or hash ever goes into a log line, an audit event or an error.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>

#include "app.hpp"
#include "time_format.hpp"
#include "session.hpp"
#include "vmlab/seats/access.hpp"
#include "vmlab/seats/handout.hpp"
#include "vmlab/seats/roster.hpp"
#include "vmlab/util/token.hpp"

namespace vmlab::cli {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// --- Shared helpers ---------------------------------------------------------------------------

std::int64_t ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

LabRecord require_lab(StateStore& store, const std::string& lab) { return store.require_lab(lab); }

SeatRecord require_seat(StateStore& store, const LabRecord& lab, unsigned seat) {
    if (seat < 1 || seat > lab.seats)
        throw Error("lab " + lab.name + " has no seat " + std::to_string(seat), "its seats are 1 to " + std::to_string(lab.seats),
                    ExitCode::invalid);
    auto record = store.find_seat(lab.name, seat);
    if (!record)
        throw Error("seat " + std::to_string(seat) + " of lab " + lab.name + " is not in the state database",
                    "`vmlab up` records every seat of the lab; run it first", ExitCode::invalid);
    return *record;
}

bool assigned(const SeatRecord& seat) { return !seat.attendee_name.empty() || !seat.attendee_email.empty(); }

std::string attendee(const std::string& name, const std::string& email) { return name + " <" + email + ">"; }

void audit(StateStore& store, const std::string& lab, unsigned seat, const std::string& action, const std::string& result,
           const std::string& detail, Clock::time_point start) {
    EventRecord event;
    event.lab = lab;
    event.seat = seat;
    event.action = action;
    event.result = result;
    event.detail = detail;
    event.duration_ms = ms_since(start);
    store.add_event(event);
}

// Number of characters (UTF-8 code points) a terminal shows.
std::size_t display_width(const std::string& text) {
    std::size_t width = 0;
    for (char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return width;
}

// Columns padded to their widest cell; "-" for empty cells.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size());
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], std::max<std::size_t>(display_width(row[i]), 1));
    };
    measure(header);
    for (const auto& row : rows) measure(row);
    auto print = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            const std::string cell = row[i].empty() ? "-" : row[i];
            line += cell;
            if (i + 1 < row.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
        }
        std::cout << line << '\n';
    };
    print(header);
    for (const auto& row : rows) print(row);
}

// A seat whose attendee changed, and the token issued for it (empty if none was issued).
struct SeatChange {
    unsigned seat = 0;
    std::string name, email;
    std::string change;  // "assigned", "updated", "unchanged", "unassigned", "moved"
    std::string token;
};

void print_changes(const std::string& lab, const std::vector<SeatChange>& changes, bool json) {
    if (json) {
        auto seats = nlohmann::ordered_json::array();
        for (const auto& c : changes)
            seats.push_back({{"seat", c.seat},
                             {"name", c.name},
                             {"email", c.email},
                             {"change", c.change},
                             {"token", c.token.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.token)}});
        std::cout << nlohmann::ordered_json{{"lab", lab}, {"seats", seats}}.dump(2) << '\n';
        return;
    }
    if (changes.empty()) return;
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : changes) rows.push_back({std::to_string(c.seat), c.name, c.email, c.change, c.token});
    print_table({"SEAT", "NAME", "EMAIL", "CHANGE", "TOKEN"}, rows);
}

void log_issued(std::size_t issued) {
    if (issued)
        spdlog::warn("{} new access token{} shown above, only this once: vmlab keeps only their hashes "
                     "(`vmlab seats export` issues fresh ones)",
                     issued, issued == 1 ? " is" : "s are");
}

// --- seats LAB --------------------------------------------------------------------------------

struct ListOptions {
    std::string lab;
    std::optional<unsigned> seat;
    bool json = false;
};

// `seats LAB --seat N`: what the attendee of seat N is given: each VM's hostname, address and login.
int seat_command(StateStore& store, const LabRecord& lab, unsigned number, bool json) {
    const auto seat = store.find_seat(lab.name, number);
    if (!seat)
        throw Error("lab " + lab.name + " has no seat " + std::to_string(number),
                    "its seats are 1 to " + std::to_string(lab.seats), ExitCode::invalid);
    const std::vector<VmAccess> vms = seat_access(store, lab.name, number);
    if (json) {
        using ojson = nlohmann::ordered_json;
        auto list = ojson::array();
        for (const auto& vm : vms) {
            auto ips = ojson::array();
            for (const auto& ip : vm.ips) ips.push_back(to_string(ip));
            list.push_back({{"name", vm.vm},
                            {"hostname", vm.hostname},
                            {"ips", ips},
                            {"login", vm.login ? ojson{{"user", vm.login->user}, {"password", vm.login->password}} : ojson()},
                            {"ssh", vm.ssh_command().empty() ? ojson() : ojson(vm.ssh_command())}});
        }
        const ojson attendee = seat->attendee_email.empty() && seat->attendee_name.empty()
                                   ? ojson()
                                   : ojson{{"name", seat->attendee_name}, {"email", seat->attendee_email}};
        std::cout << ojson{{"seat", number}, {"attendee", attendee}, {"vms", list}}.dump(2) << '\n';
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& vm : vms) {
        std::string ips;
        for (const auto& ip : vm.ips) ips += (ips.empty() ? "" : ",") + to_string(ip);
        rows.push_back({vm.vm, vm.hostname, ips, vm.login ? vm.login->user : "-", vm.login ? vm.login->password : "-",
                        vm.ssh_command()});
    }
    print_table({"VM", "HOSTNAME", "IP", "USER", "PASSWORD", "SSH"}, rows);
    return 0;
}

int list_command(const ListOptions& options, const GlobalOptions& global) {
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    if (options.seat) return seat_command(store, lab, *options.seat, options.json);
    const auto seats = store.seats(lab.name);
    if (options.json) {
        auto out = nlohmann::ordered_json::array();
        auto time = [](std::int64_t t) { return t ? nlohmann::ordered_json(iso_local_time(t)) : nlohmann::ordered_json(); };
        for (const auto& s : seats)
            out.push_back({{"seat", s.seat},
                           {"name", s.attendee_name},
                           {"email", s.attendee_email},
                           {"state", to_string(s.state)},
                           {"error", s.error},
                           {"last_reset", time(s.last_reset_at)},
                           {"token", s.token_created_at != 0},
                           {"token_issued", time(s.token_created_at)}});
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : seats)
        rows.push_back({std::to_string(s.seat), s.attendee_name, s.attendee_email, std::string(to_string(s.state)), iso_local_time(s.last_reset_at),
                        s.token_created_at ? "yes" : "no"});
    print_table({"SEAT", "NAME", "EMAIL", "STATE", "LAST RESET", "TOKEN"}, rows);
    return 0;
}

// --- seats import LAB ROSTER ------------------------------------------------------------------

struct ImportOptions {
    std::string lab, file;
    bool json = false;
};

// What importing `roster` changes, seat by seat: same email (any case) on the same seat keeps
// its token (and takes the roster's spelling of name and email); a new attendee on a seat gets
// a new token; seats of attendees not on the roster are unassigned.
struct ImportPlan {
    std::vector<SeatChange> changes;           // by seat
    std::map<unsigned, std::string> replaced;  // seat -> the attendee who loses it
    std::size_t issued = 0, updated = 0, unchanged = 0, unassigned = 0;
};

ImportPlan plan_import(const LabRecord& lab, const std::vector<SeatRecord>& current, const Roster& roster) {
    std::map<unsigned, const RosterEntry*> wanted;
    for (const auto& entry : roster.entries) wanted[entry.seat] = &entry;
    std::map<unsigned, const SeatRecord*> recorded;
    for (const auto& s : current) recorded[s.seat] = &s;
    for (const auto& [seat, entry] : wanted)
        if (!recorded.contains(seat))
            throw Error("seat " + std::to_string(seat) + " of lab " + lab.name + " (for " + entry->name +
                            ") is not in the state database; nothing was imported",
                        "`vmlab up` records every seat of the lab; run it first", ExitCode::invalid);

    ImportPlan plan;
    for (const auto& [seat, record] : recorded) {
        const auto it = wanted.find(seat);
        if (it == wanted.end()) {
            if (assigned(*record)) {
                plan.changes.push_back({seat, record->attendee_name, record->attendee_email, "unassigned", {}});
                ++plan.unassigned;
            }
            continue;
        }
        const RosterEntry& entry = *it->second;
        SeatChange change{seat, entry.name, entry.email, "assigned", {}};
        const bool same = assigned(*record) && email_key(record->attendee_email) == email_key(entry.email);
        if (same && record->token_created_at != 0) {
            const bool spelled_alike = record->attendee_name == entry.name && record->attendee_email == entry.email;
            change.change = spelled_alike ? "unchanged" : "updated";
            ++(spelled_alike ? plan.unchanged : plan.updated);
        } else {
            if (assigned(*record) && !same) plan.replaced[seat] = attendee(record->attendee_name, record->attendee_email);
            change.token = new_token();
            ++plan.issued;
        }
        plan.changes.push_back(std::move(change));
    }
    return plan;
}

int import_command(const ImportOptions& options, const GlobalOptions& global) {
    const auto start = Clock::now();
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    Roster roster;
    ImportPlan plan;
    // Read, check and write in one transaction, so no other command changes seats in between.
    store.transaction([&] {
        const auto current = store.seats(lab.name);
        SeatsByEmail previous;
        for (const auto& s : current)
            if (!s.attendee_email.empty()) previous[email_key(s.attendee_email)] = s.seat;
        roster = load_roster(options.file, lab.seats, previous);
        if (has_errors(roster.diagnostics)) return;
        plan = plan_import(lab, current, roster);

        // Free every seat that changes hands first: an email may be on one seat only.
        for (const auto& c : plan.changes)
            if (c.change == "unassigned" || plan.replaced.contains(c.seat)) store.clear_attendee(lab.name, c.seat);
        for (const auto& c : plan.changes) {
            std::string detail;
            if (c.change == "assigned") {
                store.set_attendee(lab.name, c.seat, c.name, c.email);
                store.set_token_hash(lab.name, c.seat, token_hash(c.token));
                const auto replaced = plan.replaced.find(c.seat);
                detail = "assigned " + attendee(c.name, c.email) + ", new token" +
                         (replaced == plan.replaced.end() ? "" : " (replaces " + replaced->second + ", whose token was revoked)");
            } else if (c.change == "updated") {
                store.set_attendee(lab.name, c.seat, c.name, c.email);
                detail = "updated to " + attendee(c.name, c.email) + ", token kept";
            } else if (c.change == "unassigned") {
                detail = "unassigned " + attendee(c.name, c.email) + " (not on the roster), token revoked";
            }
            if (!detail.empty()) audit(store, lab.name, c.seat, "seats.import", "ok", options.file + ": " + detail, start);
        }
        audit(store, lab.name, 0, "seats.import", "ok",
              options.file + ": " + std::to_string(roster.entries.size()) + " attendees; " + std::to_string(plan.issued) +
                  " assigned, " + std::to_string(plan.updated) + " updated, " + std::to_string(plan.unchanged) +
                  " unchanged, " + std::to_string(plan.unassigned) + " unassigned",
              start);
    });

    for (const auto& d : roster.diagnostics) std::cerr << format(d) << '\n';
    if (has_errors(roster.diagnostics)) {
        const auto problems = std::count_if(roster.diagnostics.begin(), roster.diagnostics.end(),
                                            [](const Diagnostic& d) { return d.severity == Severity::error; });
        audit(store, lab.name, 0, "seats.import", "invalid",
              options.file + ": " + std::to_string(problems) + " problems, nothing imported", start);
        throw Error(options.file + " is not a valid roster for lab " + lab.name + " (" + std::to_string(lab.seats) +
                        " seats): nothing was imported",
                    "fix the problems above and import it again", ExitCode::invalid);
    }
    print_changes(lab.name, plan.changes, options.json);
    spdlog::info("{}: {} attendees; {} assigned, {} updated, {} unchanged, {} unassigned", lab.name, roster.entries.size(),
                 plan.issued, plan.updated, plan.unchanged, plan.unassigned);
    if (plan.unassigned)
        spdlog::warn("{} seat{} not on the roster lost {} attendee and token", plan.unassigned, plan.unassigned == 1 ? "" : "s",
                     plan.unassigned == 1 ? "its" : "their");
    log_issued(plan.issued);
    return 0;
}

// --- seats assign / unassign / move -----------------------------------------------------------

struct AssignOptions {
    std::string lab, name, email;
    unsigned seat = 0;
    bool json = false;
};

int assign_command(const AssignOptions& options, const GlobalOptions& global) {
    const auto start = Clock::now();
    std::string problems;
    for (const auto& problem : {problem_with_name(options.name), problem_with_email(options.email)})
        if (!problem.empty()) problems += (problems.empty() ? "" : "; ") + problem;
    if (!problems.empty()) throw Error(problems, "", ExitCode::invalid);
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    SeatChange change{options.seat, options.name, options.email, "assigned", new_token()};
    store.transaction([&] {
        const SeatRecord seat = require_seat(store, lab, options.seat);
        if (assigned(seat))
            throw Error("seat " + std::to_string(seat.seat) + " of lab " + lab.name + " is assigned to " +
                            attendee(seat.attendee_name, seat.attendee_email),
                        "`vmlab seats unassign " + lab.name + " --seat " + std::to_string(seat.seat) +
                            "` frees it; `vmlab seats export " + lab.name + " --seat " + std::to_string(seat.seat) +
                            "` gives its attendee a fresh token",
                        ExitCode::invalid);
        store.set_attendee(lab.name, seat.seat, options.name, options.email);
        store.set_token_hash(lab.name, seat.seat, token_hash(change.token));
        audit(store, lab.name, seat.seat, "seats.assign", "ok", "assigned " + attendee(options.name, options.email) + ", new token",
              start);
    });
    print_changes(lab.name, {change}, options.json);
    log_issued(1);
    return 0;
}

struct UnassignOptions {
    std::string lab;
    unsigned seat = 0;
    bool json = false;
};

int unassign_command(const UnassignOptions& options, const GlobalOptions& global) {
    const auto start = Clock::now();
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    std::vector<SeatChange> changes;
    store.transaction([&] {
        const SeatRecord seat = require_seat(store, lab, options.seat);
        if (!assigned(seat)) return;
        store.clear_attendee(lab.name, seat.seat);
        audit(store, lab.name, seat.seat, "seats.unassign", "ok",
              "unassigned " + attendee(seat.attendee_name, seat.attendee_email) + ", token revoked", start);
        changes.push_back({seat.seat, seat.attendee_name, seat.attendee_email, "unassigned", {}});
    });
    print_changes(lab.name, changes, options.json);
    if (changes.empty())
        spdlog::info("seat {} of lab {} has no attendee; nothing to do", options.seat, lab.name);
    else
        spdlog::info("seat {}'s token no longer works", options.seat);
    return 0;
}

struct MoveOptions {
    std::string lab;
    unsigned from = 0, to = 0;
    bool json = false;
};

int move_command(const MoveOptions& options, const GlobalOptions& global) {
    const auto start = Clock::now();
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    SeatRecord from;
    store.transaction([&] {
        from = require_seat(store, lab, options.from);
        require_seat(store, lab, options.to);
        store.move_attendee(lab.name, options.from, options.to);  // checks: from assigned, to free
        const std::string detail = "moved " + attendee(from.attendee_name, from.attendee_email) + " from seat " +
                                   std::to_string(options.from) + " to seat " + std::to_string(options.to) + ", token kept";
        audit(store, lab.name, options.from, "seats.move", "ok", detail, start);
        audit(store, lab.name, options.to, "seats.move", "ok", detail, start);
    });
    print_changes(lab.name,
                  {{options.from, from.attendee_name, from.attendee_email, "moved away", {}},
                   {options.to, from.attendee_name, from.attendee_email, "moved here", {}}},
                  options.json);
    spdlog::info("{}'s token now opens seat {}; `vmlab seats export {} --seat {} --no-tokens` prints the new seat's handout",
                 from.attendee_name, options.to, lab.name, options.to);
    return 0;
}

// --- seats export -----------------------------------------------------------------------------

struct ExportOptions {
    std::string lab, format = "md", output, portal_url;
    std::vector<unsigned> seats;
    bool no_tokens = false;
};

// Live console addresses by domain; empty (with a warning) when libvirt cannot be reached.
std::map<std::string, std::string> live_consoles(StateStore& store, const GlobalOptions& global, const std::string& lab) {
    const std::string uri = host_uri_for(global, store, lab, default_host_uri);
    std::map<std::string, std::string> consoles;
    try {
        virt::Connection conn = connect_to_host(uri);
        Engine engine(conn, store);
        std::size_t missing = 0;
        for (const auto& row : engine.status(lab)) {
            consoles[row.domain] = row.console;
            missing += row.state == "missing";
        }
        if (missing)
            spdlog::warn("lab {}: {} VM{} not defined on {}, so the handouts have no console address for {} "
                         "(`vmlab up` recreates them)",
                         lab, missing, missing == 1 ? " is" : "s are", uri, missing == 1 ? "it" : "them");
    } catch (const Error& e) {
        spdlog::warn("cannot read console addresses from {} ({}); the handouts list the VMs without them", uri, e.what());
    }
    return consoles;
}

// Writes `text` to `path` with mode 0600 via a temporary file in the same directory; `commit`
// runs after the data is safely on disk and before the file takes its name, so the file
// appears only if commit succeeds (and then holds what was committed).
template <class Commit>
void write_private_file(const fs::path& path, const std::string& text, Commit&& commit) {
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    std::string temp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
    const int fd = ::mkstemp(temp.data());  // mode 0600
    auto fail = [&](const std::string& what) {
        const std::error_code error(errno, std::system_category());
        throw Error(what + ": " + error.message(), "check the directory " + dir.string() + " exists and is writable");
    };
    if (fd < 0) fail("cannot create a file in " + dir.string());
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int saved = errno;
            ::close(fd);
            ::unlink(temp.c_str());
            errno = saved;
            fail("cannot write " + temp);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        errno = saved;
        fail("cannot write " + temp);
    }
    try {
        commit();
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const std::error_code error(errno, std::system_category());
        throw Error("cannot rename " + temp + " to " + path.string() + ": " + error.message(),
                    "the handouts, with the seats' new tokens, are in " + temp + "; move that file yourself");
    }
}

int export_command(const ExportOptions& options, const GlobalOptions& global) {
    StateStore store = open_state(global);
    const LabRecord lab = require_lab(store, lab_name_from_argument(options.lab));
    std::vector<SeatRecord> seats;
    if (options.seats.empty()) {
        for (auto& s : store.seats(lab.name))
            if (s.seat <= lab.seats) seats.push_back(std::move(s));
    } else {
        std::set<unsigned> chosen(options.seats.begin(), options.seats.end());
        for (unsigned seat : chosen) seats.push_back(require_seat(store, lab, seat));
    }
    if (seats.empty())
        throw Error("lab " + lab.name + " has no seats in the state database", "`vmlab up` records them; run it first");

    std::vector<Handout> handouts = make_handouts(store, lab.name, seats, live_consoles(store, global, lab.name));
    const std::size_t issued = options.no_tokens ? 0 : issue_handout_tokens(handouts);
    const HandoutFormat format = options.format == "csv"    ? HandoutFormat::csv
                                 : options.format == "html" ? HandoutFormat::html
                                                            : HandoutFormat::md;
    const std::string text = render_handouts(format, lab, handouts, options.portal_url);
    const bool to_stdout = options.output.empty() || options.output == "-";
    if (std::error_code ec; !to_stdout && fs::is_directory(options.output, ec))
        throw Error(options.output + " is a directory", "give --output a file name, e.g. " +
                                                            (fs::path(options.output) / ("handouts." + options.format)).string(),
                    ExitCode::invalid);
    const std::string destination = to_stdout ? "stdout" : options.output;
    auto commit = [&] { commit_handout_tokens(store, lab.name, handouts, options.format + " handout to " + destination); };
    if (to_stdout) {
        commit();
        std::cout << text << std::flush;
    } else {
        write_private_file(options.output, text, commit);
    }

    spdlog::info("{} handout{} for lab {} ({}) written to {}", handouts.size(), handouts.size() == 1 ? "" : "s", lab.name,
                 options.format, destination);
    if (issued)
        spdlog::warn("issued {} fresh access token{} for the assigned seats: the previous token{} of {} no longer work{}",
                     issued, issued == 1 ? "" : "s", issued == 1 ? "" : "s", issued == 1 ? "that seat" : "those seats",
                     issued == 1 ? "s" : "");
    else if (options.no_tokens)
        spdlog::info("--no-tokens: the handouts carry no tokens; the seats' tokens are unchanged");
    return 0;
}

}  // namespace

void add_seats(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto list = std::make_shared<ListOptions>();
    CLI::App* cmd = app.add_subcommand("seats", "Attendees of a lab's seats: list, import a roster, assign, move, "
                                                "unassign, export handouts with access tokens");
    cmd->add_option("lab", list->lab, "lab name (as `vmlab status` lists it): lists its seats");
    cmd->add_option("--seat", list->seat, "one seat: each VM's hostname, addresses and login (password included)")
        ->check(CLI::Range(1u, 10000u));
    cmd->add_flag("--json", list->json, "machine-readable output");
    cmd->require_subcommand(0, 1);
    cmd->footer("Access tokens are shown only when they are issued (import, assign, export); vmlab stores only "
                "their SHA-256.");

    auto import = std::make_shared<ImportOptions>();
    CLI::App* import_cmd = cmd->add_subcommand(
        "import",
        "Assign the attendees of a CSV roster (columns name, email, optional seat) and issue a token per new seat");
    import_cmd->add_option("lab", import->lab, "lab name")->required();
    import_cmd->add_option("roster", import->file, "CSV file: header name,email[,seat], one attendee per line")->required();
    import_cmd->add_flag("--json", import->json, "machine-readable output");
    import_cmd->footer(
        "The roster becomes the lab's attendee list, all or nothing (one transaction; any bad row imports nothing). "
        "Seats whose attendee (by email) is unchanged keep their token, so importing the same roster again changes "
        "nothing; attendees without a seat keep the one they have, or get the lowest free seat. A new attendee on a "
        "seat gets a new token, and seats of attendees no longer on the roster are unassigned (their tokens stop "
        "working). New tokens are printed once.");
    import_cmd->callback([&action, &global, import] { action = [import, &global] { return import_command(*import, global); }; });

    auto assign = std::make_shared<AssignOptions>();
    CLI::App* assign_cmd = cmd->add_subcommand("assign", "Put an attendee on a free seat and issue (print) its token");
    assign_cmd->add_option("lab", assign->lab, "lab name")->required();
    assign_cmd->add_option("--seat", assign->seat, "seat number")->required()->check(CLI::PositiveNumber);
    assign_cmd->add_option("--name", assign->name, "attendee's name")->required();
    assign_cmd->add_option("--email", assign->email, "attendee's email")->required();
    assign_cmd->add_flag("--json", assign->json, "machine-readable output");
    assign_cmd->callback([&action, &global, assign] { action = [assign, &global] { return assign_command(*assign, global); }; });

    auto unassign = std::make_shared<UnassignOptions>();
    CLI::App* unassign_cmd = cmd->add_subcommand("unassign", "Remove a seat's attendee and revoke its token");
    unassign_cmd->add_option("lab", unassign->lab, "lab name")->required();
    unassign_cmd->add_option("--seat", unassign->seat, "seat number")->required()->check(CLI::PositiveNumber);
    unassign_cmd->add_flag("--json", unassign->json, "machine-readable output");
    unassign_cmd->callback(
        [&action, &global, unassign] { action = [unassign, &global] { return unassign_command(*unassign, global); }; });

    auto move = std::make_shared<MoveOptions>();
    CLI::App* move_cmd = cmd->add_subcommand("move", "Move an attendee, with their token, to a free seat");
    move_cmd->add_option("lab", move->lab, "lab name")->required();
    move_cmd->add_option("--from", move->from, "the attendee's seat")->required()->check(CLI::PositiveNumber);
    move_cmd->add_option("--to", move->to, "a seat without attendee")->required()->check(CLI::PositiveNumber);
    move_cmd->add_flag("--json", move->json, "machine-readable output");
    move_cmd->callback([&action, &global, move] { action = [move, &global] { return move_command(*move, global); }; });

    auto exp = std::make_shared<ExportOptions>();
    CLI::App* export_cmd = cmd->add_subcommand(
        "export", "Print one handout per seat: attendee, VMs with IPs and consoles, and a FRESH access token");
    export_cmd->add_option("lab", exp->lab, "lab name")->required();
    export_cmd->add_option("--format", exp->format, "csv (one row per seat), md, or html (one printed page per seat)")
        ->capture_default_str()
        ->check(CLI::IsMember({"csv", "md", "html"}));
    export_cmd->add_option("-o,--output", exp->output, "file to write (mode 0600); default: stdout");
    export_cmd->add_option("--seat", exp->seats, "only this seat (repeat for more)")
        ->check(CLI::PositiveNumber)
        ->allow_extra_args(false);
    export_cmd->add_flag("--no-tokens", exp->no_tokens, "print no tokens and keep the seats' current ones");
    export_cmd->add_option("--portal-url", exp->portal_url,
                           "the web portal's address (as `vmlab serve` listens): adds a sign-in link per card, with "
                           "the token in the URL fragment");
    export_cmd->footer(
        "vmlab stores only hashes of tokens, so export ISSUES A NEW TOKEN for every assigned seat it prints: the "
        "seat's previous token stops working. Use --no-tokens to print handouts without touching tokens.");
    export_cmd->callback([&action, &global, exp] { action = [exp, &global] { return export_command(*exp, global); }; });

    cmd->callback([&action, &global, list, cmd] {
        if (!cmd->get_subcommands().empty()) return;
        if (list->lab.empty()) throw CLI::RequiredError("lab (or a subcommand: import, assign, unassign, move, export)");
        action = [list, &global] { return list_command(*list, global); };
    });
}

}  // namespace vmlab::cli
