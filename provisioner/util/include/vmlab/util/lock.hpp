#pragma once
// Advisory file locks (flock) that serialise work on a lab or a seat across processes. The
// kernel releases them when a holder dies, so a killed vmlab never blocks the next one.

#include <filesystem>
#include <string>

namespace vmlab {

enum class Wait { no, yes };
enum class LockMode { shared, exclusive };

class FileLock {
public:
    // Waits (logging who holds it) or, with Wait::no, throws vmlab::Error naming the holder.
    static FileLock acquire(const std::filesystem::path& path, Wait wait, const std::string& purpose,
                            LockMode mode = LockMode::exclusive);

    FileLock(FileLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    FileLock& operator=(FileLock&&) = delete;
    FileLock(const FileLock&) = delete;
    ~FileLock();

private:
    explicit FileLock(int fd) : m_fd(fd) {}
    int m_fd;
};

}  // namespace vmlab
