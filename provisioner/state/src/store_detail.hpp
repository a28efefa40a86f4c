#pragma once
// What the state store's files share besides SQLite: the clock, the access hint, and reading
// the stored text of typed fields back.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "vmlab/state/records.hpp"

namespace vmlab::sqlite {

inline constexpr std::string_view access_hint =
    "check that you may read and write the file and its directory (the state of root's labs is "
    "in /var/lib/vmlab)";

inline std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Text written by to_string back to the value; throws vmlab::Error (naming the database) for
// text this vmlab never writes.
SeatState parse_seat_state(std::string_view text);
FailureKind parse_failure_kind(std::string_view text);
VmState parse_vm_state(std::string_view text);

}  // namespace vmlab::sqlite
