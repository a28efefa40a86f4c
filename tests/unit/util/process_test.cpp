#include "vmlab/util/process.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "vmlab/util/error.hpp"

namespace vmlab {
namespace {

using namespace std::chrono_literals;

constexpr auto generous = 30s;
constexpr std::size_t one_mib = 1 << 20;

TEST(RunProcess, CapturesStdoutAndExitCodeZero) {
    const ProcessResult r = run_process({"echo", "hello", "world"}, generous);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "hello world\n");
    EXPECT_EQ(r.err, "");
    EXPECT_FALSE(r.timed_out);
}

TEST(RunProcess, ReportsNonZeroExitCodes) {
    EXPECT_EQ(run_process({"false"}, generous).exit_code, 1);
    EXPECT_EQ(run_process({"sh", "-c", "exit 42"}, generous).exit_code, 42);
}

TEST(RunProcess, ReportsDeathBySignalAsShellsDo) {
    const ProcessResult r = run_process({"sh", "-c", "kill -TERM $$"}, generous);
    EXPECT_EQ(r.exit_code, 128 + 15);
    EXPECT_FALSE(r.timed_out);
}

TEST(RunProcess, CapturesStderrSeparately) {
    const ProcessResult r = run_process({"sh", "-c", "echo to-out; echo to-err >&2; exit 3"}, generous);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "to-out\n");
    EXPECT_EQ(r.err, "to-err\n");
}

TEST(RunProcess, PassesArgumentsWithoutAShell) {
    const ProcessResult r = run_process({"echo", "$HOME;", "*", "a b", "`id`"}, generous);
    EXPECT_EQ(r.out, "$HOME; * a b `id`\n");
}

TEST(RunProcess, RunsAProgramGivenByPath) {
    const ProcessResult r = run_process({"/bin/sh", "-c", "echo ok"}, generous);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "ok\n");
}

TEST(RunProcess, TimeoutKillsTheChild) {
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult r = run_process({"sleep", "10"}, 300ms);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, 128 + 9);  // SIGKILL
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 1s);
}

TEST(RunProcess, TimeoutKeepsOutputWrittenBeforeIt) {
    const ProcessResult r = run_process({"sh", "-c", "echo started; exec sleep 10"}, 500ms);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.out, "started\n");
}

TEST(RunProcess, MissingProgramThrows) {
    EXPECT_THROW(run_process({"vmlab-no-such-program-4711"}, generous), Error);
    EXPECT_THROW(run_process({"/nonexistent/vmlab-no-such-program"}, generous), Error);
    try {
        run_process({"vmlab-no-such-program-4711", "--flag"}, generous);
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("vmlab-no-such-program-4711"), std::string::npos) << e.what();
    }
}

TEST(RunProcess, EmptyCommandThrows) {
    EXPECT_THROW(run_process({}, generous), Error);
    EXPECT_THROW(run_process({""}, generous), Error);
}

TEST(RunProcess, LargeOutputDoesNotDeadlock) {
    const ProcessResult r = run_process({"head", "-c", std::to_string(one_mib), "/dev/zero"}, generous);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.out.size(), one_mib);
}

TEST(RunProcess, LargeOutputOnBothStreamsDoesNotDeadlock) {
    // stderr first: a runner that read stdout to its end before stderr would hang here.
    const std::string n = std::to_string(one_mib);
    const ProcessResult r =
        run_process({"sh", "-c", "head -c " + n + " /dev/zero >&2; head -c " + n + " /dev/zero; echo done >&2"}, generous);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.out.size(), one_mib);
    EXPECT_EQ(r.err.size(), one_mib + 5);
}

TEST(RunProcess, FeedsStdin) {
    const ProcessResult r = run_process({"cat"}, generous, "line one\nline two\n");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "line one\nline two\n");
}

TEST(RunProcess, FeedsLargeStdinWhileReadingLargeOutput) {
    const std::string input(one_mib, 'x');
    const ProcessResult r = run_process({"cat"}, generous, input);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, input);
}

TEST(RunProcess, ChildThatIgnoresStdinDoesNotHurtUs) {
    // The write fails with EPIPE once `true` has exited; SIGPIPE must not end the test binary.
    const ProcessResult r = run_process({"true"}, generous, std::string(4 * one_mib, 'x'));
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_FALSE(r.timed_out);
}

TEST(RunProcess, EmptyStdinIsEndOfFile) {
    const ProcessResult r = run_process({"cat"}, 5s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace vmlab
