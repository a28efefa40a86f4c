#pragma once
// Reset jobs: queued by the API, run by a small pool of worker threads, polled by the pages.
// At most one job per seat is queued or running at a time.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vmlab::portal {

enum class JobState { queued, running, done, failed };
std::string to_string(JobState state);

struct Job {
    std::uint64_t id = 0;
    std::string lab;
    unsigned seat = 0;
    std::string vm;     // empty = the whole seat
    std::string actor;  // for the audit log: "seat N", "organizer NAME/ID"
    JobState state = JobState::queued;
    std::string error;
    std::int64_t created_at = 0, started_at = 0, finished_at = 0;  // Unix seconds
};

// Runs one job; throws (any std::exception) to fail it, with the exception's message.
using JobRunner = std::function<void(const Job& job)>;

class JobQueue {
public:
    JobQueue(unsigned workers, JobRunner runner);
    ~JobQueue();  // stop()
    JobQueue(const JobQueue&) = delete;
    JobQueue& operator=(const JobQueue&) = delete;

    // The new job, or nullopt when the seat already has a queued or running job.
    std::optional<Job> submit(const std::string& lab, unsigned seat, const std::string& vm, const std::string& actor);
    std::optional<Job> find(std::uint64_t id) const;
    // The seat's newest job (finished ones too), if any.
    std::optional<Job> latest(const std::string& lab, unsigned seat) const;

    // Drops queued jobs (failing them), waits for running ones; idempotent.
    void stop();

private:
    void work();

    JobRunner m_runner;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::uint64_t m_next_id = 1;
    std::map<std::uint64_t, Job> m_jobs;  // every job of this run; finished ones are kept for polling
    std::deque<std::uint64_t> m_queue;
    std::vector<std::thread> m_workers;
};

}  // namespace vmlab::portal
