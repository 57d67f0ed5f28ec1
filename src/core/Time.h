#pragma once
// Time in the pure core: microseconds on the monotonic clock, handed in by the caller.
// The core never reads a clock itself, so tests drive it with a fake one.

#include <chrono>
#include <cstdint>

namespace vigil::core {

using TimePoint = std::chrono::microseconds;  // since an arbitrary monotonic epoch

}  // namespace vigil::core
