#pragma once
// Runtime errors and the process exit codes they map to.

#include <stdexcept>
#include <string>

namespace vmlab {

enum class ExitCode : int {
    ok = 0,
    failure = 1,    // a runtime step failed (libvirt, file system, database)
    invalid = 2,    // usage error or an invalid lab definition
    partial = 3,    // some seats failed; the others are done (re-run to finish)
    leftovers = 4,  // `down` finished but objects of the lab still exist
};

// A runtime failure: what failed, and what the user can do next.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, std::string hint = {},
                   ExitCode code = ExitCode::failure)
        : std::runtime_error(what), m_hint(std::move(hint)), m_code(code) {}

    const std::string& hint() const noexcept { return m_hint; }
    ExitCode code() const noexcept { return m_code; }

private:
    std::string m_hint;
    ExitCode m_code;
};

}  // namespace vmlab
