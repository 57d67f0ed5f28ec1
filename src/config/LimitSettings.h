#pragma once
// `vigilctl set TARGET KEY=VALUE...` and the API's SetLimits: live limit changes in the
// syntax of `limits:` in vigil.yaml(5), so that what an operator types is what they
// would write in the file. Pure.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "core/Spec.h"

namespace vigil::config {

// The keys `set` changes: the cgroup limits of a worker's unit or of a supervisor's slice
// (runtime_max, nofile and core are fixed when a process starts; change them in the file).
inline constexpr std::string_view kSettableLimits[] = {"memory_max", "memory_high", "cpu_quota",
                                                       "cpu_weight", "tasks_max",   "io_weight"};

// Parses KEY=VALUE settings (at least one, each key at most once). Values as in the
// configuration: memory_max/memory_high a size ("512M", at least 1 byte; memory_max at
// least kMinMemoryBytes), cpu_quota "N%" (1..100000), cpu_weight/io_weight 1..10000,
// tasks_max >= 1. "infinity" removes the limit: sizes and tasks_max become core::kUnlimited,
// cpu_quota core::kNoCpuQuota, weights core::kUnlimited (systemd's default weight).
// Returns the limits to change (unset = unchanged) or one line naming the key and what was
// expected: "memory_max: expected a size like 512M, found 'lots'".
tl::expected<core::Limits, std::string> parseLimitSettings(
    const std::vector<std::pair<std::string, std::string>>& settings);

// "memory_max=512M" -> {"memory_max", "512M"}; an error line when there is no '='.
tl::expected<std::pair<std::string, std::string>, std::string> splitSetting(std::string_view text);

// The settings of `limits` in the same syntax, for messages: "memory_max=32M cpu_quota=50%".
std::string formatLimitSettings(const core::Limits& limits);

}  // namespace vigil::config
