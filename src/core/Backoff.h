#pragma once
// Exponential backoff with jitter between restarts of one child (Akka's backoff
// supervisor): the n-th consecutive failure waits min(max, initial * multiplier^(n-1)),
// stretched by a uniform random factor in [1, 1 + jitter]. The count resets when the
// child had stayed up for at least reset_after before it failed.

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

class Backoff {
 public:
  // Base delay (no jitter) for the n-th consecutive failure, n >= 1.
  static Usec baseDelay(const BackoffSpec& spec, unsigned failures);
  // Delay with jitter; `uniform01` is a sample of U[0, 1).
  static Usec delay(const BackoffSpec& spec, unsigned failures, double uniform01);
  // True when an incarnation that ran from `started` until `failed` was stable, so the
  // failure count restarts from 1.
  static bool wasStable(const BackoffSpec& spec, TimePoint started, TimePoint failed);
};

}  // namespace vigil::core
