#pragma once
// Attendee rosters: a CSV file (RFC 4180) with a header naming the columns `name`, `email` and
// optionally `seat`, in any order and case, then one attendee per row.
//
//   name,email,seat
//   Ada Lovelace,ada@example.org,2
//   "Hopper, Grace",grace@example.org,
//
// Quoted fields may hold commas, line breaks and doubled quotes (""); lines end in LF or CRLF;
// a UTF-8 byte order mark is skipped; spaces around fields are trimmed; rows whose fields are
// all empty are skipped. Every problem is reported with its FILE:LINE:COLUMN, and a roster
// with any problem yields no entries at all.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/diagnostic.hpp"

namespace vmlab {

struct RosterEntry {
    std::uint32_t line = 0;  // where the row starts
    unsigned seat = 0;       // from the roster, else assigned (see parse_roster)
    std::string name, email;
    friend bool operator==(const RosterEntry&, const RosterEntry&) = default;
};

struct Roster {
    std::vector<RosterEntry> entries;  // in file order; empty when diagnostics has an error
    std::vector<Diagnostic> diagnostics;
};

// Seats attendees had before, by email_key(email).
using SeatsByEmail = std::map<std::string, unsigned>;

// Parses and validates a roster for a lab with seats 1..`seats`: a name and an email on every
// row, emails and seats unique, no more attendees than seats. Rows without a seat keep the seat
// `previous` gives their email when no other row claims it; the rest get the lowest free seats,
// in file order.
Roster parse_roster(std::string_view text, const std::string& file, unsigned seats,
                    const SeatsByEmail& previous = {});
Roster load_roster(const std::filesystem::path& file, unsigned seats,
                   const SeatsByEmail& previous = {});

// Why this is not an attendee name or email address (empty when it is one). Also used for
// attendees given on the command line.
std::string problem_with_name(std::string_view name);
std::string problem_with_email(std::string_view email);

// The email in the form used to compare addresses: ASCII letters in lowercase.
std::string email_key(std::string_view email);

}  // namespace vmlab
