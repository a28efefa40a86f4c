#pragma once
// The operating-system account this process runs as (its effective user).

#include <optional>
#include <string>

namespace vmlab {

struct OsAccount {
    std::string name, home;
};

// From the password database; nullopt if the effective uid has no entry.
std::optional<OsAccount> current_os_account();

// The account's name, or the numeric uid when it has none; looked up once per process.
const std::string& os_user_name();

}  // namespace vmlab
