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

std::map<unsigned, std::vector<VmAccess>> lab_access(StateStore& store, const std::string& lab) {
    store.require_lab(lab);
    std::map<std::string, GuestRecord> guests;
    for (GuestRecord& guest : store.guests(lab)) guests.emplace(guest.domain, std::move(guest));
    std::map<unsigned, std::vector<VmAccess>> result;
    std::optional<std::string> secret;
    for (const VmRecord& vm : store.vms(lab)) {
        VmAccess access{vm.vm, vm.domain, vm.vm, vm.ips, std::nullopt};
        if (const auto guest = guests.find(vm.domain); guest != guests.end()) {
            access.hostname = guest->second.hostname;
            if (!guest->second.login_user.empty()) {
                if (!guest->second.fixed_password.empty()) {
                    access.login = Login{guest->second.login_user, guest->second.fixed_password};
                } else {
                    if (!secret) secret = store.lab_secret(lab);
                    access.login = Login{guest->second.login_user, attendee_password(lab, vm.seat, *secret)};
                }
            }
        }
        result[vm.seat].push_back(std::move(access));
    }
    return result;
}

std::vector<VmAccess> seat_access(StateStore& store, const std::string& lab, unsigned seat) {
    auto all = lab_access(store, lab);
    const auto it = all.find(seat);
    return it == all.end() ? std::vector<VmAccess>{} : std::move(it->second);
}

}  // namespace vmlab
