#pragma once
// The vmlab command line: global options, command registration, the one top-level catch.

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>

namespace vmlab::cli {

struct GlobalOptions {
    std::string connect;  // --connect: overrides the lab's host URI
    std::string state;    // --state: the state database
    bool verbose = false;

    std::filesystem::path state_path() const;
};

// A command's body; returns the process exit code.
using Action = std::function<int()>;

// Each command file registers its subcommand and sets `action` when it was chosen.
void add_validate(CLI::App& app, const GlobalOptions& global, Action& action);
void add_plan(CLI::App& app, const GlobalOptions& global, Action& action);
void add_up(CLI::App& app, const GlobalOptions& global, Action& action);
void add_status(CLI::App& app, const GlobalOptions& global, Action& action);
void add_down(CLI::App& app, const GlobalOptions& global, Action& action);
void add_reset(CLI::App& app, const GlobalOptions& global, Action& action);
void add_start(CLI::App& app, const GlobalOptions& global, Action& action);
void add_stop(CLI::App& app, const GlobalOptions& global, Action& action);
void add_console(CLI::App& app, const GlobalOptions& global, Action& action);
void add_gc(CLI::App& app, const GlobalOptions& global, Action& action);
void add_seats(CLI::App& app, const GlobalOptions& global, Action& action);
void add_log(CLI::App& app, const GlobalOptions& global, Action& action);
void add_serve(CLI::App& app, const GlobalOptions& global, Action& action);  // and organizer-token

int run(int argc, char** argv);

}  // namespace vmlab::cli
