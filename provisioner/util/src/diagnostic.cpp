#include "vmlab/util/diagnostic.hpp"

#include <algorithm>

namespace vmlab {

std::string format(const Diagnostic& d) {
    std::string out = d.where.file;
    if (d.where.line > 0) out += ':' + std::to_string(d.where.line) + ':' + std::to_string(d.where.column);
    out += d.severity == Severity::error ? ": error: " : ": warning: ";
    out += d.message;
    return out;
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
    return std::any_of(diagnostics.begin(), diagnostics.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::error; });
}

}  // namespace vmlab
