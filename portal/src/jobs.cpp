#include "jobs.hpp"

#include <algorithm>
#include <ctime>
#include <exception>

namespace vmlab::portal {

namespace {

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool active(const Job& job) { return job.state == JobState::queued || job.state == JobState::running; }

// Finished jobs kept for polling; older ones are forgotten.
constexpr std::size_t kept_jobs = 10000;

}  // namespace

std::string to_string(JobState state) {
    switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    }
    return "unknown";
}

JobQueue::JobQueue(unsigned workers, JobRunner runner) : m_runner(std::move(runner)) {
    for (unsigned i = 0; i < std::max(workers, 1u); ++i) m_workers.emplace_back([this] { work(); });
}

JobQueue::~JobQueue() { stop(); }

std::optional<Job> JobQueue::submit(const std::string& lab, unsigned seat, const std::string& vm,
                                    const std::string& actor) {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return std::nullopt;
    for (const auto& [id, job] : m_jobs)
        if (job.lab == lab && job.seat == seat && active(job)) return std::nullopt;
    while (m_jobs.size() >= kept_jobs && !active(m_jobs.begin()->second)) m_jobs.erase(m_jobs.begin());
    Job job{m_next_id++, lab, seat, vm, actor, JobState::queued, {}, now(), 0, 0};
    m_jobs.emplace(job.id, job);
    m_queue.push_back(job.id);
    m_wake.notify_one();
    return job;
}

std::optional<Job> JobQueue::find(std::uint64_t id) const {
    std::lock_guard lock(m_mutex);
    const auto it = m_jobs.find(id);
    if (it == m_jobs.end()) return std::nullopt;
    return it->second;
}

std::optional<Job> JobQueue::latest(const std::string& lab, unsigned seat) const {
    std::lock_guard lock(m_mutex);
    for (auto it = m_jobs.rbegin(); it != m_jobs.rend(); ++it)
        if (it->second.lab == lab && it->second.seat == seat) return it->second;
    return std::nullopt;
}

void JobQueue::stop() {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping && m_workers.empty()) return;
        m_stopping = true;
        for (auto id : m_queue) {
            Job& job = m_jobs.at(id);
            job.state = JobState::failed;
            job.error = "the portal stopped before this reset began";
            job.finished_at = now();
        }
        m_queue.clear();
    }
    m_wake.notify_all();
    for (auto& worker : m_workers) worker.join();
    m_workers.clear();
}

void JobQueue::work() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty()) return;  // stopping
            Job& queued = m_jobs.at(m_queue.front());
            m_queue.pop_front();
            queued.state = JobState::running;
            queued.started_at = now();
            job = queued;
        }
        std::string error;
        bool ok = true;
        try {
            m_runner(job);
        } catch (const std::exception& e) {
            ok = false;
            error = e.what();
        } catch (...) {
            ok = false;
            error = "unknown error";
        }
        std::lock_guard lock(m_mutex);
        Job& finished = m_jobs.at(job.id);
        finished.state = ok ? JobState::done : JobState::failed;
        finished.error = error;
        finished.finished_at = now();
    }
}

}  // namespace vmlab::portal
