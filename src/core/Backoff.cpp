#include "core/Backoff.h"

#include <algorithm>
#include <cmath>

namespace vigil::core {

Usec Backoff::baseDelay(const BackoffSpec& spec, unsigned failures) {
  if (failures == 0) failures = 1;
  const double initial = static_cast<double>(spec.initial.count());
  const double cap = static_cast<double>(spec.max.count());
  // Computed in floating point and capped before converting, so huge exponents cannot
  // overflow the integer representation.
  const double raw = initial * std::pow(spec.multiplier, static_cast<double>(failures - 1));
  return Usec(static_cast<std::int64_t>(std::min(raw, cap)));
}

Usec Backoff::delay(const BackoffSpec& spec, unsigned failures, double uniform01) {
  const Usec base = baseDelay(spec, failures);
  const double u = std::clamp(uniform01, 0.0, 1.0);
  const double stretched = static_cast<double>(base.count()) * (1.0 + spec.jitter * u);
  return Usec(static_cast<std::int64_t>(stretched));
}

bool Backoff::wasStable(const BackoffSpec& spec, TimePoint started, TimePoint failed) {
  return failed - started >= spec.reset_after;
}

}  // namespace vigil::core
