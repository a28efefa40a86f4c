#pragma once
// The one way vmlab runs another program (qemu-img, xorriso, hooks, and the tests' virsh):
// argv only, never a shell; stdout and stderr captured; a timeout that kills the child.

#include <chrono>
#include <string>
#include <vector>

namespace vmlab {

struct ProcessResult {
    int exit_code = -1;      // the exit status, or 128 + N when signal N ended the child (as a shell shows it)
    std::string out, err;    // everything the child wrote to stdout and stderr
    bool timed_out = false;  // the child ran past its timeout and was killed (SIGKILL)
};

// Runs argv[0] with the arguments argv[1..] and waits for it, at most `timeout`. argv[0] without
// a '/' is searched in PATH. `stdin_text` is the child's whole standard input (empty: at once
// end of file). Reads stdout and stderr concurrently, so any amount of output is safe.
// A non-zero exit status or a timeout is a result, not an error; throws vmlab::Error when the
// program cannot be started (not found, not executable) or argv is empty.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_text = {});

}  // namespace vmlab
