#pragma once
// A program the browser tests keep running beside them (chromedriver, `vmlab serve`): started
// with argv only (never a shell) in a process group of its own, its stdout and stderr going to
// files, and stopped — together with everything it started — when the object goes away, also
// when a test fails half-way.

#include <sys/types.h>

#include <boost/process/child.hpp>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmlab_browser {

// Every failure of the browser test harness: a program that cannot start, a WebDriver command
// that fails, a wait that times out. what() says what failed and what was seen.
class BrowserError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class BackgroundProcess {
public:
    // Starts argv[0] (searched in PATH without a '/'). stdout goes to `out_file`, stderr to
    // `err_file` (one file for both when they are equal); both are truncated. The child gets
    // /dev/null as stdin and none of this process's other descriptors. Throws BrowserError
    // when the program is not found or cannot start.
    BackgroundProcess(std::vector<std::string> argv, std::filesystem::path out_file, std::filesystem::path err_file);
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;
    ~BackgroundProcess();

    // The child has not exited yet (it is not reaped by asking).
    bool running() const;

    // SIGTERM to the whole process group, up to `grace` for the child to exit, then SIGKILL to
    // whatever of the group is left. Returns the child's exit code (128 + N for signal N).
    // Later calls return the same code.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

    pid_t pid() const { return m_pid; }
    const std::string& command() const { return m_command; }
    std::string out() const;  // what it wrote to stdout so far
    std::string err() const;  // what it wrote to stderr so far

private:
    std::string m_command;
    std::filesystem::path m_out_file, m_err_file;
    boost::process::child m_child;
    pid_t m_pid = -1;
    bool m_stopped = false;
    int m_exit_code = -1;
};

}  // namespace vmlab_browser
