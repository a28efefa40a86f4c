#pragma once
// The names vmlab gives a lab's objects on a host, shared by the planner, the loader and the
// code that finds objects without a plan (down, gc).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vmlab {

// "s01": a seat's part of names.
std::string seat_tag(unsigned seat);
std::string pool_name(const std::string& lab);
std::string network_prefix(const std::string& lab);  // "vmlab-<lab>-"
std::string domain_name(const std::string& lab, unsigned seat, const std::string& vm);

// Whether a file in a lab's storage directory is one vmlab names: a base image ("base-…") or
// a seat's disk, memory image, NVRAM or console log ("<lab>-sNN-…"). `down` removes only these.
bool is_lab_file(const std::string& lab, std::string_view file);
// The entries of `storage` that are not lab files (at most `limit`); none if it does not exist.
std::vector<std::string> foreign_files(const std::filesystem::path& storage, const std::string& lab, std::size_t limit = 3);

}  // namespace vmlab
