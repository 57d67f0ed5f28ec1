#pragma once
// Output through a pager, as systemctl does: only when stdout is a terminal and --no-pager
// was not given; $VIGIL_PAGER, else $PAGER, else "less"; LESS defaults to "FRSXMK" (quit
// if one screen, raw colors, no init). A pager of "" or "cat" means none.

#include <sys/types.h>

namespace vigil::ctl {

class Pager {
 public:
  Pager() = default;
  ~Pager();  // closes the pipe and waits for the pager
  Pager(const Pager&) = delete;
  Pager& operator=(const Pager&) = delete;

  // Starts the pager if stdout is a terminal and `enabled`; stdout then goes to it.
  void start(bool enabled);

 private:
  pid_t pid_ = -1;
};

}  // namespace vigil::ctl
