#include "vmlab/state/records.hpp"

#include <array>
#include <string>
#include <utility>

#include "store_detail.hpp"
#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {


constexpr std::pair<SeatState, std::string_view> seat_states[] = {
    {SeatState::pending, "pending"},
    {SeatState::ready, "ready"},
    {SeatState::failed, "failed"},
    {SeatState::removing, "removing"},
};
constexpr std::pair<FailureKind, std::string_view> failure_kinds[] = {
    {FailureKind::none, ""},
    {FailureKind::lost_connection, "lost-connection"},
    {FailureKind::libvirt, "libvirt"},
    {FailureKind::no_lease, "no-lease"},
    {FailureKind::not_ready, "not-ready"},
    {FailureKind::other, "other"},
};
constexpr std::pair<VmState, std::string_view> vm_states[] = {
    {VmState::defined, "defined"},
    {VmState::running, "running"},
};

template <class Enum, std::size_t N>
std::string_view name_of(const std::pair<Enum, std::string_view> (&names)[N], Enum value) {
    for (const auto& [v, name] : names)
        if (v == value) return name;
    return "unknown";
}

template <class Enum, std::size_t N>
Enum value_of(const std::pair<Enum, std::string_view> (&names)[N], std::string_view text,
              std::string_view what) {
    for (const auto& [v, name] : names)
        if (name == text) return v;
    throw Error("the state database holds " + std::string(what) + " '" + std::string(text) +
                    "', which this vmlab does not know",
                "it was written by a newer vmlab: upgrade vmlab on this host");
}

}  // namespace

std::string_view to_string(SeatState state) { return name_of(seat_states, state); }
std::string_view to_string(FailureKind kind) { return name_of(failure_kinds, kind); }
std::string_view to_string(VmState state) { return name_of(vm_states, state); }

namespace sqlite {

SeatState parse_seat_state(std::string_view text) {
    return value_of(seat_states, text, "seat state");
}
FailureKind parse_failure_kind(std::string_view text) {
    return value_of(failure_kinds, text, "seat failure");
}
VmState parse_vm_state(std::string_view text) { return value_of(vm_states, text, "VM state"); }

}  // namespace sqlite

}  // namespace vmlab
