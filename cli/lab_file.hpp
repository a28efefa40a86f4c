#pragma once

#include <string>

#include "vmlab/lab/lab.hpp"
#include "vmlab/lab/loader.hpp"

namespace vmlab::cli {

// Loads a lab file for a command that acts on it: prints every diagnostic to stderr and throws
// an Error with exit code 2 when the lab is invalid.
LabSpec load_lab_or_throw(const std::string& file);

// load_lab with the options from the environment; with -v, logs the file, the template and
// image directories, and what was resolved.
LoadResult load_lab_logged(const std::string& file);

}  // namespace vmlab::cli
