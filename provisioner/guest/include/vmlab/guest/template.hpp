#pragma once
// Template variables in a lab's `user_data` files and `hostname` strings, expanded per seat and
// VM (util's {{templates}}, kainjow mustache; no HTML escaping: the output is YAML or a host name).
//
// Variables: {{lab}} {{seat}} {{vm}} {{hostname}} {{attendee.name}} {{attendee.email}}
// {{login.user}} {{login.password}} {{ip.NETWORK}} (this VM's address on NETWORK) and, for every
// VM of the seat (this one too), {{vms.VM.hostname}} and {{vms.VM.ip.NETWORK}}. Any other name is
// an error at its line and column.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/diagnostic.hpp"
#include "vmlab/util/ipv4.hpp"

namespace vmlab {

struct TemplateVm {
    std::string hostname;
    std::map<std::string, Ipv4> ips;  // network name -> the VM's address there
};

// The values of one VM of one seat.
struct TemplateVars {
    std::string lab;
    unsigned seat = 1;
    std::string vm;
    std::string hostname;  // empty while the hostname itself is expanded
    struct {
        std::string name, email;
    } attendee;
    struct {
        std::string user, password;
    } login;
    std::map<std::string, Ipv4> ips;         // this VM's addresses, by network
    std::map<std::string, TemplateVm> vms;   // every VM of the seat, this one included
};

// Where a template's first character sits: a file's 1:1, or the first character inside the
// quotes of a lab file's string value. Positions inside the template are counted from it.
using TemplateOrigin = SourcePos;

struct Expansion {
    std::string text;                      // the expanded text (meaningless when there are errors)
    std::vector<Diagnostic> diagnostics;   // unknown variables, unbalanced tags, with positions
};

Expansion expand_lab_template(std::string_view text, const TemplateVars& vars, const TemplateOrigin& origin);

// A VM's hostname template: only {{lab}}, {{seat}} and {{vm}} (a name must not change when the
// roster does, and DNS entries are made before any address is known to the template).
Expansion expand_hostname(std::string_view text, const std::string& lab, unsigned seat, const std::string& vm,
                          const TemplateOrigin& origin);

// The position of byte `offset` of a text whose first character is at `origin`.
SourcePos position_in(std::string_view text, std::size_t offset, const SourcePos& origin);

}  // namespace vmlab
