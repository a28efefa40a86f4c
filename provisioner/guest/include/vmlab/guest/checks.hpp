#pragma once
// The checks the loader runs on what a lab says about its guests: user_data files, SSH public
// keys, hostnames. Each says what is wrong and what would be right; the caller places it.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmlab/util/diagnostic.hpp"

namespace vmlab {

inline constexpr std::size_t max_user_data_bytes = 64 * 1024;

struct UserDataFile {
    std::optional<std::string> text;       // set when the file could be read and is not too big
    std::vector<Diagnostic> diagnostics;
};

// Reads a user_data file; `named_at` is where the lab names it (a missing, unreadable or too
// big file is reported there).
UserDataFile read_user_data(const std::filesystem::path& file, const SourcePos& named_at);

// Checks the text of a user_data file after template expansion: its first line is
// `#cloud-config`, it is YAML, its top level is a mapping, and it leaves alone what vmlab needs
// (`final_message` is an error, `hostname`/`fqdn` a warning). `origin` is the file's 1:1.
std::vector<Diagnostic> check_cloud_config(std::string_view text, const SourcePos& origin);

// What is wrong with an OpenSSH public key line ("TYPE BASE64 [COMMENT]"), or nothing.
std::optional<std::string> ssh_public_key_problem(std::string_view key);

// What is wrong with a host name (a DNS label: 1–63 of a-z, 0-9 and '-', not starting or
// ending with '-'), or nothing.
std::optional<std::string> hostname_problem(std::string_view hostname);

}  // namespace vmlab
