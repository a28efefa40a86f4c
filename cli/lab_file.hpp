#pragma once

#include <string>

#include "vmlab/lab.hpp"
#include "vmlab/loader.hpp"

namespace vmlab::cli {

// How lab files load for every command: the extra image directories of VMLAB_IMAGE_DIRS
// (colon-separated), which the operator sets and a lab file cannot.
LoadOptions load_options();

// Loads a lab file for a command that acts on it: prints every diagnostic to stderr and throws
// an Error with exit code 2 when the lab is invalid.
LabSpec load_lab_or_throw(const std::string& file);

}  // namespace vmlab::cli
