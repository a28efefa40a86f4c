#pragma once
// Base images: imported once into the lab's pool through libvirt's storage API, never written to.

#include "vmlab/virt/libvirt.hpp"
#include "vmlab/plan/plan.hpp"

namespace vmlab {

enum class Imported { already_there, now };

// Creates the volume and uploads the file's bytes into it. A failed upload leaves no volume.
// Drivers that hold no data (the test driver) get the empty volume.
Imported import_image(virt::Connection& conn, const virt::StoragePool& pool, const PlannedBaseImage& image);

// Writes `bytes` as the raw volume `name` (a cloud-init seed), replacing it if it exists: uploaded
// as NAME.partial and renamed over it when complete. Drivers that hold no data get the empty volume.
void write_volume(virt::Connection& conn, const virt::StoragePool& pool, const std::string& name, const std::string& bytes);

}  // namespace vmlab
