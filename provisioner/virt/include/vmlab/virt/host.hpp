#pragma once
// Facts about the machine that decide how guests run.

#include <string>

#include "vmlab/lab/lab.hpp"

namespace vmlab {

struct HostFacts {
    bool kvm_device_usable = false;    // /dev/kvm opens read-write
    bool cpu_has_virt_flags = false;   // vmx or svm in /proc/cpuinfo
};

HostFacts probe_host();

// The libvirt domain type: "kvm" only where KVM can really run guests (a /dev/kvm without
// vmx/svm cannot boot a Linux guest), "qemu" (software emulation) otherwise; the user's choice
// wins. The test driver only knows "test".
std::string choose_domain_type(Virtualization wanted, const HostFacts& facts, const std::string& hypervisor);

}  // namespace vmlab
