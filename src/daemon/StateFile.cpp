#include "daemon/StateFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace vigil::daemon {

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path, bool durable)
    : path_(std::move(path)), tmp_(path_.string() + ".tmp"), durable_(durable) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(errno, "creating");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::fail(int err, const char* what) {
  if (error_) error_ = util::sysFail(err, std::string(what) + " '" + tmp_ + "'");
}

void AtomicFileWriter::flush() {
  std::size_t done = 0;
  while (error_ && done < used_) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, used_ - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "writing");
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
  used_ = 0;
}

void AtomicFileWriter::append(std::string_view piece) {
  while (error_ && !piece.empty()) {
    if (used_ == buffer_.size()) flush();
    const std::size_t n = std::min(piece.size(), buffer_.size() - used_);
    std::memcpy(buffer_.data() + used_, piece.data(), n);
    used_ += n;
    piece.remove_prefix(n);
  }
}

util::Result<void> AtomicFileWriter::commit() {
  if (committed_) return {};
  flush();
  if (error_ && durable_ && ::fsync(fd_) < 0) fail(errno, "syncing");
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (error_ && ::rename(tmp_.c_str(), path_.c_str()) < 0) fail(errno, "renaming");
  if (!error_) return error_;  // the destructor removes the temporary file
  committed_ = true;
  return {};
}

util::Result<void> writeFileAtomically(const std::filesystem::path& path,
                                       std::string_view content) {
  AtomicFileWriter file(path);
  file.append(content);
  return file.commit();
}

}  // namespace vigil::daemon
