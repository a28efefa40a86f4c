#pragma once
// Loading a lab file: TOML syntax, types, unknown keys, ranges, references and address math.
// Every problem is collected (never just the first) with its file, line and column.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/diagnostic.hpp"
#include "vmlab/lab/lab.hpp"

namespace vmlab {

inline constexpr std::uintmax_t max_lab_file_bytes = 1 << 20;

struct LoadOptions {
    // Extra directories searched for `<name>.toml` templates after the lab's own
    // `templates/` and `../templates/` directories.
    std::vector<std::filesystem::path> template_dirs;
    // Directories images, kernels and initrds may come from besides default_image_dirs and
    // the directory of the file that names them (each with its subdirectories). A lab file
    // cannot widen this: an image elsewhere (or a symlink or `..` leading out) is an error.
    std::vector<std::filesystem::path> image_dirs;
};

// Options as the operator set them: image_dirs from VMLAB_IMAGE_DIRS (colon-separated).
LoadOptions load_options_from_environment();

inline const std::vector<std::filesystem::path> default_image_dirs{"/var/lib/vmlab/images", "/var/lib/libvirt/images"};

// Where `<name>.toml` templates of `lab_file` are looked for, in order.
std::vector<std::filesystem::path> template_search_dirs(const std::filesystem::path& lab_file, const LoadOptions& options);

// Where images, kernels and initrds may come from, besides the directory of the file naming them.
std::vector<std::filesystem::path> allowed_image_dirs(const LoadOptions& options);

// Whether `path`, with symlinks and `..` resolved, lies inside `dir` (resolved too).
bool is_inside(const std::filesystem::path& path, const std::filesystem::path& dir);

struct LoadResult {
    std::optional<LabSpec> lab;  // set when there are no errors
    std::vector<Diagnostic> diagnostics;
};

LoadResult load_lab(const std::filesystem::path& file, const LoadOptions& options = {});

// The same, from text in memory; `file` names it in diagnostics and anchors relative paths.
LoadResult load_lab_text(std::string_view text, const std::filesystem::path& file,
                         const LoadOptions& options = {});

// "512MiB", "20GiB", "1.5TiB", "100MB": bytes, or nothing when it is not a size.
std::optional<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);

// True for DNS-label style names: lowercase letters, digits and '-', starting with a letter,
// not ending with '-', at most max_length characters.
bool is_valid_name(std::string_view name, std::size_t max_length);

}  // namespace vmlab
