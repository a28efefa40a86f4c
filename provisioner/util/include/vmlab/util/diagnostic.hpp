#pragma once
// Problems found while loading and validating a lab, each with its place in a file.

#include <cstdint>
#include <string>
#include <vector>

namespace vmlab {

struct SourcePos {
    std::string file;
    std::uint32_t line = 0;    // 1-based; 0 when the problem has no single place
    std::uint32_t column = 0;  // 1-based
};

enum class Severity { error, warning };

struct Diagnostic {
    SourcePos where;
    Severity severity = Severity::error;
    std::string message;
};

// "FILE:LINE:COLUMN: error: message" (the form compilers use, so editors can jump to it).
std::string format(const Diagnostic& d);

bool has_errors(const std::vector<Diagnostic>& diagnostics);

}  // namespace vmlab
