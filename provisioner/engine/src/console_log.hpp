#pragma once
// The serial console log libvirt writes for each VM (`<serial><log file=…/>`): how vmlab sees that
// a guest finished its setup (its ready line, e.g. cloud-init's "vmlab-ready DOMAIN"), and what
// a failing seat's error quotes.

#include <cstddef>
#include <string>

#include "vmlab/virt/libvirt.hpp"

namespace vmlab::detail {

// The file of the domain's serial console log; empty when it has none.
std::string console_log_path(const virt::Domain& domain);

// Whether the log holds `line` (a missing log holds nothing).
bool console_says(const std::string& log_path, const std::string& line);

// The last `lines` lines of the log, control characters blanked, for an error message.
std::string console_tail(const std::string& log_path, std::size_t lines = 15);

// Before a cold boot of a VM that has a ready line: removes the previous boot's log, so that
// the ready line found afterwards is this boot's (the guest prints it on every boot).
void forget_previous_boot(const virt::Domain& domain);

}  // namespace vmlab::detail
