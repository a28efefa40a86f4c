#include "vmlab/virt/host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <regex>

namespace vmlab {

HostFacts probe_host() {
    HostFacts facts;
    if (int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC); fd >= 0) {
        facts.kvm_device_usable = true;
        ::close(fd);
    }
    std::ifstream cpuinfo("/proc/cpuinfo");
    const std::regex virt_flag(R"(\b(vmx|svm)\b)");
    for (std::string line; std::getline(cpuinfo, line);)
        if (line.rfind("flags", 0) == 0 && std::regex_search(line, virt_flag)) {
            facts.cpu_has_virt_flags = true;
            break;
        }
    return facts;
}

std::string choose_domain_type(Virtualization wanted, const HostFacts& facts, const std::string& hypervisor) {
    if (hypervisor == "test") return "test";
    switch (wanted) {
        case Virtualization::kvm: return "kvm";
        case Virtualization::qemu: return "qemu";
        case Virtualization::automatic: break;
    }
    return facts.kvm_device_usable && facts.cpu_has_virt_flags ? "kvm" : "qemu";
}

}  // namespace vmlab
