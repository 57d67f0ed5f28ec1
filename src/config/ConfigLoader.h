#pragma once
// Loads /etc/vigil/vigil.yaml overlaid on a tier file into a validated core::Config.
// The format is documented for users in vigil.yaml(5) (man/vigil.yaml.5); keep both in sync.
//
// Effective worker values are layered: built-in defaults (core/Spec.h) < the tier file's
// `defaults` < the config's `defaults` < the worker's own keys. Nested mappings (limits,
// backoff, stop, intensity) merge key by key at every layer. A supervisor's own `limits`
// budget its slice only and are not inherited by its workers.
//
// Every duration is finite and at most 1y, so that arithmetic on timeouts and delays
// downstream cannot overflow; sizes may be "infinity" (core::kUnlimited).
//
// All errors are collected (not just the first), sorted by file and position, and returned
// together; a Config is returned only when there are none. Untrusted input is bounded: the
// file size is checked before parsing, YAML is read by a hardened reader (config/YamlNode.h)
// with a node budget and a depth cap, anchors/aliases and duplicate keys are rejected.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "config/ConfigError.h"
#include "core/Spec.h"

namespace vigil::config {

inline constexpr std::string_view kDefaultTier = "tier_3";

// Structural caps, enforced with errors (also documented in vigil.yaml(5)).
inline constexpr std::size_t kMaxNameBytes = 64;  // tree and child names
inline constexpr std::size_t kMaxTrees = 64;
inline constexpr std::size_t kMaxSupervisorDepth = 8;  // a tree's root supervisor is level 1
inline constexpr std::size_t kMaxWorkers = 4096;       // in total, counting instances
inline constexpr std::size_t kMaxErrors = 100;         // more are summarised in one last error

struct LoadOptions {
  // Where "<tier>.yaml" is looked up, first match wins: normally the admin override
  // directory /etc/vigil/tiers, then the packaged /usr/share/vigil/tiers.
  std::vector<std::filesystem::path> tier_dirs;
  // From $VIGIL_TIER (the caller reads the environment); wins over the file's `tier` key.
  std::optional<std::string> tier_override;
  std::size_t max_file_bytes = 1 << 20;  // per file, checked before parsing
  std::size_t max_nodes = 100000;        // YAML nodes per file
  std::size_t max_depth = 64;            // YAML nesting per file

  // tier_dirs = {<sysconfdir>/vigil/tiers, <datadir>/vigil/tiers} as configured at build time.
  static LoadOptions system();
};

// Reads and validates `file`. Error locations name the file as given here.
tl::expected<core::Config, ConfigErrors> loadConfig(const std::filesystem::path& file,
                                                    const LoadOptions& options);

// The same for text already in memory; `file_name` is used in locations and as
// Config::source_file. Tier files are still read from options.tier_dirs.
tl::expected<core::Config, ConfigErrors> loadConfigFromString(std::string_view yaml,
                                                              std::string_view file_name,
                                                              const LoadOptions& options);

// The rule for tree and child names (see NAMING in vigil.yaml(5)): 1..64 bytes of ASCII
// letters, digits, '_' and '.', not starting with '.'. Such names are their own unit-name
// escape, so unit and slice names stay readable. Returns why `name` is invalid, or nullopt.
std::optional<std::string> checkName(std::string_view name);

}  // namespace vigil::config
