#pragma once
#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "util/Result.h"

namespace vigil::daemon {

// Writes a file atomically from pieces: they go, through a fixed buffer, to a temporary
// file in the same directory ("<path>.tmp"), which commit() fsyncs and renames over
// `path`. Until then, and on any failure, the previous file is intact; a writer destroyed
// without a successful commit() removes its temporary file. Memory held: the buffer
// (kBufferBytes), whatever the size of the file: the state file of 1000 workers is about
// 0.8 MB of text (784 bytes per worker in massif, bench/RESULTS.md run 7), which as one
// string was allocated, grown and freed on every write.
class AtomicFileWriter {
 public:
  static constexpr std::size_t kBufferBytes = 16 * 1024;

  // Creates (truncates) "<path>.tmp", mode 0644. A failure is kept and returned by commit().
  // `durable`: commit() fsyncs before the rename, so the file survives a crash of the host
  // whole. Without it readers still see the old or the new file, never a part (rename(2)):
  // enough for a file rewritten every few seconds (the metrics textfile).
  explicit AtomicFileWriter(std::filesystem::path path, bool durable = true);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Adds `piece` to the file. After the first failure, does nothing.
  void append(std::string_view piece);
  // Writes what is buffered, fsyncs, renames over the path. Returns the first failure
  // (creating, writing, syncing, renaming; the message names the file), or success once.
  util::Result<void> commit();

 private:
  void flush();
  void fail(int err, const char* what);

  std::filesystem::path path_;
  std::string tmp_;
  bool durable_ = true;
  int fd_ = -1;
  std::size_t used_ = 0;
  std::array<char, kBufferBytes> buffer_;
  util::Result<void> error_;
  bool committed_ = false;
};

// Replaces `path` with `content` atomically (an AtomicFileWriter given one piece).
util::Result<void> writeFileAtomically(const std::filesystem::path& path, std::string_view content);

}  // namespace vigil::daemon
