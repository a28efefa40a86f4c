#include "vmlab/util/os_user.hpp"

#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace vmlab {

std::optional<OsAccount> current_os_account() {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
        return std::nullopt;
    return OsAccount{entry.pw_name, entry.pw_dir};
}

const std::string& os_user_name() {
    static const std::string user = [] {
        const auto account = current_os_account();
        return account ? account->name : std::to_string(geteuid());
    }();
    return user;
}

}  // namespace vmlab
