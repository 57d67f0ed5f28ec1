#pragma once
// `vigilctl top` on a terminal: a full-screen view redrawn every `interval` with ncurses
// (the Debian-packaged terminal library: no hand-written escape sequences), keys c, m, t,
// r, p to sort, q to quit; resizing redraws. The rows come from ctl/Top.h.

#include <chrono>
#include <functional>

#include "status/StatusSnapshot.h"
#include "util/Result.h"

namespace vigil::ctl {

class TopScreen {
 public:
  using Fetch = std::function<util::Result<status::StatusSnapshot>()>;

  // `fetch` is called once per interval (and after a key that changes the view needs no
  // new data, not at all). An error from it is shown on the last line and retried.
  TopScreen(Fetch fetch, std::chrono::milliseconds interval);

  // Runs until q (or Ctrl-C). Returns the exit code: 0, or 1 when the terminal could not
  // be set up.
  int run();

 private:
  Fetch fetch_;
  std::chrono::milliseconds interval_;
};

}  // namespace vigil::ctl
