#pragma once
// What can be known about a worker's settings on the host vigil runs on, before systemd
// tries to apply them: does the user exist, is the working directory there, can the
// command be executed. Used by the configuration check (vigild --check-config) and to
// explain a start failure in the event that reports it.
//
// The answers are those of this process's view of the host: run as root for an
// authoritative answer. A check that cannot be made (permission denied on a path
// component, a name service failure) says so instead of guessing.

#include <optional>
#include <string>

namespace vigil::host {

struct Problem {
  // True when the value is certainly unusable (no such user, no such file); false when the
  // check itself could not be made (EACCES, a failing name service).
  bool definite = false;
  std::string text;  // "no such user on this host", "cannot check: Permission denied"
};

// `user`: a name or a numeric id (systemd requires either to resolve, systemd.exec(5)
// User=); "" is root and always exists.
std::optional<Problem> checkUser(const std::string& user);
// `group`: a name or a numeric id; "" is the user's primary group.
std::optional<Problem> checkGroup(const std::string& group);
// `path`: an absolute path that must be a directory (WorkingDirectory=).
std::optional<Problem> checkDirectory(const std::string& path);
// `path`: an absolute path to a regular file with an execute bit set (ExecStart=).
std::optional<Problem> checkExecutable(const std::string& path);

// /proc/sys/fs/nr_open: the largest RLIMIT_NOFILE the kernel accepts, if readable.
std::optional<unsigned long long> maxOpenFiles();

}  // namespace vigil::host
