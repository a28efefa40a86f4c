#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "lab_file.hpp"
#include "vmlab/util/error.hpp"
#include "vmlab/lab/loader.hpp"

namespace vmlab::cli {

namespace {

struct ValidateOptions {
    std::vector<std::string> files;
    bool json = false;
    bool strict = false;
};

nlohmann::ordered_json diagnostics_json(const std::vector<Diagnostic>& diagnostics) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& d : diagnostics)
        out.push_back({{"file", d.where.file},
                       {"line", d.where.line},
                       {"column", d.where.column},
                       {"severity", d.severity == Severity::error ? "error" : "warning"},
                       {"message", d.message}});
    return out;
}

int validate(const ValidateOptions& options) {
    bool all_valid = true;
    auto report = nlohmann::ordered_json::array();
    for (const auto& file : options.files) {
        const LoadResult result = load_lab_logged(file);
        const bool has_warnings = result.diagnostics.size() > 0;
        const bool valid = result.lab && !(options.strict && has_warnings);
        all_valid = all_valid && valid;
        for (const auto& d : result.diagnostics) std::cerr << format(d) << '\n';
        if (options.json) {
            report.push_back({{"file", file}, {"valid", valid}, {"diagnostics", diagnostics_json(result.diagnostics)}});
        } else if (result.lab) {
            std::cout << file << ": " << (valid ? "valid" : "has warnings (--strict)") << " (lab " << result.lab->name
                      << ", " << result.lab->seats << (result.lab->seats == 1 ? " seat x " : " seats x ") << result.lab->vms.size()
                      << (result.lab->vms.size() == 1 ? " VM)\n" : " VMs)\n");
        } else {
            std::cout << file << ": invalid\n";
        }
    }
    if (options.json) std::cout << report.dump(2) << '\n';
    return static_cast<int>(all_valid ? ExitCode::ok : ExitCode::invalid);
}

}  // namespace

void add_validate(CLI::App& app, const GlobalOptions&, Action& action) {
    auto options = std::make_shared<ValidateOptions>();
    CLI::App* cmd = app.add_subcommand("validate", "Check lab files: syntax, types, references, names, address math");
    cmd->add_option("labs", options->files, "lab files (TOML)")->required();
    cmd->add_flag("--json", options->json, "machine-readable report on stdout");
    cmd->add_flag("--strict", options->strict, "treat warnings (e.g. a missing image) as errors");
    cmd->callback([&action, options] { action = [options] { return validate(*options); }; });
}

}  // namespace vmlab::cli
