#include "session.hpp"

#include <filesystem>

#include "lab_file.hpp"

namespace vmlab::cli {

StateStore open_state(const GlobalOptions& global) {
    return StateStore::open(global.state.empty() ? StateStore::default_path() : std::filesystem::path(global.state));
}

std::string host_uri_for(const GlobalOptions& global, StateStore& store, const std::string& lab,
                         const std::string& fallback) {
    if (!global.connect.empty()) return global.connect;
    if (auto record = store.find_lab(lab)) return record->host_uri;
    return fallback;
}

std::string lab_name_from_argument(const std::string& argument) {
    std::error_code ec;
    if (argument.ends_with(".toml") && std::filesystem::is_regular_file(argument, ec))
        return load_lab_or_throw(argument).name;
    return argument;
}

}  // namespace vmlab::cli
