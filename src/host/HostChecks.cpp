#include "host/HostChecks.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace vigil::host {

namespace {

std::optional<unsigned long> numericId(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned long v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string errnoText(int err) {
  return std::generic_category().message(err);
}

// getpwnam_r/getgrnam_r report "not found" as 0 with a null result; some NSS modules
// use ENOENT, ESRCH, EBADF or EPERM for the same thing (getpwnam(3), RETURN VALUE).
bool notFound(int r) {
  return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

template <typename Entry, typename ByName, typename ById>
std::optional<Problem> lookUp(const std::string& value,
                              const char* what,
                              ByName by_name,
                              ById by_id) {
  std::vector<char> buf(16384);
  Entry entry{};
  Entry* result = nullptr;
  int r = 0;
  for (;;) {
    if (const auto id = numericId(value)) {
      r = by_id(static_cast<unsigned>(*id), &entry, buf.data(), buf.size(), &result);
    } else {
      r = by_name(value.c_str(), &entry, buf.data(), buf.size(), &result);
    }
    if (r != ERANGE || buf.size() >= (1u << 22)) break;
    buf.resize(buf.size() * 4);
  }
  if (result) return std::nullopt;
  if (notFound(r)) return Problem{true, fmt::format("no such {} on this host", what)};
  return Problem{false, fmt::format("cannot check the {}: {}", what, errnoText(r))};
}

// stat(2) of `path`: a missing path or component is definite, anything else (EACCES on a
// component) means the path could not be checked.
std::optional<Problem> statPath(const std::string& path, struct stat& st) {
  if (::stat(path.c_str(), &st) == 0) return std::nullopt;
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) return Problem{true, errnoText(err)};
  return Problem{false, fmt::format("cannot check: {}", errnoText(err))};
}

}  // namespace

std::optional<Problem> checkUser(const std::string& user) {
  if (user.empty()) return std::nullopt;
  return lookUp<struct passwd>(user, "user", getpwnam_r, getpwuid_r);
}

std::optional<Problem> checkGroup(const std::string& group) {
  if (group.empty()) return std::nullopt;
  return lookUp<struct group>(group, "group", getgrnam_r, getgrgid_r);
}

std::optional<Problem> checkDirectory(const std::string& path) {
  struct stat st {};
  if (auto problem = statPath(path, st)) return problem;
  if (!S_ISDIR(st.st_mode)) return Problem{true, "not a directory"};
  return std::nullopt;
}

std::optional<Problem> checkExecutable(const std::string& path) {
  struct stat st {};
  if (auto problem = statPath(path, st)) return problem;
  if (!S_ISREG(st.st_mode)) return Problem{true, "not a regular file"};
  if ((st.st_mode & 0111) == 0)
    return Problem{true, fmt::format("not executable (mode {:04o})", st.st_mode & 07777)};
  return std::nullopt;
}

std::optional<unsigned long long> maxOpenFiles() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

}  // namespace vigil::host
