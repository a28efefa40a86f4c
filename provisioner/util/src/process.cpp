#include "vmlab/util/process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace bp = boost::process;

namespace {

using Clock = std::chrono::steady_clock;

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
    return text;
}

// Boost.Process v1 creates its pipes without close-on-exec. Marking every end lets a child that
// another thread starts at the same moment inherit none of them (else our child's stdin might
// never reach end of file, or our read might wait for that other child). The ends our child
// needs are dup2()ed to 0, 1, 2, which clears the flag on the copies.
void set_close_on_exec(bp::async_pipe& pipe) {
    for (const int fd : {pipe.native_source(), pipe.native_sink()})
        if (fd >= 0) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

// Appends everything that arrives on a pipe to `sink`, until end of file or an error.
class PipeReader {
public:
    PipeReader(bp::async_pipe& pipe, std::string& sink) : m_pipe(pipe), m_sink(sink) {}
    PipeReader(const PipeReader&) = delete;
    PipeReader& operator=(const PipeReader&) = delete;

    void start() {
        m_pipe.async_read_some(boost::asio::buffer(m_buffer), [this](const boost::system::error_code& ec, std::size_t n) {
            m_sink.append(m_buffer.data(), n);
            if (!ec) start();
        });
    }

private:
    bp::async_pipe& m_pipe;
    std::string& m_sink;
    std::array<char, 64 * 1024> m_buffer{};
};

// Blocks SIGPIPE in this thread while we write the child's stdin: a child that exits without
// reading all of it must give us EPIPE, not end the whole program. Built only after the child
// started (a child inherits the signal mask); consumes a SIGPIPE left pending before unblocking.
class SigpipeBlock {
public:
    SigpipeBlock() {
        sigemptyset(&m_pipe_only);
        sigaddset(&m_pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &m_pipe_only, &m_previous);
    }
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;
    ~SigpipeBlock() {
        if (sigismember(&m_previous, SIGPIPE)) return;  // it was blocked before: leave it so
        sigset_t pending;
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
            const timespec no_wait{0, 0};
            sigtimedwait(&m_pipe_only, nullptr, &no_wait);
        }
        pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
    }

private:
    sigset_t m_pipe_only{};
    sigset_t m_previous{};
};

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

boost::filesystem::path find_program(const std::vector<std::string>& argv) {
    const std::string& name = argv.front();
    if (name.find('/') != std::string::npos) return name;
    boost::filesystem::path found = bp::search_path(name);
    if (found.empty())
        throw Error("cannot run `" + command_text(argv) + "`: " + name + " was not found in PATH",
                    "install the program that provides " + name + " (scripts/setup installs what vmlab needs)");
    return found;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_text) {
    if (argv.empty() || argv.front().empty()) throw Error("cannot run a program: the command line is empty");
    const boost::filesystem::path program = find_program(argv);
    const std::vector<std::string> args(argv.begin() + 1, argv.end());
    const auto deadline = Clock::now() + timeout;

    boost::asio::io_context io;
    bp::async_pipe out_pipe(io), err_pipe(io), in_pipe(io);
    for (bp::async_pipe* pipe : {&out_pipe, &err_pipe, &in_pipe}) set_close_on_exec(*pipe);

    bp::child child;
    try {
        child = bp::child(bp::exe = program.string(), bp::args = args, bp::std_out > out_pipe, bp::std_err > err_pipe,
                          bp::std_in < in_pipe);
    } catch (const std::system_error& e) {
        throw Error("cannot run `" + command_text(argv) + "`: " + e.what(),
                    "check that " + program.string() + " exists and is executable");
    }

    ProcessResult result;
    PipeReader out_reader(out_pipe, result.out);
    PipeReader err_reader(err_pipe, result.err);
    out_reader.start();
    err_reader.start();
    std::optional<SigpipeBlock> sigpipe_block;
    if (stdin_text.empty()) {
        in_pipe.close();
    } else {
        sigpipe_block.emplace();
        boost::asio::async_write(in_pipe, boost::asio::buffer(stdin_text),
                                 [&in_pipe](const boost::system::error_code&, std::size_t) {
                                     boost::system::error_code ignored;
                                     in_pipe.close(ignored);  // end of file for the child (or it has gone: EPIPE)
                                 });
    }

    // Until stdout and stderr reach end of file (and stdin is written), or the deadline.
    io.run_until(deadline);

    // Then until the child exits; it usually has by now.
    std::error_code ec;
    auto pause = std::chrono::microseconds(500);
    while (child.running(ec) && !ec && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
        pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
    }
    if (child.running(ec) && !ec) {
        result.timed_out = true;
        ::kill(child.id(), SIGKILL);
        // Take what the child wrote before it died; give up on pipes a grandchild still holds.
        io.restart();
        io.run_for(std::chrono::milliseconds(200));
    }
    child.wait(ec);  // reaps the child and records its status (no-op when running() already did)
    result.exit_code = exit_code_of(child.native_exit_code());

    // Cancel reads that are still pending and let their handlers run while the readers exist.
    boost::system::error_code ignored;
    out_pipe.close(ignored);
    err_pipe.close(ignored);
    in_pipe.close(ignored);
    io.restart();
    io.poll();
    return result;
}

}  // namespace vmlab
