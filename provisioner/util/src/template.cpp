#include "vmlab/util/template.hpp"

#include <kainjow/mustache.hpp>

namespace vmlab {

namespace {

std::string trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return std::string(s.substr(first, last - first + 1));
}

}  // namespace

std::vector<TemplateProblem> check_template(std::string_view text, const std::set<std::string>& known) {
    std::vector<TemplateProblem> problems;
    unsigned line = 1, column = 1;
    auto advance = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to && i < text.size(); ++i) {
            if (text[i] == '\n') ++line, column = 1;
            else ++column;
        }
    };
    std::size_t pos = 0;
    while (true) {
        const std::size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) break;
        advance(pos, open);
        const TemplateTag at{"", line, column};
        const bool triple = text.substr(open, 3) == "{{{";
        const std::string_view closing = triple ? "}}}" : "}}";
        const std::size_t body = open + (triple ? 3 : 2);
        const std::size_t close = text.find(closing, body);
        if (close == std::string_view::npos) {
            problems.push_back({at, "'{{' without its closing '" + std::string(closing) + "'"});
            break;
        }
        std::string name = trimmed(text.substr(body, close - body));
        const char sigil = name.empty() ? '\0' : name.front();
        if (sigil == '!') {
            // a comment
        } else if (sigil == '>' || sigil == '=') {
            problems.push_back({{trimmed(name.substr(1)), at.line, at.column},
                                sigil == '>' ? "partials ({{> name}}) are not supported"
                                             : "changing the delimiters ({{=<% %>=}}) is not supported"});
        } else {
            if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '&') name = trimmed(name.substr(1));
            if (name.empty())
                problems.push_back({at, "an empty tag '{{}}'"});
            else if (!known.count(name))
                problems.push_back({{name, at.line, at.column}, "unknown variable {{" + name + "}}"});
        }
        advance(open, close + closing.size());
        pos = close + closing.size();
    }
    return problems;
}

namespace {

// Dotted names as a tree: attendee.name -> {"attendee": {"name": value}}.
struct Tree {
    std::map<std::string, Tree> children;
    std::string value;
};

kainjow::mustache::data to_data(const Tree& tree) {
    if (tree.children.empty()) return kainjow::mustache::data(tree.value);
    kainjow::mustache::data object{kainjow::mustache::data::type::object};
    for (const auto& [name, child] : tree.children) object.set(name, to_data(child));
    return object;
}

}  // namespace

std::string expand_template(const std::string& text, const std::map<std::string, std::string>& values) {
    Tree root;
    for (const auto& [name, value] : values) {
        Tree* node = &root;
        std::string_view rest = name;
        for (std::size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1))
            node = &node->children[std::string(rest.substr(0, dot))];
        node->children[std::string(rest)].value = value;
    }
    kainjow::mustache::mustache tmpl(text);
    tmpl.set_custom_escape([](const std::string& s) { return s; });
    kainjow::mustache::data data = root.children.empty() ? kainjow::mustache::data{kainjow::mustache::data::type::object}
                                                         : to_data(root);
    return tmpl.render(data);
}

}  // namespace vmlab
