#include "journal.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <map>

namespace vmlab::detail {

namespace {

bool process_runs(std::int64_t pid) {
    return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace

JournalStep::~JournalStep() {
    try {
        m_store.end_step(m_id);
    } catch (const std::exception& e) {
        spdlog::warn("cannot clear step {} from the journal: {}", m_id, e.what());
    }
}

std::vector<JournalEntry> interrupted_steps(StateStore& store, const std::string& lab) {
    std::vector<JournalEntry> steps = store.journal(lab);
    std::erase_if(steps, [](const JournalEntry& e) { return process_runs(e.pid); });
    return steps;
}

void take_over_interrupted_steps(StateStore& store, const std::string& lab, const std::string& command,
                                 const std::vector<unsigned>& seats) {
    std::map<std::pair<std::string, std::int64_t>, std::vector<const JournalEntry*>> by_run;
    const std::vector<JournalEntry> steps = interrupted_steps(store, lab);
    for (const auto& step : steps)
        if (seats.empty() || step.seat == 0 || std::find(seats.begin(), seats.end(), step.seat) != seats.end())
            by_run[{step.command, step.pid}].push_back(&step);
    for (const auto& [run, run_steps] : by_run) {
        std::string list;
        for (const JournalEntry* step : run_steps)
            list += (list.empty() ? "" : "; ") + (step->seat ? "seat " + std::to_string(step->seat) + ": " : "") + step->step;
        spdlog::warn("`vmlab {}` (pid {}) on lab {} was interrupted during: {}; this `vmlab {}` finishes the job",
                     run.first, run.second, lab, list, command);
        for (const JournalEntry* step : run_steps) store.end_step(step->id);
    }
}

}  // namespace vmlab::detail
