#include "vmlab/seats/roster.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

using namespace vmlab;

Roster parse(std::string_view text, unsigned seats = 3, const SeatsByEmail& previous = {}) {
    return parse_roster(text, "roster.csv", seats, previous);
}

std::vector<std::string> messages(const Roster& roster) {
    std::vector<std::string> out;
    for (const auto& d : roster.diagnostics) out.push_back(format(d));
    return out;
}

// The only diagnostic, formatted; fails the test unless there is exactly one and no entries.
std::string single_error(std::string_view text, unsigned seats = 3) {
    const Roster roster = parse(text, seats);
    EXPECT_TRUE(roster.entries.empty()) << "a roster with a problem yields no entries";
    EXPECT_EQ(roster.diagnostics.size(), 1u) << ::testing::PrintToString(messages(roster));
    return roster.diagnostics.empty() ? "" : format(roster.diagnostics.front());
}

void expect_contains(const std::string& text, const std::string& part) {
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

TEST(RosterTest, ParsesAGoodRoster) {
    const Roster roster = parse(
        "name,email,seat\n"
        "Ada Lovelace,ada@example.org,2\n"
        "Grace Hopper,grace@example.org,\n"
        "Alan Turing,alan@example.org,1\n");
    EXPECT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    EXPECT_EQ(roster.entries, (std::vector<RosterEntry>{{2, 2, "Ada Lovelace", "ada@example.org"},
                                                        {3, 3, "Grace Hopper", "grace@example.org"},
                                                        {4, 1, "Alan Turing", "alan@example.org"}}));
}

TEST(RosterTest, ColumnsInAnyOrderAndCaseAndSeatOptional) {
    const Roster roster = parse("EMAIL , Name\nada@example.org,Ada\ngrace@example.org,Grace\n");
    ASSERT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    EXPECT_EQ(roster.entries, (std::vector<RosterEntry>{{2, 1, "Ada", "ada@example.org"}, {3, 2, "Grace", "grace@example.org"}}));
}

TEST(RosterTest, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
    const Roster roster = parse(
        "name,email,seat\n"
        "\"Hopper, Grace\",grace@example.org,1\n"
        "\"Ada \"\"Countess\"\" Lovelace\", \"ada@example.org\" ,\"2\"\n");
    ASSERT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    ASSERT_EQ(roster.entries.size(), 2u);
    EXPECT_EQ(roster.entries[0].name, "Hopper, Grace");
    EXPECT_EQ(roster.entries[1].name, "Ada \"Countess\" Lovelace");
    EXPECT_EQ(roster.entries[1].email, "ada@example.org");
    EXPECT_EQ(roster.entries[1].seat, 2u);

    // A line break inside quotes is part of the field; later lines keep their numbers.
    const Roster multi = parse("name,email\n\"Ada\nLovelace\",ada@example.org\nBob,not-an-email\n");
    EXPECT_EQ(messages(multi), (std::vector<std::string>{
                                   "roster.csv:2:1: error: the name contains a line break or another control character",
                                   "roster.csv:4:5: error: 'not-an-email' does not look like an email address (like "
                                   "ada@example.org)"}));
}

TEST(RosterTest, ToleratesBomCrlfBlankLinesAndSpaces) {
    const Roster roster = parse("\xEF\xBB\xBFname,email\r\n  Ada Lovelace ,ada@example.org\r\n\r\n,\r\nGrace,grace@example.org");
    ASSERT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    EXPECT_EQ(roster.entries, (std::vector<RosterEntry>{{2, 1, "Ada Lovelace", "ada@example.org"}, {5, 2, "Grace", "grace@example.org"}}));
}

TEST(RosterTest, RowsWithoutSeatGetTheLowestFreeSeatsInOrder) {
    const Roster roster = parse("name,email,seat\nA,a@x.org,\nB,b@x.org,1\nC,c@x.org,\nD,d@x.org,3\n", 5);
    ASSERT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    std::vector<unsigned> seats;
    for (const auto& e : roster.entries) seats.push_back(e.seat);
    EXPECT_EQ(seats, (std::vector<unsigned>{2, 1, 4, 3}));
}

TEST(RosterTest, RowsWithoutSeatKeepTheirPreviousSeatWhenFree) {
    // C had seat 1 and keeps it, even after a new row was added above; B's old seat 3 is
    // claimed by D, so B gets the lowest free one.
    const Roster roster =
        parse("name,email,seat\nNew,new@x.org,\nB,B@X.org,\nC,c@x.org,\nD,d@x.org,3\n", 5, {{"c@x.org", 1}, {"b@x.org", 3}});
    ASSERT_TRUE(roster.diagnostics.empty()) << ::testing::PrintToString(messages(roster));
    std::vector<unsigned> seats;
    for (const auto& e : roster.entries) seats.push_back(e.seat);
    EXPECT_EQ(seats, (std::vector<unsigned>{2, 4, 1, 3}));
}

TEST(RosterTest, ReportsEveryProblemWithItsPlaceAndImportsNothing) {
    const Roster roster = parse(
        "name,email,seat\n"
        "Ada,ada@example.org,1\n"       // 2: fine
        ",bob@example.org,\n"           // 3: empty name
        "Carol,carol@,\n"               // 4: bad email
        "Dan,dan@example.org,two\n"     // 5: seat not a number
        "Eve,eve@example.org,9\n"       // 6: seat out of range
        "Fay,ADA@example.org,\n"        // 7: duplicate email, any case
        "Gus,gus@example.org,1\n"       // 8: duplicate seat
        "Hal,hal@example.org\n",        // 9: too many attendees (8 > 3), and too few fields
        3);
    EXPECT_TRUE(roster.entries.empty());
    EXPECT_EQ(messages(roster),
              (std::vector<std::string>{
                  "roster.csv:3:1: error: the name is empty",
                  "roster.csv:4:7: error: 'carol@' does not look like an email address (like ada@example.org)",
                  "roster.csv:5:1: error: the roster lists 8 attendees but the lab has only 3 seats: this is attendee 4 "
                  "(remove rows, or add seats in the lab file and run vmlab up)",
                  "roster.csv:5:21: error: the seat 'two' is not a whole number",
                  "roster.csv:6:21: error: there is no seat 9: the lab has seats 1 to 3",
                  "roster.csv:7:5: error: the email ADA@example.org is already on line 2",
                  "roster.csv:8:21: error: seat 1 is already given to Ada on line 2",
                  "roster.csv:9:1: error: this row has 2 fields but the header has 3 (a comma inside a value needs "
                  "quotes around the value)",
              }));
}

TEST(RosterTest, OneBadRowImportsNothing) {
    const std::string error = single_error("name,email\nAda,ada@example.org\nBob,bob at example.org\nCy,cy@example.org\n");
    EXPECT_EQ(error,
              "roster.csv:3:5: error: 'bob at example.org' does not look like an email address (like ada@example.org)");
}

TEST(RosterTest, HeaderProblems) {
    EXPECT_EQ(single_error(""), "roster.csv:1:1: error: the roster is empty: the header names the columns name, email and "
                                "optionally seat, then one attendee per line");
    EXPECT_EQ(single_error("\n \n"), "roster.csv:1:1: error: the roster is empty: the header names the columns name, "
                                     "email and optionally seat, then one attendee per line");
    expect_contains(single_error("Ada,ada@example.org\n"), "roster.csv:1:1: error: the first line must be a header");
    EXPECT_EQ(single_error("name,email,phone\nAda,ada@example.org,555\n"),
              "roster.csv:1:12: error: unknown column 'phone': the header names the columns name, email and optionally seat");
    EXPECT_EQ(single_error("name,email,Name\nAda,ada@example.org,Ada\n"),
              "roster.csv:1:12: error: the column 'name' appears twice");
    EXPECT_EQ(single_error("name,seat\nAda,1\n"), "roster.csv:1:1: error: the header has no 'email' column");
    EXPECT_EQ(single_error("name,email\n"), "roster.csv:1:1: error: the roster has a header but no attendees");
}

TEST(RosterTest, CsvSyntaxProblems) {
    EXPECT_EQ(single_error("name,email\n\"Ada,ada@example.org\n"),
              "roster.csv:2:1: error: this quoted field is never closed (a quote is missing)");
    expect_contains(single_error("name,email\nAda \"the\" Countess,ada@example.org\n"),
                    "roster.csv:2:5: error: a quote inside an unquoted field");
    expect_contains(single_error("name,email\n\"Ada\" Lovelace,ada@example.org\n"),
                    "roster.csv:2:7: error: text after the closing quote");
    expect_contains(single_error("name,email\nAd\xE9le,adele@example.org\n"), "roster.csv:2:3: error: the roster is not UTF-8");
}

TEST(RosterTest, TooManyAttendees) {
    EXPECT_EQ(single_error("name,email\nA,a@x.org\nB,b@x.org\nC,c@x.org\n", 2),
              "roster.csv:4:1: error: the roster lists 3 attendees but the lab has only 2 seats: this is attendee 3 "
              "(remove rows, or add seats in the lab file and run vmlab up)");
}

TEST(RosterTest, NamesThatSpreadsheetsWouldRun) {
    expect_contains(single_error("name,email\n=1+1,a@x.org\n"), "roster.csv:2:1: error: the name starts with '='");
}

TEST(RosterTest, EmailShapes) {
    for (const char* good : {"ada@example.org", "a.b+tag@sub.example.co.uk", "o'neil@example.ie", "jürgen@bücher.de"})
        EXPECT_EQ(problem_with_email(good), "") << good;
    for (const char* bad : {"", "ada", "@example.org", "ada@", "ada@example", "ada@@example.org", "a da@example.org",
                            "ada@example..org", ".ada@example.org", "ada@-example.org", "ada@example.org,bob@example.org",
                            "<ada@example.org>"})
        EXPECT_NE(problem_with_email(bad), "") << bad;
    EXPECT_EQ(email_key("Ada@Example.ORG"), "ada@example.org");
}

TEST(RosterTest, LoadsFilesAndReportsMissingOnes) {
    const auto dir = std::filesystem::temp_directory_path() / ("vmlab-roster-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "r.csv") << "name,email\nAda,ada@example.org\n";
    const Roster roster = load_roster(dir / "r.csv", 1);
    EXPECT_TRUE(roster.diagnostics.empty());
    EXPECT_EQ(roster.entries.size(), 1u);
    const Roster missing = load_roster(dir / "nope.csv", 1);
    ASSERT_EQ(missing.diagnostics.size(), 1u);
    EXPECT_EQ(format(missing.diagnostics[0]), (dir / "nope.csv").string() + ": error: no such file");
    std::filesystem::remove_all(dir);
}

}  // namespace
