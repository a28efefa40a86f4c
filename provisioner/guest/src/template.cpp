#include "vmlab/guest/template.hpp"

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "vmlab/util/template.hpp"

namespace vmlab {

namespace {

// Every variable of the VM with its value, by its dotted name.
std::map<std::string, std::string> values_of(const TemplateVars& vars) {
    std::map<std::string, std::string> values{
        {"lab", vars.lab},
        {"seat", std::to_string(vars.seat)},
        {"vm", vars.vm},
        {"hostname", vars.hostname},
        {"attendee.name", vars.attendee.name},
        {"attendee.email", vars.attendee.email},
        {"login.user", vars.login.user},
        {"login.password", vars.login.password},
    };
    for (const auto& [network, ip] : vars.ips) values["ip." + network] = to_string(ip);
    for (const auto& [name, vm] : vars.vms) {
        values["vms." + name + ".hostname"] = vm.hostname;
        for (const auto& [network, ip] : vm.ips) values["vms." + name + ".ip." + network] = to_string(ip);
    }
    return values;
}

// The names of sections that hold variables ({{#attendee}}{{name}}{{/attendee}}).
void add_objects(std::set<std::string>& known) {
    std::set<std::string> objects;
    for (const auto& name : known)
        for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
            objects.insert(name.substr(0, dot));
    known.insert(objects.begin(), objects.end());
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
        return message + (known.empty() ? "; this VM has no addresses" : "; this VM's addresses are " + join(known));
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

// A section opened and never closed (or closed and never opened) is a parse error of kainjow's,
// which ends its message in " at OFFSET".
std::optional<Diagnostic> structure_error(std::string_view text, const TemplateOrigin& origin) {
    const kainjow::mustache::mustache parsed{std::string(text)};
    if (parsed.is_valid()) return std::nullopt;
    const std::string& message = parsed.error_message();
    std::string what = message;
    std::size_t offset = 0;
    if (const auto at = message.rfind(" at "); at != std::string::npos) {
        const std::string number = message.substr(at + 4);
        if (std::from_chars(number.data(), number.data() + number.size(), offset).ec == std::errc{})
            what = message.substr(0, at);
    }
    if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
    return Diagnostic{position_in(text, offset, origin), Severity::error, "template: " + what};
}

}  // namespace

SourcePos position_in(std::string_view text, std::size_t offset, const SourcePos& origin) {
    SourcePos pos = origin;
    const std::string_view before = text.substr(0, std::min(offset, text.size()));
    const auto lines = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), '\n'));
    if (lines == 0) {
        pos.column = origin.column + static_cast<std::uint32_t>(before.size());
    } else {
        pos.line = origin.line + lines;
        pos.column = static_cast<std::uint32_t>(before.size() - before.rfind('\n'));
    }
    return pos;
}

namespace {

Expansion expand(std::string_view text, const std::map<std::string, std::string>& values,
                 const std::function<std::string(const std::string&)>& unknown_message, const TemplateOrigin& origin) {
    Expansion result;
    std::set<std::string> known;
    for (const auto& [name, _] : values) known.insert(name);
    add_objects(known);
    for (const TemplateProblem& problem : check_template(text, known)) {
        SourcePos where = origin;
        where.line = origin.line + problem.tag.line - 1;
        where.column = problem.tag.line == 1 ? origin.column + problem.tag.column - 1 : problem.tag.column;
        const bool unknown = !problem.tag.name.empty() && !known.count(problem.tag.name) &&
                             problem.message.rfind("unknown", 0) == 0;
        result.diagnostics.push_back({where, Severity::error,
                                      unknown ? unknown_message(problem.tag.name) : "template: " + problem.message});
    }
    if (result.diagnostics.empty())
        if (auto error = structure_error(text, origin)) result.diagnostics.push_back(std::move(*error));
    if (result.diagnostics.empty()) result.text = expand_template(std::string(text), values);
    return result;
}

}  // namespace

Expansion expand_lab_template(std::string_view text, const TemplateVars& vars, const TemplateOrigin& origin) {
    return expand(text, values_of(vars), [&](const std::string& name) { return unknown_variable_message(name, vars); },
                  origin);
}

Expansion expand_hostname(std::string_view text, const std::string& lab, unsigned seat, const std::string& vm,
                          const TemplateOrigin& origin) {
    return expand(text, {{"lab", lab}, {"seat", std::to_string(seat)}, {"vm", vm}},
                  [](const std::string& name) {
                      return "unknown hostname variable '" + name + "'; a hostname may use {{lab}}, {{seat}} and {{vm}}";
                  },
                  origin);
}

}  // namespace vmlab
