#include "vmlab/util/template.hpp"

#include <gtest/gtest.h>

namespace vmlab {
namespace {

TEST(Template, ExpandsDottedNamesWithoutEscaping) {
    const std::string out = expand_template("host {{vm}}-{{seat}} for {{attendee.name}} <{{attendee.email}}> & {{{lab}}}",
                                            {{"vm", "web"}, {"seat", "3"}, {"attendee.name", "Ada & Bob"},
                                             {"attendee.email", "a@b.org"}, {"lab", "l<1>"}});
    EXPECT_EQ(out, "host web-3 for Ada & Bob <a@b.org> & l<1>");
}

TEST(Template, MissingValuesExpandToNothing) { EXPECT_EQ(expand_template("[{{attendee.name}}]", {}), "[]"); }

TEST(Template, UnknownVariablesAreReportedAtTheirLineAndColumn) {
    const auto problems = check_template("#cloud-config\nruncmd:\n  - echo {{seat}} {{ nope }}\n{{! a comment}}{{#vm}}x{{/vm}}",
                                         {"seat", "vm"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].tag.name, "nope");
    EXPECT_EQ(problems[0].tag.line, 3u);
    EXPECT_EQ(problems[0].tag.column, 19u);
    EXPECT_EQ(problems[0].message, "unknown variable {{nope}}");
}

TEST(Template, UnclosedTagsPartialsAndDelimitersAreProblems) {
    EXPECT_EQ(check_template("a {{seat", {"seat"}).at(0).message, "'{{' without its closing '}}'");
    EXPECT_EQ(check_template("{{> other}}", {}).at(0).message, "partials ({{> name}}) are not supported");
    EXPECT_EQ(check_template("{{=<% %>=}}", {}).size(), 1u);
    EXPECT_TRUE(check_template("no tags at all", {}).empty());
}

}  // namespace
}  // namespace vmlab
