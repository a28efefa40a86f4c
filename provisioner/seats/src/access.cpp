#include "vmlab/seats/access.hpp"

#include "vmlab/util/password.hpp"

namespace vmlab {

std::string VmAccess::ssh_command() const {
    if (!login || ips.empty()) return {};
    return "ssh " + login->user + "@" + to_string(ips.front());
}

std::string attendee_password(const std::string& lab, unsigned seat, const std::string& secret) {
    return derive_password(secret, lab + "|" + std::to_string(seat));
}

std::vector<VmAccess> seat_access(StateStore& store, const std::string& lab, unsigned seat) {
    store.require_lab(lab);
    const std::vector<GuestRecord> guests = store.guests(lab);
    std::vector<VmAccess> result;
    std::optional<std::string> secret;
    for (const VmRecord& vm : store.vms(lab)) {
        if (vm.seat != seat) continue;
        VmAccess access{vm.vm, vm.domain, vm.vm, vm.ips, std::nullopt};
        for (const GuestRecord& guest : guests) {
            if (guest.domain != vm.domain) continue;
            access.hostname = guest.hostname;
            if (guest.login_user.empty()) break;
            if (!guest.fixed_password.empty()) {
                access.login = Login{guest.login_user, guest.fixed_password};
            } else {
                if (!secret) secret = store.lab_secret(lab);
                access.login = Login{guest.login_user, attendee_password(lab, seat, *secret)};
            }
        }
        result.push_back(std::move(access));
    }
    return result;
}

}  // namespace vmlab
