#include "lab_file.hpp"

#include <iostream>

#include "vmlab/error.hpp"
#include "vmlab/loader.hpp"

namespace vmlab::cli {

LabSpec load_lab_or_throw(const std::string& file) {
    LoadResult result = load_lab(file, load_options_from_environment());
    for (const auto& d : result.diagnostics) std::cerr << format(d) << '\n';
    if (!result.lab) throw Error(file + " is not a valid lab", "fix the errors above (vmlab validate " + file + ")", ExitCode::invalid);
    return std::move(*result.lab);
}

}  // namespace vmlab::cli
