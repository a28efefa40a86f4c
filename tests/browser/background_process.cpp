#include "background_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/filesystem/path.hpp>
#include <boost/process/args.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace vmlab_browser {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

// Runs in the child between fork and exec: a process group of its own (so stop() reaches all it
// starts, e.g. Chromium under chromedriver), and close-on-exec on every descriptor above stderr
// (a test's listening socket or pipe must not live on in chromedriver or the server).
struct OwnGroupAndNoInheritedFds : bp::extend::handler {
    template <class Executor>
    void on_exec_setup(Executor&) const {
        ::setpgid(0, 0);
        if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
            for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
};

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
    return text;
}

std::string read_whole(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The child has exited (without reaping it: while it is a zombie its pid, and so its process
// group id, cannot be reused, and signalling the group stays safe).
bool has_exited(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;  // gone
    return info.si_pid == pid;
}

}  // namespace

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, fs::path out_file, fs::path err_file)
    : m_command(command_text(argv)), m_out_file(std::move(out_file)), m_err_file(std::move(err_file)) {
    if (argv.empty() || argv.front().empty()) throw BrowserError("cannot start a program: the command line is empty");
    boost::filesystem::path program = argv.front();
    if (argv.front().find('/') == std::string::npos) program = bp::search_path(argv.front());
    if (program.empty()) throw BrowserError("cannot start `" + m_command + "`: " + argv.front() + " is not in PATH");
    for (const auto& file : {m_out_file, m_err_file}) {
        std::ofstream truncate(file, std::ios::trunc);
        if (!truncate) throw BrowserError("cannot start `" + m_command + "`: cannot write " + file.string());
    }
    const std::vector<std::string> args(argv.begin() + 1, argv.end());
    try {
        if (m_out_file == m_err_file)
            m_child = bp::child(bp::exe = program.string(), bp::args = args, (bp::std_out & bp::std_err) > m_out_file.string(),
                                bp::std_in < bp::null, OwnGroupAndNoInheritedFds{});
        else
            m_child = bp::child(bp::exe = program.string(), bp::args = args, bp::std_out > m_out_file.string(),
                                bp::std_err > m_err_file.string(), bp::std_in < bp::null, OwnGroupAndNoInheritedFds{});
    } catch (const std::system_error& e) {
        throw BrowserError("cannot start `" + m_command + "`: " + e.what());
    }
    m_pid = m_child.id();
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() const { return !m_stopped && !has_exited(m_pid); }

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
    if (m_stopped) return m_exit_code;
    m_stopped = true;
    ::kill(-m_pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!has_exited(m_pid) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(-m_pid, SIGKILL);  // the child if it did not stop, and whatever it started (the group outlives it)
    std::error_code ec;
    m_child.wait(ec);
    const int status = m_child.native_exit_code();
    if (WIFEXITED(status)) m_exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) m_exit_code = 128 + WTERMSIG(status);
    return m_exit_code;
}

std::string BackgroundProcess::out() const { return read_whole(m_out_file); }

std::string BackgroundProcess::err() const { return read_whole(m_err_file); }

}  // namespace vmlab_browser
