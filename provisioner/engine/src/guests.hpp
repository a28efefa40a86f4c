#pragma once
// The NoCloud seed of a cloud-init VM for its seat: vmlab's cloud-config (hostname, the
// attendee's account), the presenter's user_data expanded for the seat, the network-config.

#include "vmlab/guest/seed.hpp"
#include "vmlab/plan/plan.hpp"
#include "vmlab/state/records.hpp"

namespace vmlab::detail {

// Throws vmlab::Error when the presenter's user_data, expanded with this seat's values, is not
// a valid cloud-config any more (an attendee name that breaks its YAML).
NoCloudSeed vm_seed(const Plan& plan, const PlannedSeat& seat, const PlannedVm& vm, const SeatRecord& attendee,
                    const std::string& secret);

}  // namespace vmlab::detail
