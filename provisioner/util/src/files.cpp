#include "vmlab/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "vmlab/util/error.hpp"

namespace vmlab {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_errno(std::string_view what, const fs::path& path, const std::string& hint) {
    const std::error_code error(errno, std::system_category());
    throw Error(std::string(what) + " " + path.string() + ": " + error.message(), hint);
}

}  // namespace

void create_private_directories(const fs::path& dir, std::string_view purpose,
                                const std::string& hint) {
    std::error_code ignored;
    if (dir.empty() || fs::exists(dir, ignored)) return;
    create_private_directories(dir.parent_path(), purpose, hint);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail_errno("cannot create " + std::string(purpose), dir, hint);
}

void create_private_file(const fs::path& path, std::string_view purpose, const std::string& hint) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) fail_errno("cannot open " + std::string(purpose), path, hint);
    struct stat status {};
    const bool ok = ::fstat(fd, &status) == 0 &&
                    ((status.st_mode & 07777 & ~0600u) == 0 || ::fchmod(fd, 0600) == 0);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (!ok) fail_errno("cannot set mode 0600 on " + std::string(purpose), path, hint);
}

}  // namespace vmlab
