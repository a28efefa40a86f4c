#pragma once
// Files and directories only their owner may read: created with modes 0600 and 0700.

#include <filesystem>
#include <string>
#include <string_view>

namespace vmlab {

// Creates `dir` and its missing parents with mode 0700; existing ones are left as they are.
// Throws vmlab::Error "cannot create <purpose> DIR: <reason>" with `hint`.
void create_private_directories(const std::filesystem::path& dir, std::string_view purpose,
                                const std::string& hint = {});

// Creates `path` with mode 0600 unless it exists, and takes away any mode bits beyond 0600.
// Throws vmlab::Error "cannot open <purpose> PATH: <reason>" (or "cannot set mode 0600 on ...")
// with `hint`.
void create_private_file(const std::filesystem::path& path, std::string_view purpose,
                         const std::string& hint = {});

}  // namespace vmlab
