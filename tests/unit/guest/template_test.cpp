#include "vmlab/guest/template.hpp"

#include <gtest/gtest.h>

namespace vmlab {
namespace {

TemplateVars web_of_seat_3() {
    TemplateVars vars;
    vars.lab = "demo";
    vars.seat = 3;
    vars.vm = "web";
    vars.hostname = "web";
    vars.attendee.name = "Ada <Lovelace> & Co";
    vars.attendee.email = "ada@example.org";
    vars.login.user = "student";
    vars.login.password = "k7Xm\"&<pw";
    vars.ips = {{"lan", *parse_ipv4("10.0.2.10")}, {"dmz", *parse_ipv4("10.9.0.10")}};
    vars.vms = {{"web", {"web", vars.ips}}, {"db", {"database", {{"lan", *parse_ipv4("10.0.2.11")}}}}};
    return vars;
}

const SourcePos file_start{"user-data.yaml", 1, 1};

TEST(ExpandTemplate, ReplacesEveryVariable) {
    const Expansion e = expand_lab_template(
        "{{lab}} {{seat}} {{vm}} {{hostname}} {{attendee.name}} {{attendee.email}} {{login.user}} "
        "{{login.password}} {{ip.lan}} {{ip.dmz}} {{vms.db.ip.lan}} {{vms.db.hostname}} {{vms.web.ip.dmz}}",
        web_of_seat_3(), file_start);
    ASSERT_TRUE(e.diagnostics.empty()) << format(e.diagnostics.front());
    EXPECT_EQ(e.text, "demo 3 web web Ada <Lovelace> & Co ada@example.org student k7Xm\"&<pw 10.0.2.10 "
                      "10.9.0.10 10.0.2.11 database 10.9.0.10");
}

TEST(ExpandTemplate, DoesNotEscapeHtml) {
    const Expansion e = expand_lab_template("{{attendee.name}}|{{{attendee.name}}}|{{&login.password}}", web_of_seat_3(), file_start);
    ASSERT_TRUE(e.diagnostics.empty());
    EXPECT_EQ(e.text, "Ada <Lovelace> & Co|Ada <Lovelace> & Co|k7Xm\"&<pw");
}

TEST(ExpandTemplate, KeepsTextWithoutTagsByteForByte) {
    const std::string text = "#cloud-config\nruncmd:\n  - [sh, -c, 'echo \"$HOME\" > /tmp/x']\n\n  \t\r\nend";
    const Expansion e = expand_lab_template(text, web_of_seat_3(), file_start);
    ASSERT_TRUE(e.diagnostics.empty());
    EXPECT_EQ(e.text, text);
}

TEST(ExpandTemplate, ReportsEachUnknownVariableAtItsLineAndColumn) {
    const Expansion e = expand_lab_template("#cloud-config\nruncmd:\n  - echo {{ seat }} {{saet}}\n  - ping {{ip.wan}} {{ saet }}\n",
                                        web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 3u);
    EXPECT_EQ(format(e.diagnostics[0]).rfind("user-data.yaml:3:21: error: unknown template variable 'saet'; the "
                                              "variables are lab, seat, vm,", 0), 0u)
        << format(e.diagnostics[0]);
    EXPECT_EQ(e.diagnostics[1].where.line, 4u);
    EXPECT_EQ(e.diagnostics[1].where.column, 10u);
    EXPECT_NE(e.diagnostics[1].message.find("'ip.wan'; this VM's addresses are ip.dmz, ip.lan"), std::string::npos)
        << e.diagnostics[1].message;
    EXPECT_EQ(e.diagnostics[2].where.line, 4u);
    EXPECT_EQ(e.diagnostics[2].where.column, 21u);
    for (const auto& d : e.diagnostics) EXPECT_EQ(d.severity, Severity::error);
}

TEST(ExpandTemplate, NamesTheSeatsVmsForAnUnknownVm) {
    const Expansion e = expand_lab_template("{{vms.dbx.ip.lan}} {{vms.db.ip.dmz}}", web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 2u);
    EXPECT_NE(e.diagnostics[0].message.find("'vms.dbx.ip.lan'; the seat's VMs are db, web"), std::string::npos)
        << e.diagnostics[0].message;
    EXPECT_NE(e.diagnostics[1].message.find("'vms.db.ip.dmz'; VM 'db' has vms.db.hostname, vms.db.ip.lan"),
              std::string::npos)
        << e.diagnostics[1].message;
}

TEST(ExpandTemplate, MapsPositionsOfAnInlineStringToTheLabFile) {
    // hostname = "{{vm}}-{{nope}}" with the string's first character at lab.toml:7:13.
    const Expansion e = expand_lab_template("{{vm}}-{{nope}}", web_of_seat_3(), {"lab.toml", 7, 13});
    ASSERT_EQ(e.diagnostics.size(), 1u);
    EXPECT_EQ(e.diagnostics[0].where.file, "lab.toml");
    EXPECT_EQ(e.diagnostics[0].where.line, 7u);
    EXPECT_EQ(e.diagnostics[0].where.column, 20u);
}

TEST(ExpandTemplate, UnknownSectionsAndPartialsAreErrors) {
    const Expansion e = expand_lab_template("{{#feature}}x{{/feature}}\n{{> header}}", web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 3u);
    EXPECT_NE(e.diagnostics[0].message.find("'feature'"), std::string::npos);
    EXPECT_EQ(e.diagnostics[1].where.column, 14u);  // its closing tag, too
    EXPECT_NE(e.diagnostics[2].message.find("partials"), std::string::npos);
    EXPECT_EQ(e.diagnostics[2].where.line, 2u);
    EXPECT_EQ(e.diagnostics[2].where.column, 1u);
}

TEST(ExpandTemplate, ReportsUnclosedTagsAndSectionsWithTheirPosition) {
    Expansion e = expand_lab_template("line one\n  {{seat", web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 1u);
    EXPECT_EQ(format(e.diagnostics[0]), "user-data.yaml:2:3: error: template: '{{' without its closing '}}'");
    e = expand_lab_template("x\n{{#seat}}{{vm}}", web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 1u);
    EXPECT_EQ(format(e.diagnostics[0]), "user-data.yaml:2:1: error: template: unclosed section \"seat\"");
    e = expand_lab_template("x {{/seat}}", web_of_seat_3(), file_start);
    ASSERT_EQ(e.diagnostics.size(), 1u);
    EXPECT_EQ(e.diagnostics[0].where.column, 3u);
    EXPECT_NE(e.diagnostics[0].message.find("unopened section"), std::string::npos);
}

TEST(ExpandTemplate, SectionsOnKnownVariablesAreAccepted) {
    TemplateVars vars = web_of_seat_3();
    const Expansion with = expand_lab_template("{{#attendee.email}}mail {{attendee.email}}{{/attendee.email}}", vars, file_start);
    ASSERT_TRUE(with.diagnostics.empty());
    EXPECT_EQ(with.text, "mail ada@example.org");
}

TEST(PositionIn, CountsLinesAndColumnsFromTheOrigin) {
    EXPECT_EQ(position_in("ab\ncd", 0, {"f", 4, 9}).column, 9u);
    EXPECT_EQ(position_in("ab\ncd", 1, {"f", 4, 9}).column, 10u);
    const SourcePos p = position_in("ab\ncd", 4, {"f", 4, 9});
    EXPECT_EQ(p.line, 5u);
    EXPECT_EQ(p.column, 2u);
}

}  // namespace
}  // namespace vmlab
