#include "vmlab/guest/cloud_config.hpp"

#include <nlohmann/json.hpp>

#include "vmlab/util/hash.hpp"

namespace vmlab {

namespace {

// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
std::string yaml_string(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

}  // namespace

std::string ready_marker(std::string_view token) { return "vmlab-ready " + std::string(token); }

std::string vmlab_cloud_config(const GuestIdentity& identity) {
    std::string out = "#cloud-config\n";
    out += "# Written by vmlab: the guest's name and the attendee's account. The lab's own user_data,\n";
    out += "# if any, is merged after this part.\n";
    out += "hostname: " + yaml_string(identity.hostname) + "\n";
    out += "fqdn: " + yaml_string(identity.domain.empty() ? identity.hostname : identity.hostname + "." + identity.domain) + "\n";
    out += "prefer_fqdn_over_hostname: false\n";
    out += "manage_etc_hosts: true\n";
    if (identity.login) {
        const LoginAccount& login = *identity.login;
        out += "ssh_pwauth: true\n";
        out += "users:\n";
        out += "  - name: " + yaml_string(login.user) + "\n";
        out += "    shell: /bin/bash\n";
        out += "    lock_passwd: false\n";
        out += "    passwd: " + yaml_string(login.password_hash) + "\n";
        if (login.sudo) out += "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n";
        if (!login.ssh_keys.empty()) {
            out += "    ssh_authorized_keys:\n";
            for (const auto& key : login.ssh_keys) out += "      - " + yaml_string(key) + "\n";
        }
        out += "chpasswd:\n  expire: false\n";
    }
    // cloud-init substitutes $UPTIME; the marker before it is what readiness looks for.
    out += "final_message: " + yaml_string(ready_marker(identity.ready_token) + " after $UPTIME s") + "\n";
    return out;
}

std::string merge_user_data(const std::string& vmlab_part, const std::optional<std::string>& presenter_part) {
    if (!presenter_part) return vmlab_part;
    std::string boundary = "vmlab-" + stable_hash(vmlab_part + *presenter_part);
    while (vmlab_part.find(boundary) != std::string::npos || presenter_part->find(boundary) != std::string::npos)
        boundary = "vmlab-" + stable_hash(boundary);
    const auto part = [&](const std::string& body, std::string_view extra_headers) {
        std::string text = "--" + boundary + "\n";
        text += "Content-Type: text/cloud-config; charset=\"utf-8\"\n";
        text += "MIME-Version: 1.0\n";
        text += "Content-Transfer-Encoding: 8bit\n";
        text += extra_headers;
        text += "\n" + body;
        if (!body.empty() && body.back() != '\n') text += "\n";
        return text;
    };
    std::string out = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n";
    out += "MIME-Version: 1.0\n\n";
    out += part(vmlab_part, "Content-Disposition: attachment; filename=\"vmlab.cfg\"\n");
    out += part(*presenter_part, "Content-Disposition: attachment; filename=\"user-data.cfg\"\nMerge-Type: " +
                                     std::string(presenter_merge_type) + "\n");
    out += "--" + boundary + "--\n";
    return out;
}

}  // namespace vmlab
