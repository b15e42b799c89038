#include "policy/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    throw Error(
        fmt::format("cannot create folder `{}`: {}", path.parent_path().string(), ec.message()));
  }
  const std::string temp = path.string() + fmt::format(".tmp.{}", getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("cannot write `{}`: {}", temp, std::strerror(errno)));
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      throw Error(fmt::format("cannot write `{}`: {}", temp, std::strerror(saved)));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  if (::close(fd) != 0 || !synced) {
    const int saved = synced ? errno : sync_errno;
    ::unlink(temp.c_str());
    throw Error(fmt::format("cannot write `{}`: {}", temp, std::strerror(saved)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    throw Error(fmt::format("cannot replace `{}`: {}", path.string(), std::strerror(saved)));
  }
}

}  // namespace ponder
