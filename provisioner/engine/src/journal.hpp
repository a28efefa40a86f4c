#pragma once
// The journal of steps on libvirt (see StateStore::begin_step). Internal to the engine.

#include <string>
#include <vector>

#include "vmlab/state/state.hpp"

namespace vmlab::detail {

// Records a step before it starts and removes it when the scope ends, normally or by an
// exception (this process then reports the failure itself): only a killed command leaves it.
class JournalStep {
public:
    JournalStep(StateStore& store, const std::string& lab, unsigned seat, const std::string& command, std::string step)
        : m_store(store), m_id(store.begin_step({0, lab, seat, command, std::move(step), 0, 0})) {}
    ~JournalStep();
    JournalStep(const JournalStep&) = delete;
    JournalStep& operator=(const JournalStep&) = delete;

private:
    StateStore& m_store;
    std::int64_t m_id;
};

// Steps of the lab left by processes that no longer run.
std::vector<JournalEntry> interrupted_steps(StateStore& store, const std::string& lab);

// Before `command` works on the lab: says what interrupted commands left unfinished (this run
// converges from there) and clears those steps from the journal. With `seats`, only theirs.
void take_over_interrupted_steps(StateStore& store, const std::string& lab, const std::string& command,
                                 const std::vector<unsigned>& seats = {});

}  // namespace vmlab::detail
