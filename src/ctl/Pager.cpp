#include "ctl/Pager.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vigil::ctl {

void Pager::start(bool enabled) {
  if (!enabled || pid_ > 0 || !isatty(STDOUT_FILENO)) return;
  const char* pager = std::getenv("VIGIL_PAGER");
  if (!pager) pager = std::getenv("PAGER");
  std::string cmd = pager ? pager : "less";
  if (cmd.empty() || cmd == "cat") return;
  int fds[2];
  if (pipe(fds) < 0) return;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    close(fds[1]);
    setenv("LESS", std::getenv("LESS") ? std::getenv("LESS") : "FRSXMK", 1);
    execlp("sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  dup2(fds[1], STDOUT_FILENO);
  close(fds[1]);
  // A pager that quits early closes the pipe: stop writing quietly.
  signal(SIGPIPE, SIG_DFL);
  pid_ = pid;
}

Pager::~Pager() {
  if (pid_ <= 0) return;
  std::fflush(stdout);
  close(STDOUT_FILENO);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace vigil::ctl
