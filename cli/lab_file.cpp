#include "lab_file.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "vmlab/error.hpp"
#include "vmlab/loader.hpp"

namespace vmlab::cli {

LoadOptions load_options() {
    LoadOptions options;
    if (const char* dirs = std::getenv("VMLAB_IMAGE_DIRS")) {
        std::string_view rest = dirs;
        while (!rest.empty()) {
            const std::string_view dir = rest.substr(0, rest.find(':'));
            if (!dir.empty()) options.image_dirs.emplace_back(dir);
            rest.remove_prefix(std::min(rest.size(), dir.size() + 1));
        }
    }
    return options;
}

LabSpec load_lab_or_throw(const std::string& file) {
    LoadResult result = load_lab(file, load_options());
    for (const auto& d : result.diagnostics) std::cerr << format(d) << '\n';
    if (!result.lab) throw Error(file + " is not a valid lab", "fix the errors above (vmlab validate " + file + ")", ExitCode::invalid);
    return std::move(*result.lab);
}

}  // namespace vmlab::cli
