#pragma once
// Running baselines: a VM captured once it is ready (memory image plus frozen disks), so a
// reset hands back a booted guest in about a second. Internal to the engine.
//
// Capture: save the running VM's memory (virDomainSaveFlags), freeze each disk overlay X by
// renaming it to X.baseline-<stamp> in the lab's own pool directory, create a fresh overlay X on top
// of it, copy the UEFI variables, restore the VM. The memory image gets its final name last:
// it is the commit point, so an interrupted capture is simply done again.
// Restore: fresh overlays on the frozen disks, the UEFI variables copied back, and
// virDomainRestoreFlags: the guest continues where it was captured.

#include <string>

#include "vmlab/virt/libvirt.hpp"

namespace vmlab::detail {

std::string baseline_memory_volume(const std::string& domain);
bool has_running_baseline(const virt::Connection& conn, const virt::StoragePool& pool, const std::string& domain);
void capture_running_baseline(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain);
// Recreates each disk overlay of the domain on its backing file (the frozen disk of a running
// baseline, or the base image) — the domain must be off.
void recreate_overlays(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain,
                       const std::string& keep_broken_suffix);
void restore_running_baseline(virt::Connection& conn, const virt::StoragePool& pool, const virt::Domain& domain);

}  // namespace vmlab::detail
