#pragma once
// Why a seat failed: the FailureKind recorded beside the message, read from the exception.

#include <exception>
#include <string>

#include "vmlab/state/records.hpp"
#include "vmlab/util/error.hpp"
#include "vmlab/virt/libvirt.hpp"

namespace vmlab::detail {

// A seat's failure whose kind the thrower knows (e.g. the errors of several VMs, joined).
class SeatFailed : public Error {
public:
    SeatFailed(FailureKind kind, const std::string& what) : Error(what), m_kind(kind) {}
    FailureKind kind() const noexcept { return m_kind; }

private:
    FailureKind m_kind;
};

inline FailureKind failure_kind(const std::exception& e) {
    if (const auto* failed = dynamic_cast<const SeatFailed*>(&e))
        return failed->kind() == FailureKind::none ? FailureKind::other : failed->kind();
    if (const auto* libvirt = dynamic_cast<const virt::LibvirtError*>(&e))
        return libvirt->connection_lost() ? FailureKind::lost_connection : FailureKind::libvirt;
    return FailureKind::other;
}

// Keeps the first failure's kind, except that a lost connection to libvirtd, which the user
// must fix before anything else, wins over any other.
inline void note_failure(FailureKind& kind, FailureKind next) {
    if (kind == FailureKind::none || next == FailureKind::lost_connection) kind = next;
}

}  // namespace vmlab::detail
