#include "daemon/StateFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace vigil::daemon {

util::Result<void> writeFileAtomically(const std::filesystem::path& path,
                                       std::string_view content) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return util::sysFail(errno, "creating '" + tmp + "'");
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return util::sysFail(err, "writing '" + tmp + "'");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) < 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return util::sysFail(err, "syncing '" + tmp + "'");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return util::sysFail(err, "renaming '" + tmp + "'");
  }
  return {};
}

}  // namespace vigil::daemon
