#include "vmlab/seats/handout.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string_view>

#include "vmlab/util/error.hpp"
#include "vmlab/util/token.hpp"

namespace vmlab {

std::string html_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

namespace {

// Backslash before every character Markdown could read as markup.
std::string md_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (std::string_view("\\`*_{}[]<>()#+!|~").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos && (text.empty() || (text.front() != ' ' && text.back() != ' ')))
        return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

// Whether any card has a VM with an attendee login: only then do the cards have login columns.
bool any_login(const std::vector<Handout>& handouts) {
    return std::any_of(handouts.begin(), handouts.end(), [](const Handout& h) {
        return std::any_of(h.vms.begin(), h.vms.end(), [](const HandoutVm& vm) { return vm.login.has_value(); });
    });
}

std::string login_user(const HandoutVm& vm) { return vm.login ? vm.login->user : std::string(); }
std::string login_password(const HandoutVm& vm) { return vm.login ? vm.login->password : std::string(); }

// The portal's address; with a token, the token rides in the fragment (never sent to a server).
std::string sign_in_link(std::string portal_url, const std::string& token) {
    while (portal_url.ends_with('/')) portal_url.pop_back();
    return portal_url + "/" + (token.empty() ? "" : "#token=" + token);
}

std::string render_csv(const LabRecord& lab, const std::vector<Handout>& handouts, const std::string& portal_url) {
    std::vector<std::string> vm_names;  // every seat has the same VMs; the union in case not
    for (const auto& h : handouts)
        for (const auto& vm : h.vms)
            if (std::find(vm_names.begin(), vm_names.end(), vm.name) == vm_names.end()) vm_names.push_back(vm.name);
    std::vector<std::string> header{"lab", "title", "seat", "name", "email", "token"};
    if (!portal_url.empty()) header.push_back("sign-in link");
    const bool logins = any_login(handouts);
    for (const auto& vm : vm_names) {
        header.push_back(vm + " hostname");
        header.push_back(vm + " ips");
        if (logins) {
            header.push_back(vm + " user");
            header.push_back(vm + " password");
        }
        header.push_back(vm + " console");
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
        out += "\r\n";  // RFC 4180
    };
    line(header);
    for (const auto& h : handouts) {
        std::vector<std::string> row{lab.name, lab.title, std::to_string(h.seat), h.name, h.email, h.token};
        if (!portal_url.empty()) row.push_back(sign_in_link(portal_url, h.token));
        for (const auto& name : vm_names) {
            const auto vm = std::find_if(h.vms.begin(), h.vms.end(), [&](const HandoutVm& v) { return v.name == name; });
            const bool has = vm != h.vms.end();
            row.push_back(has ? vm->hostname : "");
            row.push_back(has ? join(vm->ips, ",") : "");
            if (logins) {
                row.push_back(has ? login_user(*vm) : "");
                row.push_back(has ? login_password(*vm) : "");
            }
            row.push_back(has ? vm->console : "");
        }
        line(row);
    }
    return out;
}

std::string render_md(const LabRecord& lab, const std::vector<Handout>& handouts, const std::string& portal_url) {
    const bool logins = any_login(handouts);
    std::ostringstream out;
    for (std::size_t i = 0; i < handouts.size(); ++i) {
        const Handout& h = handouts[i];
        if (i) out << "\n---\n\n";
        out << "# " << md_escape(lab.title.empty() ? lab.name : lab.title) << ": seat " << h.seat << "\n\n";
        out << "- **Lab:** " << md_escape(lab.name) << "\n";
        out << "- **Seat:** " << h.seat << "\n";
        out << "- **Attendee:** " << (h.name.empty() ? "-" : md_escape(h.name)) << "\n";
        out << "- **Email:** " << (h.email.empty() ? "-" : md_escape(h.email)) << "\n";
        out << "- **Access token:** " << (h.token.empty() ? "-" : "`" + h.token + "`") << "\n";
        if (!portal_url.empty()) out << "- **Portal:** <" << sign_in_link(portal_url, h.token) << ">\n";
        out << "\n";
        if (logins) {
            out << "| VM | Hostname | IP addresses | User | Password | Console |\n| --- | --- | --- | --- | --- | --- |\n";
        } else {
            out << "| VM | Hostname | IP addresses | Console |\n| --- | --- | --- | --- |\n";
        }
        for (const auto& vm : h.vms) {
            out << "| " << md_escape(vm.name) << " | " << md_escape(or_dash(vm.hostname)) << " | "
                << md_escape(or_dash(join(vm.ips, ","))) << " | ";
            if (logins) {
                out << md_escape(or_dash(login_user(vm))) << " | "
                    << (vm.login ? "`" + vm.login->password + "`" : std::string("-")) << " | ";
            }
            out << md_escape(or_dash(vm.console)) << " |\n";
        }
    }
    return out.str();
}

std::string render_html(const LabRecord& lab, const std::vector<Handout>& handouts, const std::string& portal_url) {
    const bool logins = any_login(handouts);
    const std::string title = html_escape(lab.title.empty() ? lab.name : lab.title);
    std::ostringstream out;
    out << R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>)" << title
        << R"(: seat handouts</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #111; }
.card { padding: 2cm; page-break-after: always; break-after: page; }
.card:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
.seat { font-size: 3em; font-weight: bold; margin: 0 0 .5em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3em 1em; }
dt { font-weight: bold; }
dd { margin: 0; }
.token { font-family: ui-monospace, monospace; font-size: 1.1em; word-break: break-all; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #999; padding: .3em .7em; text-align: left; }
td.mono { font-family: ui-monospace, monospace; }
@media screen { .card { border-bottom: 1px dashed #999; } }
</style>
</head>
<body>
)";
    for (const auto& h : handouts) {
        out << "<section class=\"card\">\n<h1>" << title << "</h1>\n<p class=\"seat\">Seat " << h.seat << "</p>\n<dl>\n";
        out << "<dt>Lab</dt><dd>" << html_escape(lab.name) << "</dd>\n";
        out << "<dt>Attendee</dt><dd>" << html_escape(or_dash(h.name)) << "</dd>\n";
        out << "<dt>Email</dt><dd>" << html_escape(or_dash(h.email)) << "</dd>\n";
        out << "<dt>Access token</dt><dd class=\"token\">" << html_escape(or_dash(h.token)) << "</dd>\n";
        if (!portal_url.empty()) {
            const std::string link = html_escape(sign_in_link(portal_url, h.token));
            out << "<dt>Portal</dt><dd class=\"token\"><a href=\"" << link << "\">" << link << "</a></dd>\n";
        }
        out << "</dl>\n";
        out << "<table>\n<thead><tr><th>VM</th><th>Hostname</th><th>IP addresses</th>"
            << (logins ? "<th>User</th><th>Password</th>" : "") << "<th>Console</th></tr></thead>\n<tbody>\n";
        for (const auto& vm : h.vms) {
            out << "<tr><td>" << html_escape(vm.name) << "</td><td class=\"mono\">" << html_escape(or_dash(vm.hostname))
                << "</td><td class=\"mono\">" << html_escape(or_dash(join(vm.ips, ","))) << "</td>";
            if (logins) {
                out << "<td class=\"mono\">" << html_escape(or_dash(login_user(vm))) << "</td><td class=\"mono\">"
                    << html_escape(or_dash(login_password(vm))) << "</td>";
            }
            out << "<td class=\"mono\">" << html_escape(or_dash(vm.console)) << "</td></tr>\n";
        }
        out << "</tbody>\n</table>\n</section>\n";
    }
    out << "</body>\n</html>\n";
    return out.str();
}

}  // namespace

std::vector<Handout> make_handouts(StateStore& store, const std::string& lab, const std::vector<SeatRecord>& seats,
                                   const std::map<std::string, std::string>& consoles) {
    std::map<unsigned, std::vector<VmAccess>> access_by_seat = lab_access(store, lab);
    std::vector<Handout> handouts;
    for (const auto& s : seats) {
        std::vector<HandoutVm> vms;
        for (VmAccess& access : access_by_seat[s.seat]) {
            const auto it = consoles.find(access.domain);
            vms.push_back({std::move(access.vm), std::move(access.hostname), std::move(access.ips), std::move(access.login),
                           it == consoles.end() ? "" : it->second});
        }
        handouts.push_back({s.seat, s.attendee_name, s.attendee_email, {}, std::move(vms)});
    }
    return handouts;
}

std::size_t issue_handout_tokens(std::vector<Handout>& handouts) {
    std::size_t issued = 0;
    for (auto& h : handouts)
        if (!h.name.empty() || !h.email.empty()) {
            h.token = new_token();
            ++issued;
        }
    return issued;
}

void commit_handout_tokens(StateStore& store, const std::string& lab, const std::vector<Handout>& handouts,
                           const std::string& detail, const std::string& user) {
    const auto start = std::chrono::steady_clock::now();
    store.transaction([&] {
        for (const auto& h : handouts) {
            if (h.token.empty()) continue;
            const auto now = store.find_seat(lab, h.seat);
            if (!now || now->attendee_name != h.name || now->attendee_email != h.email)
                throw Error("seat " + std::to_string(h.seat) + " of lab " + lab +
                                " changed attendee during the export; no token was changed",
                            "run the export again");
            store.set_token_hash(lab, h.seat, token_hash(h.token));
            EventRecord event;
            event.lab = lab;
            event.seat = h.seat;
            event.action = "seats.export";
            event.result = "ok";
            event.detail = "new token for " + h.name + " <" + h.email + "> (the previous one was revoked); " + detail;
            event.user = user;
            event.duration_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
            store.add_event(event);
        }
    });
}

std::string render_handouts(HandoutFormat format, const LabRecord& lab, const std::vector<Handout>& handouts,
                            const std::string& portal_url) {
    switch (format) {
    case HandoutFormat::csv: return render_csv(lab, handouts, portal_url);
    case HandoutFormat::html: return render_html(lab, handouts, portal_url);
    case HandoutFormat::md: break;
    }
    return render_md(lab, handouts, portal_url);
}

}  // namespace vmlab
