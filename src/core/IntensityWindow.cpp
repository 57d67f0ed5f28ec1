#include "core/IntensityWindow.h"

#include <algorithm>

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

std::vector<TimePoint> IntensityWindow::restarts(TimePoint now) const {
  std::vector<TimePoint> out;
  for (const TimePoint t : restarts_)
    if (now - t < spec_.period) out.push_back(t);
  return out;
}

void IntensityWindow::restore(std::vector<TimePoint> times, TimePoint now) {
  restarts_.clear();
  for (TimePoint& t : times) t = std::min(t, now);
  std::sort(times.begin(), times.end());
  for (const TimePoint t : times)
    if (now - t < spec_.period) restarts_.push_back(t);
  while (restarts_.size() > spec_.max_restarts) restarts_.pop_front();
}

}  // namespace vigil::core
