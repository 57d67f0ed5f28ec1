#include "core/IntensityWindow.h"

namespace vigil::core {

void IntensityWindow::expire(TimePoint now) {
  // A restart exactly `period` ago is outside the window, as in OTP's
  // "MaxR restarts within MaxT seconds".
  while (!restarts_.empty() && now - restarts_.front() >= spec_.period) restarts_.pop_front();
}

bool IntensityWindow::record(TimePoint now) {
  expire(now);
  restarts_.push_back(now);
  return restarts_.size() > spec_.max_restarts;
}

unsigned IntensityWindow::count(TimePoint now) const {
  unsigned n = 0;
  for (const TimePoint t : restarts_)
    if (now - t < spec_.period) ++n;
  return n;
}

}  // namespace vigil::core
