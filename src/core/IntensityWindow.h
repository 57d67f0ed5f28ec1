#pragma once
// OTP restart intensity: at most max_restarts restarts within any sliding window of
// `period`. record() adds a restart at `now` and reports whether the limit is exceeded
// (i.e. this is restart number max_restarts + 1 inside the window).

#include <deque>
#include <vector>

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

class IntensityWindow {
 public:
  explicit IntensityWindow(IntensitySpec spec = {}) : spec_(spec) {}

  // Returns true when the restart at `now` exceeds the intensity.
  bool record(TimePoint now);
  // Restarts inside the window ending at `now`. Reading does not prune: the old entries
  // are dropped by the next record().
  unsigned count(TimePoint now) const;
  void reset() { restarts_.clear(); }
  // The restarts inside the window ending at `now`, oldest first (what vigild persists).
  std::vector<TimePoint> restarts(TimePoint now) const;
  // Replaces the recorded restarts with `times` (any order; from a persisted state): those
  // inside the window ending at `now` are kept, a time after `now` (a clock that went
  // back) counts as `now`, and at most spec().max_restarts of the newest are kept, so a
  // restored window is never already exceeded: the next restart decides, as it would have.
  void restore(std::vector<TimePoint> times, TimePoint now);
  const IntensitySpec& spec() const { return spec_; }
  void setSpec(IntensitySpec spec) { spec_ = spec; }

 private:
  void expire(TimePoint now);
  IntensitySpec spec_;
  std::deque<TimePoint> restarts_;
};

}  // namespace vigil::core
