/* LD_PRELOAD shim for the test-driver benchmarks (bench/run): libvirt's test:///default host
 * reports 3 GiB of memory, so `vmlab up`'s capacity check refuses any lab above ~15 VMs of
 * 128 MiB. This makes virNodeGetInfo report VMLAB_BENCH_NODE_MEMORY_KIB of memory instead.
 * Preloaded into vmlab and vmlab_floor alike (both call virNodeGetInfo once per run); it
 * changes nothing else. Never used on qemu:///system. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libvirt/libvirt.h>
#include <stdlib.h>

int virNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info) {
    static int (*real)(virConnectPtr, virNodeInfoPtr);
    if (!real) real = (int (*)(virConnectPtr, virNodeInfoPtr))dlsym(RTLD_NEXT, "virNodeGetInfo");
    const int rc = real(conn, info);
    const char* kib = getenv("VMLAB_BENCH_NODE_MEMORY_KIB");
    if (rc == 0 && kib && *kib) info->memory = strtoul(kib, NULL, 10);
    return rc;
}
