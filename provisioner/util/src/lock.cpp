#include "vmlab/util/lock.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace {

std::string read_holder(int fd) {
    char buf[256] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "another vmlab";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    return holder;
}

}  // namespace

FileLock FileLock::acquire(const std::filesystem::path& path, Wait wait, const std::string& purpose, LockMode mode) {
    const int operation = mode == LockMode::exclusive ? LOCK_EX : LOCK_SH;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot open lock file " + path.string() + ": " + std::strerror(errno));
    FileLock lock(fd);
    if (::flock(fd, operation | LOCK_NB) != 0) {
        const std::string holder = read_holder(fd);
        if (wait == Wait::no)
            throw Error(purpose + " is busy: " + holder, "wait for it to finish, or run without --no-wait to queue");
        spdlog::info("waiting for {}: {}", purpose, holder);
        while (::flock(fd, operation) != 0)
            if (errno != EINTR) throw Error("cannot lock " + path.string() + ": " + std::strerror(errno));
    }
    const std::string me = "held by pid " + std::to_string(::getpid()) + " (" + purpose + ")\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0)
        spdlog::debug("cannot note the holder in {}", path.string());
    return lock;
}

FileLock::~FileLock() {
    if (m_fd >= 0) ::close(m_fd);  // closing releases the flock
}

}  // namespace vmlab
