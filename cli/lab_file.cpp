#include "lab_file.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "vmlab/util/error.hpp"

namespace vmlab::cli {

namespace {

std::string join_paths(const std::vector<std::filesystem::path>& paths) {
    std::string out;
    for (const auto& p : paths) out += (out.empty() ? "" : ", ") + p.string();
    return out;
}

}  // namespace

LoadResult load_lab_logged(const std::string& file) {
    const LoadOptions options = load_options_from_environment();
    if (spdlog::should_log(spdlog::level::debug)) {
        std::error_code ec;
        const std::filesystem::path absolute = std::filesystem::absolute(file, ec);
        spdlog::debug("reading lab file {}", absolute.string());
        spdlog::debug("template files searched in: {} (after inline [templates])",
                      join_paths(template_search_dirs(absolute, options)));
        spdlog::debug("images allowed from: {} (VMLAB_IMAGE_DIRS adds more) and the directory of the file naming each",
                      join_paths(allowed_image_dirs(options)));
    }
    LoadResult result = load_lab(file, options);
    if (result.lab) {
        for (const auto& t : result.lab->templates)
            spdlog::debug("template {} from {}:{}; image {}", t.name, t.where.file, t.where.line, t.image.empty() ? "none" : t.image);
        spdlog::debug("lab {}: {} seat(s), {} VM(s), {} network(s), host {}", result.lab->name, result.lab->seats,
                      result.lab->vms.size(), result.lab->networks.size(), result.lab->host_uri);
    }
    spdlog::debug("{}: {} diagnostic(s)", file, result.diagnostics.size());
    return result;
}

LabSpec load_lab_or_throw(const std::string& file) {
    LoadResult result = load_lab_logged(file);
    for (const auto& d : result.diagnostics) std::cerr << format(d) << '\n';
    if (!result.lab) throw Error(file + " is not a valid lab", "fix the errors above (vmlab validate " + file + ")", ExitCode::invalid);
    return std::move(*result.lab);
}

}  // namespace vmlab::cli
