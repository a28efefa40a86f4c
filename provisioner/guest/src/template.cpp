#include "vmlab/guest/template.hpp"

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

namespace vmlab {

namespace {

namespace mu = kainjow::mustache;

// kainjow renders an unknown name as nothing; this context remembers every name it could not
// find (and every partial, which labs do not have), so they can be reported.
class RecordingContext : public mu::basic_context<std::string> {
public:
    explicit RecordingContext(const mu::data* root) : m_inner(root) {}

    void push(const mu::data* data) override { m_inner.push(data); }
    void pop() override { m_inner.pop(); }

    const mu::data* get(const std::string& name) const override {
        const mu::data* found = m_inner.get(name);
        if (found == nullptr) m_missing.insert(name);
        return found;
    }
    const mu::data* get_partial(const std::string& name) const override {
        m_partials.insert(name);
        return nullptr;
    }

    const std::set<std::string>& missing() const { return m_missing; }
    const std::set<std::string>& partials() const { return m_partials; }

private:
    mu::context<std::string> m_inner;
    mutable std::set<std::string> m_missing, m_partials;
};

mu::data ip_object(const std::map<std::string, Ipv4>& ips) {
    mu::data object{mu::data::type::object};
    for (const auto& [network, ip] : ips) object.set(network, to_string(ip));
    return object;
}

mu::data to_data(const TemplateVars& vars) {
    mu::data root{mu::data::type::object};
    root.set("lab", vars.lab);
    root.set("seat", std::to_string(vars.seat));
    root.set("vm", vars.vm);
    root.set("hostname", vars.hostname);
    mu::data attendee{mu::data::type::object};
    attendee.set("name", vars.attendee.name);
    attendee.set("email", vars.attendee.email);
    root.set("attendee", attendee);
    mu::data login{mu::data::type::object};
    login.set("user", vars.login.user);
    login.set("password", vars.login.password);
    root.set("login", login);
    root.set("ip", ip_object(vars.ips));
    mu::data vms{mu::data::type::object};
    for (const auto& [name, vm] : vars.vms) {
        mu::data one{mu::data::type::object};
        one.set("hostname", vm.hostname);
        one.set("ip", ip_object(vm.ips));
        vms.set(name, one);
    }
    root.set("vms", vms);
    return root;
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

// Where each tag naming `name` starts. kainjow keeps its tags' positions to itself, so this
// walks the text as its parser does (delimiter changes included) only to find them again.
std::vector<std::size_t> tag_offsets(std::string_view text, const std::string& name) {
    std::vector<std::size_t> offsets;
    std::string begin = "{{", end = "}}";
    std::size_t at = 0;
    while ((at = text.find(begin, at)) != std::string_view::npos) {
        const bool triple = begin == "{{" && text.substr(at + 2, 1) == "{";
        const std::size_t contents = at + begin.size() + (triple ? 1 : 0);
        const std::string close = triple ? "}}}" : end;
        const std::size_t stop = text.find(close, contents);
        if (stop == std::string_view::npos) break;
        std::string tag = trim(text.substr(contents, stop - contents));
        if (!triple && tag.size() >= 2 && tag.front() == '=' && tag.back() == '=') {
            const std::string inner = trim(std::string_view(tag).substr(1, tag.size() - 2));
            const auto space = inner.find(' ');
            if (space != std::string::npos) {
                begin = inner.substr(0, space);
                end = trim(std::string_view(inner).substr(space + 1));
            }
        } else {
            if (!triple && !tag.empty() && std::string_view("#^&>").find(tag.front()) != std::string_view::npos)
                tag = trim(std::string_view(tag).substr(1));
            if (tag == name) offsets.push_back(at);
        }
        at = stop + close.size();
    }
    return offsets;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

// What to say about a name the template uses but the VM does not have.
std::string unknown_variable_message(const std::string& name, const TemplateVars& vars) {
    std::string message = "unknown template variable '" + name + "'";
    if (name.rfind("ip.", 0) == 0) {
        std::vector<std::string> known;
        for (const auto& [network, ip] : vars.ips) known.push_back("ip." + network);
        return message + (known.empty() ? "; this VM has no addresses"
                                        : "; this VM's addresses are " + join(known));
    }
    if (name.rfind("vms.", 0) == 0) {
        const std::string rest = name.substr(4);
        const std::string vm = rest.substr(0, rest.find('.'));
        const auto found = vars.vms.find(vm);
        if (found == vars.vms.end()) {
            std::vector<std::string> known;
            for (const auto& [other, _] : vars.vms) known.push_back(other);
            return message + "; the seat's VMs are " + join(known);
        }
        std::vector<std::string> known{"vms." + vm + ".hostname"};
        for (const auto& [network, _] : found->second.ips) known.push_back("vms." + vm + ".ip." + network);
        return message + "; VM '" + vm + "' has " + join(known);
    }
    return message +
           "; the variables are lab, seat, vm, hostname, attendee.name, attendee.email, login.user, "
           "login.password, ip.NETWORK, vms.VM.hostname and vms.VM.ip.NETWORK";
}

// kainjow's parse errors end in " at OFFSET"; the offset becomes a position.
Diagnostic parse_error(std::string_view text, const std::string& message, const TemplateOrigin& origin) {
    std::string what = message;
    std::size_t offset = 0;
    const auto at = message.rfind(" at ");
    if (at != std::string::npos) {
        const std::string number = message.substr(at + 4);
        if (std::from_chars(number.data(), number.data() + number.size(), offset).ec == std::errc{})
            what = message.substr(0, at);
    }
    if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
    return {position_in(text, std::min(offset, text.size()), origin), Severity::error,
            "template: " + what + " (tags are written {{name}})"};
}

}  // namespace

SourcePos position_in(std::string_view text, std::size_t offset, const SourcePos& origin) {
    SourcePos pos = origin;
    const std::string_view before = text.substr(0, std::min(offset, text.size()));
    const auto lines = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), '\n'));
    const auto line_start = before.rfind('\n');
    if (lines == 0) {
        pos.column = origin.column + static_cast<std::uint32_t>(before.size());
    } else {
        pos.line = origin.line + lines;
        pos.column = static_cast<std::uint32_t>(before.size() - line_start);
    }
    return pos;
}

Expansion expand_template(std::string_view text, const TemplateVars& vars, const TemplateOrigin& origin) {
    Expansion result;
    mu::mustache tmpl{std::string(text)};
    if (!tmpl.is_valid()) {
        result.diagnostics.push_back(parse_error(text, tmpl.error_message(), origin));
        return result;
    }
    tmpl.set_custom_escape([](const std::string& s) { return s; });
    const mu::data data = to_data(vars);
    RecordingContext context{&data};
    result.text = tmpl.render(context);
    if (!tmpl.is_valid()) {
        result.diagnostics.push_back(parse_error(text, tmpl.error_message(), origin));
        return result;
    }
    const auto report = [&](const std::string& name, const std::string& message) {
        const auto offsets = tag_offsets(text, name);
        if (offsets.empty()) result.diagnostics.push_back({origin, Severity::error, message});
        for (const auto offset : offsets)
            result.diagnostics.push_back({position_in(text, offset, origin), Severity::error, message});
    };
    for (const auto& name : context.missing()) report(name, unknown_variable_message(name, vars));
    for (const auto& name : context.partials())
        report(name, "template: partials ({{> " + name + "}}) are not supported in lab templates");
    std::sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
    });
    return result;
}

}  // namespace vmlab
