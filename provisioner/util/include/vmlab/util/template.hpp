#pragma once
// {{variable}} templates (Mustache, through kainjow's mustache library): the hostnames and
// cloud-config files of a lab. Values go in as they are (no HTML escaping); dotted names such as
// {{attendee.name}} name nested values.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vmlab {

// A tag of a template, 1-based line and column of its "{{" inside the text.
struct TemplateTag {
    std::string name;
    unsigned line = 1, column = 1;
};

// What is wrong with the text as a template, at a tag: a name not in `known`, a partial
// ({{> x}}), a change of delimiters or an unclosed tag. Comments ({{! …}}) are fine.
struct TemplateProblem {
    TemplateTag tag;
    std::string message;
};
std::vector<TemplateProblem> check_template(std::string_view text, const std::set<std::string>& known);

// Expands the text; a name without a value becomes "". Check the text first.
std::string expand_template(const std::string& text, const std::map<std::string, std::string>& values);

}  // namespace vmlab
