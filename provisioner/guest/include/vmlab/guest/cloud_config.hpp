#pragma once
// The cloud-config vmlab writes for a guest (its name, the attendee's account, the marker that
// says setup finished) and how the presenter's user_data joins it.
//
// The two are sent as one MIME multipart user-data, vmlab's part first, the presenter's second
// with the header `Merge-Type: list(append)+dict(recurse_array)+str()`: cloud-init (22.4 on
// Debian 12) merges the parts into one configuration, appending the presenter's lists to vmlab's
// (`users`, `packages`, `write_files`, `runcmd`, `ssh_authorized_keys`) and letting the
// presenter's scalars win. The presenter's file reaches the guest as written (after template
// expansion), never re-serialised.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmlab {

// The attendee's account on a guest.
struct LoginAccount {
    std::string user;
    std::string password_hash;             // crypt(3) "$6$…", never the password itself
    std::vector<std::string> ssh_keys;     // OpenSSH public keys ("ssh-ed25519 AAAA… comment")
    bool sudo = true;                      // passwordless sudo
};

struct GuestIdentity {
    std::string hostname;                  // a DNS label
    std::string domain;                    // the DNS domain of its networks; empty for none
    std::optional<LoginAccount> login;     // nothing: no attendee account (`login = false`)
    std::string ready_token;               // printed on the console when cloud-init finished
};

// The line cloud-init prints on the serial console when setup finished: "vmlab-ready TOKEN …".
// readiness looks for ready_marker(token) in the console log.
std::string ready_marker(std::string_view token);

// "#cloud-config …" for the identity.
std::string vmlab_cloud_config(const GuestIdentity& identity);

inline constexpr std::string_view presenter_merge_type = "list(append)+dict(recurse_array)+str()";

// The guest's user-data: vmlab's cloud-config alone, or with the presenter's (expanded) cloud-config
// as a MIME multipart whose boundary occurs in neither.
std::string merge_user_data(const std::string& vmlab_part, const std::optional<std::string>& presenter_part);

}  // namespace vmlab
